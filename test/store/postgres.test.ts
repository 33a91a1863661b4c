/** The store contract (contract.ts) on the PostgreSQL store, and the upgrade of a database of the previous schema. */
import test from "ava";
import { migrations } from "../../core/store/postgres/migrations.js";
import { openPostgresStore } from "../../core/store/postgres/store.js";
import { createDatabase, HAS_POSTGRES, query, SKIP_NOTICE } from "../pg.js";
import { storeContract } from "./contract.js";
import { checkUpgraded, previousRows } from "./upgrade.js";

/** Migration 1 held the schema before sign-in sessions. */
const PREVIOUS_VERSION = 1;

if (HAS_POSTGRES) {
  storeContract({
    name: "postgres",
    revocationsMoveEpoch: false,
    async open(t) {
      const db = await createDatabase();
      try {
        const store = await openPostgresStore(db.url);
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
