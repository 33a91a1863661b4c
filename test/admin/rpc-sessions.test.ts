/**
 * AdminService: a user's sign-in sessions (ListUserSessions,
 * RevokeUserSession, RevokeUserSessions), opened through the real sign-in
 * flow, and the sessions ended by disabling a user, setting their password
 * or deleting them: the tokens issued in an ended session stop at once, and
 * the clients it signed into are told by back-channel logout.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt } from "jose";
import { TokenFailure, type TokenResponse } from "../../gen/iam/v1/token_pb.js";
import { queryOf } from "../helpers.js";
import {
  ACME,
  ALICE,
  createApp,
  createUser,
  expectCode,
  expectOAuth,
  fullTenant,
  globalAdminToken,
  refresh,
  startAdmin,
  verify,
  type AdminTest,
  type App,
} from "./rpc-support.js";

/** A browser: its session cookie (empty before its first sign-in), address and User-Agent. */
interface Browser {
  cookie: string;
  address: string;
  userAgent: string;
}

const browser = (address: string, userAgent: string): Browser => ({ cookie: "", address, userAgent });

/**
 * The code flow with scope openid in a browser: the browser's session signs
 * the user in when it is live (single sign-on), else the password does and
 * the browser keeps the new session's cookie. Answers the tokens and the
 * session id (`sid` of the ID token).
 */
async function signIn(c: AdminTest, app: App, user: { id: string; password: string }, b: Browser): Promise<{ tokens: TokenResponse; sid: string }> {
  const ref = app.ref;
  const auth = await c.authorization.authorize({
    ...ref,
    responseType: "code",
    clientId: app.id,
    redirectUri: app.redirectUri,
    state: "st",
    scope: "openid",
    nonce: "n",
    session: b.cookie,
  });
  let scopes = auth.scopes.map((s) => s.name);
  if (!auth.signedIn && auth.redirectTo === "") {
    const login = await c.authorization.login({
      ...ref,
      requestId: auth.requestId,
      username: user.id,
      password: user.password,
      clientAddress: b.address,
      userAgent: b.userAgent,
      session: b.cookie,
    });
    b.cookie = login.session!.value;
    scopes = login.scopes.map((s) => s.name);
  }
  const redirectTo = auth.redirectTo || (await c.authorization.consent({ ...ref, requestId: auth.requestId, scopes })).redirectTo;
  const tokens = await c.tokens.token({
    ...ref,
    grantType: "authorization_code",
    code: queryOf(redirectTo).get("code")!,
    redirectUri: app.redirectUri,
    basic: { clientId: app.id, clientSecret: app.secret },
  });
  return { tokens, sid: decodeJwt(tokens.idToken).sid as string };
}

const ALICE_REF = { ...ACME, userId: ALICE.id };
const BOB = { id: "bob", password: "bob-password" } as const;
/** A loopback port nothing listens on: a back-channel logout sent there is refused at once, and recorded. */
const NOWHERE = "http://127.0.0.1:9/backchannel-logout";
const seconds = (c: AdminTest) => Math.floor(c.clock.now() / 1000);

/** A core whose back-channel deliveries are tried once; ACME with `web` (told of logouts at NOWHERE) and `other`. */
async function world(t: import("ava").ExecutionContext) {
  const c = await startAdmin(t, { backchannelLogoutRetries: 0, backchannelLogoutPrivateNetworks: true });
  const web = await fullTenant(c);
  await c.admin.updateClient({ ...ACME, clientId: web.id, backchannelLogoutUri: NOWHERE, updateMask: { paths: ["backchannel_logout_uri"] } }, c.auth);
  const other = await createApp(c, ACME, { clientId: "other", redirectUris: ["https://other.example/cb"] });
  return { c, web, other };
}

/** The deliveries recorded for a session, once every delivery started has ended. */
async function deliveries(c: AdminTest, sid: string) {
  await c.core.deps.logoutDeliveries.settled();
  return (await c.core.deps.store.listLogoutDeliveries(ACME, sid)).map((d) => [d.clientId, d.uri, d.outcome]);
}

async function revoked(t: import("ava").ExecutionContext, c: AdminTest, app: App, tokens: TokenResponse, what: string) {
  const res = await verify(c, tokens.accessToken);
  t.false(res.active, `${what}: access token`);
  t.is(res.failure, TokenFailure.REVOKED, `${what}: access token`);
  await expectOAuth(t, refresh(c, app, tokens.refreshToken), "invalid_grant", Code.FailedPrecondition, `${what}: refresh token`);
}

test("ListUserSessions answers each live session, newest first: sid, auth_time, amr, acr, times, address, User-Agent and the clients it signed into", async (t) => {
  const { c, web, other } = await world(t);
  t.deepEqual((await c.admin.listUserSessions(ALICE_REF, c.auth)).sessions, [], "none before a sign-in");

  const laptop = browser("192.0.2.10", "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0");
  const first = await signIn(c, web, ALICE, laptop);
  const signedInAt = seconds(c);
  c.clock.advance(120);
  await signIn(c, other, ALICE, laptop);
  c.clock.advance(60);
  const phone = browser("198.51.100.7", "Mozilla/5.0 (iPhone) Safari/604.1");
  const second = await signIn(c, other, ALICE, phone);
  t.not(second.sid, first.sid);

  const { sessions } = await c.admin.listUserSessions(ALICE_REF, c.auth);
  const idle = c.core.deps.config.sessionIdle;
  const max = c.core.deps.config.sessionMax;
  t.deepEqual(
    sessions.map((s) => s.id),
    [second.sid, first.sid],
    "newest first",
  );
  t.like(sessions[1], {
    id: first.sid,
    userId: ALICE.id,
    authTime: BigInt(signedInAt),
    amr: ["pwd"],
    createdAt: BigInt(signedInAt),
    lastSeenAt: BigInt(signedInAt + 120),
    expiresAt: BigInt(Math.min(signedInAt + max, signedInAt + 120 + idle)),
    clientAddress: "192.0.2.10",
    userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    clientIds: ["web", "other"],
  });
  t.is(sessions[1]!.acr, (decodeJwt(first.tokens.idToken).acr as string | undefined) ?? "");
  t.like(sessions[0], { id: second.sid, clientAddress: "198.51.100.7", userAgent: "Mozilla/5.0 (iPhone) Safari/604.1", clientIds: ["other"] });
  t.is(decodeJwt(first.tokens.idToken).sid, first.sid, "the sid of the ID token names the session");

  // Idle for longer than IAM_SESSION_IDLE since its last use: the laptop's session is no longer listed.
  c.clock.advance(idle - 60 - 1);
  // The admin token of the test has expired meanwhile: a fresh one.
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  t.deepEqual((await c.admin.listUserSessions(ALICE_REF, auth)).sessions.map((s) => s.id), [second.sid, first.sid]);
  c.clock.advance(2);
  t.deepEqual((await c.admin.listUserSessions(ALICE_REF, auth)).sessions.map((s) => s.id), [second.sid], "the idle session is gone");
});

test("RevokeUserSession ends one session: its tokens stop at once, its clients are told by back-channel logout, the browser must sign in again; the other session stays", async (t) => {
  const { c, web, other } = await world(t);
  const laptop = browser("192.0.2.10", "laptop");
  const phone = browser("198.51.100.7", "phone");
  const ended = await signIn(c, web, ALICE, laptop);
  const endedOther = await signIn(c, other, ALICE, laptop);
  const kept = await signIn(c, web, ALICE, phone);
  t.is(endedOther.sid, ended.sid, "one session, two clients");

  await c.admin.revokeUserSession({ ...ALICE_REF, sessionId: ended.sid }, c.auth);
  await revoked(t, c, web, ended.tokens, "web in the ended session");
  await revoked(t, c, other, endedOther.tokens, "other in the ended session");
  t.true((await verify(c, kept.tokens.accessToken)).active, "the other session's tokens still verify");
  t.truthy((await refresh(c, web, kept.tokens.refreshToken)).accessToken);
  t.deepEqual((await c.admin.listUserSessions(ALICE_REF, c.auth)).sessions.map((s) => s.id), [kept.sid]);
  t.deepEqual(await deliveries(c, ended.sid), [["web", NOWHERE, "failed"]], "web, which registered a back-channel logout URI, was told (nothing listens there)");

  const again = await c.authorization.authorize({ ...ACME, responseType: "code", clientId: web.id, redirectUri: web.redirectUri, state: "st", session: laptop.cookie });
  t.false(again.signedIn, "the ended session's cookie signs no one in");
  t.is(again.redirectTo, "");

  const twice = await expectCode(t, c.admin.revokeUserSession({ ...ALICE_REF, sessionId: ended.sid }, c.auth), Code.NotFound, "ending it again");
  t.is(twice?.rawMessage, `session ${ended.sid} of user alice in acme/shop not found`);
});

test("RevokeUserSessions ends every session of the user and names them; with none left it answers an empty list", async (t) => {
  const { c, web, other } = await world(t);
  const a = await signIn(c, web, ALICE, browser("192.0.2.1", "a"));
  c.clock.advance(1);
  const b = await signIn(c, other, ALICE, browser("192.0.2.2", "b"));
  await createUser(c, ACME, BOB);
  const bob = await signIn(c, web, BOB, browser("192.0.2.3", "c"));

  const res = await c.admin.revokeUserSessions(ALICE_REF, c.auth);
  t.deepEqual([...res.sessionIds].sort(), [a.sid, b.sid].sort());
  await revoked(t, c, web, a.tokens, "first session");
  await revoked(t, c, other, b.tokens, "second session");
  t.deepEqual((await c.admin.listUserSessions(ALICE_REF, c.auth)).sessions, []);
  t.deepEqual(await deliveries(c, a.sid), [["web", NOWHERE, "failed"]]);
  t.deepEqual(await deliveries(c, b.sid), [], "other registered no back-channel logout URI");

  t.true((await verify(c, bob.tokens.accessToken)).active, "another user's session is untouched");
  t.deepEqual((await c.admin.listUserSessions({ ...ACME, userId: BOB.id }, c.auth)).sessions.map((s) => s.id), [bob.sid]);
  t.deepEqual((await c.admin.revokeUserSessions(ALICE_REF, c.auth)).sessionIds, [], "nothing left to end is not an error");
});

test("an unknown user or session, another user's session and another project's are NotFound, and end nothing", async (t) => {
  const { c, web } = await world(t);
  await createUser(c, ACME, BOB);
  const bob = await signIn(c, web, BOB, browser("192.0.2.3", "bob"));
  const alice = await signIn(c, web, ALICE, browser("192.0.2.4", "alice"));
  const SIDE = { organization: "acme", project: "side" };
  const side = await fullTenant(c, SIDE);
  const sideAlice = await signIn(c, side, ALICE, browser("192.0.2.5", "side"));

  const cases: [string, Promise<unknown>, string][] = [
    ["ListUserSessions of an unknown user", c.admin.listUserSessions({ ...ACME, userId: "nobody" }, c.auth), "user nobody in acme/shop not found"],
    ["RevokeUserSession of an unknown user", c.admin.revokeUserSession({ ...ACME, userId: "nobody", sessionId: alice.sid }, c.auth), "user nobody in acme/shop not found"],
    ["RevokeUserSessions of an unknown user", c.admin.revokeUserSessions({ ...ACME, userId: "nobody" }, c.auth), "user nobody in acme/shop not found"],
    ["an unknown session", c.admin.revokeUserSession({ ...ALICE_REF, sessionId: "no-such-session" }, c.auth), "session no-such-session of user alice in acme/shop not found"],
    ["an empty session id", c.admin.revokeUserSession({ ...ALICE_REF, sessionId: "" }, c.auth), "session  of user alice in acme/shop not found"],
    ["bob's session named as alice's", c.admin.revokeUserSession({ ...ALICE_REF, sessionId: bob.sid }, c.auth), `session ${bob.sid} of user alice in acme/shop not found`],
    ["alice's session of another project", c.admin.revokeUserSession({ ...ALICE_REF, sessionId: sideAlice.sid }, c.auth), `session ${sideAlice.sid} of user alice in acme/shop not found`],
    ["a missing project", c.admin.listUserSessions({ organization: "acme", project: "nope", userId: ALICE.id }, c.auth), "user alice in acme/nope not found"],
  ];
  for (const [what, call, message] of cases) {
    const err = await expectCode(t, call, Code.NotFound, what);
    t.is(err?.rawMessage, message, what);
  }
  for (const [what, tokens] of [
    ["bob", bob.tokens],
    ["alice", alice.tokens],
    ["alice in side", sideAlice.tokens],
  ] as const) {
    t.true((await verify(c, tokens.accessToken)).active, `${what}'s session still live`);
  }
  t.deepEqual((await c.admin.listUserSessions({ ...SIDE, userId: ALICE.id }, c.auth)).sessions.map((s) => s.id), [sideAlice.sid]);
});

test("disabling a user, setting their password or deleting them ends their sessions: tokens revoked, clients told", async (t) => {
  const { c, web } = await world(t);
  const ref = ALICE_REF;

  const beforeDisable = await signIn(c, web, ALICE, browser("192.0.2.1", "a"));
  await c.admin.updateUser({ ...ref, enabled: false, updateMask: { paths: ["enabled"] } }, c.auth);
  await c.admin.updateUser({ ...ref, enabled: true, updateMask: { paths: ["enabled"] } }, c.auth);
  t.deepEqual((await c.admin.listUserSessions(ref, c.auth)).sessions, [], "enabled again, the user has no session");
  await revoked(t, c, web, beforeDisable.tokens, "disabled");
  t.deepEqual(await deliveries(c, beforeDisable.sid), [["web", NOWHERE, "failed"]], "disabling told the client");
  t.not((await c.core.deps.store.getSession(ACME, beforeDisable.sid))?.endedAt, null);

  const renamed = await signIn(c, web, ALICE, browser("192.0.2.2", "b"));
  await c.admin.updateUser({ ...ref, name: "Alice L.", updateMask: { paths: ["name"] } }, c.auth);
  t.deepEqual((await c.admin.listUserSessions(ref, c.auth)).sessions.map((s) => s.id), [renamed.sid], "other changes end nothing");

  await c.admin.setUserPassword({ ...ref, password: "a-new-password" }, c.auth);
  t.deepEqual((await c.admin.listUserSessions(ref, c.auth)).sessions, []);
  await revoked(t, c, web, renamed.tokens, "password set");
  t.deepEqual(await deliveries(c, renamed.sid), [["web", NOWHERE, "failed"]], "setting the password told the client");

  const last = await signIn(c, web, { id: ALICE.id, password: "a-new-password" }, browser("192.0.2.3", "c"));
  await c.admin.deleteUser(ref, c.auth);
  t.false((await verify(c, last.tokens.accessToken)).active, "deleted");
  t.deepEqual(await deliveries(c, last.sid), [["web", NOWHERE, "failed"]], "deleting told the client");
  await expectCode(t, c.admin.listUserSessions(ref, c.auth), Code.NotFound, "the user is gone");
});

test("a project administrator manages the sessions of their own project's users only: another project's is PERMISSION_DENIED, as for other user RPCs", async (t) => {
  const { c, web } = await world(t);
  const SIDE = { organization: "acme", project: "side" };
  await fullTenant(c, SIDE);
  const projectAdmin = async (ref: typeof ACME) => {
    await createApp(c, ref, { clientId: "ops", grantTypes: ["client_credentials"], redirectUris: [], secret: "ops-client-secret-0001" });
    await c.admin.assignRole({ ...ref, roleId: "project-admin", subject: { case: "clientId", value: "ops" } }, c.auth);
    const token = await c.tokens.token({ ...ref, grantType: "client_credentials", basic: { clientId: "ops", clientSecret: "ops-client-secret-0001" } });
    return { headers: { authorization: `Bearer ${token.accessToken}` } };
  };
  const acmeAdmin = await projectAdmin(ACME);
  const sideAdmin = await projectAdmin(SIDE);
  const session = await signIn(c, web, ALICE, browser("192.0.2.1", "a"));

  for (const [what, call] of [
    ["ListUserSessions", () => c.admin.listUserSessions(ALICE_REF, sideAdmin)],
    ["RevokeUserSession", () => c.admin.revokeUserSession({ ...ALICE_REF, sessionId: session.sid }, sideAdmin)],
    ["RevokeUserSessions", () => c.admin.revokeUserSessions(ALICE_REF, sideAdmin)],
    ["GetUser, for comparison", () => c.admin.getUser(ALICE_REF, sideAdmin)],
  ] as const) {
    const err = await expectCode(t, call(), Code.PermissionDenied, `${what} by the administrator of acme/side`);
    t.is(err?.rawMessage, "the access token does not allow this call", what);
  }
  for (const [what, call] of [
    ["ListUserSessions", () => c.admin.listUserSessions(ALICE_REF)],
    ["RevokeUserSessions", () => c.admin.revokeUserSessions(ALICE_REF)],
  ] as const) {
    await expectCode(t, call(), Code.Unauthenticated, `${what} without a token`);
  }
  t.true((await verify(c, session.tokens.accessToken)).active, "nothing was ended");

  t.deepEqual((await c.admin.listUserSessions(ALICE_REF, acmeAdmin)).sessions.map((s) => s.id), [session.sid]);
  await c.admin.revokeUserSession({ ...ALICE_REF, sessionId: session.sid }, acmeAdmin);
  t.false((await verify(c, session.tokens.accessToken)).active, "acme's own administrator ended it");
});
