/**
 * Drill: a leaked key encryption key (docs/disaster-recovery.md#a-leaked-key-encryption-key).
 * A new KEK, the leaked one given as IAM_KEY_ENCRYPTION_KEY_PREVIOUS: the
 * server seals every private key again under the new one at start, tokens
 * issued before keep verifying; the leaked KEK alone opens none of the
 * stored keys any more, and a server given only it refuses to start. Then,
 * since whoever held the leaked KEK and a copy of the database held the
 * private keys too, the signing keys are rotated and retired at once.
 */
import { randomBytes } from "node:crypto";
import test from "ava";
import { decodeProtectedHeader } from "jose";
import { createKeySealer, KeyEncryptionError, sealedUnder } from "../../core/store/sealing.js";
import { iam } from "../cli/_support.js";
import { compiledIam } from "../helpers.js";
import { APP, refreshed, seed, signInAndRefresh, tokenIntrospected } from "../upgrade/_load.js";
import { active, jwksKids, onBothStores, refusedStart, retiredEverywhere, server, storedKeys } from "./_drill.js";

test.before(() => compiledIam());

const kekId = (kek: Buffer) => createKeySealer(kek).kekId;

onBothStores("a leaked KEK replaced: the keys sealed again at start, the old KEK opens nothing, tokens verify; then the signing keys retired", async (t, db) => {
  t.timeout(300_000);
  const leakedKek = randomBytes(32);
  const newKek = randomBytes(32);
  const env = (current: Buffer, previous?: Buffer) => ({
    IAM_KEY_ENCRYPTION_KEY: current.toString("base64"),
    ...(previous === undefined ? {} : { IAM_KEY_ENCRYPTION_KEY_PREVIOUS: previous.toString("base64") }),
  });

  const before = await server(t, db, "before", env(leakedKek));
  await seed(before.target, before.grpc);
  const token = await tokenIntrospected(before.target, before.target);
  const refreshToken = await signInAndRefresh(before.target, before.target);
  t.is(await before.stop(), 0);
  t.deepEqual([...new Set((await storedKeys(db)).map((k) => sealedUnder(k.private_jwk)))], [kekId(leakedKek)]);

  // 1. The new KEK, the leaked one as the previous: sealed again at start.
  const resealing = await server(t, db, "resealing", env(newKek, leakedKek));
  t.true(await active(resealing.target, token, APP), "tokens issued before verify");
  t.is(await resealing.stop(), 0);
  const stored = await storedKeys(db);
  t.deepEqual([...new Set(stored.map((k) => sealedUnder(k.private_jwk)))], [kekId(newKek)]);
  const leakedAlone = createKeySealer(leakedKek);
  for (const k of stored) t.throws(() => leakedAlone.open(k.kid, k.private_jwk), { instanceOf: KeyEncryptionError }, k.kid);

  // 2. Without the previous one: the leaked KEK alone no longer starts a server; the new one alone does.
  const refused = await refusedStart(t, db, env(leakedKek));
  t.is(refused.code, 1);
  t.regex(refused.stderr, new RegExp(`is encrypted with key ${kekId(newKek)}, which is not configured: set IAM_KEY_ENCRYPTION_KEY`));
  t.notRegex(refused.stdout, /on port/);
  const after = await server(t, db, "after", env(newKek));
  t.true(await active(after.target, token, APP));

  // 3. The private keys were readable by whoever held the KEK and a copy of the database: rotate, retire at once.
  const rotated = iam(db, ["key", "rotate", "iam-admins", "iam-admins", "--retire-immediately", "--json"], undefined, undefined, env(newKek));
  t.is(rotated.code, 0, rotated.stderr);
  const { kids } = JSON.parse(rotated.stdout) as { kids: string[] };
  await retiredEverywhere(after.target, token, APP, kids);
  t.false(await active(after.target, token, APP), "what the old keys signed is refused");
  t.deepEqual(await jwksKids(after.target), [...kids].sort());
  const fresh = await tokenIntrospected(after.target, after.target);
  t.true(kids.includes(decodeProtectedHeader(fresh).kid!));
  await refreshed(after.target, after.target, refreshToken);
  t.deepEqual([...new Set((await storedKeys(db)).map((k) => sealedUnder(k.private_jwk)))], [kekId(newKek)], "the new keys sealed under the new KEK");
  t.is(await after.stop(), 0);
});
