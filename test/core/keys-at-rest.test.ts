import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import Database from "better-sqlite3";
import test from "ava";
import { createCore } from "../../core/server/compose.js";
import { KeyEncryptionError } from "../../core/store/sealing.js";
import { DEFAULT, memoryLogger, seedProject, startTestCore, tempDir, testConfig, type TestCore } from "../helpers.js";

const kek = () => randomBytes(32).toString("base64");

function storedKeys(dbPath: string): { kid: string; private_jwk: string; organization_id: string }[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare("SELECT kid, private_jwk, organization_id FROM signing_keys ORDER BY organization_id").all() as never;
  } finally {
    db.close();
  }
}

async function m2mToken(c: TestCore): Promise<string> {
  const answer = await c.tokens.token({ ...DEFAULT, grantType: "client_credentials", clientId: "admin-client", clientSecret: "top-secret" });
  return answer.accessToken;
}

/** The SIGNING_KEYS_RESEALED events of the server's chain: their KEK ids before and after, and how many keys. */
async function reseals(c: TestCore) {
  const events = await c.core.deps.store.listAuditEvents({ organization: "", project: "" }, { actions: ["SIGNING_KEYS_RESEALED"] }, { after: 0, limit: 100 });
  return events.map((e) => {
    const [kek, kids] = e.changes;
    return { actor: e.actor?.kind, from: JSON.parse(kek!.before) as unknown, to: JSON.parse(kek!.after) as unknown, kids: (JSON.parse(kids!.after) as string[]).length };
  });
}

const kekIdOf = (key: string) => createHash("sha256").update(Buffer.from(key, "base64")).digest("hex").slice(0, 16);

async function open(dbPath: string, config: Parameters<typeof testConfig>[1]) {
  return startTestCore({ dbPath, config });
}

test("with IAM_KEY_ENCRYPTION_KEY, private keys are stored encrypted, and a database from before is sealed at start", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  // Started without a KEK: stored as a plain JWK, with a warning.
  const before = await open(dbPath, {});
  const token = await m2mToken(before);
  t.true(before.lines.some((l) => l.includes("private signing keys are stored unencrypted")));
  await before.close();
  t.regex(storedKeys(dbPath)[0]!.private_jwk, /^\{.*"d":/);

  const key = kek();
  const after = await open(dbPath, { keyEncryptionKey: key });
  t.teardown(() => after.close());
  const [row] = storedKeys(dbPath);
  t.regex(row!.private_jwk, /^enc:v1:[0-9a-f]{16}:[A-Za-z0-9_-]+$/);
  t.false(row!.private_jwk.includes('"d"'));
  t.false(after.lines.some((l) => l.includes("stored unencrypted")));
  const keyCount = storedKeys(dbPath).length;
  t.deepEqual(await reseals(after), [{ actor: "server", from: "", to: kekIdOf(key), kids: keyCount }], "sealing at start is recorded, with no secret");
  // The same key: tokens signed before verify, new ones are signed and verify.
  t.true((await after.tokens.verifyToken({ token })).active);
  t.true((await after.tokens.verifyToken({ token: await m2mToken(after) })).active);
  // A new project's key is sealed as it is created.
  await seedProject(after.core, { organization: "acme", project: "shop" });
  t.true(storedKeys(dbPath).every((r) => r.private_jwk.startsWith("enc:v1:")));
});

test("a missing or wrong key encryption key stops the core with a message naming the variable", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const first = await open(dbPath, { keyEncryptionKey: kek() });
  await first.close();
  for (const keyEncryptionKey of [undefined, kek()]) {
    const err = await t.throwsAsync(createCore(testConfig(dbPath, { keyEncryptionKey }), { logger: memoryLogger().logger }), {
      instanceOf: KeyEncryptionError,
    });
    t.regex(err?.message ?? "", /IAM_KEY_ENCRYPTION_KEY/);
  }
});

test("changing the key encryption key: start once with the new one and the old one as _PREVIOUS, then the new one alone", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const oldKey = kek();
  const newKey = kek();
  const first = await open(dbPath, { keyEncryptionKey: oldKey });
  const token = await m2mToken(first);
  await first.close();
  const sealedOld = storedKeys(dbPath)[0]!.private_jwk;

  const rotating = await open(dbPath, { keyEncryptionKey: newKey, keyEncryptionKeyPrevious: oldKey });
  await rotating.close();
  const sealedNew = storedKeys(dbPath)[0]!.private_jwk;
  t.not(sealedNew.split(":")[2], sealedOld.split(":")[2], "re-encrypted under the new key");

  const done = await open(dbPath, { keyEncryptionKey: newKey });
  t.teardown(() => done.close());
  const recorded = await reseals(done);
  t.deepEqual(recorded.map((r) => [r.from, r.to]), [[kekIdOf(oldKey), kekIdOf(newKey)]], "the change of KEK, once: keys made under a KEK are sealed as made, and a start that changes nothing records nothing");
  const serverEvents = JSON.stringify(await done.core.deps.store.listAuditEvents({ organization: "", project: "" }, {}, { after: 0, limit: 100 }));
  for (const key of [oldKey, newKey]) t.false(serverEvents.includes(key), "no KEK in any event");
  t.true((await done.tokens.verifyToken({ token })).active);
  await t.throwsAsync(createCore(testConfig(dbPath, { keyEncryptionKey: oldKey }), { logger: memoryLogger().logger }), {
    instanceOf: KeyEncryptionError,
  });
});

test("a sealed key moved to another row does not decrypt: the ciphertext is bound to its kid", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const key = kek();
  const c = await open(dbPath, { keyEncryptionKey: key });
  await seedProject(c.core, { organization: "acme", project: "shop" });
  await c.close();
  const [a, b] = storedKeys(dbPath);
  const db = new Database(dbPath);
  db.prepare("UPDATE signing_keys SET private_jwk = ? WHERE kid = ?").run(b!.private_jwk, a!.kid);
  db.close();
  const err = await t.throwsAsync(createCore(testConfig(dbPath, { keyEncryptionKey: key }), { logger: memoryLogger().logger }), {
    instanceOf: KeyEncryptionError,
  });
  t.regex(err?.message ?? "", new RegExp(`the private key ${a!.kid} does not decrypt`));
});
