/**
 * Interoperability with oauth4webapi, a strict standards-conformant client:
 * given only the issuer URL it discovers the server (OpenID Connect Discovery
 * and RFC 8414), runs the authorization code flow with PKCE and OpenID
 * Connect, validates the authorization response (RFC 9207 iss, state), the
 * ID token, UserInfo, refresh, introspection (RFC 7662) and revocation
 * (RFC 7009). Any deviation from the standards makes the library throw.
 */
import { createHash } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import * as oauth from "oauth4webapi";
import {
  CONFIDENTIAL,
  PERMISSION,
  PUBLIC_CLIENT,
  REDIRECT_URI,
  USER,
  decodeJwt,
  startStandardServer,
  userApproves,
  type StandardServer,
} from "./client-harness.js";

const insecure = { [oauth.allowInsecureRequests]: true } as const;

async function discover(s: StandardServer, algorithm: "oidc" | "oauth2" = "oidc"): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(s.issuer);
  const response = await oauth.discoveryRequest(issuer, { ...insecure, algorithm });
  return oauth.processDiscoveryResponse(issuer, response);
}

/** Builds the authorization URL as a relying party does, from the discovered metadata. */
async function authorizationRequest(as: oauth.AuthorizationServer, clientId: string, scope: string) {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", clientId);
  url.searchParams.set("redirect_uri", REDIRECT_URI);
  url.searchParams.set("scope", scope);
  url.searchParams.set("state", state);
  url.searchParams.set("nonce", nonce);
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set("code_challenge_method", "S256");
  return { url, codeVerifier, state, nonce };
}

/** OpenID Connect Core §3.1.3.6: at_hash is the left half of SHA-256 of the access token, base64url. */
const atHash = (accessToken: string) => createHash("sha256").update(accessToken).digest().subarray(0, 16).toString("base64url");

const SCOPE = `openid profile email ${PERMISSION}`;

/**
 * The whole code flow with oauth4webapi for one client and one way of
 * authenticating it; answers what the later steps need.
 */
async function codeFlow(
  t: ExecutionContext,
  s: StandardServer,
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  auth: oauth.ClientAuth,
) {
  const request = await authorizationRequest(as, client.client_id, SCOPE);
  const before = Math.floor(Date.now() / 1000);
  const { redirectTo, offered } = await userApproves(request.url);
  t.deepEqual(offered, ["openid", "profile", "email", PERMISSION]);
  t.is(`${redirectTo.origin}${redirectTo.pathname}`, REDIRECT_URI);

  // RFC 9207: iss must be present (the metadata says so) and equal the issuer; state must match.
  const callback = oauth.validateAuthResponse(as, client, redirectTo, request.state);
  t.truthy(callback.get("code"));

  const tokenResponse = await oauth.authorizationCodeGrantRequest(as, client, auth, callback, REDIRECT_URI, request.codeVerifier, insecure);
  t.is(tokenResponse.status, 200);
  t.is(tokenResponse.headers.get("cache-control"), "no-store");
  const signed = tokenResponse.clone();
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse, {
    expectedNonce: request.nonce,
    requireIdToken: true,
    // A max_age check needs auth_time: present, and not older than a minute.
    maxAge: 60,
  });
  // The ID token's signature, checked with the key the discovered jwks_uri serves.
  await oauth.validateApplicationLevelSignature(as, tokenResponse, insecure);
  t.is(tokens.token_type, "bearer");
  t.is(tokens.scope, SCOPE);
  t.true(typeof tokens.expires_in === "number" && tokens.expires_in > 0);
  t.is(typeof tokens.refresh_token, "string");

  const claims = oauth.getValidatedIdTokenClaims(tokens)!;
  t.is(claims.iss, s.issuer);
  t.is(claims.sub, USER.id);
  t.is(claims.aud, client.client_id);
  t.is(claims.azp, client.client_id);
  t.is(claims.nonce, request.nonce);
  t.is(claims.email, `${USER.id}@example.test`);
  t.is(claims.name, `User ${USER.id}`);
  t.is(claims.preferred_username, USER.id);
  t.true(typeof claims.auth_time === "number" && claims.auth_time >= before - 1 && claims.auth_time <= claims.iat);
  t.true(claims.exp > claims.iat);
  // oauth4webapi does not check at_hash in the code flow; the test does.
  t.is(claims.at_hash, atHash(tokens.access_token));
  const header = decodeJwt(tokens.id_token!).header;
  // The client registered no algorithm: RS256 (OpenID Connect Registration §2).
  t.is(header.alg, "RS256");
  t.is(typeof header.kid, "string");
  t.is(((await signed.json()) as { id_token: string }).id_token, tokens.id_token!);
  return tokens;
}

/** UserInfo, refresh, introspection, revocation: the rest of a relying party's life. */
async function afterLogin(
  t: ExecutionContext,
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  auth: oauth.ClientAuth,
  tokens: oauth.TokenEndpointResponse,
  introspector: { client: oauth.Client; auth: oauth.ClientAuth },
) {
  const claims = oauth.getValidatedIdTokenClaims(tokens)!;

  const userInfoResponse = await oauth.userInfoRequest(as, client, tokens.access_token, insecure);
  const userInfo = await oauth.processUserInfoResponse(as, client, claims.sub, userInfoResponse);
  t.is(userInfo.sub, USER.id);
  t.is(userInfo.email, `${USER.id}@example.test`);
  t.is(userInfo.name, `User ${USER.id}`);
  // preferred_username: see the dedicated UserInfo test below.

  const refreshResponse = await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, insecure);
  const refreshed = await oauth.processRefreshTokenResponse(as, client, refreshResponse);
  t.is(refreshed.token_type, "bearer");
  t.not(refreshed.access_token, tokens.access_token);
  t.is(typeof refreshed.refresh_token, "string");
  t.not(refreshed.refresh_token, tokens.refresh_token);
  t.is(refreshed.scope, SCOPE);
  const refreshedClaims = oauth.getValidatedIdTokenClaims(refreshed);
  if (refreshedClaims !== undefined) {
    // OpenID Connect Core §12.2: a refreshed ID token keeps iss, sub, aud and auth_time.
    t.is(refreshedClaims.sub, claims.sub);
    t.is(refreshedClaims.iss, claims.iss);
    t.deepEqual(refreshedClaims.aud, claims.aud);
    t.is(refreshedClaims.auth_time, claims.auth_time);
  }

  const introspect = async (token: string) =>
    oauth.processIntrospectionResponse(
      as,
      introspector.client,
      await oauth.introspectionRequest(as, introspector.client, introspector.auth, token, insecure),
    );

  const access = await introspect(refreshed.access_token);
  t.true(access.active);
  t.is(access.client_id, client.client_id);
  t.is(access.scope, SCOPE);
  t.is(access.sub, USER.id);
  t.is(access.token_type, "Bearer");
  t.is(access.iss, as.issuer);
  t.true(typeof access.exp === "number" && access.exp > Date.now() / 1000);

  const refresh = await introspect(refreshed.refresh_token!);
  t.true(refresh.active);
  t.is(refresh.client_id, client.client_id);
  t.is(refresh.scope, SCOPE);
  t.is(refresh.sub, USER.id);
  t.is(refresh.token_type, "refresh_token");

  // The first refresh token was rotated: inactive.
  t.false((await introspect(tokens.refresh_token!)).active);

  await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, insecure));
  t.false((await introspect(refreshed.refresh_token!)).active);
  // Revocation of the refresh token ends the grant: its access token too.
  t.false((await introspect(refreshed.access_token)).active);

  // UserInfo now refuses the access token with an RFC 6750 challenge.
  const afterRevoke = await oauth.userInfoRequest(as, client, refreshed.access_token, insecure);
  const error = await t.throwsAsync(oauth.processUserInfoResponse(as, client, claims.sub, afterRevoke), {
    instanceOf: oauth.WWWAuthenticateChallengeError,
  });
  t.is(error?.cause[0]?.scheme, "bearer");
  t.is(error?.cause[0]?.parameters.error, "invalid_token");

  // A revoked refresh token no longer refreshes.
  const dead = await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, insecure);
  const refused = await t.throwsAsync(oauth.processRefreshTokenResponse(as, client, dead), { instanceOf: oauth.ResponseBodyError });
  t.is(refused?.error, "invalid_grant");
}

test("discovery by the issuer URL alone: the OpenID Connect and RFC 8414 algorithms find the same metadata", async (t) => {
  const s = await startStandardServer(t);
  const oidc = await discover(s, "oidc");
  const oauth2 = await discover(s, "oauth2");
  t.deepEqual(oauth2, oidc);
  t.is(oidc.issuer, s.issuer);
  for (const endpoint of [
    oidc.authorization_endpoint,
    oidc.token_endpoint,
    oidc.jwks_uri,
    oidc.userinfo_endpoint,
    oidc.introspection_endpoint,
    oidc.revocation_endpoint,
  ]) {
    t.true(endpoint?.startsWith(`${s.issuer}/`), String(endpoint));
  }
  t.true(oidc.authorization_response_iss_parameter_supported);
  t.deepEqual(oidc.id_token_signing_alg_values_supported, ["RS256", "ES256"]);
  t.true(oidc.code_challenge_methods_supported?.includes("S256"));

  // The issuer check is real: a discovery for another issuer is refused by the client.
  const wrong = new URL(`${s.baseUrl}/services/oauth2/acme/other-shop`);
  const response = await oauth.discoveryRequest(new URL(s.issuer), insecure);
  await t.throwsAsync(oauth.processDiscoveryResponse(wrong, response), { instanceOf: oauth.OperationProcessingError });
});

test("a confidential client (client_secret_basic) runs the whole OpenID Connect code flow with PKCE through oauth4webapi", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s);
  const client: oauth.Client = { client_id: CONFIDENTIAL.id };
  const auth = oauth.ClientSecretBasic(CONFIDENTIAL.secret);
  const tokens = await codeFlow(t, s, as, client, auth);
  await afterLogin(t, as, client, auth, tokens, { client, auth });
});

test("a confidential client authenticating with client_secret_post runs the same flow", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s, "oauth2");
  const client: oauth.Client = { client_id: CONFIDENTIAL.id, token_endpoint_auth_method: "client_secret_post" };
  const auth = oauth.ClientSecretPost(CONFIDENTIAL.secret);
  const tokens = await codeFlow(t, s, as, client, auth);
  await afterLogin(t, as, client, auth, tokens, { client, auth });
});

test("a public client (none) with PKCE runs the flow; a confidential client introspects its tokens", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s);
  const client: oauth.Client = { client_id: PUBLIC_CLIENT.id, token_endpoint_auth_method: "none" };
  const auth = oauth.None();
  const tokens = await codeFlow(t, s, as, client, auth);
  const introspector = { client: { client_id: CONFIDENTIAL.id } as oauth.Client, auth: oauth.ClientSecretBasic(CONFIDENTIAL.secret) };
  await afterLogin(t, as, client, auth, tokens, introspector);

  // RFC 7662 §2.1: the introspection endpoint is protected; a public client cannot use it.
  const response = await oauth.introspectionRequest(as, client, auth, tokens.access_token, insecure);
  const refused = await t.throwsAsync(oauth.processIntrospectionResponse(as, client, response), { instanceOf: oauth.ResponseBodyError });
  t.is(refused?.error, "invalid_client");
  t.is(refused?.status, 401);
});

test("oauth4webapi rejects a code exchanged with the wrong PKCE verifier, and the server answers invalid_grant", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s);
  const client: oauth.Client = { client_id: PUBLIC_CLIENT.id, token_endpoint_auth_method: "none" };
  const request = await authorizationRequest(as, client.client_id, SCOPE);
  const { redirectTo } = await userApproves(request.url);
  const callback = oauth.validateAuthResponse(as, client, redirectTo, request.state);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    callback,
    REDIRECT_URI,
    oauth.generateRandomCodeVerifier(),
    insecure,
  );
  const error = await t.throwsAsync(oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: request.nonce }), {
    instanceOf: oauth.ResponseBodyError,
  });
  t.is(error?.error, "invalid_grant");
  t.is(error?.status, 400);
});

test("a denied consent reaches oauth4webapi as an RFC 6749 error with iss and state", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s);
  const client: oauth.Client = { client_id: CONFIDENTIAL.id };
  const request = await authorizationRequest(as, client.client_id, SCOPE);
  const start = await fetch(request.url, { headers: { accept: "application/json" } });
  const { request_id } = (await start.json()) as { request_id: string };
  const post = (path: string, body: unknown) =>
    fetch(`${s.issuer}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  t.is((await post("/authorize", { request_id, username: USER.id, password: USER.password })).status, 200);
  const denied = await post("/consent", { request_id, scopes: [], deny: true });
  const { redirect_to } = (await denied.json()) as { redirect_to: string };
  const error = t.throws(() => oauth.validateAuthResponse(as, client, new URL(redirect_to), request.state), {
    instanceOf: oauth.AuthorizationResponseError,
  });
  t.is(error?.error, "access_denied");
});

test("UserInfo releases the same profile and email claims as the ID token (OpenID Connect Core §5.3.2, §5.4)", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s);
  const client: oauth.Client = { client_id: CONFIDENTIAL.id };
  const auth = oauth.ClientSecretBasic(CONFIDENTIAL.secret);
  const tokens = await codeFlow(t, s, as, client, auth);
  const claims = oauth.getValidatedIdTokenClaims(tokens)!;
  const userInfo = await oauth.processUserInfoResponse(
    as,
    client,
    claims.sub,
    await oauth.userInfoRequest(as, client, tokens.access_token, insecure),
  );
  const released = (source: Record<string, unknown>) =>
    Object.fromEntries(["sub", "name", "preferred_username", "email"].filter((c) => c in source).map((c) => [c, source[c]]));
  t.deepEqual(released(claims), { sub: USER.id, name: `User ${USER.id}`, preferred_username: USER.id, email: `${USER.id}@example.test` });
  t.deepEqual(released(userInfo), released(claims));
});
