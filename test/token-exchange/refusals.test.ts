/**
 * Token exchange refusals, each with its exact RFC code and status, and
 * nothing left behind (no grant created): what the client's policy forbids,
 * subject and actor tokens iam-core will not take, targets and scopes beyond
 * what is allowed, `may_act` naming someone else, malformed requests.
 */
import test from "ava";
import type { ExecutionContext } from "ava";
import { DEFAULT, seedClient, type TestServer } from "../helpers.js";
import { countRows, DELETE, exchangeRequest, M2M, obtainCode, obtainTokens, OTHER, READ, seedOtherProject, setUserEnabled, WEB, WRITE } from "../core/flow.js";
import { basic, postForm, token } from "../gateway/_support.js";
import {
  ACCESS_TOKEN_TYPE,
  agent,
  AGENT,
  AGENT2,
  claimsOf,
  exchange,
  exchangeParams,
  FILES,
  MCP,
  ownToken,
  server,
  TOKEN_EXCHANGE_GRANT,
  userToken,
} from "./_exchange.js";

/** Asserts a refused exchange: HTTP 400 (RFC 6749 §5.2), the code, and no grant written. */
async function refused(
  t: ExecutionContext,
  s: TestServer,
  who: { id: string; secret: string },
  params: Record<string, string> | [string, string][],
  error: string,
  what: string,
): Promise<void> {
  const grants = await countRows(s, "grants");
  const answer = await exchange(s, who, params);
  t.is(answer.status, error === "invalid_client" ? 401 : 400, `${what}: ${JSON.stringify(answer.body)}`);
  t.is(answer.body.error, error, what);
  t.false(JSON.stringify(answer.body).includes("eyJ"), `${what}: no token echoed`);
  t.is(await countRows(s, "grants"), grants, `${what}: nothing written`);
}

test("the client's policy: only tokens of the clients it names, only the resources it names, only with the grant type, never a public client", async (t) => {
  const s = await server(t);
  const subject = await userToken(s);
  const actor = await ownToken(s, AGENT);
  // AGENT2 may act for AGENT's tokens only, not web-app's.
  await refused(t, s, AGENT2, exchangeParams(subject, await ownToken(s, AGENT2)), "invalid_request", "subject token of a client not named");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { resource: FILES }), "invalid_target", "a registered resource not allowed");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { resource: "https://unknown.example/api" }), "invalid_target", "an unknown resource");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { resource: `${MCP}#frag` }), "invalid_target", "a resource with a fragment");
  const { resource: _, ...byAudience } = exchangeParams(subject, actor, { audience: "tools" });
  await refused(t, s, AGENT, byAudience, "invalid_target", "a logical audience name");

  // web-app itself is not allowed the grant.
  await refused(t, s, WEB, exchangeParams(subject, actor), "unauthorized_client", "a client without the grant type");
  // A public client stored with the grant (the AdminService refuses it) is refused all the same.
  await seedClient(s.core, { id: "public-agent", grantTypes: [TOKEN_EXCHANGE_GRANT], redirectUris: [], tokenExchangeSubjectClients: [WEB.id], tokenExchangeResources: [MCP] });
  const publicAnswer = await token(s, { ...exchangeParams(subject, actor), client_id: "public-agent" });
  t.is(publicAnswer.status, 400);
  t.is(((await publicAnswer.json()) as { error: string }).error, "unauthorized_client");
  // Wrong credentials are invalid_client, before anything is looked at.
  await refused(t, s, { id: AGENT.id, secret: "wrong" }, exchangeParams(subject, actor), "invalid_client", "wrong secret");
});

test("impersonation (no actor token) is refused unless the client's policy allows it; then the token carries no act", async (t) => {
  const s = await server(t);
  const subject = await userToken(s);
  await refused(t, s, AGENT, exchangeParams(subject, undefined), "invalid_request", "no actor token, impersonation off");
  await refused(t, s, AGENT, exchangeParams(subject, undefined, { actor_token_type: ACCESS_TOKEN_TYPE }), "invalid_request", "actor_token_type alone");

  const IMPERSONATOR = { id: "impersonator", secret: "impersonator-secret" };
  await agent(s, IMPERSONATOR, { tokenExchangeSubjectClients: [WEB.id, AGENT.id], tokenExchangeResources: [MCP], tokenExchangeImpersonation: true });
  const answer = await exchange(s, IMPERSONATOR, exchangeParams(subject, undefined));
  t.is(answer.status, 200, JSON.stringify(answer.body));
  const claims = claimsOf(answer.body.access_token);
  t.like(claims, { sub: "alice", client_id: IMPERSONATOR.id, aud: MCP });
  t.false("act" in claims);
  // A token that already names an actor is not impersonated: its chain would be lost.
  const delegatedOnce = await exchange(s, AGENT, exchangeParams(subject, await ownToken(s, AGENT)));
  await refused(t, s, IMPERSONATOR, exchangeParams(String(delegatedOnce.body.access_token), undefined), "invalid_request", "impersonating a delegated token");
});

test("a subject token iam-core will not take is invalid_request: expired, revoked, of another project, an ID token, a client's own, garbage", async (t) => {
  const s = await server(t);
  await seedOtherProject(s);
  const actor = () => ownToken(s, AGENT);

  const revoked = await userToken(s);
  t.is((await postForm(`${s.project}/revoke`, { token: revoked }, basic(WEB.id, WEB.secret))).status, 200);
  await refused(t, s, AGENT, exchangeParams(revoked, await actor()), "invalid_request", "revoked");

  const { code } = await obtainCode(s, { authorize: { ...OTHER, scope: READ } });
  const other = (await s.tokens.token(exchangeRequest(code, OTHER))).accessToken;
  t.is(claimsOf(other).client_id, WEB.id, "the same client id in another project");
  await refused(t, s, AGENT, exchangeParams(other, await actor()), "invalid_request", "another project's");

  const withId = await obtainTokens(s, { authorize: { scope: `openid ${READ}`, nonce: "n" } });
  await refused(t, s, AGENT, exchangeParams(withId.idToken, await actor()), "invalid_request", "an ID token");
  await refused(t, s, AGENT, exchangeParams(await actor(), await actor()), "invalid_request", "a client's own token");
  await refused(t, s, AGENT, exchangeParams("not.a.token", await actor()), "invalid_request", "garbage");

  const expiring = await userToken(s);
  s.clock.advance(901);
  await refused(t, s, AGENT, exchangeParams(expiring, await actor()), "invalid_request", "expired");

  // A live token of a user disabled since.
  const live = await userToken(s);
  await setUserEnabled(s, DEFAULT, "alice", false);
  await refused(t, s, AGENT, exchangeParams(live, await actor()), "invalid_request", "user disabled");
});

test("subject_token and its type are required, and only access tokens are exchanged or issued", async (t) => {
  const s = await server(t);
  const subject = await userToken(s);
  const actor = await ownToken(s, AGENT);
  const { subject_token: _, ...noSubject } = exchangeParams(subject, actor);
  await refused(t, s, AGENT, noSubject, "invalid_request", "no subject_token");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { subject_token_type: "" }), "invalid_request", "no subject_token_type");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { subject_token_type: "urn:ietf:params:oauth:token-type:id_token" }), "invalid_request", "an ID token type");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { actor_token_type: "urn:ietf:params:oauth:token-type:jwt" }), "invalid_request", "a jwt actor type");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token" }), "invalid_request", "a refresh token asked");
  const { resource: __, ...noTarget } = exchangeParams(subject, actor);
  await refused(t, s, AGENT, noTarget, "invalid_request", "no resource nor audience");
  await refused(t, s, AGENT, exchangeParams(subject, actor, { audience: MCP }), "invalid_request", "resource and audience both");
  await refused(t, s, AGENT, [...Object.entries(exchangeParams(subject, actor)), ["resource", MCP]], "invalid_target", "resource repeated (RFC 8707 lets it repeat; an exchange is for one)");
  await refused(t, s, AGENT, [...Object.entries(exchangeParams(subject, actor)), ["subject_token", subject]], "invalid_request", "subject_token repeated");

  // audience alone names the resource as well.
  const { resource: ___, ...byAudience } = exchangeParams(subject, actor, { audience: MCP });
  const answer = await exchange(s, AGENT, byAudience);
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(claimsOf(answer.body.access_token).aud, MCP);
});

test("the actor token must be the requesting client's own: another client's, or a user's, is invalid_request", async (t) => {
  const s = await server(t);
  const subject = await userToken(s);
  await refused(t, s, AGENT, exchangeParams(subject, await ownToken(s, M2M)), "invalid_request", "another client's client_credentials token");
  await refused(t, s, AGENT, exchangeParams(subject, await ownToken(s, AGENT2)), "invalid_request", "another agent's token");
  await refused(t, s, AGENT, exchangeParams(subject, subject), "invalid_request", "a user's token as actor");
  await refused(t, s, AGENT, exchangeParams(subject, "garbage"), "invalid_request", "garbage");
});

test("scope: at most what the subject token holds of the resource's scopes (invalid_scope beyond)", async (t) => {
  const s = await server(t);
  const readOnly = (await obtainTokens(s, { authorize: { scope: READ } })).accessToken;
  const FILES_AGENT = { id: "files-agent", secret: "files-agent-secret" };
  await agent(s, FILES_AGENT, { tokenExchangeSubjectClients: [WEB.id], tokenExchangeResources: [FILES] });
  const actor = await ownToken(s, FILES_AGENT);
  // FILES defines READ and WRITE; the subject token holds READ only.
  await refused(t, s, FILES_AGENT, exchangeParams(readOnly, actor, { resource: FILES, scope: `${READ} ${WRITE}` }), "invalid_scope", "beyond the subject");
  await refused(t, s, FILES_AGENT, exchangeParams(readOnly, actor, { resource: FILES, scope: DELETE }), "invalid_scope", "a scope nobody granted");
  const narrowed = await exchange(s, FILES_AGENT, exchangeParams(await userToken(s), actor, { resource: FILES, scope: WRITE }));
  t.is(narrowed.status, 200);
  t.is(narrowed.body.scope, WRITE);
  // MCP defines READ only: a subject token without it leaves nothing to grant.
  const writeOnly = (await obtainTokens(s, { authorize: { scope: WRITE } })).accessToken;
  await refused(t, s, AGENT, exchangeParams(writeOnly, await ownToken(s, AGENT)), "invalid_scope", "nothing of the resource");
});

test("may_act (RFC 8693 §4.4): a subject token naming another actor is invalid_request; the one named may exchange it", async (t) => {
  const s = await server(t);
  const web = (await s.core.deps.store.getClient(DEFAULT, WEB.id))!;
  await s.core.deps.store.updateClient({ ...web, mayActClient: AGENT2.id });
  // AGENT2 may take web-app's tokens now too.
  const agent2 = (await s.core.deps.store.getClient(DEFAULT, AGENT2.id))!;
  await s.core.deps.store.updateClient({ ...agent2, tokenExchangeSubjectClients: [WEB.id, AGENT.id] });

  const subject = await userToken(s);
  t.deepEqual(claimsOf(subject).may_act, { sub: AGENT2.id, client_id: AGENT2.id });
  await refused(t, s, AGENT, exchangeParams(subject, await ownToken(s, AGENT)), "invalid_request", "an actor may_act does not name");
  const named = await exchange(s, AGENT2, exchangeParams(subject, await ownToken(s, AGENT2)));
  t.is(named.status, 200, JSON.stringify(named.body));
  t.like(claimsOf(named.body.access_token), { act: { sub: AGENT2.id, client_id: AGENT2.id } });
});
