/**
 * The store's declarations (core/store/methods.ts) and the caching layer
 * that acts on them (core/store/cached.ts): every operation of every backend
 * is declared, and the layer reads, remembers, drops and times exactly as
 * the declarations say, whatever the backend.
 */
import test from "ava";
import pg from "pg";
import type { Backend, BackendEvents, Operations } from "../../core/store/backend.js";
import { CACHE_LIMIT, cachedStore } from "../../core/store/cached.js";
import { DECLARATIONS, STORE_METHODS, type StoreMethod } from "../../core/store/methods.js";
import { ChangeListener, postgresBackend } from "../../core/store/postgres/store.js";
import { createKeySealer } from "../../core/store/sealing.js";
import { openDatabase, sqliteBackend } from "../../core/store/sqlite/store.js";
import type { Store } from "../../core/store/types.js";

const sorted = (names: Iterable<string>) => [...names].sort();
const events: BackendEvents = { observe: () => {}, rolledBack: () => {} };

test("every operation of the SQLite backend is declared, and every declaration names one of its operations", (t) => {
  const db = openDatabase(":memory:");
  t.teardown(() => db.close());
  const backend = sqliteBackend(db, createKeySealer(), events);
  t.deepEqual(sorted(Object.keys(backend.ops)), sorted(STORE_METHODS));
  for (const name of STORE_METHODS) t.is(typeof backend.ops[name], "function", name);
});

test("every operation of the PostgreSQL backend is declared, and every declaration names one of its operations", async (t) => {
  // Nothing connects: the operations are only listed.
  const connection = { connectionString: "postgres://nobody@127.0.0.1:1/none" };
  const pool = new pg.Pool(connection);
  t.teardown(() => pool.end());
  const backend = postgresBackend(pool, createKeySealer(), new ChangeListener(connection, "declarations-test"), events);
  t.deepEqual(sorted(Object.keys(backend.ops)), sorted(STORE_METHODS));
  for (const name of STORE_METHODS) t.is(typeof backend.ops[name], "function", name);
});

test("a backend with an operation the declarations do not name, or without a declared one, is refused", (t) => {
  const extra = fakeBackend().backend;
  (extra.ops as unknown as Record<string, unknown>).findEverything = () => [];
  t.throws(() => cachedStore(() => extra), { message: /undeclared \["findEverything"\]/ });
  const short = fakeBackend().backend;
  delete (short.ops as unknown as Record<string, unknown>).getGrant;
  t.throws(() => cachedStore(() => short), { message: /without an operation \["getGrant"\]/ });
});

/**
 * A backend whose operations answer a fresh object each call and count
 * their calls; its epoch moves when the test says; `async` answers through
 * promises, as PostgreSQL does, else synchronously, as SQLite does.
 */
function fakeBackend(options: { async?: boolean; cacheInTransaction?: boolean; revocationsMoveEpoch?: boolean; answer?: unknown } = {}) {
  const calls: string[] = [];
  const state = { epoch: 0, epochReads: 0, changed: 0, inTransaction: false, onRead: () => {} };
  let told: BackendEvents = events;
  const ops = {} as Record<string, (...args: unknown[]) => unknown>;
  for (const name of STORE_METHODS) {
    ops[name] = () => {
      calls.push(name);
      state.onRead();
      const answer = "answer" in options ? options.answer : { from: name, list: ["a"] };
      return options.async ? Promise.resolve(answer) : answer;
    };
  }
  const backend: Backend = {
    ops: ops as unknown as Operations,
    enter: (_kind, run) => run,
    transaction: async (fn) => {
      state.inTransaction = true;
      try {
        return await fn();
      } finally {
        state.inTransaction = false;
      }
    },
    inTransaction: () => state.inTransaction,
    cacheInTransaction: options.cacheInTransaction ?? true,
    revocationsMoveEpoch: options.revocationsMoveEpoch ?? true,
    changes: { epoch: () => (state.epochReads++, state.epoch), changing: () => () => void state.changed++ },
    probeWrite: async () => {},
    close: async () => {},
  };
  const open = (given: BackendEvents) => {
    told = given;
    return backend;
  };
  return { backend, open, calls, state, rolledBack: () => told.rolledBack() };
}

const ARGS = [{ organization: "org", project: "proj" }, "id"];
const call = (store: Store, name: StoreMethod, args: unknown[] = ARGS) =>
  (store[name] as (...args: unknown[]) => Promise<unknown>)(...args);
const cachedReads = (store: Store) => (store as unknown as { cachedReads: number }).cachedReads;

for (const async of [false, true]) {
  const kind = async ? "answering promises" : "answering synchronously";

  test(`over a backend ${kind}, each method reads, remembers, drops and moves the epoch as declared`, async (t) => {
    for (const name of STORE_METHODS) {
      const declaration = DECLARATIONS[name];
      const { open, calls, state } = fakeBackend({ async });
      const store = cachedStore(open);
      // Something remembered, to see whether the method drops it.
      await call(store, "getProject");
      const first = await call(store, name);
      const second = await call(store, name);
      const reached = calls.filter((c) => c === name).length;
      if (declaration.kind === "read" && declaration.cacheKey !== undefined) {
        t.is(reached, 1, `${name} is answered from memory the second time`);
        t.is(second, first, `${name}: the same frozen record`);
        t.true(Object.isFrozen(first) && Object.isFrozen((first as { list: string[] }).list), `${name}: frozen deeply`);
      } else {
        t.is(reached, 2, `${name} reaches the database at every call`);
      }
      if (declaration.kind === "write" && declaration.changes === "administration") {
        t.is(state.changed, 2, `${name} tells the backend that administration's tables changed`);
        t.is(cachedReads(store), 0, `${name} drops what is kept`);
      } else {
        t.is(state.changed, 0, `${name} leaves the epoch alone`);
        t.true(cachedReads(store) >= 1, `${name} leaves what is kept`);
      }
    }
  });

  test(`over a backend ${kind}, a record read while the epoch moved is answered but not kept`, async (t) => {
    const { open, calls, state } = fakeBackend({ async });
    const store = cachedStore(open);
    state.onRead = () => void state.epoch++;
    await call(store, "getClient");
    t.is(cachedReads(store), 0);
    state.onRead = () => {};
    await call(store, "getClient");
    await call(store, "getClient");
    t.deepEqual(calls, ["getClient", "getClient"], "kept once read at a standing epoch");
    state.epoch++;
    await call(store, "getClient");
    t.is(calls.length, 3, "read again once the epoch moved");
  });
}

test("reads within a transaction reach the database when the backend says memory may not answer them", async (t) => {
  const { open, calls } = fakeBackend({ async: true, cacheInTransaction: false });
  const store = cachedStore(open);
  await call(store, "getUser");
  await store.transaction(async (tx) => {
    await call(tx, "getUser");
    await call(tx, "getUser");
  });
  await call(store, "getUser");
  t.deepEqual(calls, ["getUser", "getUser", "getUser"], "only the two within the transaction reached it");
});

test("reads within a transaction are remembered when the backend's epoch covers them", async (t) => {
  const { open, calls } = fakeBackend({ cacheInTransaction: true });
  const store = cachedStore(open);
  await store.transaction(async (tx) => {
    await call(tx, "getUser");
    await call(tx, "getUser");
  });
  t.deepEqual(calls, ["getUser"]);
});

test("grants are kept in memory only over a backend whose epoch revocations move, and a grant not found is never kept", async (t) => {
  const kept = fakeBackend({ revocationsMoveEpoch: true });
  const store = cachedStore(kept.open);
  await call(store, "getGrant", ["g-1"]);
  await call(store, "getGrant", ["g-1"]);
  await call(store, "findClientGrant");
  await call(store, "findClientGrant");
  t.deepEqual(kept.calls, ["getGrant", "findClientGrant"], "answered from memory the second time");

  const replicas = fakeBackend({ revocationsMoveEpoch: false });
  const elsewhere = cachedStore(replicas.open);
  await call(elsewhere, "getGrant", ["g-1"]);
  await call(elsewhere, "getGrant", ["g-1"]);
  await call(elsewhere, "findClientGrant");
  await call(elsewhere, "findClientGrant");
  t.deepEqual(replicas.calls, ["getGrant", "getGrant", "findClientGrant", "findClientGrant"], "read at every use");

  const missing = fakeBackend({ answer: undefined });
  const none = cachedStore(missing.open);
  await call(none, "getGrant", ["g-2"]);
  await call(none, "getGrant", ["g-2"]);
  await call(none, "getClient");
  await call(none, "getClient");
  t.deepEqual(missing.calls, ["getGrant", "getGrant", "getClient"], "a grant inserted later moves no epoch: its absence is not kept");
});

test("within one unit of work the epoch is read once, again after the unit writes; each unit reads its own", async (t) => {
  const { open, state, calls } = fakeBackend();
  let unit: object | undefined = { request: 1 };
  const store = cachedStore(open, undefined, () => unit);
  await call(store, "getProject");
  await call(store, "getClient");
  await call(store, "getUser");
  await call(store, "getClientPermissions");
  t.is(state.epochReads, 1 + 4, "one read for the unit, and one as each of the four loaded records is kept");
  await call(store, "getClient");
  await call(store, "getUser");
  t.is(state.epochReads, 5, "answered from memory without reading the epoch again");
  await call(store, "createGrant", [{}]);
  await call(store, "getClient");
  t.is(state.epochReads, 6, "a write of the unit makes it read the epoch again");
  unit = { request: 2 };
  await call(store, "getClient");
  t.is(state.epochReads, 7, "another unit reads its own");
  unit = undefined;
  await call(store, "getClient");
  await call(store, "getClient");
  t.is(state.epochReads, 9, "outside a unit, at every read");
  t.deepEqual(calls, ["getProject", "getClient", "getUser", "getClientPermissions", "createGrant"]);
});

test("a unit that read its epoch before memory moved on reads the database and keeps nothing", async (t) => {
  const { open, state, calls } = fakeBackend();
  const early = { request: "early" };
  let unit: object = early;
  const store = cachedStore(open, undefined, () => unit);
  await call(store, "getProject");
  // Another process changes administration; a later request sees it and reloads.
  state.epoch++;
  unit = { request: "late" };
  await call(store, "getClient");
  t.is(cachedReads(store), 1, "memory moved on to the new epoch");
  // The early request, still at the old epoch, may not be answered from memory kept at the new one.
  unit = early;
  await call(store, "getClient");
  await call(store, "getUser");
  t.deepEqual(calls, ["getProject", "getClient", "getClient", "getUser"]);
  t.is(cachedReads(store), 1, "and keeps nothing");
});

test("a rollback the backend tells of drops what is kept", async (t) => {
  const { open, rolledBack } = fakeBackend();
  const store = cachedStore(open);
  await call(store, "getClient");
  t.is(cachedReads(store), 1);
  rolledBack();
  t.is(cachedReads(store), 0);
});

test("past CACHE_LIMIT entries the copy starts again empty", async (t) => {
  const { open } = fakeBackend();
  const store = cachedStore(open);
  for (let i = 0; i < CACHE_LIMIT; i++) await call(store, "getClient", [ARGS[0], `client-${i}`]);
  t.is(cachedReads(store), CACHE_LIMIT);
  await call(store, "getClient", [ARGS[0], "one-more"]);
  t.is(cachedReads(store), 1);
});

test("keys keep projects, ids and methods apart", async (t) => {
  const { open, calls } = fakeBackend();
  const store = cachedStore(open);
  const other = { organization: "org", project: "proj2" };
  await call(store, "getClient", [ARGS[0], "x"]);
  await call(store, "getClient", [other, "x"]);
  await call(store, "getUser", [ARGS[0], "x"]);
  await call(store, "getUserPermissions", [ARGS[0], "x"]);
  await call(store, "getClientPermissions", [ARGS[0], "x"]);
  await call(store, "getProject", [ARGS[0]]);
  await call(store, "getProject", [other]);
  t.is(calls.length, 7);
  t.is(cachedReads(store), 7);
});

for (const async of [false, true]) {
  test(`operations are timed when they reach the database, answers from memory are not (${async ? "promises" : "synchronous"})`, async (t) => {
    const { open } = fakeBackend({ async });
    const observed: string[] = [];
    const store = cachedStore(open, (operation, seconds) => {
      t.true(seconds >= 0);
      observed.push(operation);
    });
    await call(store, "getClient");
    await call(store, "getClient");
    await call(store, "getGrant");
    await call(store, "createGrant");
    t.deepEqual(observed, ["getClient", "getGrant", "createGrant"]);
  });
}

test("a write of administration is announced to the backend before it runs, and told done once it has", async (t) => {
  const { backend, open } = fakeBackend({ async: true });
  const steps: string[] = [];
  backend.changes.changing = () => {
    steps.push("changing");
    return () => steps.push("made");
  };
  (backend.ops as unknown as Record<string, unknown>).updateClient = async () => {
    steps.push("write");
    return true;
  };
  const store = cachedStore(open);
  await call(store, "updateClient");
  t.deepEqual(steps, ["changing", "write", "made"]);
});

test("a failing operation is still timed, and an administration write that fails still drops what is kept", async (t) => {
  for (const async of [false, true]) {
    const { backend, open, state } = fakeBackend({ async });
    const fail = () => {
      if (!async) throw new Error("refused");
      return Promise.reject(new Error("refused"));
    };
    (backend.ops as unknown as Record<string, unknown>).createClient = fail;
    const observed: string[] = [];
    const store = cachedStore(open, (operation) => observed.push(operation));
    await call(store, "getClient");
    await t.throwsAsync(call(store, "createClient"), { message: "refused" });
    t.deepEqual(observed, ["getClient", "createClient"]);
    t.is(cachedReads(store), 0);
    t.is(state.changed, 1);
  }
});
