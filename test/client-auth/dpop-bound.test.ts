/**
 * `dpop_bound_access_tokens` (RFC 9449 §5.2) over HTTP: a client that
 * registered it gets no bearer token. A token request without a proof is
 * 400 invalid_dpop_proof at every grant and spends nothing; with one, the
 * tokens are bound as for any client.
 */
import test from "ava";
import { decodeJwt } from "jose";
import { ISSUER } from "../core/flow.js";
import { makeProof, proofKey, thumbprintOf } from "../dpop/_proof.js";
import { aliceApproves, ALICE, challenge, READ, REDIRECT, verifier } from "../gateway/_par.js";
import { assertJsonError, basic, token } from "../gateway/_support.js";
import { seedClient, seedUser, startTestServer, type TestServer } from "../helpers.js";

const BOUND = { id: "bound", secret: "bound-secret-of-twenty" };

const proof = async (s: TestServer) => makeProof(await proofKey(), `${ISSUER}/token`, { now: Math.floor(s.clock.now() / 1000) });

test("without a proof, client_credentials and the code exchange are 400 invalid_dpop_proof and spend nothing; with one, tokens are bound", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedUser(s.core, { id: ALICE.id, password: ALICE.password, permissions: [READ] });
  await seedClient(s.core, { ...BOUND, redirectUris: [REDIRECT], grantTypes: ["authorization_code", "client_credentials"], dpopBoundAccessTokens: true });

  const bare = await assertJsonError(t, await token(s, { grant_type: "client_credentials" }, basic(BOUND.id, BOUND.secret)), 400, "invalid_dpop_proof");
  t.regex(bare.error_description ?? "", /must carry a DPoP proof/);
  const bound = await token(s, { grant_type: "client_credentials" }, { ...basic(BOUND.id, BOUND.secret), dpop: await proof(s) });
  t.is(((await bound.json()) as { token_type: string }).token_type, "DPoP");

  const { redirectTo } = await aliceApproves(s, {
    response_type: "code",
    client_id: BOUND.id,
    redirect_uri: REDIRECT,
    scope: READ,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  const code = redirectTo.searchParams.get("code")!;
  const exchange = async (headers: Record<string, string>) =>
    token(s, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier }, { ...basic(BOUND.id, BOUND.secret), ...headers });
  await assertJsonError(t, await exchange({}), 400, "invalid_dpop_proof");
  const key = await proofKey();
  const res = await exchange({ dpop: await makeProof(key, `${ISSUER}/token`, { now: Math.floor(s.clock.now() / 1000) }) });
  t.is(res.status, 200, "the refusal left the code unspent");
  t.deepEqual(decodeJwt(((await res.json()) as { access_token: string }).access_token).cnf, { jkt: await thumbprintOf(key.publicJwk) });
});
