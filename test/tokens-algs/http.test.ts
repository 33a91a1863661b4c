/**
 * Both algorithms over real HTTP: the JWKS a relying party or resource
 * server fetches holds an EC and an RSA key of the right shapes; ID tokens
 * and access tokens verify with jose's createRemoteJWKSet against it; and
 * openid-client, a standard relying party, accepts a code flow's ID token as
 * it is by default: RS256, signature checked against the jwks_uri.
 */
import test from "ava";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as client from "openid-client";
import { CONFIDENTIAL, PERMISSION, REDIRECT_URI, USER, addClient, startStandardServer, userApproves, type StandardServer } from "../standards/client-harness.js";

interface Jwk {
  kty: string;
  kid: string;
  alg: string;
  use: string;
  [member: string]: string;
}

const jwksOf = async (s: StandardServer): Promise<Jwk[]> => {
  const res = await fetch(`${s.issuer}/.well-known/jwks.json`);
  if (res.status !== 200) throw new Error(`JWKS: ${res.status}`);
  return ((await res.json()) as { keys: Jwk[] }).keys;
};

/** The code flow with openid-client for `clientId`, through discovery, PKCE, state and nonce: its tokens. */
async function codeFlow(config: client.Configuration, scope = `openid ${PERMISSION}`) {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
  });
  const { redirectTo } = await userApproves(url);
  return client.authorizationCodeGrant(config, redirectTo, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
}

async function discover(s: StandardServer, clientId: string, secret: string): Promise<client.Configuration> {
  const config = await client.discovery(new URL(s.issuer), clientId, secret, client.ClientSecretBasic(secret), {
    execute: [client.allowInsecureRequests],
  });
  // The ID token's signature too, with the keys of the discovered jwks_uri.
  client.enableNonRepudiationChecks(config);
  return config;
}

test("the JWKS holds the project's EC P-256 key for ES256 and its 2048-bit RSA key for RS256, each with its own members only", async (t) => {
  const s = await startStandardServer(t);
  const res = await fetch(`${s.issuer}/.well-known/jwks.json`);
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  const keys = ((await res.json()) as { keys: Jwk[] }).keys;
  t.deepEqual(
    keys.map((k) => [k.kty, k.alg]),
    [
      ["EC", "ES256"],
      ["RSA", "RS256"],
    ],
  );
  const [ec, rsa] = keys as [Jwk, Jwk];
  t.deepEqual(Object.keys(ec).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
  t.deepEqual(Object.keys(rsa).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
  t.like(ec, { crv: "P-256", use: "sig" });
  t.like(rsa, { e: "AQAB", use: "sig" });
  t.regex(rsa.n!, /^[A-Za-z0-9_-]{342}$/, "a 2048-bit modulus, base64url without padding");
  t.not(ec.kid, rsa.kid);
  const stored = await s.core.deps.store.listSigningKeys(s.ref);
  t.deepEqual(keys.map((k) => k.kid).sort(), stored.map((k) => k.kid).sort());
});

test("an ID token of a client with no registered algorithm is RS256 and verifies with jose's createRemoteJWKSet over HTTP; an ES256 client's too; access tokens ES256", async (t) => {
  const s = await startStandardServer(t);
  await addClient(s, { id: "rp-es", secret: "rp-es-secret", grantTypes: ["authorization_code"], idTokenSignedResponseAlg: "ES256" });
  const jwks = createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`));

  const rs = await codeFlow(await discover(s, CONFIDENTIAL.id, CONFIDENTIAL.secret));
  const es = await codeFlow(await discover(s, "rp-es", "rp-es-secret"));
  t.is(decodeProtectedHeader(rs.id_token!).alg, "RS256");
  t.is(decodeProtectedHeader(es.id_token!).alg, "ES256");

  for (const [token, clientId, alg] of [
    [rs.id_token!, CONFIDENTIAL.id, "RS256"],
    [es.id_token!, "rp-es", "ES256"],
  ] as const) {
    const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: s.issuer, audience: clientId, algorithms: [alg], typ: "JWT" });
    t.is(payload.sub, USER.id);
    t.is(protectedHeader.alg, alg);
  }
  for (const token of [rs.access_token, es.access_token]) {
    const { protectedHeader } = await jwtVerify(token, jwks, { issuer: s.issuer, algorithms: ["ES256"], typ: "at+jwt" });
    t.is(protectedHeader.alg, "ES256");
  }
  // An RS256 token does not verify when only ES256 is allowed, and the reverse: no key answers both.
  await t.throwsAsync(jwtVerify(rs.id_token!, jwks, { algorithms: ["ES256"] }));
  await t.throwsAsync(jwtVerify(es.id_token!, jwks, { algorithms: ["RS256"] }));
});

test("openid-client accepts the ID token of a code flow with its defaults: RS256, checked against the jwks_uri", async (t) => {
  const s = await startStandardServer(t);
  const discovered = await discover(s, CONFIDENTIAL.id, CONFIDENTIAL.secret);
  const tokens = await codeFlow(discovered);
  const claims = tokens.claims()!;
  t.is(claims.iss, s.issuer);
  t.is(claims.sub, USER.id);
  t.is(claims.aud, CONFIDENTIAL.id);
  t.is(decodeProtectedHeader(tokens.id_token!).alg, "RS256");

  // Without the server's list of algorithms, a relying party expects RS256
  // (OpenID Connect Registration §2): the ID token must be RS256 to pass.
  const { id_token_signing_alg_values_supported: _listed, ...metadata } = discovered.serverMetadata();
  const strict = new client.Configuration(metadata, CONFIDENTIAL.id, CONFIDENTIAL.secret, client.ClientSecretBasic(CONFIDENTIAL.secret));
  client.allowInsecureRequests(strict);
  client.enableNonRepudiationChecks(strict);
  const again = await codeFlow(strict);
  t.is(again.claims()!.sub, USER.id);

  // A client that registered ES256 is refused an RS256 ID token by the same library: the check is real.
  const es256Only = new client.Configuration(
    metadata,
    CONFIDENTIAL.id,
    { client_secret: CONFIDENTIAL.secret, id_token_signed_response_alg: "ES256" },
    client.ClientSecretBasic(CONFIDENTIAL.secret),
  );
  client.allowInsecureRequests(es256Only);
  const refused = await t.throwsAsync(codeFlow(es256Only), { code: "OAUTH_INVALID_RESPONSE" });
  t.regex((refused?.cause as Error | undefined)?.message ?? "", /unexpected JWT "alg" header parameter/);
});

test("a project whose access tokens are RS256: the token endpoint's access token verifies with the remote JWKS as RS256", async (t) => {
  const s = await startStandardServer(t);
  const project = (await s.core.deps.store.getProject(s.ref))!;
  await s.core.deps.store.updateProject(s.ref, { name: project.name, audience: project.audience, accessTokenSigningAlg: "RS256" });
  const tokens = await codeFlow(await discover(s, CONFIDENTIAL.id, CONFIDENTIAL.secret));
  const jwks = createRemoteJWKSet(new URL(`${s.issuer}/.well-known/jwks.json`));
  const { protectedHeader, payload } = await jwtVerify(tokens.access_token, jwks, { issuer: s.issuer, algorithms: ["RS256"], typ: "at+jwt" });
  t.is(protectedHeader.alg, "RS256");
  t.is(payload.sub, USER.id);
  const verified = await s.core.deps.store.getProject(s.ref);
  t.is(verified!.accessTokenSigningAlg, "RS256");
});
