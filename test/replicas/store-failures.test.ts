/**
 * The PostgreSQL store when its connections fail or its callers misbehave:
 * a listening connection that goes silent, a connection the server ends in
 * the middle of a transaction, a transaction whose fn swallows a failed
 * statement, and store calls that outlive their transaction. Each is
 * replayed against a database of its own and its exact outcome asserted.
 */
import net from "node:net";
import * as postgres from "../../core/store/postgres/store.js";
import { AlreadyExists, type UserRecord } from "../../core/store/types.js";
import { postgresSuite, query } from "../pg.js";
import { CLIENT, database, gate, openStore, REF, seed, sleep, USER } from "./_support.js";

const maybe = postgresSuite("PostgreSQL store under failure");

/** How often the store checks its listening connection (read from the store, 5 s if it has none). */
const HEARTBEAT_MS = (postgres as { HEARTBEAT_MS?: number }).HEARTBEAT_MS ?? 5000;

/**
 * A TCP proxy in front of the test server whose connections can be frozen:
 * bytes stop flowing both ways and are dropped, the sockets stay open (a
 * path a NAT, a balancer or a partition black-holed: no FIN, no RST).
 */
async function startProxy(target: URL) {
  const conns: { client: net.Socket; server: net.Socket; frozen: boolean; listens: boolean }[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    const conn = { client, server: upstream, frozen: false, listens: false };
    conns.push(conn);
    client.on("data", (data: Buffer) => {
      if (data.includes("LISTEN iam_changes")) conn.listens = true;
      if (!conn.frozen) upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => {
      if (!conn.frozen) client.write(data);
    });
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url: url.toString(),
    /** Freezes the connections that sent LISTEN; answers how many. */
    freezeListeners: () => conns.filter((c) => c.listens && !c.frozen && !c.client.destroyed).map((c) => (c.frozen = true)).length,
    close: async () => {
      for (const c of conns) {
        c.client.destroy();
        c.server.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

maybe("a listening connection that goes silent is noticed within two heartbeats: nothing stale is answered after, and it comes back", async (t) => {
  t.timeout(40_000);
  const db = await database(t);
  const direct = await openStore(t, db);
  await seed(direct);
  const proxy = await startProxy(new URL(db.url));
  // Closed before the stores (registered after them): its sockets end, so no close waits on a frozen path.
  const events: string[] = [];
  const store = await openStore(t, db, { onListenerChange: (up) => events.push(up ? "up" : "down") }, proxy.url);
  db.closing(() => proxy.close());

  // Read, and so kept in memory.
  t.true((await store.getUser(REF, USER.id))!.enabled);
  t.is((await store.getClient(REF, CLIENT.id))!.secretHash, "old-hash");
  t.true((store as unknown as { cachedReads: number }).cachedReads >= 2, "the reads are answered from memory");

  // The listener's path is black-holed; then another replica (or an operator's SQL) disables the user and changes the secret.
  t.is(proxy.freezeListeners(), 1, "one listening connection, frozen");
  await query(db.url, "UPDATE users SET enabled = false WHERE organization_id = $1 AND project_id = $2 AND id = $3", [REF.organization, REF.project, USER.id]);
  t.true(await direct.setClientSecret(REF, CLIENT.id, "new-hash"));
  const changed = Date.now();

  const bound = 2 * HEARTBEAT_MS + 5000;
  let seen = false;
  while (Date.now() - changed < bound) {
    const user = await store.getUser(REF, USER.id);
    const client = await store.getClient(REF, CLIENT.id);
    if (user?.enabled === false && client?.secretHash === "new-hash") {
      seen = true;
      break;
    }
    await sleep(200);
  }
  const took = Date.now() - changed;
  t.true(seen, `the disabled user and the new secret are seen within ${bound} ms (waited ${took} ms)`);
  t.is(events[0], "down", "the lost listener was reported");
  t.log(`seen after ${took} ms; listener events ${JSON.stringify(events)}`);

  // It comes back (through the proxy, on a new connection), and changes reach memory by notification again.
  const deadline = Date.now() + 5000;
  while (!events.includes("up") && Date.now() < deadline) await sleep(50);
  t.deepEqual(events, ["down", "up"]);
  await store.getUser(REF, USER.id);
  await query(db.url, "UPDATE users SET name = 'Alice again' WHERE organization_id = $1 AND project_id = $2 AND id = $3", [REF.organization, REF.project, USER.id]);
  const renamed = Date.now() + 3000;
  while ((await store.getUser(REF, USER.id))!.name !== "Alice again" && Date.now() < renamed) await sleep(20);
  t.is((await store.getUser(REF, USER.id))!.name, "Alice again");
});

maybe("a transaction whose connection the server ends while idle in it rejects; the process lives and the store answers on", async (t) => {
  const db = await database(t);
  // One pooled connection: were the broken one handed out again, every later call would fail.
  const store = await openStore(t, db, { poolSize: 1 });
  await seed(store);

  const paused = gate();
  const reached = gate();
  const tx = store.transaction(async (s) => {
    await s.getUser(REF, USER.id);
    reached.open();
    await paused.wait; // between two statements: signing, a round trip, any await
    return s.getUser(REF, USER.id);
  });
  const outcome = tx.then(
    (user) => `answered ${user?.id}`,
    (err: Error) => err,
  );
  await reached.wait;
  const idle = await query<{ pid: number }>(db.url, "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'idle in transaction'", [db.name]);
  t.is(idle.length, 1, "the store's transaction is idle in transaction");
  // A failover, a restart, a DBA, or idle_in_transaction_session_timeout.
  t.deepEqual(await query(db.url, "SELECT pg_terminate_backend($1) AS done", [idle[0]!.pid]), [{ done: true }]);
  const gone = Date.now() + 5000;
  while ((await query(db.url, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", [idle[0]!.pid])).length > 0 && Date.now() < gone) await sleep(10);
  // The connection's end reaches the client while it is checked out (an 'error' event nobody else listens to).
  await sleep(200);
  paused.open();

  const err = await outcome;
  t.true(err instanceof Error, `the transaction rejects (it ${String(err)})`);
  // Still here: the process did not die of an unhandled 'error' event. The store answers, on a new connection.
  t.is((await store.getUser(REF, USER.id))?.id, USER.id);
  t.is(await store.transaction(async (s) => (await s.getOrganization(REF.organization))?.id), REF.organization);
  for (let i = 0; i < 3; i++) t.is((await store.getClient(REF, CLIENT.id))?.id, CLIENT.id);
});

maybe("a transaction whose fn catches a failed statement and returns normally rejects, and nothing of it is stored", async (t) => {
  const db = await database(t);
  const store = await openStore(t, db);
  await seed(store);

  // AlreadyExists (a unique violation) caught: "fine, it exists".
  const duplicate = store.transaction(async (s) => {
    await s.createOrganization({ id: "new-org", name: "New", createdAt: 1 });
    try {
      await s.createOrganization({ id: REF.organization, name: "Again", createdAt: 1 });
    } catch (err) {
      if (!(err instanceof AlreadyExists)) throw err;
    }
    return "committed";
  });
  await t.throwsAsync(duplicate, { message: /rolled back/ });
  t.is(await store.getOrganization("new-org"), undefined);
  t.deepEqual(await query(db.url, "SELECT id FROM organizations WHERE id = 'new-org'"), []);

  // Any failed statement: a user of a project that does not exist (a foreign key), its error swallowed.
  const swallowed = store.transaction(async (s) => {
    await s.createUser({ ...USER, id: "bob" });
    await s.createUser({ ...USER, project: "no-such-project", id: "carol" }).catch(() => {});
    return "committed";
  });
  await t.throwsAsync(swallowed, { message: /rolled back/ });
  t.is(await store.getUser(REF, "bob"), undefined);
  t.deepEqual(await query(db.url, "SELECT id FROM users WHERE id IN ('bob', 'carol')"), []);

  // And the store goes on: a clean transaction commits.
  t.is(await store.transaction(async (s) => s.createOrganization({ id: "later", name: "Later", createdAt: 1 }).then(() => "committed")), "committed");
  t.is((await store.getOrganization("later"))?.id, "later");
});

maybe("a store call made from a continuation that outlives its transaction throws instead of using a released connection", async (t) => {
  const db = await database(t);
  const store = await openStore(t, db, { poolSize: 1 });
  await seed(store);

  let read!: Promise<unknown>;
  let write!: Promise<unknown>;
  const answered = await store.transaction(async (s) => {
    // Started in the transaction, not awaited by it: runs after its COMMIT, on a connection no longer its own.
    read = sleep(50).then(() => s.getUser(REF, USER.id)).then((user) => `read ${(user as UserRecord | undefined)?.id}`, (err: Error) => err);
    write = sleep(50)
      .then(() => s.createOrganization({ id: "straggler", name: "Late", createdAt: 1 }))
      .then(() => "written", (err: Error) => err);
    return "committed";
  });
  t.is(answered, "committed");
  // The connection is someone else's by now: another transaction holds it.
  const other = store.transaction(async (s) => {
    await sleep(150);
    return (await s.getOrganization("straggler"))?.id ?? "none";
  });
  for (const outcome of [await read, await write]) {
    t.true(outcome instanceof Error, `the late call throws (it answered ${String(outcome)})`);
    t.regex((outcome as Error).message, /outlived its transaction/);
  }
  t.is(await other, "none");
  t.deepEqual(await query(db.url, "SELECT id FROM organizations WHERE id = 'straggler'"), []);
  t.is((await store.getUser(REF, USER.id))?.id, USER.id, "the store answers on");
});

maybe("a store call queued while the transaction's ROLLBACK is on the wire throws, and its write does not land outside the transaction", async (t) => {
  const db = await database(t);
  const store = await openStore(t, db, { poolSize: 1 });
  await seed(store);
  let late: Promise<unknown> | undefined;
  const outcome = await store
    .transaction(async (s) => {
      await s.getUser(REF, USER.id);
      // Runs on the next turn: while ROLLBACK is being sent on the transaction's connection.
      late = new Promise((resolve) =>
        setImmediate(() => resolve(s.createOrganization({ id: "escaped", name: "E", createdAt: 1 }).then(() => "written", (err: Error) => err))),
      );
      throw new Error("the transaction fails");
    })
    .then(() => "committed", (err: Error) => err.message);
  t.is(outcome, "the transaction fails");
  const straggler = await late;
  t.true(straggler instanceof Error, `the late write throws (it answered ${String(straggler)})`);
  t.regex((straggler as Error).message, /outlived its transaction/);
  await sleep(100);
  t.deepEqual(await query(db.url, "SELECT id FROM organizations WHERE id = 'escaped'"), []);
});
