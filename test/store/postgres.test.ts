import test from "ava";
import { openPostgresStore } from "../../core/store/postgres/store.js";
import { createDatabase, HAS_POSTGRES, SKIP_NOTICE } from "../pg.js";
import { storeContract } from "./contract.js";

if (HAS_POSTGRES) {
  storeContract({
    name: "postgres",
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
} else {
  test.skip(`postgres store contract: ${SKIP_NOTICE}`, () => {});
}
