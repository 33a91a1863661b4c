/**
 * DPoP at the token endpoint (RFC 9449 §5), over HTTP: a proof binds the
 * access token to its key (`token_type` DPoP, `cnf.jkt`); a bad one is 400
 * `invalid_dpop_proof` and issues nothing; a public client's refresh token
 * is bound to its key, and a code asked for with `dpop_jkt` to that key.
 */
import test from "ava";
import { decodeJwt } from "jose";
import { ISSUER, M2M, SPA, seedFixtures } from "../core/flow.js";
import { assertJsonError, authorizeUrl, basic, getJson, token } from "../gateway/_support.js";
import { pkcePair, startTestServer, type TestServer } from "../helpers.js";
import { exchange, proofFor, refresh, server, spaCode } from "./_flow.js";
import { makeProof, proofKey, thumbprintOf } from "./_proof.js";

const clientCredentials = (s: TestServer, headers: Record<string, string>) =>
  token(s, { grant_type: "client_credentials" }, { ...basic(M2M.id, M2M.secret), ...headers });

test("client_credentials with a proof: token_type DPoP and an access token bound to the proof's key (cnf.jkt); without one, Bearer and no cnf", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  const res = await clientCredentials(s, { dpop: await proofFor(s, key) });
  t.is(res.status, 200);
  const body = (await res.json()) as { access_token: string; token_type: string };
  t.is(body.token_type, "DPoP");
  t.deepEqual(decodeJwt(body.access_token).cnf, { jkt: await thumbprintOf(key.publicJwk) });

  const bearer = (await (await clientCredentials(s, {})).json()) as { access_token: string; token_type: string };
  t.is(bearer.token_type, "Bearer");
  t.is(decodeJwt(bearer.access_token).cnf, undefined);
});

test("a proof used twice is invalid_dpop_proof the second time, and issues nothing", async (t) => {
  const s = await server(t);
  const proof = await proofFor(s, await proofKey());
  t.is((await clientCredentials(s, { dpop: proof })).status, 200);
  const again = await assertJsonError(t, await clientCredentials(s, { dpop: proof }), 400, "invalid_dpop_proof");
  t.regex(again.error_description ?? "", /used before/);
});

test("each wrong proof is 400 invalid_dpop_proof: another URL, another method, ten minutes old, two minutes ahead, typ JWT, private key, two headers", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  const now = Math.floor(s.clock.now() / 1000);
  const wrong: [string, string][] = [
    ["htu of userinfo", await makeProof(key, `${ISSUER}/userinfo`, { now })],
    ["htu of the gateway's own address", await makeProof(key, `${s.project}/token`, { now })],
    ["htm GET", await proofFor(s, key, { method: "GET" })],
    ["iat ten minutes ago", await proofFor(s, key, { now: now - 600 })],
    ["iat two minutes ahead", await proofFor(s, key, { now: now + 120 })],
    ["typ JWT", await proofFor(s, key, { header: { typ: "JWT" } })],
    ["a private jwk", await proofFor(s, key, { header: { jwk: { ...key.publicJwk, d: "AAAA" } } })],
    ["two DPoP headers", `${await proofFor(s, key)}, ${await proofFor(s, key)}`],
    ["not a JWT", "not-a-jwt"],
  ];
  for (const [what, proof] of wrong) {
    const body = await assertJsonError(t, await clientCredentials(s, { dpop: proof }), 400, "invalid_dpop_proof");
    t.truthy(body.error_description, what);
  }
});

test("a public client's refresh token is bound to its DPoP key: refreshed with a proof of that key, refused invalid_grant with another key or none", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  const { code, verifier } = await spaCode(s);
  const first = (await (await exchange(s, code, verifier, { dpop: await proofFor(s, key) })).json()) as { refresh_token: string; token_type: string };
  t.is(first.token_type, "DPoP");

  const otherKey = await assertJsonError(t, await refresh(s, first.refresh_token, { dpop: await proofFor(s, await proofKey()) }), 400, "invalid_grant");
  t.regex(otherKey.error_description ?? "", /not the one the refresh token is bound to/);
  const none = await assertJsonError(t, await refresh(s, first.refresh_token), 400, "invalid_grant");
  t.regex(none.error_description ?? "", /bound to a DPoP key/);

  // Neither refusal spent the token: the right key still refreshes it, and the new one is bound too.
  const renewed = await refresh(s, first.refresh_token, { dpop: await proofFor(s, key) });
  t.is(renewed.status, 200);
  const second = (await renewed.json()) as { access_token: string; refresh_token: string; token_type: string };
  t.is(second.token_type, "DPoP");
  t.deepEqual(decodeJwt(second.access_token).cnf, { jkt: await thumbprintOf(key.publicJwk) });
  await assertJsonError(t, await refresh(s, second.refresh_token), 400, "invalid_grant");
});

test("a public client's code exchanged without a proof gives bearer tokens whose refresh needs none", async (t) => {
  const s = await server(t);
  const { code, verifier } = await spaCode(s);
  const first = (await (await exchange(s, code, verifier)).json()) as { refresh_token: string; token_type: string };
  t.is(first.token_type, "Bearer");
  t.is((await refresh(s, first.refresh_token)).status, 200);
});

test("dpop_jkt binds the code: exchanged with a proof of that key only (invalid_grant otherwise, the code unspent); a malformed dpop_jkt is invalid_request", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  const jkt = await thumbprintOf(key.publicJwk);
  const { code, verifier } = await spaCode(s, { dpop_jkt: jkt });
  const other = await assertJsonError(t, await exchange(s, code, verifier, { dpop: await proofFor(s, await proofKey()) }), 400, "invalid_grant");
  t.regex(other.error_description ?? "", /dpop_jkt/);
  await assertJsonError(t, await exchange(s, code, verifier), 400, "invalid_grant");
  const res = await exchange(s, code, verifier, { dpop: await proofFor(s, key) });
  t.is(res.status, 200);
  t.deepEqual(decodeJwt(((await res.json()) as { access_token: string }).access_token).cnf, { jkt });

  const { challenge } = pkcePair();
  const bad = await getJson(
    authorizeUrl(s, { response_type: "code", client_id: SPA.id, redirect_uri: SPA.redirectUri, scope: "openid", state: "s", code_challenge: challenge, code_challenge_method: "S256", dpop_jkt: "short" }),
  );
  t.is(bad.status, 302);
  const location = new URL(bad.headers.get("location") ?? "");
  t.is(location.searchParams.get("error"), "invalid_request");
  t.regex(location.searchParams.get("error_description") ?? "", /dpop_jkt/);
});

test("IAM_DPOP_NONCE: a proof without the server's nonce is 400 use_dpop_nonce with a DPoP-Nonce header; with it, a token; ten minutes on, the nonce is stale and a new one is given", async (t) => {
  const s = await startTestServer({ config: { dpopNonce: true } });
  t.teardown(() => s.close());
  await seedFixtures(s);
  const key = await proofKey();
  const first = await clientCredentials(s, { dpop: await proofFor(s, key) });
  await assertJsonError(t, first, 400, "use_dpop_nonce");
  const nonce = first.headers.get("dpop-nonce");
  t.regex(nonce ?? "", /^[A-Za-z0-9._-]{20,64}$/);
  const second = await clientCredentials(s, { dpop: await proofFor(s, key, { claims: { nonce: nonce! } }) });
  t.is(second.status, 200);
  t.is(((await second.json()) as { token_type: string }).token_type, "DPoP");

  s.clock.advance(601);
  const stale = await clientCredentials(s, { dpop: await proofFor(s, key, { claims: { nonce: nonce! } }) });
  const body = await assertJsonError(t, stale, 400, "use_dpop_nonce");
  t.regex(body.error_description ?? "", /not a current one/);
  t.not(stale.headers.get("dpop-nonce"), nonce);
  // Any other fault of the proof tells the nonce too.
  const wrongUrl = await clientCredentials(s, { dpop: await proofFor(s, key, { url: `${ISSUER}/userinfo` }) });
  await assertJsonError(t, wrongUrl, 400, "invalid_dpop_proof");
  t.is(wrongUrl.headers.get("dpop-nonce"), stale.headers.get("dpop-nonce"));
});
