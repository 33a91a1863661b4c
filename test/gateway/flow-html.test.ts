import test from "ava";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT_REDIRECT, pkcePair, seedUser } from "../helpers.js";
import {
  ADMIN_SCOPE,
  adminBasic,
  adminRequest,
  assertErrorPage,
  assertPageHeaders,
  assertTokens,
  authorizeUrl,
  browserCookie,
  get,
  ISSUER,
  postForm,
  postJson,
  query,
  requestIdOf,
  serve,
  setCookies,
  target,
  token,
} from "./_support.js";

const ORIGINAL_CURL =
  "/authorize?response_type=code&state=abc&client_id=admin-client&client_secret=top-secret&scope=" +
  "&redirect_uri=http://iam.test/services/oauth2/iam-admins/iam-admins/redirect";

test("the original curl gets the login page, without the secret, and a project-scoped HttpOnly SameSite=Lax cookie", async (t) => {
  const s = await serve(t);
  const res = await get(`${s.project}${ORIGINAL_CURL}`);
  const page = await res.text();
  t.is(res.status, 200);
  assertPageHeaders(t, res);
  t.regex(res.headers.get("content-type")!, /^text\/html; charset=utf-8$/);
  t.true(page.includes("<form"));
  t.true(page.includes('name="username"'));
  t.true(page.includes('name="password"'));
  t.true(page.includes('action="/services/oauth2/iam-admins/iam-admins/authorize"'));
  t.regex(requestIdOf(page), /^[A-Za-z0-9_-]{32,}$/);
  t.false(page.includes("top-secret"));
  t.false(page.includes("client_secret"));

  const cookies = setCookies(res);
  t.is(cookies.length, 1);
  const attributes = cookies[0]!.split(";").map((a) => a.trim());
  t.regex(attributes[0]!, /^iam_browser=[A-Za-z0-9_-]{43}$/);
  const lower = attributes.slice(1).map((a) => a.toLowerCase());
  t.true(lower.includes("httponly"));
  t.true(lower.includes("samesite=lax"));
  const path = attributes.find((a) => a.toLowerCase().startsWith("path="));
  t.truthy(path);
  t.regex(path!.slice(5), /^\/services\/oauth2\/iam-admins\/iam-admins\/?$/);
  // http:// base URL: not Secure (the browser would drop it).
  t.false(lower.includes("secure"));

  // The secret was in the query: it reaches neither the page nor the logs.
  t.false(s.lines.some((line) => line.includes("top-secret")), s.lines.join(""));
});

test("a second GET /authorize from the same browser keeps its cookie; a malformed cookie is replaced", async (t) => {
  const s = await serve(t);
  const first = await get(authorizeUrl(s, adminRequest()));
  const cookie = browserCookie(first);
  const again = await get(authorizeUrl(s, adminRequest()), { cookie });
  t.is(again.status, 200);
  t.deepEqual(setCookies(again), []);

  const bad = await get(authorizeUrl(s, adminRequest()), { cookie: "iam_browser=short" });
  t.is(bad.status, 200);
  t.regex(browserCookie(bad), /^iam_browser=[A-Za-z0-9_-]{43}$/);
});

test("the HTML flow: login form, consent page, 303 back to the client with code, state and iss, then tokens", async (t) => {
  const s = await serve(t);
  const { verifier, challenge } = pkcePair();
  const start = await get(authorizeUrl(s, adminRequest({ state: "html-state", code_challenge: challenge, code_challenge_method: "S256" })));
  t.is(start.status, 200);
  const cookie = browserCookie(start);
  const request_id = requestIdOf(await start.text());

  const login = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
  const consentPage = await login.text();
  t.is(login.status, 200, consentPage);
  assertPageHeaders(t, login);
  t.regex(consentPage, /<input type="checkbox"[^>]* name="scope" value="iam\.global\.admin"/);
  t.true(consentPage.includes('action="/services/oauth2/iam-admins/iam-admins/consent"'));
  t.is(requestIdOf(consentPage), request_id);
  t.true(consentPage.includes("IAM administration client"));
  t.false(consentPage.includes(ADMIN_PASSWORD));

  const consent = await postForm(`${s.project}/consent`, { request_id, scope: ADMIN_SCOPE, action: "approve" }, { cookie });
  t.is(consent.status, 303);
  t.is(consent.headers.get("cache-control"), "no-store");
  const location = consent.headers.get("location");
  t.is(target(location), DEFAULT_REDIRECT);
  const q = query(location);
  t.is(q.get("state"), "html-state");
  t.is(q.get("iss"), ISSUER);
  const code = q.get("code")!;
  t.truthy(code);

  const tokens = await assertTokens(
    t,
    await token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier }, adminBasic()),
  );
  t.is(tokens.scope, ADMIN_SCOPE);

  // Neither the password, the secret nor the code reached the logs.
  const log = s.lines.join("");
  t.false(log.includes(ADMIN_PASSWORD));
  t.false(log.includes(ADMIN_CLIENT_SECRET));
  t.false(log.includes(code));
});

test("the consent form may carry several scope fields; unchecked ones are not granted", async (t) => {
  const s = await serve(t);
  await seedUser(s.core, { id: "carol", password: "carol-password", permissions: ["app.a.read", "app.b.read", "app.c.read"] });
  const start = await get(authorizeUrl(s, adminRequest()));
  const cookie = browserCookie(start);
  const request_id = requestIdOf(await start.text());
  const login = await postForm(`${s.project}/authorize`, { request_id, username: "carol", password: "carol-password" }, { cookie });
  const page = await login.text();
  t.is((page.match(/name="scope"/g) ?? []).length, 3);
  const consent = await postForm(
    `${s.project}/consent`,
    [["request_id", request_id], ["scope", "app.c.read"], ["scope", "app.a.read"], ["action", "approve"]],
    { cookie },
  );
  t.is(consent.status, 303);
  const code = query(consent.headers.get("location")).get("code")!;
  const tokens = await assertTokens(t, await token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT }, adminBasic()));
  // In the order offered.
  t.is(tokens.scope, "app.a.read app.c.read");
});

test("Deny on the consent form: 303 to the client with error=access_denied and state, no code", async (t) => {
  const s = await serve(t);
  const start = await get(authorizeUrl(s, adminRequest({ state: "deny-state" })));
  const cookie = browserCookie(start);
  const request_id = requestIdOf(await start.text());
  t.is((await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie })).status, 200);
  const deny = await postForm(`${s.project}/consent`, { request_id, scope: ADMIN_SCOPE, action: "deny" }, { cookie });
  t.is(deny.status, 303);
  t.is(target(deny.headers.get("location")), DEFAULT_REDIRECT);
  const q = query(deny.headers.get("location"));
  t.is(q.get("error"), "access_denied");
  t.is(q.get("state"), "deny-state");
  t.is(q.get("iss"), ISSUER);
  t.is(q.get("code"), null);
});

test("approving no scope on the consent form: 303 with error=access_denied", async (t) => {
  const s = await serve(t);
  const start = await get(authorizeUrl(s, adminRequest({ state: "none" })));
  const cookie = browserCookie(start);
  const request_id = requestIdOf(await start.text());
  await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
  const res = await postForm(`${s.project}/consent`, { request_id, action: "approve" }, { cookie });
  t.is(res.status, 303);
  t.is(query(res.headers.get("location")).get("error"), "access_denied");
  t.is(query(res.headers.get("location")).get("state"), "none");
});

test("login CSRF: a login form post without the cookie, or with another browser's cookie, is 403 access_denied", async (t) => {
  const s = await serve(t);
  const victim = await get(authorizeUrl(s, adminRequest()));
  const victimCookie = browserCookie(victim);
  const request_id = requestIdOf(await victim.text());
  const otherCookie = browserCookie(await get(authorizeUrl(s, adminRequest())));
  t.not(otherCookie, victimCookie);

  for (const headers of [{}, { cookie: otherCookie }, { cookie: "iam_browser=" }] as Record<string, string>[]) {
    const res = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, headers);
    const page = await assertErrorPage(t, res, 403, "access_denied");
    t.false(page.includes('name="scope"'), "no consent page");
  }
  // The request is still the victim's to complete.
  const ok = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie: victimCookie });
  t.is(ok.status, 200);
});

test("login CSRF: a consent form post without the cookie, or with another browser's cookie, is 403 and issues no code", async (t) => {
  const s = await serve(t);
  const start = await get(authorizeUrl(s, adminRequest()));
  const cookie = browserCookie(start);
  const request_id = requestIdOf(await start.text());
  t.is((await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie })).status, 200);
  const otherCookie = browserCookie(await get(authorizeUrl(s, adminRequest())));

  for (const headers of [{}, { cookie: otherCookie }] as Record<string, string>[]) {
    const res = await postForm(`${s.project}/consent`, { request_id, scope: ADMIN_SCOPE, action: "approve" }, headers);
    const page = await assertErrorPage(t, res, 403, "access_denied");
    t.false(page.includes("code="));
  }
  // Nothing was spent by the forged posts: the right browser still gets its code.
  const ok = await postForm(`${s.project}/consent`, { request_id, scope: ADMIN_SCOPE, action: "approve" }, { cookie });
  t.is(ok.status, 303);
  t.truthy(query(ok.headers.get("location")).get("code"));
});

test("login CSRF: the JSON variants need no cookie, even for a request started by a browser", async (t) => {
  const s = await serve(t);
  const start = await get(authorizeUrl(s, adminRequest({ state: "js" })));
  t.truthy(browserCookie(start));
  const request_id = requestIdOf(await start.text());
  const login = await postJson(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD });
  t.is(login.status, 200);
  const consent = await postJson(`${s.project}/consent`, { request_id, scopes: [ADMIN_SCOPE] });
  t.is(consent.status, 200);
  const url = new URL(((await consent.json()) as { redirect_to: string }).redirect_to);
  t.truthy(url.searchParams.get("code"));
  t.is(url.searchParams.get("state"), "js");
});

test("a wrong password on the form: 401 login page again, with the same message as for an unknown user", async (t) => {
  const s = await serve(t);
  const messages: string[] = [];
  for (const credentials of [
    { username: "admin", password: "wrong-password" },
    { username: "no-such-user", password: ADMIN_PASSWORD },
  ]) {
    const start = await get(authorizeUrl(s, adminRequest()));
    const cookie = browserCookie(start);
    const request_id = requestIdOf(await start.text());
    const res = await postForm(`${s.project}/authorize`, { request_id, ...credentials }, { cookie });
    const page = await res.text();
    t.is(res.status, 401);
    assertPageHeaders(t, res);
    t.is(res.headers.get("location"), null);
    t.true(page.includes('name="password"'), "the login form again");
    t.is(requestIdOf(page), request_id);
    // The password never comes back; the username does, the same way whether or not it exists.
    t.false(page.includes("wrong-password"));
    t.regex(page, new RegExp(`<input type="text" id="username" name="username" value="${credentials.username}"`));
    const alert = /<p id="login-error" class="alert" role="alert">([^<]*)<\/p>/.exec(page);
    t.truthy(alert);
    t.notRegex(alert![1]!, /unknown user|no such user|wrong password|not found/i);
    messages.push(alert![1]!);

    // The form on the page works: the right credentials then succeed.
    const retry = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
    t.is(retry.status, 200);
  }
  t.is(messages[0], messages[1]);
});
