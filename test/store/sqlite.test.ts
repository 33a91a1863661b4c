/** The store contract (contract.ts) on the SQLite store. */
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import type { Store } from "../../core/store/types.js";
import { tempDir } from "../helpers.js";
import { storeContract } from "./contract.js";

/** How long closing may take before the test fails (a transaction that never ends keeps close waiting). */
const CLOSE_TIMEOUT_MS = 5_000;

async function open(t: ExecutionContext): Promise<Store> {
  const { dir, cleanup } = tempDir();
  let store: Store;
  try {
    store = openSqliteStore(join(dir, "iam.db"));
  } catch (err) {
    cleanup();
    throw err;
  }
  t.teardown(async () => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        store.close(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the store did not close within ${CLOSE_TIMEOUT_MS} ms`)), CLOSE_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      cleanup();
    }
  });
  return store;
}

storeContract({ name: "sqlite", open });
