import test from "ava";
import { DEFAULT, RFC7636_CHALLENGE, RFC7636_VERIFIER } from "../helpers.js";
import {
  authorizeRequest,
  countRows,
  expectOAuthError,
  ISSUER,
  M2M,
  nowSeconds,
  OTHER,
  pendingOf,
  READ,
  seedOtherProject,
  setup,
  SPA,
  STRICT,
  WEB,
  WRITE,
  type AuthorizeInit,
} from "./flow.js";

// ---------------------------------------------------------------- success

test("a valid request answers the login context and records a pending request for 600 seconds", async (t) => {
  const c = await setup(t);
  const res = await c.authorization.authorize(authorizeRequest({ scope: `${READ} ${WRITE}`, nonce: "n-1" }));
  t.regex(res.requestId, /^[A-Za-z0-9_-]{43}$/);
  t.deepEqual({ id: res.client?.id, name: res.client?.name }, { id: WEB.id, name: WEB.name });
  t.deepEqual(res.scopesRequested, [READ, WRITE]);
  t.is(res.expiresIn, 600n);
  t.is(res.organization, DEFAULT.organization);
  t.is(res.project, DEFAULT.project);

  const pending = await pendingOf(c, res.requestId);
  t.truthy(pending);
  t.is(pending!.clientId, WEB.id);
  t.is(pending!.redirectUri, WEB.redirectUri);
  t.is(pending!.state, "xyz");
  t.is(pending!.nonce, "n-1");
  t.is(pending!.expiresAt, nowSeconds(c) + 600);
  t.is(pending!.userId, null);
});

test("scopes the project does not know are dropped from scopes_requested", async (t) => {
  const c = await setup(t);
  const res = await c.authorization.authorize(authorizeRequest({ scope: `unknown.thing.read ${WRITE} no-such-scope ${READ}` }));
  t.deepEqual(res.scopesRequested, [WRITE, READ]);
});

test("a repeated scope token is requested once", async (t) => {
  const c = await setup(t);
  const res = await c.authorization.authorize(authorizeRequest({ scope: `${READ}  ${READ} ${WRITE}` }));
  t.deepEqual(res.scopesRequested, [READ, WRITE]);
});

test("an empty scope asks for everything: scopes_requested is empty", async (t) => {
  const c = await setup(t);
  const res = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  t.deepEqual(res.scopesRequested, []);
});

test("each authorization request gets its own request_id", async (t) => {
  const c = await setup(t);
  const a = await c.authorization.authorize(authorizeRequest());
  const b = await c.authorization.authorize(authorizeRequest());
  t.not(a.requestId, b.requestId);
});

test("the registered redirect URI with a query is accepted as registered", async (t) => {
  const c = await setup(t);
  const res = await c.authorization.authorize(authorizeRequest({ redirectUri: WEB.redirectWithQuery }));
  t.is((await pendingOf(c, res.requestId))!.redirectUri, WEB.redirectWithQuery);
});

// ---------------------------------------------------------------- PKCE accepted

const validPkce: { title: string; client: { id: string; redirectUri: string }; challenge: string; method: string; stored: string }[] = [
  { title: "S256 from a public client", client: SPA, challenge: RFC7636_CHALLENGE, method: "S256", stored: "S256" },
  { title: "plain from a public client", client: SPA, challenge: RFC7636_VERIFIER, method: "plain", stored: "plain" },
  { title: "an empty method with a challenge means plain", client: SPA, challenge: RFC7636_VERIFIER, method: "", stored: "plain" },
  { title: "S256 from a confidential client that requires PKCE", client: STRICT, challenge: RFC7636_CHALLENGE, method: "S256", stored: "S256" },
  { title: "S256 from a confidential client that does not require it", client: WEB, challenge: RFC7636_CHALLENGE, method: "S256", stored: "S256" },
  { title: "a 43-character challenge of every allowed character class", client: SPA, challenge: "aZ09-._~" + "a".repeat(35), method: "plain", stored: "plain" },
  { title: "a 128-character challenge", client: SPA, challenge: "A".repeat(128), method: "plain", stored: "plain" },
];
for (const c0 of validPkce) {
  test(`PKCE accepted: ${c0.title}`, async (t) => {
    const c = await setup(t);
    const res = await c.authorization.authorize(
      authorizeRequest({ clientId: c0.client.id, redirectUri: c0.client.redirectUri, codeChallenge: c0.challenge, codeChallengeMethod: c0.method }),
    );
    const pending = await pendingOf(c, res.requestId);
    t.is(pending!.codeChallenge, c0.challenge);
    t.is(pending!.codeChallengeMethod, c0.stored as "S256" | "plain");
  });
}

test("a confidential client without pkceRequired may omit PKCE", async (t) => {
  const c = await setup(t);
  const res = await c.authorization.authorize(authorizeRequest());
  const pending = await pendingOf(c, res.requestId);
  t.is(pending!.codeChallenge, "");
  t.is(pending!.codeChallengeMethod, "");
});

// ---------------------------------------------------------------- errors shown to the user, never redirected

const notRedirected: { title: string; request: Partial<AuthorizeInit>; error?: string }[] = [
  { title: "an unknown project", request: { organization: "iam-admins", project: "nope" } },
  { title: "an unknown organization", request: { organization: "nope", project: "iam-admins" } },
  { title: "an unknown client", request: { clientId: "no-such-client" } },
  { title: "a missing client_id", request: { clientId: "" } },
  { title: "a client_id of another case", request: { clientId: "WEB-APP" } },
  { title: "a missing redirect_uri", request: { redirectUri: "" } },
  { title: "an unregistered redirect_uri", request: { redirectUri: "https://evil.example/callback" } },
  { title: "a redirect_uri with a trailing slash", request: { redirectUri: `${WEB.redirectUri}/` } },
  { title: "a redirect_uri with a different host case", request: { redirectUri: "https://WEB.example/callback" } },
  { title: "a redirect_uri with a different path case", request: { redirectUri: "https://web.example/Callback" } },
  { title: "a redirect_uri with a different scheme case", request: { redirectUri: "HTTPS://web.example/callback" } },
  { title: "a redirect_uri with an extra query", request: { redirectUri: `${WEB.redirectUri}?x=1` } },
  { title: "a redirect_uri with a fragment", request: { redirectUri: `${WEB.redirectUri}#frag` } },
  { title: "a redirect_uri that extends a registered one", request: { redirectUri: `${WEB.redirectUri}x` } },
  { title: "a redirect_uri that is a prefix of a registered one", request: { redirectUri: "https://web.example/" } },
  { title: "a registered redirect_uri without its query", request: { redirectUri: "https://web.example/other" } },
  { title: "a redirect_uri registered for another client", request: { redirectUri: SPA.redirectUri } },
  { title: "a repeated client_id", request: { repeatedParameters: ["client_id"] } },
  { title: "a repeated redirect_uri", request: { repeatedParameters: ["redirect_uri"] } },
  { title: "a repeated redirect_uri along with another repeated parameter", request: { repeatedParameters: ["state", "redirect_uri"] } },
  { title: "an unregistered redirect_uri even when response_type is bad too", request: { redirectUri: "https://evil.example/cb", responseType: "token" } },
  { title: "an unknown client even when PKCE is bad too", request: { clientId: "nobody", codeChallengeMethod: "S512" } },
  {
    title: "a client without the authorization_code grant",
    request: { clientId: M2M.id, redirectUri: M2M.redirectUri },
    error: "unauthorized_client",
  },
];
for (const c0 of notRedirected) {
  test(`Authorize refuses ${c0.title} with ${c0.error ?? "invalid_request"} and no redirect`, async (t) => {
    const c = await setup(t);
    await expectOAuthError(t, c.authorization.authorize(authorizeRequest(c0.request)), {
      error: c0.error ?? "invalid_request",
      redirect: false,
    });
    t.is(await countRows(c, "authorization_requests"), 0, "nothing recorded");
  });
}

test("an authorization request to another project does not know the clients of this one", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  // SPA exists only in the default project.
  await expectOAuthError(t, c.authorization.authorize(authorizeRequest({ ...OTHER, clientId: SPA.id, redirectUri: SPA.redirectUri })), {
    error: "invalid_request",
    redirect: false,
  });
});

// ---------------------------------------------------------------- errors redirected to the client

const redirected: { title: string; request: Partial<AuthorizeInit>; error: string; to?: string; state?: string | null }[] = [
  { title: "a repeated scope", request: { repeatedParameters: ["scope"] }, error: "invalid_request" },
  { title: "a repeated response_type", request: { repeatedParameters: ["response_type"] }, error: "invalid_request" },
  { title: "a repeated code_challenge", request: { repeatedParameters: ["code_challenge"] }, error: "invalid_request" },
  { title: "a missing response_type", request: { responseType: "" }, error: "invalid_request" },
  { title: "response_type=token", request: { responseType: "token" }, error: "unsupported_response_type" },
  { title: "response_type=code id_token", request: { responseType: "code id_token" }, error: "unsupported_response_type" },
  { title: "response_type=CODE", request: { responseType: "CODE" }, error: "unsupported_response_type" },
  { title: "a scope naming only unknown scopes", request: { scope: "unknown.a.read unknown.b.write" }, error: "invalid_scope" },
  { title: "a scope with a character RFC 6749 forbids", request: { scope: `${READ} bad"scope` }, error: "invalid_scope" },
  {
    title: "a public client without code_challenge",
    request: { clientId: SPA.id, redirectUri: SPA.redirectUri },
    error: "invalid_request",
    to: SPA.redirectUri,
  },
  {
    title: "a public client with code_challenge_method but no challenge",
    request: { clientId: SPA.id, redirectUri: SPA.redirectUri, codeChallengeMethod: "S256" },
    error: "invalid_request",
    to: SPA.redirectUri,
  },
  {
    title: "a pkceRequired confidential client without code_challenge",
    request: { clientId: STRICT.id, redirectUri: STRICT.redirectUri },
    error: "invalid_request",
    to: STRICT.redirectUri,
  },
  { title: "code_challenge_method without code_challenge", request: { codeChallengeMethod: "S256" }, error: "invalid_request" },
  { title: "code_challenge_method=plain without code_challenge", request: { codeChallengeMethod: "plain" }, error: "invalid_request" },
  { title: "an unsupported code_challenge_method (S512)", request: { codeChallenge: RFC7636_CHALLENGE, codeChallengeMethod: "S512" }, error: "invalid_request" },
  { title: "code_challenge_method in the wrong case (s256)", request: { codeChallenge: RFC7636_CHALLENGE, codeChallengeMethod: "s256" }, error: "invalid_request" },
  { title: "a 42-character code_challenge", request: { codeChallenge: "a".repeat(42), codeChallengeMethod: "S256" }, error: "invalid_request" },
  { title: "a 129-character code_challenge", request: { codeChallenge: "a".repeat(129), codeChallengeMethod: "plain" }, error: "invalid_request" },
  { title: "a code_challenge with '+'", request: { codeChallenge: "a".repeat(42) + "+", codeChallengeMethod: "S256" }, error: "invalid_request" },
  { title: "a code_challenge with '/'", request: { codeChallenge: "/" + "a".repeat(42), codeChallengeMethod: "S256" }, error: "invalid_request" },
  { title: "a code_challenge with '=' padding", request: { codeChallenge: RFC7636_CHALLENGE.slice(0, 43) + "=", codeChallengeMethod: "S256" }, error: "invalid_request" },
  { title: "a code_challenge with a space", request: { codeChallenge: "a".repeat(21) + " " + "a".repeat(21), codeChallengeMethod: "plain" }, error: "invalid_request" },
  { title: "a code_challenge with a non-ASCII letter", request: { codeChallenge: "é" + "a".repeat(42), codeChallengeMethod: "plain" }, error: "invalid_request" },
  {
    title: "an error on a registered redirect URI that has a query (which is kept)",
    request: { redirectUri: WEB.redirectWithQuery, responseType: "token" },
    error: "unsupported_response_type",
    to: WEB.redirectWithQuery,
  },
  { title: "an error without state (none echoed)", request: { state: "", responseType: "token" }, error: "unsupported_response_type", state: null },
  { title: "a state longer than 2048 characters (not echoed)", request: { state: "s".repeat(2049) }, error: "invalid_request", state: null },
  { title: "a nonce longer than 2048 characters", request: { nonce: "n".repeat(2049) }, error: "invalid_request", state: null },
];
for (const c0 of redirected) {
  test(`Authorize redirects ${c0.title} to the client with ${c0.error}`, async (t) => {
    const c = await setup(t);
    const request = authorizeRequest(c0.request);
    const err = await expectOAuthError(t, c.authorization.authorize(request), {
      error: c0.error,
      redirect: { to: c0.to ?? WEB.redirectUri, state: c0.state === null ? undefined : (c0.state ?? "xyz"), iss: ISSUER },
    });
    if (c0.to === WEB.redirectWithQuery) {
      t.is(new URL(err.metadata.get("oauth-redirect")!).searchParams.get("tenant"), "1");
    }
    t.is(await countRows(c, "authorization_requests"), 0, "nothing recorded");
  });
}

test("the state echoed in an error redirect is the exact one sent, special characters included", async (t) => {
  const c = await setup(t);
  const state = "a b&c=d/é?#";
  await expectOAuthError(t, c.authorization.authorize(authorizeRequest({ state, responseType: "token" })), {
    error: "unsupported_response_type",
    redirect: { to: WEB.redirectUri, state, iss: ISSUER },
  });
});

test("the issuer in an error redirect is the one of the project the request was made to", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  await expectOAuthError(t, c.authorization.authorize(authorizeRequest({ ...OTHER, responseType: "token" })), {
    error: "unsupported_response_type",
    redirect: { to: WEB.redirectUri, state: "xyz", iss: `${ISSUER.replace("iam-admins/iam-admins", "acme/shop")}` },
  });
});

test("a scope known only in another project is unknown here: invalid_scope", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  await c.core.deps.store.createPermission({ ...OTHER, id: "shop.orders.read", description: "Read orders" });
  await expectOAuthError(t, c.authorization.authorize(authorizeRequest({ scope: "shop.orders.read" })), {
    error: "invalid_scope",
    redirect: { to: WEB.redirectUri, state: "xyz", iss: ISSUER },
  });
  const mixed = await c.authorization.authorize(authorizeRequest({ scope: `shop.orders.read ${READ}` }));
  t.deepEqual(mixed.scopesRequested, [READ]);
});
