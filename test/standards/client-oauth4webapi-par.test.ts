/**
 * Pushed authorization requests (RFC 9126) with oauth4webapi, a strict
 * standards-conformant client: discovered from the issuer alone, it pushes
 * its request (PKCE S256, state, nonce) authenticated as at the token
 * endpoint, checks the 201 answer, sends the browser to the authorization
 * endpoint with client_id and request_uri only, and, after the sign-in and
 * consent pages, validates the response (RFC 9207 iss, state) and exchanges
 * the code for tokens and an ID token it verifies. Any deviation from the
 * standards makes the library throw.
 */
import test, { type ExecutionContext } from "ava";
import * as oauth from "oauth4webapi";
import { CONFIDENTIAL, PERMISSION, PUBLIC_CLIENT, REDIRECT_URI, USER, startStandardServer, userApprovesByPages, type StandardServer } from "./client-harness.js";

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const SCOPE = `openid email ${PERMISSION}`;

async function discover(s: StandardServer, algorithm: "oidc" | "oauth2"): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(s.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm }));
}

/** PAR, the pages, the code exchange: the whole flow of one client authenticated one way. */
async function pushedFlow(t: ExecutionContext, s: StandardServer, as: oauth.AuthorizationServer, client: oauth.Client, auth: oauth.ClientAuth) {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const pushed = await oauth.pushedAuthorizationRequest(
    as,
    client,
    auth,
    {
      response_type: "code",
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
    },
    insecure,
  );
  t.is(pushed.status, 201);
  t.is(pushed.headers.get("cache-control"), "no-store");
  const { request_uri, expires_in } = await oauth.processPushedAuthorizationResponse(as, client, pushed);
  t.regex(request_uri, /^urn:ietf:params:oauth:request_uri:/);
  t.is(expires_in, 60);

  // §4: the authorization request carries client_id and request_uri, nothing else.
  const url = new URL(as.authorization_endpoint!);
  url.searchParams.set("client_id", client.client_id);
  url.searchParams.set("request_uri", request_uri);
  const { redirectTo, offered } = await userApprovesByPages(url);
  t.deepEqual(offered, ["openid", "email", PERMISSION]);
  t.is(`${redirectTo.origin}${redirectTo.pathname}`, REDIRECT_URI);

  const callback = oauth.validateAuthResponse(as, client, redirectTo, state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, auth, callback, REDIRECT_URI, codeVerifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
  t.is(tokens.scope, SCOPE);
  const claims = oauth.getValidatedIdTokenClaims(tokens)!;
  t.is(claims.iss, s.issuer);
  t.is(claims.sub, USER.id);
  t.is(claims.aud, client.client_id);
  t.is(claims.nonce, nonce);

  // The request_uri was spent by its use: a second visit is refused on the page.
  const again = await fetch(url, { redirect: "manual" });
  t.is(again.status, 400);
  t.true((await again.text()).includes('<code id="error-code">invalid_request_uri</code>'));
}

test("discovery names the pushed authorization request endpoint in both documents, not required by default", async (t) => {
  const s = await startStandardServer(t);
  for (const algorithm of ["oidc", "oauth2"] as const) {
    const as = await discover(s, algorithm);
    t.is(as.pushed_authorization_request_endpoint, `${s.issuer}/par`);
    t.is(as.require_pushed_authorization_requests, false);
  }
});

test("oauth4webapi pushes as a confidential client with client_secret_basic, signs the user in through the pages and redeems the code", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s, "oidc");
  await pushedFlow(t, s, as, { client_id: CONFIDENTIAL.id }, oauth.ClientSecretBasic(CONFIDENTIAL.secret));
});

test("oauth4webapi pushes as a confidential client with client_secret_post", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s, "oauth2");
  await pushedFlow(t, s, as, { client_id: CONFIDENTIAL.id }, oauth.ClientSecretPost(CONFIDENTIAL.secret));
});

test("oauth4webapi pushes as a public client (PKCE, no secret), in a project that requires pushed requests, which it discovers", async (t) => {
  const s = await startStandardServer(t);
  const project = (await s.core.deps.store.getProject(s.ref))!;
  await s.core.deps.store.updateProject(s.ref, { name: project.name, audience: project.audience, requirePushedAuthorizationRequests: true });
  const as = await discover(s, "oidc");
  t.is(as.require_pushed_authorization_requests, true);
  await pushedFlow(t, s, as, { client_id: PUBLIC_CLIENT.id }, oauth.None());
});

test("a push oauth4webapi makes with a wrong secret is refused as the token endpoint refuses it: invalid_client, 401", async (t) => {
  const s = await startStandardServer(t);
  const as = await discover(s, "oidc");
  const client = { client_id: CONFIDENTIAL.id };
  const response = await oauth.pushedAuthorizationRequest(as, client, oauth.ClientSecretBasic("wrong"), { response_type: "code", redirect_uri: REDIRECT_URI }, insecure);
  t.is(response.status, 401);
  t.is(((await response.clone().json()) as { error: string }).error, "invalid_client");
  // The Basic challenge of RFC 6749 §5.2, which the library reports as such.
  const err = await t.throwsAsync(oauth.processPushedAuthorizationResponse(as, client, response), { instanceOf: oauth.WWWAuthenticateChallengeError });
  t.is(err.status, 401);
  t.is(err.cause[0]?.scheme, "basic");
});
