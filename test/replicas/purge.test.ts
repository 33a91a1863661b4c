/**
 * The purge on PostgreSQL, where every replica runs it: it deletes in bounded
 * batches, under an advisory lock, so two replicas never purge at once and
 * never count a row twice; and over a long run with a moving clock the
 * flow's tables stay at what is live, however much went through them.
 */
import { LOCKS, openPostgresStore, PURGE_BATCH } from "../../core/store/postgres/store.js";
import { authorizeRequest, countRows, exchangeRequest, nowSeconds, obtainCode, refreshRequest, setup, WEB } from "../core/flow.js";
import { createDatabase, postgresSuite, query } from "../pg.js";
import pg from "pg";

const maybe = postgresSuite("replica purge");

/** A database with one grant, and `n` refresh tokens of it that expired at 1000. */
async function expiredRows(n: number) {
  const db = await createDatabase();
  const stores = [await openPostgresStore(db.url), await openPostgresStore(db.url)] as const;
  const [store] = stores;
  await store.createOrganization({ id: "o", name: "O", createdAt: 0 });
  await store.createProject({ organization: "o", project: "p", name: "P", audience: "aud", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 0 });
  await store.createGrant({
    organization: "o",
    project: "p",
    id: "g",
    clientId: "c",
    kind: "client",
    userId: "",
    scopes: [],
    authTime: 0,
    createdAt: 0,
    expiresAt: 10_000,
    sessionId: "",
    acr: "",
    amr: [],
    claims: "",
    revokedAt: null,
    dpopJkt: "",
    resources: [],
  });
  await query(
    db.url,
    `INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at, expires_at)
      SELECT 'h' || i, 'g', 'c', '{}', 0, 1000 FROM generate_series(1, $1::int) i`,
    [n],
  );
  const close = async () => {
    for (const s of stores) await s.close();
    await db.drop();
  };
  return { db, stores, close };
}

maybe("a purge finds the lock another replica holds and deletes nothing; once it is free, everything expired goes", async (t) => {
  const { db, stores, close } = await expiredRows(10);
  t.teardown(close);
  const other = new pg.Client({ connectionString: db.url });
  await other.connect();
  t.teardown(() => other.end());
  await other.query("SELECT pg_advisory_lock($1)", [LOCKS.purge]);

  const whileHeld = await stores[0].purgeExpired(2000);
  t.is(whileHeld.refresh_tokens, 0);
  t.is((await query(db.url, "SELECT count(*)::int AS n FROM refresh_tokens"))[0]!.n, 10, "nothing deleted while another purges");

  await other.query("SELECT pg_advisory_unlock($1)", [LOCKS.purge]);
  const after = await stores[1].purgeExpired(2000);
  t.is(after.refresh_tokens, 10);
  t.is((await query(db.url, "SELECT count(*)::int AS n FROM refresh_tokens"))[0]!.n, 0);
});

maybe("two replicas purging at once delete each expired row once, in batches, and keep the live ones", async (t) => {
  const n = PURGE_BATCH * 2 + 1234;
  const { db, stores, close } = await expiredRows(n);
  t.teardown(close);
  await query(db.url, "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at, expires_at) VALUES ('live', 'g', 'c', '{}', 0, 5000)");

  const results = await Promise.all([...stores, ...stores].map((s) => s.purgeExpired(2000)));
  t.is(
    results.reduce((sum, r) => sum + (r.refresh_tokens ?? 0), 0),
    n,
    "every expired row deleted exactly once across the replicas",
  );
  const left = await query(db.url, "SELECT token_hash FROM refresh_tokens");
  t.deepEqual(left.map((r) => r.token_hash), ["live"]);
});

maybe("over eight hours of traffic with the purge running, the flow's tables stay at what is live", async (t) => {
  const db = await createDatabase();
  const c = await setup(t, { db: db.url });
  t.teardown(() => db.drop());
  const tables = ["authorization_requests", "authorization_codes", "grants", "refresh_tokens"] as const;
  const samples: Record<string, number>[] = [];
  let created = 0;
  // Every ten minutes: three users sign in and refresh once, two walk away at
  // the login page, a client takes a client_credentials token; then the purge.
  for (let tick = 0; tick < 48; tick++) {
    for (let i = 0; i < 3; i++) {
      const { code } = await obtainCode(c);
      const tokens = await c.tokens.token(exchangeRequest(code));
      await c.tokens.token(refreshRequest(tokens.refreshToken));
    }
    for (let i = 0; i < 2; i++) await c.authorization.authorize(authorizeRequest());
    await c.tokens.token({
      organization: "iam-admins",
      project: "iam-admins",
      grantType: "client_credentials",
      basic: { clientId: "admin-client", clientSecret: "top-secret" },
    });
    created += 3 * 4 + 2 + 1;
    c.clock.advance(600);
    await c.core.deps.store.purgeExpired(nowSeconds(c));
    samples.push(Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await countRows(c, table)]))));
  }
  const at = (i: number) => tables.reduce((sum, table) => sum + samples[i]![table]!, 0);
  t.log(`rows created over the run: ${created}; rows kept after 4 h: ${at(23)}, after 8 h: ${at(47)}; last sample ${JSON.stringify(samples[47])}`);
  // Refresh tokens live WEB.refreshTokenTtl (2 h): what is kept is the last
  // two hours' worth, the same after four hours as after eight.
  const perTick = 3 * 2;
  const live = (WEB.refreshTokenTtl / 600 + 1) * perTick;
  t.true(samples[47]!.refresh_tokens! <= live, `refresh tokens ${samples[47]!.refresh_tokens} > ${live}`);
  t.true(samples[47]!.grants! <= live / 2 + 1, `grants ${samples[47]!.grants}`);
  // An abandoned request lives 10 minutes: only the last ten minutes' are left.
  t.true(samples[47]!.authorization_requests! <= 2, `authorization requests ${samples[47]!.authorization_requests}`);
  t.is(at(47), at(23), "steady: nothing accumulates");
});
