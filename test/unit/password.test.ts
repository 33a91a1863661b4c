import test from "ava";
import { createPasswordHashing } from "../../core/lib/password.js";

// Tiny cost: 64 KiB, one iteration.
const hashing = createPasswordHashing(64, 1);

test("a hashed password verifies", async (t) => {
  const h = await hashing;
  const stored = await h.hash("correct horse battery staple");
  t.true(await h.verify(stored, "correct horse battery staple"));
});

test("a wrong password does not verify", async (t) => {
  const h = await hashing;
  const stored = await h.hash("correct horse battery staple");
  t.false(await h.verify(stored, "correct horse battery stapler"));
  t.false(await h.verify(stored, ""));
});

test("verify without a stored hash answers false", async (t) => {
  const h = await hashing;
  t.false(await h.verify(undefined, "anything"));
  t.false(await h.verify(undefined, ""));
});

test("verify without a stored hash answers false even for the decoy's own password", async (t) => {
  const h = await hashing;
  t.false(await h.verify(undefined, "decoy password, never valid"));
});

test("a malformed stored hash answers false rather than throwing", async (t) => {
  const h = await hashing;
  t.false(await h.verify("not a hash", "anything"));
  t.false(await h.verify("", "anything"));
});

test("the hash is a PHC string of argon2id carrying its parameters", async (t) => {
  const h = await hashing;
  const stored = await h.hash("pw");
  t.true(stored.startsWith("$argon2id$"));
  t.regex(stored, /^\$argon2id\$v=19\$m=64,t=1,p=1\$/);
});

test("hashing the same password twice gives different salts", async (t) => {
  const h = await hashing;
  t.not(await h.hash("pw"), await h.hash("pw"));
});

test("a hash made with other parameters still verifies", async (t) => {
  const h = await hashing;
  const other = await createPasswordHashing(128, 2);
  const stored = await other.hash("s3cret");
  t.regex(stored, /\$m=128,t=2,p=1\$/);
  t.true(await h.verify(stored, "s3cret"));
  t.false(await h.verify(stored, "s3cre7"));
});

test("non-ASCII passwords verify", async (t) => {
  const h = await hashing;
  const stored = await h.hash("pässwörd 🔑");
  t.true(await h.verify(stored, "pässwörd 🔑"));
  t.false(await h.verify(stored, "passwörd 🔑"));
});
