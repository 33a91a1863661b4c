/**
 * The store keeps to itself: its database file and folder are readable by
 * their owner only, and a key load started outside a transaction does not
 * deadlock the transaction that needs the same keys.
 */
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import test from "ava";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { DEFAULT, tempDir } from "../helpers.js";
import { setup } from "./flow.js";

test("the database file and its folder are readable by their owner only", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const path = join(dir, "fresh", "iam.db");
  const store = openSqliteStore(path);
  await store.close();
  t.is(statSync(path).mode & 0o777, 0o600);
  t.is(statSync(dirname(path)).mode & 0o777, 0o700);
});

test("a key load started outside a transaction while it is open does not deadlock the transaction that needs the same keys", async (t) => {
  const c = await setup(t);
  const { store, keys } = c.core.deps;
  keys.forget(DEFAULT); // cold, as after a restart
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  // Created here, outside the transaction's async flow: this load waits for the transaction.
  const outside = opened.then(() => keys.jwks(DEFAULT));
  const inside = store.transaction(async () => {
    release();
    await new Promise((resolve) => setImmediate(resolve));
    return keys.signing(DEFAULT, "ES256");
  });
  const result = await Promise.race([
    Promise.all([inside, outside]).then(([signing, jwks]) => jwks?.some((k) => k.kid === signing.kid)),
    new Promise((resolve) => setTimeout(() => resolve("deadlocked"), 5_000)),
  ]);
  t.is(result, true);
});
