/**
 * Single sign-on over HTTP: the session cookie a sign-in sets, and what
 * GET /authorize answers a browser that presents it (a real core and
 * gateway on loopback; redirects and cookies followed by hand).
 */
import test, { type ExecutionContext } from "ava";
import { createInProcessTransport } from "../../wire/in-process-transport.js";
import { createGateway } from "../../gateway/app.js";
import { startGatewayServer } from "../../gateway/server.js";
import { startTestCore, type TestServer } from "../helpers.js";
import { ALICE, READ, seedFixtures, WEB } from "../core/flow.js";
import {
  assertErrorRedirect,
  assertPageHeaders,
  assertTokens,
  authorizeUrl,
  basic,
  browserCookie,
  get,
  getJson,
  ISSUER,
  postForm,
  postJson,
  query,
  requestIdOf,
  serve,
  setCookies,
  target,
  token,
} from "../gateway/_support.js";
import { claimsOf, REMEMBER, seedSessionFixtures } from "./_support.js";

const PATH = "/services/oauth2/iam-admins/iam-admins/";
const SESSION_COOKIE = /^iam_session=([A-Za-z0-9_-]{43})$/;

async function serveWithFixtures(t: ExecutionContext): Promise<TestServer> {
  const s = await serve(t);
  await seedFixtures(s);
  await seedSessionFixtures(s);
  return s;
}

/** The parameters of an authorization request of WEB (or REMEMBER) for openid and READ. */
function webRequest(extra: Record<string, string> = {}): Record<string, string> {
  return { response_type: "code", client_id: WEB.id, redirect_uri: WEB.redirectUri, scope: `openid ${READ}`, state: "st-123", ...extra };
}
const rememberRequest = (extra: Record<string, string> = {}) => webRequest({ client_id: REMEMBER.id, redirect_uri: REMEMBER.redirectUri, ...extra });

/** The session's Set-Cookie header of a response (iam_session, or __Host-iam_session_… on https), split into its attributes. */
function sessionSetCookie(res: Response): string[] {
  const header = setCookies(res).find((c) => /^(__Host-)?iam_session[^=]*=/.test(c));
  if (header === undefined) throw new Error(`no iam_session cookie in ${JSON.stringify(setCookies(res))}`);
  return header.split(";").map((a) => a.trim());
}

/**
 * A browser's sign-in by the HTML form: GET /authorize, then the login form
 * posted with the binding cookie. Answers the login response and the
 * cookies the browser then holds (`cookie`: both, as a Cookie header).
 */
async function formSignIn(s: { project: string }, params: Record<string, string>, user: { id: string; password: string } = ALICE) {
  const start = await get(`${s.project}/authorize?${new URLSearchParams(params).toString()}`);
  if (start.status !== 200) throw new Error(`authorize: ${start.status}`);
  const binding = browserCookie(start);
  const requestId = requestIdOf(await start.text());
  const login = await postForm(`${s.project}/authorize`, { request_id: requestId, username: user.id, password: user.password }, { cookie: binding });
  const session = sessionSetCookie(login)[0]!;
  return { login, binding, session, cookie: `${binding}; ${session}`, requestId };
}

/** Gives consent to everything a consent page offers: the 303 back to the client. */
async function approveAll(s: { project: string }, page: string, cookie: string): Promise<Response> {
  const scopes = [...page.matchAll(/name="scope" value="([^"]*)"/g)].map((m) => m[1]!);
  return postForm(`${s.project}/consent`, [["request_id", requestIdOf(page)], ...scopes.map((scope): [string, string] => ["scope", scope]), ["action", "approve"]], {
    cookie,
  });
}

test("a form sign-in sets the session cookie: HttpOnly, SameSite=Lax, the project's path, Max-Age of IAM_SESSION_MAX, not Secure on http", async (t) => {
  const s = await serveWithFixtures(t);
  const { login, session } = await formSignIn(s, webRequest());
  t.is(login.status, 200);
  assertPageHeaders(t, login);
  const attributes = sessionSetCookie(login);
  t.regex(attributes[0]!, SESSION_COOKIE);
  t.is(attributes[0], session);
  const lower = attributes.slice(1).map((a) => a.toLowerCase());
  t.true(lower.includes("httponly"));
  t.true(lower.includes("samesite=lax"));
  t.true(attributes.includes(`Path=${PATH}`));
  t.true(attributes.includes(`Max-Age=${s.core.deps.config.sessionMax}`));
  t.false(lower.includes("secure"));
  t.false(lower.some((a) => a.startsWith("domain=")), "a host-only cookie");
  // The secret reaches neither the page nor the logs.
  t.false(s.lines.join("").includes(SESSION_COOKIE.exec(session)![1]!));
});

test("a JSON sign-in sets the session cookie too; a failed one sets none", async (t) => {
  const s = await serveWithFixtures(t);
  const start = await getJson(authorizeUrl(s, webRequest()));
  const { request_id } = (await start.json()) as { request_id: string };
  const wrong = await postJson(`${s.project}/authorize`, { request_id, username: ALICE.id, password: "wrong" });
  t.is(wrong.status, 401);
  t.false(setCookies(wrong).some((c) => c.startsWith("iam_session=")));
  const login = await postJson(`${s.project}/authorize`, { request_id, username: ALICE.id, password: ALICE.password });
  t.is(login.status, 200);
  t.regex(sessionSetCookie(login)[0]!, SESSION_COOKIE);
});

test("with an https base URL the session cookie is __Host- prefixed: Secure, Path=/, no Domain, one name per project", async (t) => {
  const c = await startTestCore({ config: { baseUrl: "https://iam.test" } });
  t.teardown(() => c.close());
  await seedFixtures(c);
  const app = createGateway({
    transport: createInProcessTransport(c.core.routes),
    baseUrl: "https://iam.test",
    logger: c.core.deps.logger,
    metrics: c.core.deps.metrics,
  });
  const server = await startGatewayServer(app.callback(), "127.0.0.1", 0);
  t.teardown(() => server.close());
  const project = `http://127.0.0.1:${server.port}${PATH.slice(0, -1)}`;
  const { login } = await formSignIn({ project }, webRequest());
  t.is(login.status, 200);
  const attributes = sessionSetCookie(login);
  const [, tag, secret] = /^__Host-iam_session_([A-Za-z0-9_-]{16})=([A-Za-z0-9_-]{43})$/.exec(attributes[0]!) ?? [];
  t.truthy(tag, attributes[0]);
  t.true(attributes.map((a) => a.toLowerCase()).includes("secure"));
  t.true(attributes.map((a) => a.toLowerCase()).includes("httponly"));
  t.true(attributes.includes("Path=/"), "the __Host- prefix requires Path=/");
  t.false(attributes.some((a) => a.toLowerCase().startsWith("domain=")));
  // The browser presents it back under that name: the session signs the next request in.
  const res = await fetch(`${project}/authorize?${new URLSearchParams(webRequest({ prompt: "none" }))}`, {
    redirect: "manual",
    headers: { cookie: `__Host-iam_session_${tag}=${secret}` },
  });
  t.is(res.status, 302);
  t.is(new URL(res.headers.get("location")!).searchParams.get("error"), "consent_required", "signed in by the session: only consent is missing");
  // The plain name is not read on https: a cookie a sibling host could have planted means nothing.
  const planted = await fetch(`${project}/authorize?${new URLSearchParams(webRequest({ prompt: "none" }))}`, {
    redirect: "manual",
    headers: { cookie: `iam_session=${secret}` },
  });
  t.is(new URL(planted.headers.get("location")!).searchParams.get("error"), "login_required");
});

test("GET /authorize with the session cookie and a remembered consent: 302 back to the client with code, state and iss", async (t) => {
  const s = await serveWithFixtures(t);
  const first = await formSignIn(s, rememberRequest());
  t.is(first.login.status, 200);
  const consented = await approveAll(s, await first.login.text(), first.cookie);
  t.is(consented.status, 303);

  const res = await get(authorizeUrl(s, rememberRequest({ state: "silent" })), { cookie: first.cookie });
  t.is(res.status, 302);
  t.is(res.headers.get("cache-control"), "no-store");
  const location = res.headers.get("location");
  t.is(target(location), REMEMBER.redirectUri);
  const q = query(location);
  t.is(q.get("state"), "silent");
  t.is(q.get("iss"), ISSUER);
  const tokens = await assertTokens(
    t,
    await token(s, { grant_type: "authorization_code", code: q.get("code")!, redirect_uri: REMEMBER.redirectUri }, basic(REMEMBER.id, REMEMBER.secret)),
  );
  const idToken = (tokens as unknown as { id_token: string }).id_token;
  t.is(claimsOf(idToken).sub, ALICE.id);
  t.truthy(claimsOf(idToken).sid);
  // prompt=none: the same.
  const silent = await get(authorizeUrl(s, rememberRequest({ prompt: "none" })), { cookie: first.cookie });
  t.is(silent.status, 302);
  t.truthy(query(silent.headers.get("location")).get("code"));

  // A password sign-in in another browser: 303 straight back, and the cookie of a new session.
  const other = await formSignIn(s, rememberRequest({ state: "other-browser" }));
  t.is(other.login.status, 303);
  t.is(query(other.login.headers.get("location")).get("state"), "other-browser");
  t.not(other.session, first.session);
});

test("GET /authorize with the session cookie when consent is needed: 200, the consent page, whose form completes the request", async (t) => {
  const s = await serveWithFixtures(t);
  const first = await formSignIn(s, webRequest());
  const res = await get(authorizeUrl(s, rememberRequest({ state: "second" })), { cookie: first.cookie });
  const page = await res.text();
  t.is(res.status, 200, page);
  assertPageHeaders(t, res);
  t.true(page.includes(`action="${PATH}consent"`));
  t.false(page.includes('name="password"'), "no password asked");
  t.regex(page, /name="scope" value="openid"/);
  t.regex(page, new RegExp(`name="scope" value="${READ.replace(/\./g, "\\.")}"`));
  t.false(setCookies(res).some((c) => c.startsWith("iam_session=")), "the session cookie is not set again");

  const consented = await approveAll(s, page, first.cookie);
  t.is(consented.status, 303);
  const q = query(consented.headers.get("location"));
  t.is(target(consented.headers.get("location")), REMEMBER.redirectUri);
  t.is(q.get("state"), "second");
  t.truthy(q.get("code"));
});

test("prompt=none: without a cookie, 302 with login_required, state and iss; with one but consent needed, consent_required", async (t) => {
  const s = await serveWithFixtures(t);
  assertErrorRedirect(t, await get(authorizeUrl(s, webRequest({ prompt: "none" }))), 302, "login_required", { redirectUri: WEB.redirectUri });
  assertErrorRedirect(t, await get(authorizeUrl(s, webRequest({ prompt: "none", state: "" }))), 302, "login_required", {
    redirectUri: WEB.redirectUri,
    state: null,
  });
  // As JSON, a GET is redirected all the same: the client expects the answer at its redirect URI.
  assertErrorRedirect(t, await getJson(authorizeUrl(s, webRequest({ prompt: "none" }))), 302, "login_required", { redirectUri: WEB.redirectUri });
  const { cookie } = await formSignIn(s, webRequest());
  assertErrorRedirect(t, await get(authorizeUrl(s, rememberRequest({ prompt: "none" })), { cookie }), 302, "consent_required", {
    redirectUri: REMEMBER.redirectUri,
  });
  // A session that may not serve (max_age=0) at a client its user never approved: consent_required too, so
  // that the answer tells an unapproved client nothing of who is signed in.
  assertErrorRedirect(t, await get(authorizeUrl(s, webRequest({ prompt: "none", max_age: "0" })), { cookie }), 302, "consent_required", {
    redirectUri: WEB.redirectUri,
  });
});

test("JSON answers: signed_in with the scopes when consent is needed, redirect_to when it is remembered", async (t) => {
  const s = await serveWithFixtures(t);
  const first = await formSignIn(s, webRequest());
  const res = await getJson(authorizeUrl(s, rememberRequest()), { cookie: first.cookie });
  t.is(res.status, 200);
  const body = (await res.json()) as { request_id: string; signed_in: boolean; scopes: { name: string; description: string }[]; client: { id: string } };
  t.true(body.signed_in);
  t.deepEqual(
    body.scopes.map((scope) => scope.name),
    ["openid", READ],
  );
  t.true(body.scopes.every((scope) => scope.description !== ""));
  t.is(body.client.id, REMEMBER.id);
  const consent = await postJson(`${s.project}/consent`, { request_id: body.request_id, scopes: ["openid", READ] });
  t.is(consent.status, 200);

  const again = await getJson(authorizeUrl(s, rememberRequest({ state: "json" })), { cookie: first.cookie });
  t.is(again.status, 200);
  const remembered = (await again.json()) as { request_id: string; redirect_to: string; signed_in?: boolean };
  t.regex(remembered.request_id, /^[A-Za-z0-9_-]{43}$/);
  t.is(remembered.signed_in, undefined);
  t.is(target(remembered.redirect_to), REMEMBER.redirectUri);
  t.is(query(remembered.redirect_to).get("state"), "json");
  t.is(query(remembered.redirect_to).get("iss"), ISSUER);
  t.truthy(query(remembered.redirect_to).get("code"));

  // Without the cookie: the login context, no signed_in.
  const anonymous = (await (await getJson(authorizeUrl(s, rememberRequest()))).json()) as Record<string, unknown>;
  t.is(anonymous.signed_in, undefined);
  t.is(anonymous.redirect_to, undefined);
  t.deepEqual(anonymous.scopes_requested, ["openid", READ]);
});

test("a broken, forged or emptied session cookie is the login page, 200, never an error", async (t) => {
  const s = await serveWithFixtures(t);
  const { binding, session } = await formSignIn(s, webRequest());
  const secret = SESSION_COOKIE.exec(session)![1]!;
  const broken = [
    "iam_session=",
    "iam_session=garbage",
    `iam_session=${"A".repeat(43)}`,
    `iam_session=${secret.slice(1)}`,
    `iam_session=${secret}%00`,
    "iam_session=%E2%82%AC%E2%82%AC",
    `iam_session=${"x".repeat(4000)}`,
  ];
  for (const value of broken) {
    const res = await get(authorizeUrl(s, webRequest()), { cookie: `${binding}; ${value}` });
    const page = await res.text();
    t.is(res.status, 200, value);
    assertPageHeaders(t, res);
    t.true(page.includes('name="password"'), `login page for ${value.slice(0, 40)}`);
    t.true(page.includes('name="username" value=""'), "no username filled in");
    const json = await getJson(authorizeUrl(s, webRequest()), { cookie: `${binding}; ${value}` });
    t.is(json.status, 200);
    t.is(((await json.json()) as { signed_in?: boolean }).signed_in, undefined);
    assertErrorRedirect(t, await get(authorizeUrl(s, webRequest({ prompt: "none" })), { cookie: value }), 302, "login_required", {
      redirectUri: WEB.redirectUri,
    });
  }
});

test("prompt=login with the session cookie: the login page with the session's user filled in", async (t) => {
  const s = await serveWithFixtures(t);
  const { cookie } = await formSignIn(s, webRequest());
  const res = await get(authorizeUrl(s, webRequest({ prompt: "login" })), { cookie });
  const page = await res.text();
  t.is(res.status, 200);
  t.true(page.includes('name="password"'));
  t.true(page.includes(`name="username" value="${ALICE.id}"`));
});

test("Fetch Metadata: the session signs in navigations only; a page's script (Sec-Fetch-Dest empty or a subresource) gets the login step, and its consent is refused", async (t) => {
  const s = await serveWithFixtures(t);
  const first = await formSignIn(s, webRequest());
  const silent = (dest: string) => get(authorizeUrl(s, rememberRequest({ prompt: "none" })), { cookie: first.cookie, "sec-fetch-dest": dest, "sec-fetch-mode": "cors" });
  // A window's or a frame's navigation: single sign-on as for a program that sends no Fetch Metadata.
  for (const dest of ["document", "iframe", "frame"]) {
    const res = await get(authorizeUrl(s, webRequest({ prompt: "none", state: dest })), { cookie: first.cookie, "sec-fetch-dest": dest, "sec-fetch-mode": "navigate" });
    t.is(res.status, 302, dest);
    t.is(query(res.headers.get("location") ?? "").get("error"), "consent_required", dest);
  }
  // fetch() and XMLHttpRequest (empty), and subresources: as if no session were there.
  for (const dest of ["empty", "script", "image"]) {
    assertErrorRedirect(t, await silent(dest), 302, "login_required", { redirectUri: REMEMBER.redirectUri });
  }
  const asJson = (await (await getJson(authorizeUrl(s, rememberRequest()), { cookie: first.cookie, "sec-fetch-dest": "empty" })).json()) as Record<string, unknown>;
  t.is(asJson.signed_in, undefined);
  t.is(asJson.redirect_to, undefined);

  // Consent posted by a script: 403 invalid_request, and the request can still be decided on its page.
  const pending = (await (await getJson(authorizeUrl(s, webRequest()), { cookie: first.cookie })).json()) as { request_id: string; signed_in: boolean };
  t.true(pending.signed_in);
  const scripted = await postJson(`${s.project}/consent`, { request_id: pending.request_id, scopes: ["openid", READ] }, { "sec-fetch-dest": "empty", "sec-fetch-mode": "same-origin" });
  t.is(scripted.status, 403);
  t.like(await scripted.json(), { error: "invalid_request" });
  const decided = await postJson(`${s.project}/consent`, { request_id: pending.request_id, scopes: ["openid", READ] });
  t.is(decided.status, 200);
  t.truthy(query(((await decided.json()) as { redirect_to: string }).redirect_to).get("code"));
});
