/**
 * Regression tests of the PostgreSQL store's review: each failure the
 * reviewer reproduced (a listener that dies silently, a connection ended
 * while checked out, a COMMIT answered with ROLLBACK, two key rotations at
 * once, a refresh family split or deadlocked, a grant that survives its
 * user's deletion, a store call that outlives its transaction) is replayed
 * against a database of its own, and its exact outcome asserted. Where a
 * race decides, the test holds one side at the point the reviewer found (a
 * promise the test controls, or a trigger that widens a gap) so that the
 * interleaving is the same every run.
 */
import net from "node:net";
import type { ExecutionContext } from "ava";
import { ConnectError } from "@connectrpc/connect";
import * as postgres from "../../core/store/postgres/store.js";
import { openPostgresStore } from "../../core/store/postgres/store.js";
import {
  AlreadyExists,
  type ClientRecord,
  type GrantRecord,
  type ProjectRef,
  type RefreshTokenRecord,
  type Store,
  type UserRecord,
} from "../../core/store/types.js";
import { exchangeRequest, M2M, obtainCode, READ, refreshRequest, seedFixtures, WRITE } from "../core/flow.js";
import { DEFAULT, seedUser, startTestCore, TestClock, type TestCore } from "../helpers.js";
import { createDatabase, postgresSuite, query } from "../pg.js";

const maybe = postgresSuite("PostgreSQL store review regressions");

/** How often the store checks its listening connection (read from the store, 5 s if it has none). */
const HEARTBEAT_MS = (postgres as { HEARTBEAT_MS?: number }).HEARTBEAT_MS ?? 5000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const REF: ProjectRef = { organization: "org", project: "proj" };
const oauthError = (err: unknown) => (err instanceof ConnectError ? err.metadata.get("oauth-error") : String(err));

/** A promise the test resolves when it chooses. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** A fresh database for the test, dropped at teardown after everything registered with `closing` is closed. */
async function database(t: ExecutionContext): Promise<{ url: string; name: string; closing: (close: () => Promise<unknown>) => void }> {
  const db = await createDatabase();
  const closers: (() => Promise<unknown>)[] = [];
  t.teardown(async () => {
    // In reverse order of opening; none may hold the teardown (a store on a frozen path could).
    for (const close of closers.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([close().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
    }
    await db.drop();
  });
  return { url: db.url, name: new URL(db.url).pathname.slice(1), closing: (close) => closers.push(close) };
}

async function openStore(
  t: ExecutionContext,
  db: { url: string; closing: (close: () => Promise<unknown>) => void },
  options: Parameters<typeof openPostgresStore>[1] = {},
  url = db.url,
): Promise<Store> {
  const store = await openPostgresStore(url, options);
  db.closing(() => store.close());
  return store;
}

const USER: UserRecord = { ...REF, id: "alice", name: "Alice", email: "alice@example.test", passwordHash: "h", enabled: true, createdAt: 1 };
const CLIENT: ClientRecord = {
  ...REF,
  id: "app",
  name: "App",
  type: "confidential",
  secretHash: "old-hash",
  redirectUris: ["https://app.example/cb"],
  grantTypes: ["authorization_code", "refresh_token"],
  pkceRequired: false,
  rememberConsent: false,
  accessTokenTtl: 600,
  refreshTokenTtl: 3600,
  createdAt: 1,
};

async function seed(store: Store): Promise<void> {
  await store.createOrganization({ id: REF.organization, name: "Org", createdAt: 1 });
  await store.createProject({ ...REF, name: "Project", audience: "aud", createdAt: 1 });
  await store.createUser(USER);
  await store.createClient(CLIENT);
}

const grantOf = (id: string): GrantRecord => ({
  ...REF,
  id,
  clientId: CLIENT.id,
  kind: "user",
  userId: USER.id,
  scopes: [],
  authTime: 1,
  createdAt: 1,
  expiresAt: 9e9,
  revokedAt: null,
});
const tokenOf = (tokenHash: string, grantId: string, parentHash: string | null): RefreshTokenRecord => ({
  tokenHash,
  grantId,
  clientId: CLIENT.id,
  scopes: [],
  createdAt: 1,
  expiresAt: 9e9,
  rotatedAt: null,
  parentHash,
});

/** The refresh tokens of a grant nobody has rotated or superseded: the family's live ends. */
const liveTokens = async (url: string, grantId: string) =>
  (await query<{ token_hash: string }>(url, "SELECT token_hash FROM refresh_tokens WHERE grant_id = $1 AND rotated_at IS NULL ORDER BY 1", [grantId])).map(
    (r) => r.token_hash,
  );

/**
 * Waits until `pending` has settled or a backend of the database waits for a
 * row lock (the other side of a race is then held where the test wants it).
 */
async function settledOrBlocked(url: string, name: string, pending: Promise<unknown>, ms = 3000): Promise<"settled" | "blocked"> {
  let settled = false;
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (settled) return "settled";
    const [row] = await query<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [name]);
    if (row!.n > 0) return "blocked";
    await sleep(10);
  }
  throw new Error(`neither settled nor waiting for a lock within ${ms} ms`);
}

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

/** Two cores (replicas) on one fresh database, sharing a clock; the fixtures seeded through the first. */
async function replicas(t: ExecutionContext): Promise<[TestCore, TestCore, string]> {
  const db = await createDatabase();
  const clock = new TestClock();
  const a = await startTestCore({ clock, config: { db: db.url } });
  const b = await startTestCore({ clock, config: { db: db.url } }).catch(async (err: unknown) => {
    await a.close();
    throw err;
  });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });
  await seedFixtures(a);
  return [a, b, db.url];
}

maybe("two key rotations of one project at once, on two replicas, leave exactly one current key", async (t) => {
  const [a, b, url] = await replicas(t);
  const current = async () =>
    query<{ kid: string }>(url, "SELECT kid FROM signing_keys WHERE organization_id = $1 AND project_id = $2 AND retired_at IS NULL", [
      DEFAULT.organization,
      DEFAULT.project,
    ]);
  t.is((await current()).length, 1);
  for (let round = 0; round < 10; round++) {
    const [x, y] = await Promise.all(
      [a, b].map((r) => r.core.deps.store.transaction((s) => r.core.deps.keys.rotate(DEFAULT, s))),
    );
    const now = await current();
    t.is(now.length, 1, `round ${round}: one current key (${JSON.stringify(now)})`);
    t.true([x!.kid, y!.kid].includes(now[0]!.kid), `round ${round}: the current key is one of the two new ones`);
    // The rotations took turns: the second retired the first's new key.
    t.true(x!.retired.includes(y!.kid) || y!.retired.includes(x!.kid), `round ${round}: one rotation retired the other's key`);
  }
});

maybe("two siblings of one refresh token rotated at once on two replicas: no deadlock, one winner, no live sibling left", async (t) => {
  const db = await database(t);
  const a = await openStore(t, db);
  const b = await openStore(t, db);
  await seed(a);
  // Widens the gap between a rotation's two statements (a slow or busy server), nothing else.
  await query(
    db.url,
    `CREATE FUNCTION slow_rotation() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.rotated_at <> 0 THEN PERFORM pg_sleep(0.05); END IF; RETURN NEW; END $$;
     CREATE TRIGGER slow_rotation BEFORE UPDATE ON refresh_tokens FOR EACH ROW EXECUTE FUNCTION slow_rotation()`,
  );
  for (let round = 0; round < 6; round++) {
    const grant = `g${round}`;
    await a.createGrant(grantOf(grant));
    await a.createRefreshToken({ ...tokenOf(`p${round}`, grant, null), rotatedAt: 100 });
    // Two answers to the same parent within the grace window.
    await a.createRefreshToken(tokenOf(`c1-${round}`, grant, `p${round}`));
    await a.createRefreshToken(tokenOf(`c2-${round}`, grant, `p${round}`));
    // Each refresh as the grant does it: rotate, and on success the next token of the chain.
    const refresh = (store: Store, hash: string) =>
      store.transaction(async (s) => {
        if (!(await s.rotateRefreshToken(hash, 200))) return false;
        await s.createRefreshToken(tokenOf(`${hash}'`, grant, hash));
        return true;
      });
    const results = await Promise.allSettled([refresh(a, `c1-${round}`), refresh(b, `c2-${round}`)]);
    const failures = results.flatMap((r) => (r.status === "rejected" ? [`${(r.reason as { code?: string }).code} ${(r.reason as Error).message}`] : []));
    t.deepEqual(failures, [], `round ${round}: no rotation failed (40P01 is a deadlock)`);
    const won = results.map((r) => r.status === "fulfilled" && r.value === true);
    t.is(won.filter(Boolean).length, 1, `round ${round}: exactly one rotation wins (${JSON.stringify(won)})`);
    const winner = won[0] ? `c1-${round}` : `c2-${round}`;
    t.deepEqual(await liveTokens(db.url, grant), [`${winner}'`], `round ${round}: only the winner's new token is live`);
  }
});

maybe("a grace-window refresh racing the rotation of its sibling: the sibling it answers is superseded, the family stays one chain", async (t) => {
  const db = await database(t);
  const a = await openStore(t, db);
  const b = await openStore(t, db);
  await seed(a);
  await a.createGrant(grantOf("g1"));
  await a.createRefreshToken(tokenOf("P", "g1", null));
  // Tab 1 refreshes P: P rotated, C1 answered.
  await a.transaction(async (s) => {
    t.true(await s.rotateRefreshToken("P", 100));
    await s.createRefreshToken(tokenOf("C1", "g1", "P"));
  });

  // Tab 2 presents P within the grace window (through the other replica): rotate fails, in grace, a sibling C2 is answered…
  const held = gate();
  const reached = gate();
  const tab2 = b.transaction(async (s) => {
    const rotated = await s.rotateRefreshToken("P", 101);
    await s.createRefreshToken(tokenOf("C2", "g1", "P"));
    reached.open();
    await held.wait; // signing, extendGrant, the commit's round trip
    await s.extendGrant("g1", 9e9);
    return rotated;
  });
  await reached.wait;
  // …while tab 1 already refreshes C1: the first sibling used supersedes the others.
  const tab1 = a.transaction(async (s) => {
    if (!(await s.rotateRefreshToken("C1", 102))) return false;
    await s.createRefreshToken(tokenOf("C1'", "g1", "C1"));
    return true;
  });
  await settledOrBlocked(db.url, db.name, tab1);
  held.open();

  const [second, first] = await Promise.allSettled([tab2, tab1]);
  t.deepEqual(second, { status: "fulfilled", value: false }, "tab 2's refresh was a grace-window answer, not a rotation");
  t.deepEqual(first, { status: "fulfilled", value: true }, "tab 1's rotation of C1 wins");
  t.is((await a.getRefreshToken("C2"))?.rotatedAt, 0, "C2 is superseded");
  t.deepEqual(await liveTokens(db.url, "g1"), ["C1'"], "one chain: the winner's new token is the only live one");
});

maybe("a user deleted on one replica while a code of theirs is exchanged on another keeps no grant and no working refresh token", async (t) => {
  const [a, b, url] = await replicas(t);
  const store = b.core.deps.store as Store;
  // Where the exchange on b is held, inside its transaction (the store's methods are looked up on it there too).
  let pause: { at: "consume" | "consumed" | "granted"; reached: () => void; held: Promise<void> } | undefined;
  const hold = async (at: "consume" | "consumed" | "granted") => {
    const p = pause;
    if (p?.at !== at) return;
    pause = undefined;
    p.reached();
    await p.held;
  };
  const consume = store.consumeAuthorizationCode.bind(store);
  const createGrant = store.createGrant.bind(store);
  Object.assign(store, {
    consumeAuthorizationCode: async (...args: Parameters<Store["consumeAuthorizationCode"]>) => {
      await hold("consume");
      const consumed = await consume(...args);
      await hold("consumed");
      return consumed;
    },
    createGrant: async (grant: GrantRecord) => {
      await createGrant(grant);
      await hold("granted");
    },
  });
  const name = new URL(url).pathname.slice(1);

  // The exchange held before its code is consumed, after, and after its grant is created; then twice not held at all.
  const plan = ["consume", "consumed", "granted", "consume", "consumed", "granted", undefined, undefined] as const;
  for (const [round, at] of plan.entries()) {
    const user = { id: `user-${round}`, password: `password-${round}` };
    await seedUser(a.core, { ...user, permissions: [READ, WRITE] });
    const { code } = await obtainCode(a, { user });

    let deletion: Promise<boolean>;
    let exchange: Promise<{ refreshToken: string; accessToken: string }>;
    if (at === undefined) {
      exchange = b.tokens.token(exchangeRequest(code));
      exchange.catch(() => {});
      await sleep(round % 2 === 0 ? 0 : 5);
      deletion = a.core.deps.store.deleteUser(DEFAULT, user.id);
    } else {
      const reached = gate();
      const held = gate();
      pause = { at, reached: reached.open, held: held.wait };
      exchange = b.tokens.token(exchangeRequest(code));
      // A failure before the pause is reached must not leave the test waiting.
      await Promise.race([reached.wait, exchange.catch(() => {})]);
      deletion = a.core.deps.store.deleteUser(DEFAULT, user.id);
      await settledOrBlocked(url, name, deletion);
      held.open();
    }
    const [exchanged, deleted] = await Promise.allSettled([exchange, deletion]);
    pause = undefined;
    t.deepEqual(deleted, { status: "fulfilled", value: true }, `round ${round} (${at}): the user is deleted`);
    if (exchanged.status === "rejected") {
      t.is(oauthError(exchanged.reason), "invalid_grant", `round ${round} (${at}): the exchange failed as invalid_grant`);
    }
    t.deepEqual(await query(url, "SELECT id FROM grants WHERE user_id = $1", [user.id]), [], `round ${round} (${at}): no grant of the deleted user`);
    if (exchanged.status === "fulfilled") {
      for (const r of [a, b]) {
        const refreshed = await r.tokens.token(refreshRequest(exchanged.value.refreshToken)).then(
          () => "refreshed",
          (err: unknown) => oauthError(err),
        );
        t.is(refreshed, "invalid_grant", `round ${round} (${at}): the exchange's refresh token does not refresh`);
      }
    }
    t.log(`round ${round} (${at ?? "free"}): exchange ${exchanged.status}`);
  }
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

maybe("a client deleted on one replica while another is about to give it a client_credentials grant gets no token and keeps no grant", async (t) => {
  const [a, b, url] = await replicas(t);
  const store = b.core.deps.store;
  const createGrant = store.createGrant.bind(store);
  const atGrant = gate();
  const held = gate();
  // Held after the client authenticated (its secret verified) and before its grant is written.
  Object.assign(store, {
    createGrant: async (g: GrantRecord) => {
      atGrant.open();
      await held.wait;
      return createGrant(g);
    },
  });
  const issued = b.tokens.token({ ...DEFAULT, grantType: "client_credentials", basic: { clientId: M2M.id, clientSecret: M2M.secret } });
  await atGrant.wait;
  t.true(await a.core.deps.store.deleteClient(DEFAULT, M2M.id));
  held.open();
  const err = await issued.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.is(oauthError(err), "invalid_client", "no token for a client that no longer exists");
  t.deepEqual(await query(url, "SELECT id FROM grants WHERE client_id = $1", [M2M.id]), []);
});
