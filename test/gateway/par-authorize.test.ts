/**
 * The authorization endpoint given a pushed request's request_uri (RFC 9126
 * §4): the pushed parameters only, the request_uri spent at its first use,
 * refusals on the page; and the projects and clients that accept nothing
 * else (§5, §6), with what discovery says of them.
 */
import test from "ava";
import { DEFAULT, DEFAULT_REDIRECT, seedProject, type TestServer } from "../helpers.js";
import {
  adminRequest,
  assertErrorPage,
  assertErrorRedirect,
  assertJsonError,
  authorizeUrl,
  basic,
  browserCookie,
  get,
  getJson,
  postForm,
  requestIdOf,
} from "./_support.js";
import {
  aliceApproves,
  authorizeWith,
  challenge,
  OTHER_REDIRECT,
  parServer,
  push,
  pushAsWeb,
  pushedParams,
  pushedRows,
  READ,
  REDIRECT,
  SPA,
  WEB,
  WRITE,
} from "./_par.js";

const authorizePage = (s: TestServer, query: Record<string, string>) => get(`${s.project}/authorize?${new URLSearchParams(query).toString()}`);

test("a request_uri is spent at its first use: used again, invalid_request_uri on the page and as JSON, never redirected", async (t) => {
  const s = await parServer(t);
  const requestUri = await pushAsWeb(s);
  const first = await authorizeWith(s, { client_id: WEB.id, request_uri: requestUri });
  t.is(first.status, 200);
  t.is(await pushedRows(s), 0);
  await assertErrorPage(t, await authorizePage(s, { client_id: WEB.id, request_uri: requestUri }), 400, "invalid_request_uri");
  await assertJsonError(t, await authorizeWith(s, { client_id: WEB.id, request_uri: requestUri }), 400, "invalid_request_uri");
});

test("a request_uri lives IAM_PAR_TTL seconds: at 59 it serves, at 60 it is invalid_request_uri", async (t) => {
  const s = await parServer(t);
  const early = await pushAsWeb(s);
  const late = await pushAsWeb(s);
  s.clock.advance(59);
  t.is((await authorizeWith(s, { client_id: WEB.id, request_uri: early })).status, 200);
  s.clock.advance(1);
  await assertErrorPage(t, await authorizePage(s, { client_id: WEB.id, request_uri: late }), 400, "invalid_request_uri");
});

test("a request_uri is its client's only: named with another client_id it is invalid_request_uri, and spent", async (t) => {
  const s = await parServer(t);
  const requestUri = await pushAsWeb(s);
  await assertErrorPage(t, await authorizePage(s, { client_id: SPA.id, request_uri: requestUri }), 400, "invalid_request_uri");
  await assertErrorPage(t, await authorizePage(s, { client_id: WEB.id, request_uri: requestUri }), 400, "invalid_request_uri");
});

test("a request_uri nobody pushed, or pushed in another project, is invalid_request_uri; the other project's stays usable there", async (t) => {
  const s = await parServer(t);
  await assertErrorPage(t, await authorizePage(s, { client_id: WEB.id, request_uri: "urn:ietf:params:oauth:request_uri:made-up" }), 400, "invalid_request_uri");
  const requestUri = await pushAsWeb(s);
  await seedProject(s.core, { organization: "acme", project: "shop" });
  const elsewhere = await get(`${s.httpUrl}/services/oauth2/acme/shop/authorize?${new URLSearchParams({ client_id: WEB.id, request_uri: requestUri }).toString()}`);
  await assertErrorPage(t, elsewhere, 400, "invalid_request_uri");
  t.is((await authorizeWith(s, { client_id: WEB.id, request_uri: requestUri })).status, 200);
});

test("client_id is required beside request_uri, and neither may be repeated: invalid_request on the page, the request_uri not spent", async (t) => {
  const s = await parServer(t);
  const requestUri = await pushAsWeb(s);
  await assertErrorPage(t, await authorizePage(s, { request_uri: requestUri }), 400, "invalid_request");
  const twice = await get(`${s.project}/authorize?${new URLSearchParams([["client_id", WEB.id], ["client_id", WEB.id], ["request_uri", requestUri]]).toString()}`);
  await assertErrorPage(t, twice, 400, "invalid_request");
  const uriTwice = await get(`${s.project}/authorize?${new URLSearchParams([["client_id", WEB.id], ["request_uri", requestUri], ["request_uri", requestUri]]).toString()}`);
  await assertErrorPage(t, uriTwice, 400, "invalid_request");
  t.is(await pushedRows(s), 1);
  t.is((await authorizeWith(s, { client_id: WEB.id, request_uri: requestUri })).status, 200);
});

test("the query's other parameters are ignored (§4): its redirect_uri, scope, state, response_type and prompt do not win over the pushed ones", async (t) => {
  const s = await parServer(t);
  const requestUri = await pushAsWeb(s);
  const { context, redirectTo } = await aliceApproves(s, {
    client_id: WEB.id,
    request_uri: requestUri,
    redirect_uri: OTHER_REDIRECT,
    scope: WRITE,
    state: "query-state",
    response_type: "token",
    prompt: "none",
    code_challenge: "x".repeat(43),
  });
  t.deepEqual(context.scopes_requested, [READ]);
  t.is(`${redirectTo.origin}${redirectTo.pathname}`, REDIRECT);
  t.is(redirectTo.searchParams.get("state"), "pushed-state");
  t.truthy(redirectTo.searchParams.get("code"));
});

test("a pushed request is checked again when used: a redirect URI unregistered meanwhile is refused on the page", async (t) => {
  const s = await parServer(t);
  const requestUri = await pushAsWeb(s, { redirect_uri: OTHER_REDIRECT });
  const web = (await s.core.deps.store.getClient(DEFAULT, WEB.id))!;
  await s.core.deps.store.updateClient({ ...web, redirectUris: [REDIRECT] });
  await assertErrorPage(t, await authorizePage(s, { client_id: WEB.id, request_uri: requestUri }), 400, "invalid_request");
});

test("the authorization request may be sent by a form POST with client_id and request_uri: the login page, in this browser", async (t) => {
  const s = await parServer(t);
  const requestUri = await pushAsWeb(s);
  const res = await postForm(`${s.project}/authorize`, { client_id: WEB.id, request_uri: requestUri });
  const page = await res.text();
  t.is(res.status, 200, page);
  t.true(page.includes('name="password"'));
  t.regex(requestIdOf(page), /^[A-Za-z0-9_-]{32,}$/);
  t.truthy(browserCookie(res));
});

test("a client that requires pushed requests: without one, invalid_request redirected with state and iss; pushed, it is served; other clients are not bound", async (t) => {
  const s = await parServer(t);
  const web = (await s.core.deps.store.getClient(DEFAULT, WEB.id))!;
  await s.core.deps.store.updateClient({ ...web, requirePushedAuthorizationRequests: true });
  const plain = await get(authorizeUrl(s, pushedParams(WEB.id, { state: "plain-state" })));
  const q = assertErrorRedirect(t, plain, 302, "invalid_request", { redirectUri: REDIRECT, state: "plain-state" });
  t.regex(q.get("error_description")!, /this client requires pushed authorization requests/);
  t.is((await authorizeWith(s, { client_id: WEB.id, request_uri: await pushAsWeb(s) })).status, 200);
  t.is((await getJson(authorizeUrl(s, pushedParams(SPA.id)))).status, 200);
  t.is((await getJson(authorizeUrl(s, adminRequest()))).status, 200);
  // Discovery speaks of the project: its clients are not all bound.
  t.false(((await (await get(`${s.project}/.well-known/openid-configuration`)).json()) as Record<string, unknown>).require_pushed_authorization_requests);
});

test("a project that requires pushed requests binds every client, and says so in both discovery documents; another project does not", async (t) => {
  const s = await parServer(t);
  const project = (await s.core.deps.store.getProject(DEFAULT))!;
  await s.core.deps.store.updateProject(DEFAULT, { name: project.name, audience: project.audience, requirePushedAuthorizationRequests: true });
  const q = assertErrorRedirect(t, await get(authorizeUrl(s, adminRequest())), 302, "invalid_request", { redirectUri: DEFAULT_REDIRECT });
  t.regex(q.get("error_description")!, /this project requires pushed authorization requests/);
  assertErrorRedirect(t, await get(authorizeUrl(s, pushedParams(SPA.id, { state: "st-123" }))), 302, "invalid_request", { redirectUri: REDIRECT });
  const spa = await push(s, pushedParams(SPA.id));
  t.is(spa.status, 201);
  const { request_uri } = (await spa.json()) as { request_uri: string };
  t.is((await authorizeWith(s, { client_id: SPA.id, request_uri })).status, 200);

  await seedProject(s.core, { organization: "acme", project: "shop" });
  const documents = [
    [`${s.project}/.well-known/openid-configuration`, true],
    [`${s.project}/.well-known/oauth-authorization-server`, true],
    [`${s.httpUrl}/.well-known/oauth-authorization-server/services/oauth2/iam-admins/iam-admins`, true],
    [`${s.httpUrl}/services/oauth2/acme/shop/.well-known/openid-configuration`, false],
  ] as const;
  for (const [url, required] of documents) {
    const m = (await (await get(url)).json()) as Record<string, unknown>;
    t.is(m.require_pushed_authorization_requests, required, url);
    t.is(m.pushed_authorization_request_endpoint, `${m.issuer as string}/par`, url);
  }
});

test("a refused push changes nothing of a requirement: the client that must push is still refused without a request_uri", async (t) => {
  const s = await parServer(t);
  const web = (await s.core.deps.store.getClient(DEFAULT, WEB.id))!;
  await s.core.deps.store.updateClient({ ...web, requirePushedAuthorizationRequests: true });
  await assertJsonError(t, await push(s, pushedParams(WEB.id, { scope: "no.such.scope" }), basic(WEB.id, WEB.secret)), 400, "invalid_scope");
  assertErrorRedirect(t, await get(authorizeUrl(s, pushedParams(WEB.id, { state: "st-123", code_challenge: challenge }))), 302, "invalid_request", {
    redirectUri: REDIRECT,
  });
});

test("CORS at /par is the token endpoint's: a registered web origin may read the answer and preflight, another may not", async (t) => {
  const s = await parServer(t);
  const spa = (await s.core.deps.store.getClient(DEFAULT, SPA.id))!;
  await s.core.deps.store.updateClient({ ...spa, webOrigins: ["https://spa.example"] });
  const preflight = await fetch(`${s.project}/par`, {
    method: "OPTIONS",
    headers: { origin: "https://spa.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
  });
  t.is(preflight.status, 204);
  t.is(preflight.headers.get("access-control-allow-origin"), "https://spa.example");
  t.regex(preflight.headers.get("access-control-allow-methods") ?? "", /POST/);
  t.is(preflight.headers.get("access-control-allow-credentials"), null);
  const allowed = await push(s, pushedParams(SPA.id), { origin: "https://spa.example" });
  t.is(allowed.status, 201);
  t.is(allowed.headers.get("access-control-allow-origin"), "https://spa.example");
  const other = await push(s, pushedParams(SPA.id), { origin: "https://evil.example" });
  t.is(other.status, 201, "processed, but the browser withholds the answer");
  t.is(other.headers.get("access-control-allow-origin"), null);
  const refused = await fetch(`${s.project}/par`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
  t.is(refused.headers.get("access-control-allow-origin"), null);
});
