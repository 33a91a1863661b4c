import test from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT } from "../helpers.js";
import {
  ALICE,
  authorizeRequest,
  codeRecordOf,
  countRows,
  exchangeRequest,
  expectOAuthError,
  NOREFRESH,
  nowSeconds,
  obtainCode,
  obtainTokens,
  pendingOf,
  refreshRecordOf,
  refreshRequest,
  setup,
  WEB,
} from "./flow.js";

test("purge removes pending requests past their expiry and keeps live ones", async (t) => {
  const c = await setup(t);
  const old = (await c.authorization.authorize(authorizeRequest())).requestId;
  c.clock.advance(300);
  const young = (await c.authorization.authorize(authorizeRequest())).requestId;
  c.clock.advance(301); // old: 601 s, young: 301 s

  const purged = await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.is(purged.authorization_requests, 1);
  t.is(await pendingOf(c, old), undefined);
  t.truthy(await pendingOf(c, young));

  // The live one still works; the purged one is unknown.
  await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId: old, username: ALICE.id, password: ALICE.password }), {
    error: "invalid_request",
    redirect: false,
  });
  const login = await c.authorization.login({ ...DEFAULT, requestId: young, username: ALICE.id, password: ALICE.password });
  t.true(login.scopes.length > 0);
});

test("purge keeps a pending request that has not expired, logged in or not", async (t) => {
  const c = await setup(t);
  const a = (await c.authorization.authorize(authorizeRequest())).requestId;
  const b = (await c.authorization.authorize(authorizeRequest())).requestId;
  await c.authorization.login({ ...DEFAULT, requestId: b, username: ALICE.id, password: ALICE.password });
  c.clock.advance(599);
  const purged = await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.is(purged.authorization_requests, 0);
  t.truthy(await pendingOf(c, a));
  t.truthy(await pendingOf(c, b));
});

test("purge removes expired codes (after the replay-detection hour) and keeps live ones", async (t) => {
  const c = await setup(t);
  const { code: old } = await obtainCode(c);
  const start = nowSeconds(c);
  c.clock.advance(61);
  const purgedEarly = await c.core.deps.store.purgeExpired(nowSeconds(c));
  // An expired code is refused at once, but its row is kept for an hour past
  // its expiry, so that a late replay can still revoke what it issued.
  t.is(purgedEarly.authorization_codes, 0);
  t.truthy(await codeRecordOf(c, old));
  await expectOAuthError(t, c.tokens.token(exchangeRequest(old)), { error: "invalid_grant" });

  c.clock.ms = (start + 60 + 3600 + 1) * 1000;
  const { code: fresh } = await obtainCode(c);
  const purged = await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.is(purged.authorization_codes, 1);
  t.is(await codeRecordOf(c, old), undefined);
  t.truthy(await codeRecordOf(c, fresh));
  const res = await c.tokens.token(exchangeRequest(fresh));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});

test("a used code is kept until an hour past its expiry, so that its replay still revokes", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const first = await c.tokens.token(exchangeRequest(code));
  c.clock.advance(60 + 1800);
  await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.truthy(await codeRecordOf(c, code));
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant" });
  // The access token has expired by now; the refresh token had not, and is revoked.
  const grantId = (await codeRecordOf(c, code))!.grantId!;
  t.not((await c.core.deps.store.getGrant(grantId))!.revokedAt, null);
  await expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant" });
});

test("a replay within the access token's life revokes it, even after a purge", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const first = await c.tokens.token(exchangeRequest(code));
  c.clock.advance(120);
  await c.core.deps.store.purgeExpired(nowSeconds(c));
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant" });
  t.is((await c.tokens.verifyToken({ token: first.accessToken })).failure, TokenFailure.REVOKED);
});

test("purge removes expired refresh tokens and grants, and keeps live ones", async (t) => {
  const c = await setup(t);
  const old = await obtainTokens(c);
  const oldGrant = (await codeRecordOf(c, old.code))!.grantId!;
  c.clock.advance(WEB.refreshTokenTtl - 100);
  const young = await obtainTokens(c);
  const youngGrant = (await codeRecordOf(c, young.code))!.grantId!;
  c.clock.advance(101); // old: past both its tokens; young: alive

  const purged = await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.is(purged.refresh_tokens, 1);
  t.is(purged.grants, 1);
  t.is(await refreshRecordOf(c, old.refreshToken), undefined);
  t.is(await c.core.deps.store.getGrant(oldGrant), undefined);
  t.truthy(await refreshRecordOf(c, young.refreshToken));
  t.truthy(await c.core.deps.store.getGrant(youngGrant));

  await expectOAuthError(t, c.tokens.token(refreshRequest(old.refreshToken)), { error: "invalid_grant" });
  const next = await c.tokens.token(refreshRequest(young.refreshToken));
  t.truthy(next.accessToken);
});

test("purge keeps a grant while its access token lives, even without a refresh token", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: { clientId: NOREFRESH.id, redirectUri: NOREFRESH.redirectUri } });
  const res = await c.tokens.token(
    exchangeRequest(code, { redirectUri: NOREFRESH.redirectUri, basic: { clientId: NOREFRESH.id, clientSecret: NOREFRESH.secret } }),
  );
  c.clock.advance(299); // access token ttl of NOREFRESH is 300
  await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active, "its grant must still be there");
  c.clock.advance(2);
  const purged = await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.is(purged.grants, 1);
});

test("a purge with nothing expired removes nothing", async (t) => {
  const c = await setup(t);
  await obtainTokens(c);
  await c.authorization.authorize(authorizeRequest());
  const before = {
    authorization_requests: await countRows(c, "authorization_requests"),
    authorization_codes: await countRows(c, "authorization_codes"),
    grants: await countRows(c, "grants"),
    refresh_tokens: await countRows(c, "refresh_tokens"),
  };
  const purged = await c.core.deps.store.purgeExpired(nowSeconds(c));
  t.deepEqual(purged, { authorization_requests: 0, pushed_authorization_requests: 0, authorization_codes: 0, refresh_tokens: 0, grants: 0, signing_keys: 0, login_failures: 0, sessions: 0, logout_deliveries: 0, ceremonies: 0, dpop_proofs: 0, initial_access_tokens: 0, metadata_document_clients: 0 });
  t.deepEqual(
    {
      authorization_requests: await countRows(c, "authorization_requests"),
      authorization_codes: await countRows(c, "authorization_codes"),
      grants: await countRows(c, "grants"),
      refresh_tokens: await countRows(c, "refresh_tokens"),
    },
    before,
  );
});
