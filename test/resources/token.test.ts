/**
 * Resource indicators (RFC 8707 §2.2) at the token endpoint, over HTTP: a
 * code or refresh token exchanged for an access token of a narrower
 * resource, never one outside its grant; the refresh token keeps the
 * grant's whole set; client_credentials and password for registered
 * resources; pushed
 * requests carry resources; VerifyToken, introspection and UserInfo read the
 * audience.
 */
import test from "ava";
import { ALICE, countRows, M2M, READ, WRITE } from "../core/flow.js";
import { assertJsonError, basic, getJson, postForm, token, FORM } from "../gateway/_support.js";
import { createAccessTokenVerifier } from "../../client/index.js";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT, seedClient } from "../helpers.js";
import { API, exchange, issued, MCP, PROJECT_AUDIENCE, refresh, resourceServer, signIn, webBasic, webCode } from "./_support.js";
import { WEB } from "../core/flow.js";

test("a code for two resources exchanged for one of them: aud and scopes narrowed; the refresh token keeps both", async (t) => {
  const s = await resourceServer(t);
  const code = await webCode(s, [MCP.uri, API.uri]);
  const narrowed = await issued(await exchange(s, code, [API.uri]));
  t.is(narrowed.aud, API.uri);
  t.is(narrowed.claimedScope, WRITE);
  t.is(narrowed.scope, WRITE, "the answer's scope is the access token's");

  // Refreshed without a resource: the grant's whole set again (RFC 8707 §2.2).
  const whole = await issued(await refresh(s, narrowed.refresh_token!));
  t.deepEqual(whole.aud, [MCP.uri, API.uri]);
  t.is(whole.claimedScope, `${READ} ${WRITE}`);
  // Refreshed for one: that one only, and the next refresh token still serves both.
  const mcp = await issued(await refresh(s, whole.refresh_token!, [MCP.uri]));
  t.is(mcp.aud, MCP.uri);
  t.is(mcp.claimedScope, READ);
  const api = await issued(await refresh(s, mcp.refresh_token!, [API.uri]));
  t.is(api.aud, API.uri);
  t.is(api.claimedScope, WRITE);
});

test("a resource outside the grant is 400 invalid_target at the code exchange and at refresh; the code stays usable", async (t) => {
  const s = await resourceServer(t);
  const code = await webCode(s, [MCP.uri]);
  for (const resources of [[API.uri], [MCP.uri, API.uri], ["https://unknown.example/"], [`${MCP.uri}#f`]]) {
    await assertJsonError(t, await exchange(s, code, resources), 400, "invalid_target");
  }
  t.is(await countRows(s, "grants"), 0, "no grant was made");
  const tokens = await issued(await exchange(s, code));
  t.is(tokens.aud, MCP.uri);
  await assertJsonError(t, await refresh(s, tokens.refresh_token!, [API.uri]), 400, "invalid_target");
  // The refused refresh rotated nothing: the same refresh token still works.
  t.is((await issued(await refresh(s, tokens.refresh_token!, [MCP.uri]))).aud, MCP.uri);
});

test("a grant made for the project's audience is narrowed at refresh to any registered resource, never an unknown or malformed one", async (t) => {
  const s = await resourceServer(t);
  const tokens = await issued(await exchange(s, await webCode(s, [])));
  const mcp = await issued(await refresh(s, tokens.refresh_token!, [MCP.uri]));
  t.is(mcp.aud, MCP.uri);
  t.is(mcp.claimedScope, READ);
  for (const resource of ["https://unknown.example/x", "https://user:pw@mcp.example/mcp", "relative/path", `${MCP.uri}#frag`]) {
    await assertJsonError(t, await refresh(s, mcp.refresh_token!, [resource]), 400, "invalid_target");
  }
  const whole = await issued(await refresh(s, mcp.refresh_token!));
  t.is(whole.aud, PROJECT_AUDIENCE, "the refresh token kept the project's audience");
});

test("client_credentials: resource names registered resources, the token is for them with the scopes they accept", async (t) => {
  const s = await resourceServer(t);
  const m2m = basic(M2M.id, M2M.secret);
  const one = await issued(await token(s, [["grant_type", "client_credentials"], ["resource", API.uri]], m2m));
  t.is(one.aud, API.uri);
  t.is(one.claimedScope, WRITE);
  const two = await issued(await token(s, [["grant_type", "client_credentials"], ["resource", MCP.uri], ["resource", API.uri]], m2m));
  t.deepEqual(two.aud, [MCP.uri, API.uri]);
  t.is(two.claimedScope, `${READ} ${WRITE}`);
  const none = await issued(await token(s, { grant_type: "client_credentials" }, m2m));
  t.is(none.aud, PROJECT_AUDIENCE);
  await assertJsonError(t, await token(s, [["grant_type", "client_credentials"], ["resource", "https://unknown.example/"]], m2m), 400, "invalid_target");
  await assertJsonError(t, await token(s, [["grant_type", "client_credentials"], ["resource", MCP.uri], ["scope", WRITE]], m2m), 400, "invalid_scope");
  // Another parameter given twice is still refused.
  await assertJsonError(t, await token(s, [["grant_type", "client_credentials"], ["scope", READ], ["scope", WRITE]], m2m), 400, "invalid_request");
});

test("VerifyToken reports the audience and refuses, with TOKEN_FAILURE_AUDIENCE, a token of another resource", async (t) => {
  const s = await resourceServer(t);
  const mcp = await issued(await exchange(s, await webCode(s, [MCP.uri])));
  const ok = await s.tokens.verifyToken({ token: mcp.access_token, audience: MCP.uri, ...DEFAULT });
  t.true(ok.active);
  t.deepEqual(ok.audience, [MCP.uri]);
  for (const audience of [API.uri, PROJECT_AUDIENCE]) {
    const other = await s.tokens.verifyToken({ token: mcp.access_token, audience });
    t.false(other.active, audience);
    t.is(other.failure, TokenFailure.AUDIENCE, audience);
  }
  const both = await issued(await exchange(s, await webCode(s, [MCP.uri, API.uri])));
  t.deepEqual((await s.tokens.verifyToken({ token: both.access_token, audience: API.uri })).audience, [MCP.uri, API.uri]);
});

test("a verifier naming no audience is the project's: VerifyToken and the client helper refuse a resource's token (TOKEN_FAILURE_AUDIENCE) and take the project's", async (t) => {
  const s = await resourceServer(t);
  const mcp = await issued(await exchange(s, await webCode(s, [MCP.uri])));
  const project = await issued(await exchange(s, await webCode(s, [])));
  t.like(await s.tokens.verifyToken({ token: mcp.access_token, ...DEFAULT }), { active: false, failure: TokenFailure.AUDIENCE });
  t.like(await s.tokens.verifyToken({ token: mcp.access_token }), { active: false, failure: TokenFailure.AUDIENCE }, "nor without naming the project");
  t.true((await s.tokens.verifyToken({ token: project.access_token, ...DEFAULT })).active);
  // iam-core/client, as a resource server that forgot to say which it is would use it.
  const verify = createAccessTokenVerifier({ coreUrl: s.grpcUrl, ...DEFAULT });
  t.like(await verify(mcp.access_token), { active: false, failure: TokenFailure.AUDIENCE });
  t.true((await verify(project.access_token)).active);
  t.true((await createAccessTokenVerifier({ coreUrl: s.grpcUrl, ...DEFAULT, resource: MCP.uri })(mcp.access_token)).active);
});

test("introspection answers the access token's aud, and a refresh token's aud is its grant's resources", async (t) => {
  const s = await resourceServer(t);
  const one = await issued(await exchange(s, await webCode(s, [MCP.uri])));
  const introspect = async (tokenValue: string) =>
    (await (await postForm(`${s.project}/introspect`, { token: tokenValue }, webBasic())).json()) as { active: boolean; aud: unknown };
  t.like(await introspect(one.access_token), { active: true, aud: MCP.uri });
  const two = await issued(await exchange(s, await webCode(s, [MCP.uri, API.uri]), [API.uri]));
  t.like(await introspect(two.access_token), { active: true, aud: API.uri });
  t.like(await introspect(two.refresh_token!), { active: true, aud: [MCP.uri, API.uri] });
});

test("UserInfo refuses, 401 invalid_token, a token issued for another resource; it takes one for the project's audience", async (t) => {
  const s = await resourceServer(t);
  const forMcp = await issued(await exchange(s, await webCode(s, [MCP.uri], `openid ${READ}`)));
  t.is(forMcp.claimedScope, `openid ${READ}`);
  const refused = await getJson(`${s.project}/userinfo`, { authorization: `Bearer ${forMcp.access_token}` });
  t.is(refused.status, 401);
  t.regex(refused.headers.get("www-authenticate") ?? "", /error="invalid_token"/);
  const own = await issued(await exchange(s, await webCode(s, [], `openid ${READ}`)));
  const answered = await getJson(`${s.project}/userinfo`, { authorization: `Bearer ${own.access_token}` });
  t.is(answered.status, 200);
});

test("a pushed request (RFC 9126) carries its resources to the code; an unknown one is refused at /par, 400 invalid_target", async (t) => {
  const s = await resourceServer(t);
  const push = (resources: string[]) =>
    fetch(`${s.project}/par`, {
      method: "POST",
      headers: { "content-type": FORM, ...webBasic() },
      body: new URLSearchParams([
        ["response_type", "code"],
        ["client_id", WEB.id],
        ["redirect_uri", WEB.redirectUri],
        ["scope", `${READ} ${WRITE}`],
        ["state", "st-1"],
        ...resources.map((r): [string, string] => ["resource", r]),
      ]).toString(),
    });
  await assertJsonError(t, await push([MCP.uri, "https://unknown.example/"]), 400, "invalid_target");
  await assertJsonError(t, await push([`${MCP.uri}#x`]), 400, "invalid_target");
  const pushed = await push([MCP.uri, API.uri]);
  t.is(pushed.status, 201);
  const { request_uri } = (await pushed.json()) as { request_uri: string };
  const signedIn = await signIn(s, [["client_id", WEB.id], ["request_uri", request_uri]]);
  t.deepEqual(signedIn.resources.map((r) => r.uri), [MCP.uri, API.uri]);
  const consent = await fetch(`${s.project}/consent`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ request_id: signedIn.requestId, scopes: signedIn.scopes }),
  });
  const code = new URL(((await consent.json()) as { redirect_to: string }).redirect_to).searchParams.get("code")!;
  t.deepEqual((await issued(await exchange(s, code))).aud, [MCP.uri, API.uri]);
});

test("password: resource names registered resources as at every grant; the refresh token keeps them, an unknown one is 400 invalid_target", async (t) => {
  const s = await resourceServer(t);
  await seedClient(s.core, { id: "legacy", secret: "legacy-secret-0001", grantTypes: ["password", "refresh_token"] });
  const legacy = basic("legacy", "legacy-secret-0001");
  const asked = (resources: string[], scope = `${READ} ${WRITE}`) =>
    token(s, [["grant_type", "password"], ["username", ALICE.id], ["password", ALICE.password], ["scope", scope], ...resources.map((r): [string, string] => ["resource", r])], legacy);
  const mcp = await issued(await asked([MCP.uri]));
  t.is(mcp.aud, MCP.uri, "a token for the resource named, never the project's audience");
  t.is(mcp.claimedScope, READ, "narrowed to the scopes the resource accepts");
  const again = await issued(await refresh(s, mcp.refresh_token!, [], legacy));
  t.is(again.aud, MCP.uri, "the refresh token keeps the grant's resources");
  const whole = await issued(await asked([]));
  t.is(whole.aud, PROJECT_AUDIENCE);
  await assertJsonError(t, await asked(["https://unknown.example/"]), 400, "invalid_target");
  await assertJsonError(t, await asked(["https://mcp.example/mcp#frag"]), 400, "invalid_target");
  await assertJsonError(t, await asked([MCP.uri], WRITE), 400, "invalid_scope");
});

test("token events name the resources a token is for (a resources change), and none for the project's audience", async (t) => {
  const s = await resourceServer(t);
  const code = await webCode(s, [MCP.uri, API.uri]);
  const narrowed = await issued(await exchange(s, code, [API.uri]));
  await issued(await refresh(s, narrowed.refresh_token!));
  const m2m = basic(M2M.id, M2M.secret);
  await issued(await token(s, [["grant_type", "client_credentials"], ["resource", MCP.uri]], m2m));
  await issued(await token(s, { grant_type: "client_credentials" }, m2m));

  const events = (await s.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 })).filter((e) => ["CODE_EXCHANGED", "TOKEN_REFRESHED", "TOKEN_ISSUED"].includes(e.action));
  const noted = events.map((e) => [e.action, e.scopes.join(" "), e.changes.map((c) => `${c.field}=${c.after}`).join(" ")]);
  t.deepEqual(noted, [
    ["CODE_EXCHANGED", WRITE, `resources=${JSON.stringify([API.uri])}`],
    ["TOKEN_REFRESHED", `${READ} ${WRITE}`, `resources=${JSON.stringify([MCP.uri, API.uri])}`],
    ["TOKEN_ISSUED", READ, `resources=${JSON.stringify([MCP.uri])}`],
    ["TOKEN_ISSUED", `${READ} ${WRITE}`, ""],
  ]);
});
