/** The store contract (contract.ts), the multi-factor one (factor-contract.ts) administration's overview (overview-contract.ts) and pushed authorization requests (par-contract.ts) on the PostgreSQL store, and the upgrade of a database of the previous schema. */
import { randomBytes } from "node:crypto";
import test from "ava";
import { createKeySealer, type KeySealer } from "../../core/store/sealing.js";
import { generateSigningKey } from "../../core/tokens/keys.js";
import { migrations } from "../../core/store/postgres/migrations.js";
import { openPostgresStore } from "../../core/store/postgres/store.js";
import { createDatabase, HAS_POSTGRES, query, SKIP_NOTICE } from "../pg.js";
import { storeContract } from "./contract.js";
import { factorContract, type FactorBackend } from "./factor-contract.js";
import { dpopContract } from "./dpop-contract.js";
import { overviewContract } from "./overview-contract.js";
import { parContract } from "./par-contract.js";
import { resourceContract } from "./resource-contract.js";
import { registrationContract } from "./registration-contract.js";
import { metadataDocumentContract } from "./metadata-document-contract.js";
import { exchangeContract } from "./exchange-contract.js";
import { checkUpgraded, previousRows } from "./upgrade.js";

/** Migration 1 held the schema before sign-in sessions. */
const PREVIOUS_VERSION = 1;

if (HAS_POSTGRES) {
  const backend: FactorBackend = {
    name: "postgres",
    revocationsMoveEpoch: false,
    async open(t, options: { sealer?: KeySealer } = {}) {
      const db = await createDatabase();
      try {
        const store = await openPostgresStore(db.url, options);
        t.teardown(async () => {
          await store.close();
          await db.drop();
        });
        return store;
      } catch (err) {
        await db.drop();
        throw err;
      }
    },
  };
  storeContract(backend);
  factorContract(backend);
  overviewContract(backend);
  parContract(backend);
  resourceContract(backend);
  registrationContract(backend);
  metadataDocumentContract(backend);
  exchangeContract(backend);
  dpopContract(backend);

  test("postgres: keys sealed again at start under a first KEK record SIGNING_KEYS_RESEALED in that transaction, naming the KEK ids, never the KEK", async (t) => {
    const db = await createDatabase();
    t.teardown(() => db.drop());
    const plain = await openPostgresStore(db.url);
    await plain.createOrganization({ id: "acme", name: "Acme", createdAt: 1 });
    await plain.createProject({ organization: "acme", project: "shop", name: "Shop", audience: "", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 1 });
    await plain.addSigningKey(generateSigningKey({ organization: "acme", project: "shop" }, 1));
    await plain.close();
    const kek = randomBytes(32);
    const sealed = await openPostgresStore(db.url, { sealer: createKeySealer(kek) });
    t.teardown(() => sealed.close());
    const events = await sealed.listAuditEvents({ organization: "", project: "" }, { actions: ["SIGNING_KEYS_RESEALED"] }, { after: 0, limit: 10 });
    t.is(events.length, 1);
    t.deepEqual(events[0]!.changes[0], { field: "kek_id", before: '""', after: JSON.stringify(createKeySealer(kek).kekId) });
    t.is((JSON.parse(events[0]!.changes[1]!.after) as string[]).length, 1);
    t.false(JSON.stringify(events).includes(kek.toString("base64")));
  });

  test("postgres: a multi-factor policy set through another replica is answered by this one once announced, not from its memory", async (t) => {
    const db = await createDatabase();
    t.teardown(() => db.drop());
    const ref = { organization: "acme", project: "shop" };
    const here = await openPostgresStore(db.url);
    t.teardown(() => here.close());
    const there = await openPostgresStore(db.url);
    t.teardown(() => there.close());
    await here.createOrganization({ id: "acme", name: "Acme", createdAt: 1 });
    await here.createProject({ ...ref, name: "Shop", audience: "", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 1 });
    t.like(await here.getMfaPolicy(ref), { required: "optional" });
    const epoch = await here.getChangeEpoch();
    const policy = { ...ref, required: "roles" as const, roles: ["admin"], passwordless: true };
    await there.setMfaPolicy(policy);
    // The announcement arrives within milliseconds of the commit.
    for (let i = 0; i < 100 && (await here.getChangeEpoch()) === epoch; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    t.not(await here.getChangeEpoch(), epoch, "the change is announced to this replica");
    t.deepEqual(await here.getMfaPolicy(ref), policy);
  });

  test("postgres: a database of the previous schema upgrades in place, every new field at its default", async (t) => {
    const db = await createDatabase();
    t.teardown(() => db.drop());
    const rows = previousRows(
      (values) => `ARRAY[${values.map((v) => `'${v}'`).join(", ")}]::text[]`,
      (value) => String(value),
    );
    await query(
      db.url,
      `BEGIN; ${migrations.slice(0, PREVIOUS_VERSION).join(";\n")};
        CREATE TABLE iam_schema (version INTEGER NOT NULL); INSERT INTO iam_schema (version) VALUES (${PREVIOUS_VERSION});
        ${rows} COMMIT;`,
    );
    const store = await openPostgresStore(db.url);
    t.teardown(() => store.close());
    await checkUpgraded(t, store);
    t.deepEqual(await query(db.url, "SELECT version FROM iam_schema"), [{ version: migrations.length }]);
  });
} else {
  test.skip(`postgres store contract: ${SKIP_NOTICE}`, () => {});
}
