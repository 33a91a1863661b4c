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

test("no more hashes run at once than the limit; the others wait and all answer correctly", async (t) => {
  const h = await createPasswordHashing(1024, 2, 2);
  const stored = await h.hash("right password");
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, h.running)), 0);
  const answers = await Promise.all(
    Array.from({ length: 24 }, (_, i) => {
      peak = Math.max(peak, h.running);
      return h.verify(stored, i % 3 === 0 ? "wrong password" : "right password");
    }),
  );
  clearInterval(sampler);
  t.is(peak, 2, "two at a time, never more");
  t.is(h.running, 0, "every slot given back");
  t.deepEqual(answers, Array.from({ length: 24 }, (_, i) => i % 3 !== 0));
});

test("a failing hash gives its slot back", async (t) => {
  const h = await createPasswordHashing(64, 1, 1);
  await Promise.all(Array.from({ length: 5 }, () => h.verify("$argon2id$v=19$broken", "x")));
  t.is(h.running, 0);
  t.true(await h.verify(await h.hash("still works"), "still works"));
});
