/**
 * DPoP (RFC 9449) with oauth4webapi, a certified client library, against a
 * real server: a public client binds its code (dpop_jkt), exchanges it, calls
 * UserInfo and the example resource server with its proofs, and refreshes
 * with the same key; the bound token is useless as a bearer token and to
 * another key; a confidential client gets a bound token by client
 * credentials, and oauth4webapi checks every answer against the standards.
 */
import test from "ava";
import * as oauth from "oauth4webapi";
import { startCoreServer } from "../../core/server/listen.js";
import { REQUIRED_SCOPE, startResourceServer } from "../../examples/resource-server/server.js";
import { PERMISSION, PUBLIC_CLIENT, REDIRECT_URI, addClient, decodeJwt, startStandardServer, userApproves, type StandardServer } from "./client-harness.js";

const insecure = { [oauth.allowInsecureRequests]: true } as const;

async function discover(s: StandardServer): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(s.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
}

test("a public client with a DPoP key: dpop_jkt, a bound code exchange, UserInfo and an API with proofs, a refresh with the same key; the token is refused as Bearer and to another key", async (t) => {
  const s = await startStandardServer(t);
  // The example API's notes are alice's to read.
  const { store } = s.core.deps;
  await store.createPermission({ ...s.ref, id: REQUIRED_SCOPE, description: "reads notes" });
  await store.createRole({ ...s.ref, id: "note-reader", description: "reads notes", permissions: [REQUIRED_SCOPE] });
  await store.assignRole(s.ref, { userId: "alice" }, "note-reader");
  const as = await discover(s);
  t.deepEqual(as.dpop_signing_alg_values_supported?.[0], "ES256");
  const client: oauth.Client = { client_id: PUBLIC_CLIENT.id };
  const dpop = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  const jkt = await dpop.calculateThumbprint();

  const codeVerifier = oauth.generateRandomCodeVerifier();
  const url = new URL(as.authorization_endpoint!);
  for (const [name, value] of Object.entries({
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT_URI,
    scope: `openid ${PERMISSION} ${REQUIRED_SCOPE}`,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    dpop_jkt: jkt,
  })) url.searchParams.set(name, value);
  const { redirectTo } = await userApproves(url);
  const callback = oauth.validateAuthResponse(as, client, redirectTo, oauth.skipStateCheck);

  const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), callback, REDIRECT_URI, codeVerifier, { ...insecure, DPoP: dpop });
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { requireIdToken: true });
  t.is(tokens.token_type, "dpop");
  t.deepEqual(decodeJwt(tokens.access_token).payload.cnf, { jkt });

  // UserInfo with a proof for GET and the token's hash.
  const claims = await oauth.processUserInfoResponse(as, client, oauth.skipSubjectCheck, await oauth.userInfoRequest(as, client, tokens.access_token, { ...insecure, DPoP: dpop }));
  t.is(claims.sub, "alice");

  // The example resource server, verifying through the core with the request's proof.
  const core = await startCoreServer(s.core.routes, "127.0.0.1", 0);
  t.teardown(() => core.close());
  const api = await startResourceServer({ mode: "remote", coreUrl: `http://127.0.0.1:${core.port}`, organization: s.ref.organization, project: s.ref.project, issuer: s.issuer });
  t.teardown(api.close);
  const notes = await oauth.protectedResourceRequest(tokens.access_token, "GET", new URL(`${api.url}/notes`), undefined, undefined, { ...insecure, DPoP: dpop });
  t.is(notes.status, 200);
  t.like(await notes.json(), { owner: "alice" });
  const asBearer = await fetch(`${api.url}/notes`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.is(asBearer.status, 401);
  t.regex(asBearer.headers.get("www-authenticate") ?? "", /^DPoP realm="[^"]+", error="invalid_token"/);
  // Another key's proof: oauth4webapi reads the resource's DPoP challenge.
  const thief = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
  const stolen = await oauth
    .protectedResourceRequest(tokens.access_token, "GET", new URL(`${api.url}/notes`), undefined, undefined, { ...insecure, DPoP: thief })
    .catch((err: unknown) => err);
  t.true(stolen instanceof oauth.WWWAuthenticateChallengeError);
  const [challenge] = (stolen as oauth.WWWAuthenticateChallengeError).cause;
  t.is((stolen as oauth.WWWAuthenticateChallengeError).status, 401);
  t.like(challenge, { scheme: "dpop", parameters: { error: "invalid_dpop_proof" } });

  // The refresh token is bound: the same key refreshes it; another key is refused.
  const refreshToken = tokens.refresh_token!;
  const refused = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, { ...insecure, DPoP: thief });
  const error = await oauth.processRefreshTokenResponse(as, client, refused).catch((err: unknown) => err);
  t.true(error instanceof oauth.ResponseBodyError);
  t.is((error as oauth.ResponseBodyError).error, "invalid_grant");
  const renewed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, { ...insecure, DPoP: dpop }));
  t.is(renewed.token_type, "dpop");
  t.deepEqual(decodeJwt(renewed.access_token).payload.cnf, { jkt });
});

test("a confidential client gets a DPoP-bound token by client credentials, and a new key may be used at each request", async (t) => {
  const s = await startStandardServer(t);
  await addClient(s, { id: "rp-service", secret: "rp-service-secret", redirectUris: [], grantTypes: ["client_credentials"] });
  const as = await discover(s);
  const client: oauth.Client = { client_id: "rp-service" };
  const auth = oauth.ClientSecretBasic("rp-service-secret");
  for (let i = 0; i < 2; i++) {
    const dpop = oauth.DPoP(client, await oauth.generateKeyPair(i === 0 ? "ES256" : "EdDSA"));
    const response = await oauth.clientCredentialsGrantRequest(as, client, auth, {}, { ...insecure, DPoP: dpop });
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    t.is(tokens.token_type, "dpop");
    t.deepEqual(decodeJwt(tokens.access_token).payload.cnf, { jkt: await dpop.calculateThumbprint() });
  }
});
