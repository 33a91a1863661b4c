/** The store contract (contract.ts), the multi-factor one (factor-contract.ts) administration's overview (overview-contract.ts) and pushed authorization requests (par-contract.ts) on the SQLite store, and the upgrade of a database of the previous schema. */
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import { migrations } from "../../core/store/sqlite/migrations.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import type { KeySealer } from "../../core/store/sealing.js";
import type { Store } from "../../core/store/types.js";
import { tempDir } from "../helpers.js";
import { storeContract } from "./contract.js";
import { factorContract } from "./factor-contract.js";
import { dpopContract } from "./dpop-contract.js";
import { overviewContract } from "./overview-contract.js";
import { parContract } from "./par-contract.js";
import { resourceContract } from "./resource-contract.js";
import { registrationContract } from "./registration-contract.js";
import { metadataDocumentContract } from "./metadata-document-contract.js";
import { exchangeContract } from "./exchange-contract.js";
import { checkUpgraded, previousRows } from "./upgrade.js";

/** How long closing may take before the test fails (a transaction that never ends keeps close waiting). */
const CLOSE_TIMEOUT_MS = 5_000;

async function open(t: ExecutionContext, options: { sealer?: KeySealer } = {}): Promise<Store> {
  const { dir, cleanup } = tempDir();
  let store: Store;
  try {
    store = openSqliteStore(join(dir, "iam.db"), options);
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

storeContract({ name: "sqlite", revocationsMoveEpoch: true, open });
factorContract({ name: "sqlite", revocationsMoveEpoch: true, open });
overviewContract({ name: "sqlite", revocationsMoveEpoch: true, open });
parContract({ name: "sqlite", revocationsMoveEpoch: true, open });
resourceContract({ name: "sqlite", revocationsMoveEpoch: true, open });
registrationContract({ name: "sqlite", revocationsMoveEpoch: true, open });
metadataDocumentContract({ name: "sqlite", revocationsMoveEpoch: true, open });
exchangeContract({ name: "sqlite", revocationsMoveEpoch: true, open });
dpopContract({ name: "sqlite", revocationsMoveEpoch: true, open });

/** Migrations 1 to 3 held the schema before sign-in sessions. */
const PREVIOUS_VERSION = 3;

test("sqlite: a database of the previous schema upgrades in place, every new field at its default", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const path = join(dir, "iam.db");
  const old = new Database(path);
  old.pragma("foreign_keys = ON");
  old.transaction(() => {
    for (const migration of migrations.slice(0, PREVIOUS_VERSION)) old.exec(migration);
    old.pragma(`user_version = ${PREVIOUS_VERSION}`);
    old.exec(previousRows((values) => `'${JSON.stringify(values)}'`, (value) => (value ? "1" : "0")));
  })();
  old.close();

  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  await checkUpgraded(t, store);
  const upgraded = new Database(path, { readonly: true });
  t.teardown(() => upgraded.close());
  t.is(upgraded.pragma("user_version", { simple: true }), migrations.length);
});

test("sqlite: audit events are written at their group's commit; when that write fails, the group's changes fail with it and none is kept", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const path = join(dir, "iam.db");
  const store = openSqliteStore(path);
  t.teardown(() => store.close());
  await store.createOrganization({ id: "acme", name: "Acme", createdAt: 0 });
  const event = (requestId: string) => ({
    organization: "acme",
    project: "",
    timeMs: 1_000,
    action: "ORGANIZATION_UPDATED",
    outcome: "success" as const,
    reason: "",
    actor: null,
    target: null,
    clientAddress: "",
    userAgent: "",
    requestId,
    changes: [],
    grantType: "",
    scopes: [],
  });
  const chain = { organization: "acme", project: "" };
  // Another connection makes every insert into the trail fail from now on, as a full disk would.
  const other = new Database(path);
  other.exec("CREATE TRIGGER refuse_events BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'no room for events'); END");
  await t.throwsAsync(
    store.transaction(async (tx) => {
      await tx.updateOrganization("acme", { name: "Renamed" });
      t.is(await tx.appendAuditEvent(event("in-tx")), undefined, "within a transaction the event waits for the commit");
    }),
    { any: true, message: /no room for events/ },
  );
  await t.throwsAsync(store.appendAuditEvent(event("alone")), { any: true, message: /no room for events/ });
  t.is((await store.getOrganization("acme"))?.name, "Acme", "the change went with its event");
  other.exec("DROP TRIGGER refuse_events");
  other.close();
  t.deepEqual(await store.listAuditEvents(chain, {}, { after: 0, limit: 10 }), []);

  await store.transaction(async (tx) => {
    await tx.updateOrganization("acme", { name: "Renamed" });
    await tx.appendAuditEvent(event("kept"));
  });
  t.is((await store.getOrganization("acme"))?.name, "Renamed");
  t.deepEqual((await store.listAuditEvents(chain, {}, { after: 0, limit: 10 })).map((e) => [e.sequence, e.requestId]), [[1, "kept"]]);
});
