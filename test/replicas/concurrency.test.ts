/**
 * Two cores on one PostgreSQL database, as two replicas run: every race the
 * flow has (a code exchanged twice at once, a refresh token presented twice
 * at once, failed sign-ins counted at once) is decided by the database, so
 * that whichever replica each request reaches, the outcome is the one a
 * single server gives.
 */
import type { ExecutionContext } from "ava";
import { ConnectError } from "@connectrpc/connect";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { ALICE, CONNECT_CODE_OF, exchangeRequest, obtainCode, obtainTokens, refreshRequest, seedFixtures } from "../core/flow.js";
import { DEFAULT, startTestCore, TestClock, type TestCore } from "../helpers.js";
import type { Config } from "../../core/server/config.js";
import { createDatabase, postgresSuite } from "../pg.js";

const maybe = postgresSuite("replica races");

/** Two cores (replicas) on one fresh database, sharing a clock; the fixtures seeded through the first. */
async function replicas(t: ExecutionContext, config: Partial<Config> = {}): Promise<[TestCore, TestCore]> {
  const db = await createDatabase();
  const clock = new TestClock();
  const a = await startTestCore({ clock, config: { ...config, db: db.url } });
  const b = await startTestCore({ clock, config: { ...config, db: db.url } });
  t.teardown(async () => {
    await a.close();
    await b.close();
    await db.drop();
  });
  await seedFixtures(a);
  return [a, b];
}

const oauthError = (err: unknown) => (err instanceof ConnectError ? err.metadata.get("oauth-error") : String(err));

maybe("one code exchanged at once through two replicas succeeds exactly once; the replay revokes what it issued", async (t) => {
  const [a, b] = await replicas(t);
  for (let round = 0; round < 5; round++) {
    const { code } = await obtainCode(a);
    const results = await Promise.allSettled([a, b, a, b].map((r) => r.tokens.token(exchangeRequest(code))));
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    t.is(won.length, 1, `round ${round}: exactly one exchange succeeds`);
    t.deepEqual(
      lost.map((r) => [oauthError(r.reason), (r.reason as ConnectError).code]),
      [1, 2, 3].map(() => ["invalid_grant", CONNECT_CODE_OF.invalid_grant]),
    );
    // The replay was detected: the winner's access token is revoked, on either replica.
    const access = (won[0] as PromiseFulfilledResult<{ accessToken: string }>).value.accessToken;
    for (const r of [a, b]) t.is((await r.tokens.verifyToken({ token: access })).failure, TokenFailure.REVOKED);
  }
});

maybe("one refresh token presented at once through two replicas: one winner, the family revoked (no grace window)", async (t) => {
  const [a, b] = await replicas(t);
  const tokens = await obtainTokens(a);
  const results = await Promise.allSettled([a, b, a, b].map((r) => r.tokens.token(refreshRequest(tokens.refreshToken))));
  const won = results.filter((r) => r.status === "fulfilled") as PromiseFulfilledResult<{ accessToken: string; refreshToken: string }>[];
  t.is(won.length, 1);
  t.deepEqual(
    results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => oauthError(r.reason)),
    ["invalid_grant", "invalid_grant", "invalid_grant"],
  );
  // Reuse of a rotated token revokes the family: the winner's new tokens die too.
  const reuse = await b.tokens.token(refreshRequest(won[0]!.value.refreshToken)).catch((err: unknown) => err);
  t.is(oauthError(reuse), "invalid_grant");
  t.is((await a.tokens.verifyToken({ token: won[0]!.value.accessToken })).failure, TokenFailure.REVOKED);
});

maybe("within the grace window, a refresh presented at once through two replicas answers each and keeps the family", async (t) => {
  const [a, b] = await replicas(t, { refreshTokenGrace: 30 });
  const tokens = await obtainTokens(a);
  const [first, second] = await Promise.all([a, b].map((r) => r.tokens.token(refreshRequest(tokens.refreshToken))));
  t.not(first!.accessToken, second!.accessToken);
  // Both answers work, on either replica: nothing was revoked.
  for (const r of [a, b]) {
    t.is((await r.tokens.verifyToken({ token: first!.accessToken })).failure, TokenFailure.UNSPECIFIED);
    t.is((await r.tokens.verifyToken({ token: second!.accessToken })).failure, TokenFailure.UNSPECIFIED);
  }
});

maybe("failed sign-ins counted at once on two replicas all count: the lockout comes at exactly the policy's number", async (t) => {
  const [a, b] = await replicas(t, { loginMaxFailuresPerUser: 6, loginLockout: 900 });
  const attempt = async (r: TestCore, password: string) => {
    const { requestId } = await r.authorization.authorize({
      ...DEFAULT,
      responseType: "code",
      clientId: "web-app",
      redirectUri: "https://web.example/callback",
      state: "s",
      scope: "docs.files.read",
    });
    return r.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password });
  };
  // Five wrong passwords at once across the replicas: none is lost, so the sixth locks.
  const five = await Promise.allSettled([a, b, a, b, a].map((r) => attempt(r, "wrong")));
  t.deepEqual(five.map((r) => r.status === "rejected" && oauthError(r.reason)), Array(5).fill("access_denied"));
  t.truthy(await attempt(b, ALICE.password), "five failures do not lock");
  await Promise.allSettled([a, b, a, b, a, b].map((r) => attempt(r, "wrong")));
  const locked = await attempt(a, ALICE.password).then(
    () => "signed in",
    (err: unknown) => oauthError(err),
  );
  t.is(locked, "access_denied", "six failures lock the username on every replica");
});
