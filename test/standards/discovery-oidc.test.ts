/**
 * What an OpenID provider's discovery document must say, as the OpenID
 * Foundation's conformance suite checks it (oidcc-discovery-endpoint-
 * verification and its conditions), with the members of RP-Initiated Logout,
 * Back-Channel Logout and the OpenID request parameters; and what the
 * browser client libraries do with the documents and the revocation answer:
 * oidc-client-ts's own client code (it runs in Node) signs in, refreshes and
 * revokes against a real core and gateway on loopback.
 */
import test, { type ExecutionContext } from "ava";
import * as oauth from "oauth4webapi";
import { ErrorResponse, InMemoryWebStorage, OidcClient, WebStorageStateStore } from "oidc-client-ts";
import { PUBLIC_CLIENT, REDIRECT_URI, USER, startStandardServer, userApproves, type StandardServer } from "./client-harness.js";

type Document = Record<string, unknown>;

/** The two documents a relying party may discover (OpenID Connect Discovery §4, RFC 8414 §3). */
function documentUrls(s: StandardServer): string[] {
  return [`${s.issuer}/.well-known/openid-configuration`, `${s.issuer}/.well-known/oauth-authorization-server`];
}

async function documentsOf(t: ExecutionContext, s: StandardServer): Promise<Document[]> {
  const documents: Document[] = [];
  for (const url of documentUrls(s)) {
    const res = await fetch(url);
    // EnsureDiscoveryEndpointResponseStatusCodeIs200, CheckDiscoveryEndpointReturnedJsonContentType (OIDCD-4).
    t.is(res.status, 200, url);
    t.regex(res.headers.get("content-type") ?? "", /^application\/json(;|$)/, url);
    documents.push((await res.json()) as Document);
  }
  return documents;
}

const strings = (value: unknown): string[] => {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw new Error(`not an array of strings: ${JSON.stringify(value)}`);
  return value as string[];
};

test("both documents carry what the conformance suite's discovery checks require", async (t) => {
  const s = await startStandardServer(t);
  for (const m of await documentsOf(t, s)) {
    // CheckDiscEndpointIssuer (OIDCD-4.3): the issuer the document was fetched under.
    t.is(m.issuer, s.issuer);
    // OIDCCCheckDiscEndpointResponseTypesSupported: at least one OpenID Connect response type.
    t.true(strings(m.response_types_supported).includes("code"));
    // CheckDiscEndpointSubjectTypesSupported.
    t.deepEqual(m.subject_types_supported, ["public"]);
    // OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported: RS256 is required (Discovery §3).
    t.deepEqual(m.id_token_signing_alg_values_supported, ["RS256", "ES256"]);
    // CheckDiscEndpointAuthorizationEndpoint, TokenEndpoint, UserinfoEndpoint, CheckJwksUri.
    t.is(m.authorization_endpoint, `${s.issuer}/authorize`);
    t.is(m.token_endpoint, `${s.issuer}/token`);
    t.is(m.userinfo_endpoint, `${s.issuer}/userinfo`);
    t.is(m.jwks_uri, `${s.issuer}/.well-known/jwks.json`);
    // CheckDiscEndpointRequestUriParameterSupported: its default is true, so false must be said.
    t.is(m.request_parameter_supported, false);
    t.is(m.request_uri_parameter_supported, false);
    // Meaningless where request_uri is not read: left out (its default, false, holds).
    t.false("require_request_uri_registration" in m);
    // CheckDiscEndpointClaimsParameterSupported.
    t.is(m.claims_parameter_supported, true);
    // OIDCCCheckDiscEndpointClaimsSupported, CheckDiscEndpointScopesSupportedContainsOpenId, grant types non-empty.
    t.deepEqual(strings(m.claims_supported), [
      "sub",
      "iss",
      "aud",
      "exp",
      "iat",
      "auth_time",
      "nonce",
      "acr",
      "amr",
      "azp",
      "at_hash",
      "sid",
      "name",
      "given_name",
      "family_name",
      "preferred_username",
      "email",
      "email_verified",
    ]);
    t.true(strings(m.scopes_supported).includes("openid"));
    t.true(strings(m.grant_types_supported).length > 0);
    // CheckDiscEndpointAllEndpointsAreHttps reads every *_endpoint: each is a URL under the issuer
    // (http here only because the test's base URL is a loopback address).
    for (const [name, value] of Object.entries(m)) {
      if (name.endsWith("_endpoint")) t.true(typeof value === "string" && value.startsWith(`${s.issuer}/`), name);
    }

    // RP-Initiated Logout 1.0 §2.1, Back-Channel Logout 1.0 §2.1.
    t.is(m.end_session_endpoint, `${s.issuer}/logout`);
    t.is(m.backchannel_logout_supported, true);
    t.is(m.backchannel_logout_session_supported, true);
    // Discovery §3 and Prompt Create 1.0 §4.1.
    t.deepEqual(m.acr_values_supported, ["urn:iam-core:acr:password", "urn:iam-core:acr:mfa"]);
    t.deepEqual(m.prompt_values_supported, ["none", "login", "consent", "select_account"]);
    t.deepEqual(m.ui_locales_supported, ["en"]);
    t.deepEqual(m.claims_locales_supported, ["en"]);
    t.deepEqual(m.claim_types_supported, ["normal"]);
    // What the core answers beside the metadata stays out of it.
    t.false("web_origins" in m);
    t.false("callback_page" in m);
  }
});

test("the JWK Set passes the suite's key checks: every key public, with the members of its type only", async (t) => {
  const s = await startStandardServer(t);
  const res = await fetch(`${s.issuer}/.well-known/jwks.json`);
  t.is(res.status, 200);
  const { keys } = (await res.json()) as { keys: Record<string, string>[] };
  t.true(keys.length > 0);
  for (const key of keys) {
    // EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys (RFC 7518 §6.3.2.1).
    for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k"]) t.false(secret in key, `${key.kid}: ${secret}`);
    t.is(key.use, "sig");
    t.truthy(key.kid);
    // ValidateServerJWKs: no member of the other key type, not even empty.
    const expected = key.kty === "RSA" ? ["alg", "e", "kid", "kty", "n", "use"] : ["alg", "crv", "kid", "kty", "use", "x", "y"];
    t.deepEqual(Object.keys(key).sort(), expected, key.kid);
    t.is(key.alg, key.kty === "RSA" ? "RS256" : "ES256");
  }
});

/** oidc-client-ts's client for the test project's public client, its state kept in memory (no window in Node). */
function oidcClient(s: StandardServer): OidcClient {
  return new OidcClient({
    authority: s.issuer,
    client_id: PUBLIC_CLIENT.id,
    redirect_uri: REDIRECT_URI,
    scope: "openid profile email",
    stateStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
  });
}

test("oidc-client-ts signs in, refreshes, and revokes both tokens without error; what it revoked is refused", async (t) => {
  const s = await startStandardServer(t);
  const client = oidcClient(s);
  const request = await client.createSigninRequest({});
  const { redirectTo } = await userApproves(request.url);
  const signedIn = await client.processSigninResponse(redirectTo.href);
  t.is(signedIn.profile.sub, USER.id);
  t.truthy(signedIn.refresh_token);

  const { id_token, scope, profile } = signedIn;
  const state = { refresh_token: signedIn.refresh_token!, id_token, scope, profile, session_state: null, data: undefined };
  const refreshed = await client.useRefreshToken({ state });
  t.truthy(refreshed.access_token);

  // RFC 7009 §2.2: oidc-client-ts refuses any media type but JSON; the answer is {}.
  await t.notThrowsAsync(client.revokeToken(refreshed.access_token, "access_token"));
  await t.notThrowsAsync(client.revokeToken(refreshed.refresh_token!, "refresh_token"));
  // Revoking again, or a token never issued, is still a success (§2.2).
  await t.notThrowsAsync(client.revokeToken(refreshed.refresh_token!, "refresh_token"));
  await t.notThrowsAsync(client.revokeToken("never-issued", "refresh_token"));

  const refused = await t.throwsAsync(client.useRefreshToken({ state: { ...state, refresh_token: refreshed.refresh_token! } }));
  t.true(refused instanceof ErrorResponse, String(refused));
  t.is((refused as ErrorResponse).error, "invalid_grant");
  const info = await fetch(`${s.issuer}/userinfo`, { headers: { authorization: `Bearer ${refreshed.access_token}` } });
  t.is(info.status, 401);
});

test("oidc-client-ts reads a refused revocation as the OAuth error it is", async (t) => {
  const s = await startStandardServer(t);
  const client = new OidcClient({
    authority: s.issuer,
    client_id: "rp-web",
    redirect_uri: REDIRECT_URI,
    stateStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
  });
  // rp-web is confidential: without its secret it is not authenticated.
  const err = await t.throwsAsync(client.revokeToken("some-token", "refresh_token"));
  t.true(err instanceof ErrorResponse, String(err));
  t.is((err as ErrorResponse).error, "invalid_client");
});

test("oauth4webapi accepts the revocation answer, and a client that reads every 200 as JSON does too", async (t) => {
  const s = await startStandardServer(t);
  const client = oidcClient(s);
  const { redirectTo } = await userApproves((await client.createSigninRequest({})).url);
  const { refresh_token } = await client.processSigninResponse(redirectTo.href);

  const insecure = { [oauth.allowInsecureRequests]: true };
  const issuer = new URL(s.issuer);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const res = await oauth.revocationRequest(as, { client_id: PUBLIC_CLIENT.id }, oauth.None(), refresh_token!, insecure);
  t.is(res.status, 200);
  t.deepEqual(await res.clone().json(), {});
  await t.notThrowsAsync(oauth.processRevocationResponse(res));
});
