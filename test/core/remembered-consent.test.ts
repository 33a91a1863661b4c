import { Code, createClient } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT, queryOf, seedClient, type TestCore } from "../helpers.js";
import { globalAdminToken, expectCode } from "../admin/rpc-support.js";
import { ALICE, authorizeRequest, BOB, exchangeRequest, READ, setup, WEB, WRITE } from "./flow.js";

const REMEMBERING = { id: "remembering-app", secret: "remembering-secret", redirectUri: "https://remember.example/cb" } as const;

async function setupRemembering(t: ExecutionContext): Promise<TestCore> {
  const c = await setup(t);
  await seedClient(c.core, {
    id: REMEMBERING.id,
    secret: REMEMBERING.secret,
    redirectUris: [REMEMBERING.redirectUri],
    rememberConsent: true,
  });
  return c;
}

/** Authorize and Login as `user` for `clientId` asking `scope`: the login answer. */
async function signIn(c: TestCore, clientId: string, redirectUri: string, scope: string, user: { id: string; password: string } = ALICE) {
  const auth = await c.authorization.authorize(authorizeRequest({ clientId, redirectUri, scope }));
  const login = await c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: user.id, password: user.password });
  return { requestId: auth.requestId, login };
}

const exchange = (c: TestCore, code: string) =>
  c.tokens.token(exchangeRequest(code, { redirectUri: REMEMBERING.redirectUri, basic: { clientId: REMEMBERING.id, clientSecret: REMEMBERING.secret } }));

test("a client that remembers consent is not asked again for the same or fewer scopes, and asked again for more", async (t) => {
  const c = await setupRemembering(t);
  const first = await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, `${READ} ${WRITE}`);
  t.is(first.login.redirectTo, "", "the first time, consent is asked");
  const consent = await c.authorization.consent({ ...DEFAULT, requestId: first.requestId, scopes: [READ] });
  t.truthy(queryOf(consent.redirectTo).get("code"));

  // The same approved scope: Login completes the request with a code.
  const again = await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, READ);
  const url = new URL(again.login.redirectTo);
  t.is(`${url.origin}${url.pathname}`, REMEMBERING.redirectUri);
  t.is(url.searchParams.get("state"), "xyz");
  const tokens = await exchange(c, url.searchParams.get("code")!);
  t.is(tokens.scope, READ);
  // The pending request is spent: consent cannot be given on it again.
  await expectCode(t, c.authorization.consent({ ...DEFAULT, requestId: again.requestId, scopes: [READ] }), Code.InvalidArgument);

  // WRITE was declined the first time: asking for it asks again.
  const more = await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, `${READ} ${WRITE}`);
  t.is(more.login.redirectTo, "");
  t.deepEqual(more.login.scopes.map((s) => s.name), [READ, WRITE]);
  await c.authorization.consent({ ...DEFAULT, requestId: more.requestId, scopes: [READ, WRITE] });
  t.not((await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, WRITE)).login.redirectTo, "", "now both are remembered");
  // Another user is asked.
  t.is((await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, "", BOB)).login.redirectTo, "");
});

test("a denial is not remembered, and a client that does not remember consent always asks", async (t) => {
  const c = await setupRemembering(t);
  const denied = await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, READ);
  const answer = await c.authorization.consent({ ...DEFAULT, requestId: denied.requestId, scopes: [], deny: true });
  t.is(queryOf(answer.redirectTo).get("error"), "access_denied");
  t.is((await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, READ)).login.redirectTo, "");

  const first = await signIn(c, WEB.id, WEB.redirectUri, READ);
  await c.authorization.consent({ ...DEFAULT, requestId: first.requestId, scopes: [READ] });
  t.is((await signIn(c, WEB.id, WEB.redirectUri, READ)).login.redirectTo, "");
  t.deepEqual(await c.core.deps.store.listConsents(DEFAULT, ALICE.id), []);
});

test("ListUserConsents shows what was approved; RevokeUserConsent forgets it and revokes the client's tokens at once", async (t) => {
  const c = await setupRemembering(t);
  const admin = createClient(AdminService, c.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  const first = await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, `${READ} ${WRITE}`);
  const consent = await c.authorization.consent({ ...DEFAULT, requestId: first.requestId, scopes: [WRITE, READ] });
  const tokens = await exchange(c, queryOf(consent.redirectTo).get("code")!);

  const listed = await admin.listUserConsents({ ...DEFAULT, userId: ALICE.id }, auth);
  t.is(listed.consents.length, 1);
  t.is(listed.consents[0]?.clientId, REMEMBERING.id);
  t.deepEqual(listed.consents[0]?.scopes, [READ, WRITE].sort());
  t.is(listed.consents[0]?.grantedAt, BigInt(Math.floor(c.clock.now() / 1000)));

  await admin.revokeUserConsent({ ...DEFAULT, userId: ALICE.id, clientId: REMEMBERING.id }, auth);
  t.deepEqual((await admin.listUserConsents({ ...DEFAULT, userId: ALICE.id }, auth)).consents, []);
  t.is((await c.tokens.verifyToken({ token: tokens.accessToken })).failure, TokenFailure.REVOKED);
  await expectCode(
    t,
    c.tokens.token({ ...DEFAULT, grantType: "refresh_token", refreshToken: tokens.refreshToken, basic: { clientId: REMEMBERING.id, clientSecret: REMEMBERING.secret } }),
    Code.FailedPrecondition,
  );
  t.is((await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, READ)).login.redirectTo, "", "consent is asked again");

  // Nothing left to revoke, an unknown user, no token: refused.
  await expectCode(t, admin.revokeUserConsent({ ...DEFAULT, userId: ALICE.id, clientId: REMEMBERING.id }, auth), Code.NotFound);
  await expectCode(t, admin.listUserConsents({ ...DEFAULT, userId: "nobody" }, auth), Code.NotFound);
  await expectCode(t, admin.listUserConsents({ ...DEFAULT, userId: ALICE.id }), Code.Unauthenticated);
});

test("deleting the user or the client deletes the consent", async (t) => {
  const c = await setupRemembering(t);
  const first = await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, READ);
  await c.authorization.consent({ ...DEFAULT, requestId: first.requestId, scopes: [READ] });
  const bob = await signIn(c, REMEMBERING.id, REMEMBERING.redirectUri, "", BOB);
  await c.authorization.consent({ ...DEFAULT, requestId: bob.requestId, scopes: bob.login.scopes.map((s) => s.name) });
  t.is((await c.core.deps.store.listConsents(DEFAULT, BOB.id)).length, 1);
  await c.core.deps.store.deleteUser(DEFAULT, BOB.id);
  t.is((await c.core.deps.store.listConsents(DEFAULT, BOB.id)).length, 0);
  t.is((await c.core.deps.store.listConsents(DEFAULT, ALICE.id)).length, 1);
  await c.core.deps.store.deleteClient(DEFAULT, REMEMBERING.id);
  t.is((await c.core.deps.store.listConsents(DEFAULT, ALICE.id)).length, 0);
});
