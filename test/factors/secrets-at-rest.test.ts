/**
 * TOTP secrets at rest: in the clear only without a key-encryption key;
 * sealed when the factor is stored with one; sealed at start when a KEK is
 * set for the first time or changed (IAM_KEY_ENCRYPTION_KEY_PREVIOUS), with
 * the event naming the factors and never a secret; and a code keeps working
 * across all of it.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { totpCode } from "../../core/factors/totp.js";
import { DEFAULT, startTestCore, tempDir, type TestCore } from "../helpers.js";
import { seedFixtures } from "../core/flow.js";
import { enrolTotp, nextStep, passwordStep, setPolicy, signInOf } from "./_flow.js";

const kek = () => randomBytes(32).toString("base64");

function storedSecrets(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare("SELECT secret FROM factors WHERE kind = 'totp'").all() as { secret: string }[]).map((r) => r.secret);
  } finally {
    db.close();
  }
}

async function signsInWithCode(c: TestCore, secret: string): Promise<boolean> {
  nextStep(c);
  const { requestId } = await passwordStep(c);
  const answer = await c.authorization.verifyFactor({ signIn: signInOf(requestId), totpCode: totpCode(secret, c.clock.now()) });
  return answer.login?.session !== undefined;
}

test("a TOTP secret is sealed under the KEK: at start for one stored before, again under a new KEK, and still verifies", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const plain = await startTestCore({ dbPath });
  await seedFixtures(plain);
  await setPolicy(plain, { required: "everyone" });
  const { secret } = await enrolTotp(plain, (await passwordStep(plain)).requestId);
  const clock = plain.clock;
  await plain.close();
  t.deepEqual(storedSecrets(dbPath), [secret], "without a KEK, as it is");

  const first = kek();
  const sealed = await startTestCore({ dbPath, clock, config: { keyEncryptionKey: first } });
  const [stored] = storedSecrets(dbPath);
  t.regex(stored!, /^enc:v1:[0-9a-f]{16}:[A-Za-z0-9_-]+$/);
  t.false(stored!.includes(secret));
  const [event] = await sealed.core.deps.store.listAuditEvents({ organization: "", project: "" }, { actions: ["SIGNING_KEYS_RESEALED"] }, { after: 0, limit: 10 });
  const factors = event!.changes.find((c) => c.field === "factors");
  t.is((JSON.parse(factors!.after) as string[]).length, 1);
  t.true((JSON.parse(factors!.after) as string[])[0]!.startsWith(`factor:${DEFAULT.organization}/${DEFAULT.project}/`));
  t.false(JSON.stringify(event).includes(secret), "the event names the factor, never its secret");
  t.true(await signsInWithCode(sealed, secret));
  await sealed.close();

  const second = kek();
  const rotated = await startTestCore({ dbPath, clock, config: { keyEncryptionKey: second, keyEncryptionKeyPrevious: first } });
  t.teardown(() => rotated.close());
  t.not(storedSecrets(dbPath)[0], stored, "sealed again under the new KEK");
  t.true(await signsInWithCode(rotated, secret));
});
