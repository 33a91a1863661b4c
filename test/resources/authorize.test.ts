/**
 * Resource indicators (RFC 8707) in the authorization request, over HTTP:
 * the resources named are kept with the request, its code and its grant;
 * the access token is for them only, with the scopes they accept; a
 * resource that is malformed or not registered in the project is
 * `invalid_target`, redirected to the client, and leaves nothing behind.
 */
import test from "ava";
import { countRows, READ, WEB, WRITE } from "../core/flow.js";
import { assertErrorRedirect, authorizeUrl, get, getJson, postForm, postJson } from "../gateway/_support.js";
import { DEFAULT } from "../helpers.js";
import { consentPage } from "../../gateway/pages.js";
import { API, exchange, issued, MCP, PROJECT_AUDIENCE, resourceServer, signIn, webCode, webRequest } from "./_support.js";

test("one resource: the consent offers only the scopes it accepts, and the access token's aud is its URI, as a string", async (t) => {
  const s = await resourceServer(t);
  const signedIn = await signIn(s, webRequest([MCP.uri], `openid ${READ} ${WRITE}`));
  t.deepEqual(signedIn.scopes, ["openid", READ], "WRITE is not a scope of MCP; openid concerns iam-core itself");
  t.deepEqual(signedIn.resources, [{ uri: MCP.uri, name: MCP.name }], "the consent names the resource");

  const code = await webCode(s, [MCP.uri], `openid ${READ} ${WRITE}`);
  const tokens = await issued(await exchange(s, code));
  t.is(tokens.aud, MCP.uri);
  t.is(tokens.claimedScope, `openid ${READ}`);
  t.is(tokens.scope, `openid ${READ}`);
  t.truthy(tokens.refresh_token);
});

test("two resources: aud is both URIs, in the order named, and the scopes are those either accepts", async (t) => {
  const s = await resourceServer(t);
  const code = await webCode(s, [API.uri, MCP.uri]);
  const tokens = await issued(await exchange(s, code));
  t.deepEqual(tokens.aud, [API.uri, MCP.uri]);
  t.is(tokens.claimedScope, `${READ} ${WRITE}`);
});

test("without a resource the token is for the project's audience, as before", async (t) => {
  const s = await resourceServer(t);
  const tokens = await issued(await exchange(s, await webCode(s, [])));
  t.is(tokens.aud, PROJECT_AUDIENCE);
  t.is(tokens.claimedScope, `${READ} ${WRITE}`);
});

test("a resource named twice is one resource", async (t) => {
  const s = await resourceServer(t);
  const tokens = await issued(await exchange(s, await webCode(s, [MCP.uri, MCP.uri])));
  t.is(tokens.aud, MCP.uri);
});

const refused: [string, string][] = [
  ["https://unknown.example/mcp", "not registered"],
  [`${MCP.uri}#frag`, "a fragment"],
  ["https://user:pw@mcp.example/mcp", "user info"],
  ["https://user@mcp.example/mcp", "a user name"],
  ["/mcp", "relative"],
  ["mcp.example/mcp", "no scheme"],
  [`${MCP.uri}?x=1`, "a query"],
  ["https://MCP.example/mcp", "not canonical"],
  ["", "empty"],
  ["urn:example:mcp", "a URN"],
  [`https://mcp.example/${"a".repeat(5000)}`, "very long"],
];

test("a resource malformed or not registered in the project is invalid_target, redirected with state and iss; nothing is kept", async (t) => {
  const s = await resourceServer(t);
  const before = await countRows(s, "authorization_requests");
  for (const [resource, why] of refused) {
    const res = await get(authorizeUrl(s, webRequest([MCP.uri, resource])));
    const q = assertErrorRedirect(t, res, 302, "invalid_target", { redirectUri: WEB.redirectUri, state: "st-1" });
    t.false((q.get("error_description") ?? "").includes("user:pw"), `${why}: the description does not echo user info`);
    const json = await getJson(authorizeUrl(s, webRequest([resource])));
    t.is(json.status, 302, why);
    t.is(new URL(json.headers.get("location")!).searchParams.get("error"), "invalid_target", why);
  }
  t.is(await countRows(s, "authorization_requests"), before, "no pending request was kept");
});

test("a resource of another project is invalid_target here", async (t) => {
  const s = await resourceServer(t);
  await s.core.deps.store.createOrganization({ id: "acme", name: "acme", createdAt: 0 });
  await s.core.deps.store.createProject({ organization: "acme", project: "shop", name: "shop", audience: "https://shop.example/", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 0 });
  await s.core.deps.store.createResource({ organization: "acme", project: "shop", uri: "https://shop.example/mcp", name: "Shop", scopes: [], createdAt: 0 });
  assertErrorRedirect(t, await get(authorizeUrl(s, webRequest(["https://shop.example/mcp"]))), 302, "invalid_target", { redirectUri: WEB.redirectUri, state: "st-1" });
});

test("scopes that none of the named resources accepts are invalid_scope", async (t) => {
  const s = await resourceServer(t);
  assertErrorRedirect(t, await get(authorizeUrl(s, webRequest([MCP.uri], WRITE))), 302, "invalid_scope", { redirectUri: WEB.redirectUri, state: "st-1" });
});

test("resource may repeat; every other parameter still may not", async (t) => {
  const s = await resourceServer(t);
  const params = webRequest([MCP.uri, API.uri]);
  t.is((await getJson(authorizeUrl(s, params))).status, 200);
  const res = await get(authorizeUrl(s, [...params, ["scope", READ]]));
  assertErrorRedirect(t, res, 302, "invalid_request", { redirectUri: WEB.redirectUri, state: "st-1" });
});

test("a resource given at the token endpoint's code exchange for a code without resources narrows from the project's audience", async (t) => {
  const s = await resourceServer(t);
  const tokens = await issued(await exchange(s, await webCode(s, []), [API.uri]));
  t.is(tokens.aud, API.uri);
  t.is(tokens.claimedScope, WRITE);
});

test("the consent page lists the resources asked for, by name and URI, escaped", (t) => {
  const page = consentPage({
    action: "/consent",
    requestId: "r",
    clientName: "App",
    projectName: "P",
    scopes: [{ name: READ, description: "Read" }],
    resources: [{ uri: MCP.uri, name: "<Docs>" }],
  });
  t.regex(page, /<ul class="resources" id="resources"><li>&lt;Docs&gt; <span class="scope-name">https:\/\/mcp\.example\/mcp<\/span><\/li><\/ul>/);
  t.false(consentPage({ action: "/consent", requestId: "r", clientName: "App", projectName: "P", scopes: [] }).includes('id="resources"'));
});

test("the HTML consent page after a form login names the resources", async (t) => {
  const s = await resourceServer(t);
  const start = await get(authorizeUrl(s, webRequest([MCP.uri])));
  t.is(start.status, 200);
  const cookie = start.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const requestId = /name="request_id" value="([^"]+)"/.exec(await start.text())![1]!;
  const login = await postForm(`${s.project}/authorize`, { request_id: requestId, username: "alice", password: "alice-password" }, { cookie });
  const page = await login.text();
  t.is(login.status, 200, page);
  t.true(page.includes(MCP.name) && page.includes(MCP.uri), "the resource is shown");
});

test("a resource deleted between the request and the sign-in sends the client invalid_target, and the request is spent", async (t) => {
  const s = await resourceServer(t);
  const start = await getJson(authorizeUrl(s, webRequest([MCP.uri])));
  const { request_id } = (await start.json()) as { request_id: string };
  t.true(await s.core.deps.store.deleteResource(DEFAULT, MCP.uri));
  const login = await postJson(`${s.project}/authorize`, { request_id, username: "alice", password: "alice-password" });
  const body = (await login.json()) as { error: string; redirect_to: string };
  t.is(login.status, 400);
  t.is(body.error, "invalid_target");
  t.is(new URL(body.redirect_to).searchParams.get("error"), "invalid_target");
  t.is(new URL(body.redirect_to).searchParams.get("state"), "st-1");
  const again = await postJson(`${s.project}/authorize`, { request_id, username: "alice", password: "alice-password" });
  t.is(again.status, 400, "the request was spent");
});
