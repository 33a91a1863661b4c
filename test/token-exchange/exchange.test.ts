/**
 * Token exchange (RFC 8693) for delegation, over HTTP through a real gateway
 * and core: an agent exchanges a user's token and its own for a token for
 * one resource carrying `act`; resource servers see who acts for whom; the
 * delegated token stops with the user's grant; every exchange is in the
 * audit trail, never with a token.
 */
import test from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT } from "../helpers.js";
import { ALICE, ISSUER, READ, WEB } from "../core/flow.js";
import { basic, postForm } from "../gateway/_support.js";
import { makeProof, proofKey, thumbprintOf } from "../dpop/_proof.js";
import {
  ACCESS_TOKEN_TYPE,
  agent,
  AGENT,
  AGENT2,
  claimsOf,
  delegated,
  exchange,
  exchangeParams,
  MCP,
  ownToken,
  server,
  TOKEN_EXCHANGE_GRANT,
  userToken,
} from "./_exchange.js";

test("an agent exchanges a user's token and its own for a token for one resource, for the user, carrying act (RFC 8693 §2.2.1, §4.1)", async (t) => {
  const s = await server(t);
  const { subject, answer } = await delegated(s);
  t.is(answer.headers.get("cache-control"), "no-store");
  t.is(answer.body.issued_token_type, ACCESS_TOKEN_TYPE);
  t.is(answer.body.token_type, "Bearer");
  // Only the resource's scopes of what the subject token holds (it held READ and WRITE; the resource defines READ).
  t.is(answer.body.scope, READ);
  t.is(answer.body.expires_in, 300, "the agent's access token lifetime");
  t.false("refresh_token" in answer.body, "no refresh token (RFC 8693 §2.2.1)");
  t.false("id_token" in answer.body);

  const claims = claimsOf(answer.body.access_token);
  const before = claimsOf(subject);
  t.like(claims, { iss: ISSUER, sub: ALICE.id, aud: MCP, client_id: AGENT.id, scope: READ, act: { sub: AGENT.id, client_id: AGENT.id } });
  t.is(claims.auth_time, before.auth_time, "the user's sign-in goes on");
  t.false("may_act" in claims);
  t.not(claims.gid, before.gid, "a grant of its own");
});

test("VerifyToken and introspection report who acts for whom (act), and the resource as audience", async (t) => {
  const s = await server(t);
  const { answer } = await delegated(s);
  const exchanged = String(answer.body.access_token);
  const verified = await s.tokens.verifyToken({ token: exchanged, audience: MCP });
  t.true(verified.active);
  t.like(verified, { subject: ALICE.id, clientId: AGENT.id, audience: [MCP], scopes: [READ] });
  t.like(verified.actor, { sub: AGENT.id, clientId: AGENT.id });
  t.is(verified.actor?.actor, undefined);
  t.false((await s.tokens.verifyToken({ token: exchanged, audience: "http://iam.test/services/oauth2/iam-admins/iam-admins" })).active, "not for the project's audience");

  const res = await postForm(`${s.project}/introspect`, { token: exchanged }, basic(WEB.id, WEB.secret));
  t.is(res.status, 200);
  t.like(await res.json(), { active: true, sub: ALICE.id, client_id: AGENT.id, aud: MCP, act: { sub: AGENT.id, client_id: AGENT.id } });

  // A token nobody acts for says so.
  const plain = await s.tokens.verifyToken({ token: await userToken(s) });
  t.true(plain.active);
  t.is(plain.actor, undefined);
});

test("the exchanged token never outlives the subject token", async (t) => {
  const s = await server(t);
  const subject = await userToken(s);
  // web-app's tokens live 900 s; 800 s later, 100 s are left, less than the agent's 300.
  s.clock.advance(800);
  const { answer } = await delegated(s, subject);
  t.is(answer.body.expires_in, 100);
  t.is(claimsOf(answer.body.access_token).exp, claimsOf(subject).exp);
});

test("a second exchange of a delegated token nests the prior actor inside act (a chain of delegation)", async (t) => {
  const s = await server(t);
  const { answer } = await delegated(s);
  const second = await exchange(s, AGENT2, exchangeParams(String(answer.body.access_token), await ownToken(s, AGENT2)));
  t.is(second.status, 200, JSON.stringify(second.body));
  t.like(claimsOf(second.body.access_token), {
    sub: ALICE.id,
    client_id: AGENT2.id,
    act: { sub: AGENT2.id, client_id: AGENT2.id, act: { sub: AGENT.id, client_id: AGENT.id } },
  });
  const verified = await s.tokens.verifyToken({ token: String(second.body.access_token), audience: MCP });
  t.true(verified.active);
  t.like(verified.actor, { sub: AGENT2.id, clientId: AGENT2.id, actor: { sub: AGENT.id, clientId: AGENT.id } });
});

test("revoking the user's token (its grant) stops the tokens exchanged from it, down the chain", async (t) => {
  const s = await server(t);
  const { subject, answer } = await delegated(s);
  const first = String(answer.body.access_token);
  const second = String((await exchange(s, AGENT2, exchangeParams(first, await ownToken(s, AGENT2)))).body.access_token);
  t.true((await s.tokens.verifyToken({ token: second, audience: MCP })).active);

  const revoked = await postForm(`${s.project}/revoke`, { token: subject }, basic(WEB.id, WEB.secret));
  t.is(revoked.status, 200);
  for (const token of [subject, first, second]) {
    t.like(await s.tokens.verifyToken({ token }), { active: false, failure: TokenFailure.REVOKED });
  }
  const introspected = await postForm(`${s.project}/introspect`, { token: first }, basic(WEB.id, WEB.secret));
  t.deepEqual(await introspected.json(), { active: false });
  // And no new exchange of it.
  const again = await exchange(s, AGENT, exchangeParams(subject, await ownToken(s, AGENT)));
  t.is(again.status, 400);
  t.is(again.body.error, "invalid_request");
});

test("the agent revoking its delegated token leaves the user's own token alone", async (t) => {
  const s = await server(t);
  const { subject, answer } = await delegated(s);
  const revoked = await postForm(`${s.project}/revoke`, { token: String(answer.body.access_token) }, basic(AGENT.id, AGENT.secret));
  t.is(revoked.status, 200);
  t.false((await s.tokens.verifyToken({ token: String(answer.body.access_token), audience: MCP })).active);
  t.true((await s.tokens.verifyToken({ token: subject })).active);
});

test("with a DPoP proof the exchanged token is bound to its key and of type DPoP (RFC 9449 §5)", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  const subject = await userToken(s);
  const actor = await ownToken(s, AGENT);
  const proof = await makeProof(key, `${ISSUER}/token`, { now: Math.floor(s.clock.now() / 1000) });
  const answer = await exchange(s, AGENT, exchangeParams(subject, actor), { dpop: proof });
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.token_type, "DPoP");
  t.is((claimsOf(answer.body.access_token).cnf as { jkt: string }).jkt, await thumbprintOf(key.publicJwk));
});

test("every exchange is in the audit trail: actor, user, resource, act and scopes on success, the RFC error on refusal, never a token", async (t) => {
  const s = await server(t);
  const subject = await userToken(s);
  await delegated(s, subject);
  const refused = await exchange(s, AGENT, exchangeParams(subject, await ownToken(s, AGENT), { scope: "docs.files.write" }));
  t.is(refused.body.error, "invalid_scope");

  const events = (await s.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 })).filter((e) => e.action === "TOKEN_EXCHANGED");
  t.is(events.length, 2);
  const [success, refusal] = events;
  t.like(success, {
    outcome: "success",
    actor: { kind: "client", id: AGENT.id },
    target: { kind: "user", id: ALICE.id },
    grantType: TOKEN_EXCHANGE_GRANT,
    scopes: [READ],
  });
  const changes = Object.fromEntries(success!.changes.map((c) => [c.field, JSON.parse(c.after)]));
  t.deepEqual(changes, { resource: MCP, subject_client: WEB.id, act: { sub: AGENT.id, client_id: AGENT.id } });
  t.like(refusal, { outcome: "failure", reason: "invalid_scope", actor: { kind: "client", id: AGENT.id }, target: { kind: "user", id: ALICE.id } });
  // The test core's teardown also fails the test if any event holds something shaped like a signed token.
  t.false(JSON.stringify(events).includes(subject));
});

test("ending the user's sign-in sessions (logout, an administrator) stops the delegated tokens of that sign-in", async (t) => {
  const s = await server(t);
  const { subject, answer } = await delegated(s);
  const exchanged = String(answer.body.access_token);
  const { store } = s.core.deps;
  const grant = await store.getGrant(String(claimsOf(exchanged).gid));
  t.not(grant?.sessionId, "", "the exchanged grant belongs to the user's sign-in session");
  t.is(grant?.sessionId, (await store.getGrant(String(claimsOf(subject).gid)))?.sessionId);

  t.is((await store.endUserSessions(DEFAULT, ALICE.id, Math.floor(s.clock.now() / 1000))).length, 1);
  t.like(await s.tokens.verifyToken({ token: exchanged, audience: MCP }), { active: false, failure: TokenFailure.REVOKED });
  t.not((await store.getGrant(grant!.id))?.revokedAt, null, "revoked with the session's other grants");
});

test("a chain of delegation is at most 4 exchanges deep: the fifth is invalid_request", async (t) => {
  const s = await server(t);
  const chain: { id: string; secret: string }[] = [AGENT, AGENT2];
  for (const n of [3, 4, 5]) {
    const next = { id: `agent-${n}`, secret: `agent-${n}-secret` };
    await agent(s, next, { tokenExchangeSubjectClients: [chain.at(-1)!.id], tokenExchangeResources: [MCP] });
    chain.push(next);
  }
  let subject = await userToken(s);
  for (const who of chain.slice(0, 4)) {
    const answer = await exchange(s, who, exchangeParams(subject, await ownToken(s, who)));
    t.is(answer.status, 200, `${who.id}: ${JSON.stringify(answer.body)}`);
    subject = String(answer.body.access_token);
  }
  t.true((await s.tokens.verifyToken({ token: subject, audience: MCP })).active, "four deep");
  const fifth = await exchange(s, chain[4]!, exchangeParams(subject, await ownToken(s, chain[4]!)));
  t.is(fifth.status, 400);
  t.is(fifth.body.error, "invalid_request");
});
