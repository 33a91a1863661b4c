import test from "ava";
import { DEFAULT, queryOf, seedUser } from "../helpers.js";
import {
  ALICE,
  authorizeRequest,
  BOB,
  CAROL,
  codeRecordOf,
  countRows,
  DELETE,
  expectOAuthError,
  ISSUER,
  issuerOf,
  nowSeconds,
  OTHER,
  pendingOf,
  READ,
  seedOtherProject,
  setup,
  WEB,
  WRITE,
  type AuthorizeInit,
} from "./flow.js";
import type { TestCore } from "../helpers.js";

async function start(c: TestCore, overrides: Partial<AuthorizeInit> = {}): Promise<string> {
  return (await c.authorization.authorize(authorizeRequest(overrides))).requestId;
}

const loginAs = (c: TestCore, requestId: string, user: { id: string; password: string } = ALICE, extra: { browserBinding?: string } = {}) =>
  c.authorization.login({ ...DEFAULT, requestId, username: user.id, password: user.password, ...extra });

// ================================================================ Login

test("login answers the requested scopes the user holds, with their descriptions, and the client", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { scope: `${WRITE} ${DELETE} ${READ}` });
  const res = await loginAs(c, requestId);
  t.is(res.requestId, requestId);
  t.deepEqual(
    res.scopes.map((s) => ({ name: s.name, description: s.description })),
    [
      { name: WRITE, description: `May ${WRITE}` },
      { name: READ, description: `May ${READ}` },
    ],
  );
  t.deepEqual({ id: res.client?.id, name: res.client?.name }, { id: WEB.id, name: WEB.name });
  const pending = await pendingOf(c, requestId);
  t.is(pending!.userId, ALICE.id);
  t.is(pending!.authTime, nowSeconds(c));
  t.deepEqual(pending!.offeredScopes, [WRITE, READ]);
});

test("login on a request with an empty scope offers every scope the user holds", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { scope: "" });
  const res = await loginAs(c, requestId);
  t.deepEqual(res.scopes.map((s) => s.name), [READ, WRITE]);
  t.deepEqual(res.scopes.map((s) => s.description), [`May ${READ}`, `May ${WRITE}`]);
});

test("login offers only a subset when the user holds part of the request", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { scope: `${READ} ${DELETE}` });
  const res = await loginAs(c, requestId);
  t.deepEqual(res.scopes.map((s) => s.name), [READ]);
});

const badCredentials: { title: string; username: string; password: string }[] = [
  { title: "a wrong password", username: ALICE.id, password: "not-the-password" },
  { title: "an unknown user", username: "mallory", password: ALICE.password },
  { title: "a disabled user with the right password", username: CAROL.id, password: CAROL.password },
  { title: "an empty username", username: "", password: ALICE.password },
  { title: "an empty password", username: ALICE.id, password: "" },
  { title: "a username of another case", username: "ALICE", password: ALICE.password },
  { title: "another user's password", username: ALICE.id, password: BOB.password },
  { title: "an overlong password", username: ALICE.id, password: "x".repeat(5000) },
];
for (const c0 of badCredentials) {
  test(`login with ${c0.title} is access_denied with oauth-status 401, no redirect, and the request stays usable`, async (t) => {
    const c = await setup(t);
    const requestId = await start(c);
    const err = await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId, username: c0.username, password: c0.password }), {
      error: "access_denied",
      status: "401",
      redirect: false,
    });
    t.is(err.rawMessage, "invalid username or password");
    const pending = await pendingOf(c, requestId);
    t.is(pending!.userId, null, "nobody is logged in");
    const ok = await loginAs(c, requestId);
    t.deepEqual(ok.scopes.map((s) => s.name), [READ, WRITE]);
  });
}

test("wrong password, unknown user and disabled user get the very same answer", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  const answers = [];
  for (const [username, password] of [
    [ALICE.id, "wrong"],
    ["mallory", "whatever"],
    [CAROL.id, CAROL.password],
  ] as const) {
    const err = await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId, username, password }), {
      error: "access_denied",
      status: "401",
      redirect: false,
    });
    // Every answer carries its own request id; the rest must be identical.
    const metadata = [...err.metadata.entries()].filter(([key]) => key !== "x-request-id").sort();
    answers.push({ message: err.rawMessage, code: err.code, metadata });
  }
  t.deepEqual(answers[1], answers[0]);
  t.deepEqual(answers[2], answers[0]);
  // The description does not say which part was wrong.
  t.notRegex(answers[0]!.message, /unknown|disabled|not found|no such/i);
});

test("login with an unknown request_id is invalid_request without redirect", async (t) => {
  const c = await setup(t);
  await expectOAuthError(t, loginAs(c, "no-such-request-id-aaaaaaaaaaaaaaaaaaaaaaaaaa"), { error: "invalid_request", redirect: false });
});

test("login with an empty request_id is invalid_request without redirect", async (t) => {
  const c = await setup(t);
  await expectOAuthError(t, loginAs(c, ""), { error: "invalid_request", redirect: false });
});

test("a pending request still accepts a login 599 seconds later", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  c.clock.advance(599);
  const res = await loginAs(c, requestId);
  t.deepEqual(res.scopes.map((s) => s.name), [READ, WRITE]);
});

test("a pending request has expired 601 seconds later: login is invalid_request", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  c.clock.advance(601);
  await expectOAuthError(t, loginAs(c, requestId), { error: "invalid_request", redirect: false });
});

test("a pending request has expired at exactly 600 seconds", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  c.clock.advance(600);
  await expectOAuthError(t, loginAs(c, requestId), { error: "invalid_request", redirect: false });
});

test("login names the request under another project: invalid_request", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const requestId = await start(c);
  await expectOAuthError(t, c.authorization.login({ ...OTHER, requestId, username: ALICE.id, password: ALICE.password }), {
    error: "invalid_request",
    redirect: false,
  });
  await expectOAuthError(t, c.authorization.login({ organization: "iam-admins", project: "elsewhere", requestId, username: ALICE.id, password: ALICE.password }), {
    error: "invalid_request",
    redirect: false,
  });
  // The request itself is untouched.
  t.deepEqual((await loginAs(c, requestId)).scopes.map((s) => s.name), [READ, WRITE]);
});

test("a user of another project cannot log in to this one's request", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const requestId = await start(c);
  // dave exists only in OTHER.
  await seedUser(c.core, { ...OTHER, id: "dave", password: "dave-password", permissions: [READ] });
  await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId, username: "dave", password: "dave-password" }), {
    error: "access_denied",
    status: "401",
  });
});

test("login of a user holding none of the requested scopes redirects invalid_scope and spends the request", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { scope: DELETE, state: "st-9" });
  await expectOAuthError(t, loginAs(c, requestId), {
    error: "invalid_scope",
    redirect: { to: WEB.redirectUri, state: "st-9", iss: ISSUER },
  });
  t.is(await pendingOf(c, requestId), undefined);
  await expectOAuthError(t, loginAs(c, requestId, BOB), { error: "invalid_request", redirect: false });
});

test("a user may log in again on the same pending request (the last login counts)", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { scope: "" });
  await loginAs(c, requestId, ALICE);
  const res = await loginAs(c, requestId, BOB);
  t.deepEqual(res.scopes.map((s) => s.name), [DELETE]);
  t.is((await pendingOf(c, requestId))!.userId, BOB.id);
});

// ---------------------------------------------------------------- browser binding (login CSRF)

test("a form login from the browser that started the request is accepted", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { browserBinding: "cookie-one" });
  const res = await loginAs(c, requestId, ALICE, { browserBinding: "cookie-one" });
  t.deepEqual(res.scopes.map((s) => s.name), [READ, WRITE]);
});

test("a JSON login (no browser binding) is accepted even when Authorize had one", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { browserBinding: "cookie-one" });
  const res = await loginAs(c, requestId);
  t.deepEqual(res.scopes.map((s) => s.name), [READ, WRITE]);
});

const bindingMismatch: { title: string; atAuthorize: string; atLogin: string }[] = [
  { title: "a different browser binding", atAuthorize: "cookie-one", atLogin: "cookie-two" },
  { title: "a browser binding when Authorize had none", atAuthorize: "", atLogin: "cookie-one" },
  { title: "an empty browser binding", atAuthorize: "cookie-one", atLogin: "" },
  { title: "an empty browser binding when Authorize had none", atAuthorize: "", atLogin: "" },
  { title: "a browser binding differing in case", atAuthorize: "cookie-one", atLogin: "COOKIE-ONE" },
];
for (const c0 of bindingMismatch) {
  test(`a form login with ${c0.title} is access_denied (403: no oauth-status), and logs nobody in`, async (t) => {
    const c = await setup(t);
    const requestId = await start(c, { browserBinding: c0.atAuthorize });
    await expectOAuthError(t, loginAs(c, requestId, ALICE, { browserBinding: c0.atLogin }), {
      error: "access_denied",
      status: null,
      redirect: false,
    });
    t.is((await pendingOf(c, requestId))!.userId, null);
    // Consent cannot follow: nobody logged in.
    await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] }), { error: "invalid_request", redirect: false });
  });
}

test("a form consent must come from the browser that started the request", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { browserBinding: "cookie-one" });
  await loginAs(c, requestId, ALICE, { browserBinding: "cookie-one" });
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ], browserBinding: "cookie-two" }), {
    error: "access_denied",
    status: null,
    redirect: false,
  });
  const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ], browserBinding: "cookie-one" });
  t.truthy(queryOf(res.redirectTo).get("code"));
});

// ================================================================ Consent

test("consent issues a code and answers the redirect with code, state and iss", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { state: "state-42", nonce: "nonce-7" });
  await loginAs(c, requestId);
  const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ, WRITE] });
  t.true(res.redirectTo.startsWith(`${WEB.redirectUri}?`));
  const query = queryOf(res.redirectTo);
  const code = query.get("code")!;
  t.regex(code, /^[A-Za-z0-9_-]{43}$/, "256-bit base64url");
  t.is(query.get("state"), "state-42");
  t.is(query.get("iss"), ISSUER);
  t.is(query.get("error"), null);

  const record = await codeRecordOf(c, code);
  t.truthy(record, "stored by its hash");
  t.is(record!.clientId, WEB.id);
  t.is(record!.userId, ALICE.id);
  t.is(record!.redirectUri, WEB.redirectUri);
  t.deepEqual(record!.scopes, [READ, WRITE]);
  t.is(record!.nonce, "nonce-7");
  t.is(record!.expiresAt, nowSeconds(c) + 60);
  t.is(record!.consumedAt, null);
  t.is(await pendingOf(c, requestId), undefined, "the pending request is spent");
});

test("consent to a subset issues a code for that subset only, in the offered order", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { scope: `${READ} ${WRITE}` });
  await loginAs(c, requestId);
  const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [WRITE] });
  t.deepEqual((await codeRecordOf(c, queryOf(res.redirectTo).get("code")!))!.scopes, [WRITE]);

  const second = await start(c, { scope: `${READ} ${WRITE}` });
  await loginAs(c, second);
  const res2 = await c.authorization.consent({ ...DEFAULT, requestId: second, scopes: [WRITE, READ, WRITE] });
  t.deepEqual((await codeRecordOf(c, queryOf(res2.redirectTo).get("code")!))!.scopes, [READ, WRITE]);
});

test("consent keeps the query of a registered redirect URI", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { redirectUri: WEB.redirectWithQuery });
  await loginAs(c, requestId);
  const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] });
  t.true(res.redirectTo.startsWith(`${WEB.redirectWithQuery}&`));
  const query = queryOf(res.redirectTo);
  t.is(query.get("tenant"), "1");
  t.truthy(query.get("code"));
});

test("consent on a request without state sends no state", async (t) => {
  const c = await setup(t);
  const requestId = await start(c, { state: "" });
  await loginAs(c, requestId);
  const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] });
  t.false(queryOf(res.redirectTo).has("state"));
  t.is(queryOf(res.redirectTo).get("iss"), ISSUER);
});

test("consent in another project carries that project's issuer", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const auth = await c.authorization.authorize(authorizeRequest({ ...OTHER, scope: READ }));
  await c.authorization.login({ ...OTHER, requestId: auth.requestId, username: ALICE.id, password: ALICE.password });
  const res = await c.authorization.consent({ ...OTHER, requestId: auth.requestId, scopes: [READ] });
  t.is(queryOf(res.redirectTo).get("iss"), issuerOf(OTHER));
});

const refusals: { title: string; scopes: string[]; deny: boolean }[] = [
  { title: "denying", scopes: [], deny: true },
  { title: "denying even with scopes named", scopes: [READ], deny: true },
  { title: "approving no scope", scopes: [], deny: false },
];
for (const c0 of refusals) {
  test(`consent by ${c0.title} answers a redirect with access_denied and state, and issues no code`, async (t) => {
    const c = await setup(t);
    const requestId = await start(c, { state: "st-deny" });
    await loginAs(c, requestId);
    const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: c0.scopes, deny: c0.deny });
    t.true(res.redirectTo.startsWith(`${WEB.redirectUri}?`));
    const query = queryOf(res.redirectTo);
    t.is(query.get("error"), "access_denied");
    t.truthy(query.get("error_description"));
    t.is(query.get("state"), "st-deny");
    t.is(query.get("iss"), ISSUER);
    t.is(query.get("code"), null);
    t.is(await countRows(c, "authorization_codes"), 0);
    // The request is spent.
    await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] }), { error: "invalid_request", redirect: false });
  });
}

const notOffered: { title: string; scopes: string[]; request?: string }[] = [
  { title: "a scope the user does not hold", scopes: [READ, DELETE] },
  { title: "a scope the project does not know", scopes: ["unknown.thing.read"] },
  { title: "a held scope the request did not ask for", scopes: [WRITE], request: READ },
];
for (const c0 of notOffered) {
  test(`consent naming ${c0.title} is invalid_request without redirect, and the request stays usable`, async (t) => {
    const c = await setup(t);
    const requestId = await start(c, c0.request === undefined ? {} : { scope: c0.request });
    const login = await loginAs(c, requestId);
    await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: c0.scopes }), { error: "invalid_request", redirect: false });
    t.is(await countRows(c, "authorization_codes"), 0);
    const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: login.scopes.map((s) => s.name) });
    t.truthy(queryOf(res.redirectTo).get("code"));
  });
}

test("consent before login is invalid_request, and the request stays usable", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] }), { error: "invalid_request", redirect: false });
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [], deny: true }), { error: "invalid_request", redirect: false });
  await loginAs(c, requestId);
  const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] });
  t.truthy(queryOf(res.redirectTo).get("code"));
});

test("consent given twice: the second is invalid_request and issues no second code", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  await loginAs(c, requestId);
  await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] });
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] }), { error: "invalid_request", redirect: false });
  t.is(await countRows(c, "authorization_codes"), 1);
});

test("login after consent is invalid_request: the request is spent", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  await loginAs(c, requestId);
  await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] });
  await expectOAuthError(t, loginAs(c, requestId), { error: "invalid_request", redirect: false });
});

test("consent with an unknown or empty request_id is invalid_request", async (t) => {
  const c = await setup(t);
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId: "nope", scopes: [READ] }), { error: "invalid_request", redirect: false });
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId: "", scopes: [READ] }), { error: "invalid_request", redirect: false });
});

test("consent after the pending request expired is invalid_request", async (t) => {
  const c = await setup(t);
  const requestId = await start(c);
  await loginAs(c, requestId);
  c.clock.advance(601);
  await expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] }), { error: "invalid_request", redirect: false });
  t.is(await countRows(c, "authorization_codes"), 0);
});

test("consent naming the request under another project is invalid_request", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const requestId = await start(c);
  await loginAs(c, requestId);
  await expectOAuthError(t, c.authorization.consent({ ...OTHER, requestId, scopes: [READ] }), { error: "invalid_request", redirect: false });
  const res = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] });
  t.truthy(queryOf(res.redirectTo).get("code"));
});

test("two consents issue two different codes", async (t) => {
  const c = await setup(t);
  const codes = new Set<string>();
  for (let i = 0; i < 2; i++) {
    const requestId = await start(c);
    await loginAs(c, requestId);
    codes.add(queryOf((await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] })).redirectTo).get("code")!);
  }
  t.is(codes.size, 2);
});
