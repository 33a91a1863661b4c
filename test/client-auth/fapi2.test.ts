/**
 * The FAPI 2.0 Security Profile switch of a client (`security_profile:
 * fapi2`), over HTTP: its whole flow as the profile has it (PAR with
 * private_key_jwt and DPoP, the code by request_uri, a DPoP-bound token),
 * and each rule it adds, refused with the error the profile's conformance
 * suite expects: an unpushed request, plain PKCE, a token request without a
 * proof, algorithms outside PS256/ES256/EdDSA, a code older than 60 s; its
 * access tokens are ES256 in an RS256 project, and its refresh token is not
 * rotated (§5.3.2.1 item 9).
 */
import test, { type ExecutionContext } from "ava";
import { decodeJwt, decodeProtectedHeader, exportJWK, importJWK, type CryptoKey } from "jose";
import { ISSUER } from "../core/flow.js";
import { athOf, proofKey, makeProof, thumbprintOf, type ProofKey } from "../dpop/_proof.js";
import { aliceApproves, ALICE, authorizeWith, challenge, READ, REDIRECT, verifier } from "../gateway/_par.js";
import { assertJsonError, basic, postForm, token } from "../gateway/_support.js";
import { DEFAULT, seedClient, seedUser, startTestServer, type TestServer } from "../helpers.js";
import type { Config } from "../../core/server/config.js";
import { assertion, byAssertion, clientKey, seedKeyClient, type ClientKey } from "./_assertion.js";

const BANK = "bank";

async function fapiServer(t: ExecutionContext, config: Partial<Config> = {}): Promise<{ s: TestServer; key: ClientKey; rsa: ClientKey }> {
  const s = await startTestServer({ config });
  t.teardown(() => s.close());
  await seedUser(s.core, { id: ALICE.id, password: ALICE.password, permissions: [READ] });
  const key = await clientKey("PS256");
  // Registered, but RS256 is outside the profile's algorithms (§5.4.1).
  const rsa = await clientKey("RS256");
  await seedKeyClient(s, BANK, [key, rsa], {
    redirectUris: [REDIRECT],
    securityProfile: "fapi2",
    idTokenSignedResponseAlg: "ES256",
  });
  return { s, key, rsa };
}

const now = (s: TestServer) => Math.floor(s.clock.now() / 1000);
const proof = (s: TestServer, dpop: ProofKey, endpoint: "token" | "par") => makeProof(dpop, `${ISSUER}/${endpoint}`, { now: now(s) });

const pushed = (extra: Record<string, string> = {}) => ({
  response_type: "code",
  client_id: BANK,
  redirect_uri: REDIRECT,
  scope: `openid ${READ}`,
  state: "fapi-state",
  nonce: "fapi-nonce",
  code_challenge: challenge,
  code_challenge_method: "S256",
  ...extra,
});

/** PAR, the user's approval, and the code: what a FAPI 2.0 client does before its token request. */
async function fapiCode(s: TestServer, key: ClientKey, dpop: ProofKey): Promise<string> {
  const par = await postForm(`${s.project}/par`, { ...pushed(), ...byAssertion(await assertion(s, BANK, key)) }, { dpop: await proof(s, dpop, "par") });
  if (par.status !== 201) throw new Error(`par: ${par.status} ${await par.text()}`);
  const { request_uri } = (await par.json()) as { request_uri: string };
  const { redirectTo } = await aliceApproves(s, { client_id: BANK, request_uri });
  if (redirectTo.searchParams.get("iss") !== ISSUER) throw new Error(`no iss in ${redirectTo.href}`);
  return redirectTo.searchParams.get("code")!;
}

const exchange = async (s: TestServer, key: ClientKey, code: string, headers: Record<string, string>) =>
  token(s, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...byAssertion(await assertion(s, BANK, key)) }, headers);

test("the whole FAPI 2.0 flow: PAR with an assertion and a proof, the code by request_uri, a DPoP-bound ES256 token; a refresh keeps the refresh token", async (t) => {
  const { s, key } = await fapiServer(t);
  const dpop = await proofKey("ES256");
  const code = await fapiCode(s, key, dpop);
  const res = await exchange(s, key, code, { dpop: await proof(s, dpop, "token") });
  t.is(res.status, 200);
  const body = (await res.json()) as { access_token: string; token_type: string; refresh_token: string; id_token: string };
  t.is(body.token_type, "DPoP");
  t.deepEqual(decodeJwt(body.access_token).cnf, { jkt: await thumbprintOf(dpop.publicJwk) });
  t.is(decodeProtectedHeader(body.access_token).alg, "ES256");
  t.is(decodeProtectedHeader(body.id_token).alg, "ES256");

  // §5.3.2.1 item 9: no rotation; a client that lost an answer retries with the token it has, a minute later.
  const refresh = async () =>
    token(s, { grant_type: "refresh_token", refresh_token: body.refresh_token, ...byAssertion(await assertion(s, BANK, key)) }, { dpop: await proof(s, await proofKey("PS256"), "token") });
  const first = await refresh();
  t.is(first.status, 200);
  t.is(((await first.json()) as { refresh_token?: string }).refresh_token, undefined, "no new refresh token");
  s.clock.advance(60);
  t.is((await refresh()).status, 200);
});

test("a FAPI 2.0 client's authorization request that was not pushed is refused invalid_request, redirected with state and iss", async (t) => {
  const { s } = await fapiServer(t);
  const res = await authorizeWith(s, pushed());
  t.is(res.status, 302);
  const location = new URL(res.headers.get("location")!);
  t.is(location.searchParams.get("error"), "invalid_request");
  t.is(location.searchParams.get("state"), "fapi-state");
  t.is(location.searchParams.get("iss"), ISSUER);
});

test("PKCE: plain and none are refused at PAR (400 invalid_request)", async (t) => {
  const { s, key } = await fapiServer(t);
  for (const extra of [{ code_challenge_method: "plain", code_challenge: verifier }, { code_challenge: "", code_challenge_method: "" }]) {
    const params = Object.fromEntries(Object.entries(pushed(extra)).filter(([, value]) => value !== ""));
    await assertJsonError(t, await postForm(`${s.project}/par`, { ...params, ...byAssertion(await assertion(s, BANK, key)) }), 400, "invalid_request");
  }
});

test("token requests need a DPoP proof signed PS256, ES256 or EdDSA; assertions too (RS256 is 401 invalid_client)", async (t) => {
  const { s, key, rsa } = await fapiServer(t);
  const dpop = await proofKey("ES256");
  const code = await fapiCode(s, key, dpop);
  await assertJsonError(t, await exchange(s, rsa, code, { dpop: await proof(s, dpop, "token") }), 401, "invalid_client");
  // §5.3.2.1 item 8: the issuer alone; the token endpoint's URL, which another client may use, is refused.
  const tokenAudience = await assertion(s, BANK, key, { claims: { aud: `${ISSUER}/token` } });
  await assertJsonError(
    t,
    await token(s, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...byAssertion(tokenAudience) }, { dpop: await proof(s, dpop, "token") }),
    401,
    "invalid_client",
  );
  const parAudience = await assertion(s, BANK, key, { claims: { aud: `${ISSUER}/par` } });
  await assertJsonError(t, await postForm(`${s.project}/par`, { ...pushed(), ...byAssertion(parAudience) }), 401, "invalid_client");
  const none = await assertJsonError(t, await exchange(s, key, code, {}), 400, "invalid_dpop_proof");
  t.regex(none.error_description ?? "", /must carry a DPoP proof/);
  await assertJsonError(t, await exchange(s, key, code, { dpop: await proof(s, await proofKey("ES384"), "token") }), 400, "invalid_dpop_proof");
  await assertJsonError(t, await exchange(s, key, code, { dpop: await proof(s, await proofKey("RS256"), "token") }), 400, "invalid_dpop_proof");
  // Every refusal left the code unspent.
  t.is((await exchange(s, key, code, { dpop: await proof(s, dpop, "token") })).status, 200);
});

test("at UserInfo too, its DPoP-bound token is presented only with proofs of the profile's algorithms: the same RSA key signing RS256 is refused", async (t) => {
  const { s, key } = await fapiServer(t);
  const dpop = await proofKey("PS256");
  const code = await fapiCode(s, key, dpop);
  const { access_token } = (await (await exchange(s, key, code, { dpop: await proof(s, dpop, "token") })).json()) as { access_token: string };
  const userinfo = async (with_: ProofKey) =>
    fetch(`${s.project}/userinfo`, {
      headers: { authorization: `DPoP ${access_token}`, dpop: await makeProof(with_, `${ISSUER}/userinfo`, { method: "GET", now: now(s), claims: { ath: athOf(access_token) } }) },
    });
  const rs256 = { ...dpop, alg: "RS256", privateKey: (await importJWK(await exportJWK(dpop.privateKey), "RS256")) as CryptoKey };
  const refused = await userinfo(rs256);
  t.is(refused.status, 401);
  t.regex(refused.headers.get("www-authenticate") ?? "", /^DPoP .*error="invalid_dpop_proof", error_description="the DPoP proof.s alg must be one of PS256, ES256, EdDSA, Ed25519"/);
  t.is((await userinfo(dpop)).status, 200);
});

test("its request_uri lives at most 300 s however long the server's live (§5.3.2.2 item 12: under 600)", async (t) => {
  const { s, key } = await fapiServer(t, { pushedAuthorizationRequestTtl: 600 });
  const par = await postForm(`${s.project}/par`, { ...pushed(), ...byAssertion(await assertion(s, BANK, key)) });
  t.is(par.status, 201);
  t.is(((await par.json()) as { expires_in: number }).expires_in, 300);
});

test("codes of a FAPI 2.0 client live 60 s however long the server's codes live", async (t) => {
  const { s, key } = await fapiServer(t, { authorizationCodeTtl: 300 });
  const dpop = await proofKey("ES256");
  const code = await fapiCode(s, key, dpop);
  s.clock.advance(61);
  await assertJsonError(t, await exchange(s, key, code, { dpop: await proof(s, dpop, "token") }), 400, "invalid_grant");
});

test("its access tokens are ES256 in a project whose access tokens are RS256 (§5.4.1); another client's stay RS256", async (t) => {
  const { s, key } = await fapiServer(t);
  await seedClient(s.core, { id: "plain", secret: "plain-secret-of-twenty", grantTypes: ["client_credentials"] });
  const project = (await s.core.deps.store.getProject(DEFAULT))!;
  await s.core.deps.store.updateProject(DEFAULT, { name: project.name, audience: project.audience, accessTokenSigningAlg: "RS256" });
  const fapi = await token(s, { grant_type: "client_credentials", ...byAssertion(await assertion(s, BANK, key)) }, { dpop: await proof(s, await proofKey("EdDSA"), "token") });
  t.is(fapi.status, 200);
  t.is(decodeProtectedHeader(((await fapi.json()) as { access_token: string }).access_token).alg, "ES256");
  const plain = await token(s, { grant_type: "client_credentials" }, basic("plain", "plain-secret-of-twenty"));
  t.is(decodeProtectedHeader(((await plain.json()) as { access_token: string }).access_token).alg, "RS256");
});
