/**
 * Races between replicas on one PostgreSQL database: two key rotations at
 * once, sibling refresh tokens rotated together, a grace-window refresh
 * against its sibling's rotation, and a user or a client deleted on one
 * replica while another gives them a grant. Where a race decides, the test
 * holds one side at the point that matters (a promise the test controls, or
 * a trigger that widens a gap), so that the interleaving is the same every run.
 */
import type { ExecutionContext } from "ava";
import { ConnectError } from "@connectrpc/connect";
import type { GrantRecord, RefreshTokenRecord, Store } from "../../core/store/types.js";
import { exchangeRequest, M2M, obtainCode, READ, refreshRequest, seedFixtures, WRITE } from "../core/flow.js";
import { DEFAULT, seedUser, startTestCore, TestClock, type TestCore } from "../helpers.js";
import { createDatabase, postgresSuite, query } from "../pg.js";
import { CLIENT, database, gate, openStore, REF, seed, sleep, USER } from "./_support.js";

const maybe = postgresSuite("races between replicas");

const oauthError = (err: unknown) => (err instanceof ConnectError ? err.metadata.get("oauth-error") : String(err));


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
  sessionId: "",
  acr: "",
  amr: [],
  claims: "",
  revokedAt: null,
    dpopJkt: "",
    resources: [],
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

maybe("two key rotations of one project at once, on two replicas, leave exactly one current key of each algorithm", async (t) => {
  const [a, b, url] = await replicas(t);
  const current = async () =>
    query<{ kid: string; alg: string }>(
      url,
      "SELECT kid, alg FROM signing_keys WHERE organization_id = $1 AND project_id = $2 AND retired_at IS NULL ORDER BY alg",
      [DEFAULT.organization, DEFAULT.project],
    );
  t.deepEqual((await current()).map((k) => k.alg), ["ES256", "RS256"]);
  for (let round = 0; round < 10; round++) {
    const [x, y] = await Promise.all(
      [a, b].map(async (r) => {
        const made = await r.core.deps.keys.make(DEFAULT);
        return r.core.deps.store.transaction((s) => r.core.deps.keys.rotate(DEFAULT, s, made));
      }),
    );
    const now = await current();
    t.deepEqual(now.map((k) => k.alg), ["ES256", "RS256"], `round ${round}: one current key of each algorithm (${JSON.stringify(now)})`);
    for (const key of now) {
      const alg = key.alg as "ES256" | "RS256";
      t.true([x!.kids[alg], y!.kids[alg]].includes(key.kid), `round ${round}: the current ${alg} key is one of the two new ones`);
    }
    // The rotations took turns: the second retired the first's new keys.
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
