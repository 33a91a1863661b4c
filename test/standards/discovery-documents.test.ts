/**
 * The discovery documents (OpenID Connect Discovery 1.0 §4, RFC 8414 §3),
 * checked field by field against what the endpoints really do: every value
 * the metadata advertises must work, and what it leaves out must not.
 */
import { createHash, randomBytes } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { createRemoteJWKSet, jwtVerify, SignJWT } from "jose";
import {
  CONFIDENTIAL,
  PERMISSION,
  PUBLIC_CLIENT,
  REDIRECT_URI,
  USER,
  addClient,
  decodeJwt,
  startStandardServer,
  userApproves,
  type StandardServer,
} from "./client-harness.js";
import { seedUser } from "../helpers.js";
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT as TOKEN_EXCHANGE } from "../../core/protocol/token-exchange.js";
import { byAssertion, clientKey, jwksOf } from "../client-auth/_assertion.js";

interface Metadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint: string;
  introspection_endpoint: string;
  revocation_endpoint: string;
  pushed_authorization_request_endpoint: string;
  require_pushed_authorization_requests: boolean;
  response_types_supported: string[];
  response_modes_supported: string[];
  grant_types_supported: string[];
  code_challenge_methods_supported: string[];
  token_endpoint_auth_methods_supported: string[];
  introspection_endpoint_auth_methods_supported: string[];
  revocation_endpoint_auth_methods_supported: string[];
  scopes_supported: string[];
  claims_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
  authorization_response_iss_parameter_supported: boolean;
  request_parameter_supported: boolean;
  request_uri_parameter_supported: boolean;
  claims_parameter_supported: boolean;
}

interface TokenBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
  id_token?: string;
  error?: string;
}

const FORM = "application/x-www-form-urlencoded";

/** The three URLs of a project's metadata: OIDC, RFC 8414 path-appended, RFC 8414 §3.1 inserted. */
function metadataUrls(s: StandardServer, ref = s.ref): string[] {
  const path = `/services/oauth2/${ref.organization}/${ref.project}`;
  return [
    `${s.baseUrl}${path}/.well-known/openid-configuration`,
    `${s.baseUrl}${path}/.well-known/oauth-authorization-server`,
    `${s.baseUrl}/.well-known/oauth-authorization-server${path}`,
  ];
}

async function metadataOf(s: StandardServer): Promise<Metadata> {
  const res = await fetch(metadataUrls(s)[0]!);
  if (res.status !== 200) throw new Error(`discovery: ${res.status}`);
  return (await res.json()) as Metadata;
}

/** `Authorization: Basic` per RFC 6749 §2.3.1: id and secret form-urlencoded, then base64. */
function basic(id: string, secret: string): Record<string, string> {
  const enc = (v: string) => new URLSearchParams({ v }).toString().slice(2);
  return { authorization: `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}` };
}

const postForm = (url: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", redirect: "manual", headers: { "content-type": FORM, ...headers }, body: new URLSearchParams(body) });

const s256 = (verifier: string) => createHash("sha256").update(verifier, "ascii").digest("base64url");
const newVerifier = () => randomBytes(32).toString("base64url");

/** The authorization URL of a code request to the test project. */
function authorizeUrl(m: Metadata, params: Record<string, string>): URL {
  const url = new URL(m.authorization_endpoint);
  const all = { response_type: "code", redirect_uri: REDIRECT_URI, state: "st-1", ...params };
  for (const [name, value] of Object.entries(all)) url.searchParams.set(name, value);
  return url;
}

/** Runs the user's part of a code request and answers the code (with the verifier that goes with it). */
async function codeFor(
  m: Metadata,
  options: { clientId: string; scope: string; method?: string; user?: { id: string; password: string } },
): Promise<{ code: string; verifier: string; redirect: URL }> {
  const verifier = newVerifier();
  const method = options.method ?? "S256";
  const url = authorizeUrl(m, {
    client_id: options.clientId,
    scope: options.scope,
    nonce: "n-0S6_WzA2Mj",
    code_challenge: method === "S256" ? s256(verifier) : verifier,
    code_challenge_method: method,
  });
  const { redirectTo } = await userApproves(url, options.user ?? USER);
  const code = redirectTo.searchParams.get("code");
  if (code === null) throw new Error(`no code in ${redirectTo.href}`);
  return { code, verifier, redirect: redirectTo };
}

const codeGrant = (code: string, verifier: string) => ({
  grant_type: "authorization_code",
  code,
  redirect_uri: REDIRECT_URI,
  code_verifier: verifier,
});

async function tokenCall(m: Metadata, body: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await postForm(m.token_endpoint, body, headers);
  return { status: res.status, body: (await res.json()) as TokenBody, res };
}

/** Tokens of alice for the confidential client with every OIDC scope and the permission. */
async function fullTokens(m: Metadata): Promise<TokenBody> {
  const { code, verifier } = await codeFor(m, { clientId: CONFIDENTIAL.id, scope: `openid profile email ${PERMISSION}` });
  const { status, body } = await tokenCall(m, codeGrant(code, verifier), basic(CONFIDENTIAL.id, CONFIDENTIAL.secret));
  if (status !== 200) throw new Error(`token: ${status} ${JSON.stringify(body)}`);
  return body;
}

async function introspect(m: Metadata, token: string): Promise<{ active: boolean; [claim: string]: unknown }> {
  const res = await postForm(m.introspection_endpoint, { token }, basic(CONFIDENTIAL.id, CONFIDENTIAL.secret));
  if (res.status !== 200) throw new Error(`introspect: ${res.status}`);
  return (await res.json()) as { active: boolean };
}

async function setup(t: ExecutionContext): Promise<{ s: StandardServer; m: Metadata; signed: () => Promise<Record<string, string>> }> {
  const s = await startStandardServer(t);
  const m = await metadataOf(s);
  // A client that authenticates by private_key_jwt (RFC 7523 §2.2), and a fresh assertion of it for each request.
  const key = await clientKey("ES256");
  await addClient(s, { id: KEYED, type: "confidential", secretHash: null, tokenEndpointAuthMethod: "private_key_jwt", jwks: jwksOf(key) });
  const signed = async () => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ iss: KEYED, sub: KEYED, aud: m.issuer, jti: randomBytes(16).toString("base64url"), iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .sign(key.privateKey);
    return byAssertion(jwt);
  };
  return { s, m, signed };
}

const KEYED = "rp-keys";

test("the OpenID Connect, RFC 8414 and RFC 8414 §3.1 documents are the same bytes, JSON, cacheable, and name the issuer", async (t) => {
  const { s } = await setup(t);
  const bodies: string[] = [];
  for (const url of metadataUrls(s)) {
    const res = await fetch(url, { redirect: "manual" });
    t.is(res.status, 200, url);
    t.regex(res.headers.get("content-type") ?? "", /^application\/json(;|$)/, url);
    const cache = res.headers.get("cache-control") ?? "";
    t.regex(cache, /max-age=\d+/, url);
    t.notRegex(cache, /no-store/, url);
    bodies.push(await res.text());
  }
  t.is(bodies[1], bodies[0]);
  t.is(bodies[2], bodies[0]);

  const m = JSON.parse(bodies[0]!) as Metadata;
  // OpenID Connect Discovery §4.3 / RFC 8414 §3.3: the issuer is exactly the identifier the URL was built from.
  t.is(m.issuer, s.issuer);
  t.is(new URL(m.issuer).search, "");
  t.is(new URL(m.issuer).hash, "");
  // OpenID Connect Discovery §3: the REQUIRED members.
  for (const member of [
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
  ] as const) {
    t.not(m[member], undefined, member);
  }

  // Another project's documents name its own issuer and endpoints: nothing leaks across tenants.
  const other = await fetch(metadataUrls(s, { organization: "iam-admins", project: "iam-admins" })[2]!);
  t.is(other.status, 200);
  const otherMetadata = (await other.json()) as Metadata;
  t.is(otherMetadata.issuer, `${s.baseUrl}/services/oauth2/iam-admins/iam-admins`);
  t.is(otherMetadata.token_endpoint, `${otherMetadata.issuer}/token`);
});

test("an unknown organization or project has no discovery document: 404 on every form", async (t) => {
  const { s } = await setup(t);
  for (const ref of [
    { organization: "acme", project: "no-such-project" },
    { organization: "no-such-org", project: "shop" },
  ]) {
    for (const url of metadataUrls(s, ref)) {
      const res = await fetch(url, { redirect: "manual" });
      t.is(res.status, 404, url);
      t.regex(res.headers.get("content-type") ?? "", /^application\/json/, url);
      t.is(((await res.json()) as { error: string }).error, "not_found", url);
    }
  }
});

test("every endpoint of the metadata answers at its URL with its documented method", async (t) => {
  const { s, m } = await setup(t);
  const endpoints = [
    m.authorization_endpoint,
    m.token_endpoint,
    m.jwks_uri,
    m.userinfo_endpoint,
    m.introspection_endpoint,
    m.revocation_endpoint,
    m.pushed_authorization_request_endpoint,
  ];
  for (const endpoint of endpoints) {
    t.true(endpoint.startsWith(`${m.issuer}/`), endpoint);
    t.is(new URL(endpoint).origin, s.baseUrl, endpoint);
  }

  // Authorization endpoint: GET (RFC 6749 §3.1).
  const authorize = await fetch(authorizeUrl(m, { client_id: CONFIDENTIAL.id, scope: "openid" }), {
    redirect: "manual",
    headers: { accept: "application/json" },
  });
  t.is(authorize.status, 200);
  t.is(typeof ((await authorize.json()) as { request_id: string }).request_id, "string");

  // Token, introspection, revocation: POST (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1). Without
  // parameters they answer an OAuth error, not 404.
  const token = await postForm(m.token_endpoint, {});
  t.is(token.status, 400);
  t.is(((await token.json()) as { error: string }).error, "invalid_request");
  for (const endpoint of [m.introspection_endpoint, m.revocation_endpoint]) {
    const res = await postForm(endpoint, { token: "x" });
    t.is(res.status, 401, endpoint);
    t.is(((await res.json()) as { error: string }).error, "invalid_client", endpoint);
  }
  // Pushed authorization requests: POST (RFC 9126 §2.1), the client authenticated as at the token endpoint.
  const par = await postForm(m.pushed_authorization_request_endpoint, { response_type: "code", client_id: CONFIDENTIAL.id, redirect_uri: REDIRECT_URI });
  t.is(par.status, 401);
  t.is(((await par.json()) as { error: string }).error, "invalid_client");
  t.false(m.require_pushed_authorization_requests);
  // ...and refuse GET with 405, not 404.
  for (const endpoint of [m.token_endpoint, m.introspection_endpoint, m.revocation_endpoint, m.pushed_authorization_request_endpoint]) {
    t.is((await fetch(endpoint, { redirect: "manual" })).status, 405, endpoint);
  }

  // UserInfo: GET and POST (OpenID Connect Core §5.3.1); no token is an RFC 6750 §3 challenge.
  for (const method of ["GET", "POST"]) {
    const res = await fetch(m.userinfo_endpoint, { method, redirect: "manual" });
    t.is(res.status, 401, method);
    t.regex(res.headers.get("www-authenticate") ?? "", /^Bearer realm=/, method);
  }

  // JWKS: GET, a key set.
  const jwks = await fetch(m.jwks_uri);
  t.is(jwks.status, 200);
  t.true(((await jwks.json()) as { keys: unknown[] }).keys.length > 0);
});

test("grant_types_supported: each listed grant works for a client allowed it; unlisted grants are unsupported_grant_type", async (t) => {
  const { s, m } = await setup(t);
  await addClient(s, { id: "machine", secret: "machine-secret", grantTypes: ["client_credentials"] });
  await addClient(s, { id: "legacy", secret: "legacy-secret", grantTypes: ["password"] });
  // RFC 8693: an agent that may act for the confidential client's users at one registered resource.
  const RESOURCE = "https://mcp.acme.example/mcp";
  await s.core.deps.store.createResource({ ...s.ref, uri: RESOURCE, name: "MCP", scopes: [PERMISSION], createdAt: 0 });
  await addClient(s, {
    id: "agent",
    secret: "agent-secret",
    grantTypes: ["client_credentials", TOKEN_EXCHANGE],
    tokenExchangeSubjectClients: [CONFIDENTIAL.id],
    tokenExchangeResources: [RESOURCE],
  });
  const confidential = basic(CONFIDENTIAL.id, CONFIDENTIAL.secret);

  /** How to exercise each grant the server could list, and a client not allowed it. */
  const exercise: Record<string, { allowed: () => Promise<{ status: number; body: TokenBody }>; notAllowed: () => Promise<{ status: number; body: TokenBody }> }> = {
    authorization_code: {
      allowed: async () => {
        const { code, verifier } = await codeFor(m, { clientId: CONFIDENTIAL.id, scope: `openid ${PERMISSION}` });
        return tokenCall(m, codeGrant(code, verifier), confidential);
      },
      notAllowed: () => tokenCall(m, codeGrant("some-code", newVerifier()), basic("machine", "machine-secret")),
    },
    refresh_token: {
      allowed: async () => {
        const { refresh_token } = await fullTokens(m);
        return tokenCall(m, { grant_type: "refresh_token", refresh_token: refresh_token! }, confidential);
      },
      notAllowed: () => tokenCall(m, { grant_type: "refresh_token", refresh_token: "x" }, basic("machine", "machine-secret")),
    },
    client_credentials: {
      allowed: () => tokenCall(m, { grant_type: "client_credentials" }, basic("machine", "machine-secret")),
      notAllowed: () => tokenCall(m, { grant_type: "client_credentials" }, confidential),
    },
    password: {
      allowed: () =>
        tokenCall(m, { grant_type: "password", username: USER.id, password: USER.password, scope: PERMISSION }, basic("legacy", "legacy-secret")),
      notAllowed: () => tokenCall(m, { grant_type: "password", username: USER.id, password: USER.password }, confidential),
    },
    [TOKEN_EXCHANGE]: {
      allowed: async () => {
        const subject = (await fullTokens(m)).access_token;
        const actor = (await tokenCall(m, { grant_type: "client_credentials" }, basic("agent", "agent-secret"))).body.access_token;
        const types = { subject_token_type: ACCESS_TOKEN_TYPE, actor_token_type: ACCESS_TOKEN_TYPE };
        return tokenCall(m, { grant_type: TOKEN_EXCHANGE, subject_token: subject, actor_token: actor, resource: RESOURCE, ...types }, basic("agent", "agent-secret"));
      },
      notAllowed: () => tokenCall(m, { grant_type: TOKEN_EXCHANGE, subject_token: "x", subject_token_type: ACCESS_TOKEN_TYPE }, confidential),
    },
  };

  t.true(m.grant_types_supported.length > 0);
  for (const grant of m.grant_types_supported) {
    const how = exercise[grant];
    t.not(how, undefined, `the test does not know how to exercise the advertised grant ${grant}`);
    if (how === undefined) continue;
    const ok = await how.allowed();
    t.is(ok.status, 200, `${grant}: ${JSON.stringify(ok.body)}`);
    t.is(typeof ok.body.access_token, "string", grant);
    t.is(ok.body.token_type, "Bearer", grant);
    // Listed, so supported: a client not allowed it is unauthorized_client, never unsupported_grant_type.
    const refused = await how.notAllowed();
    t.is(refused.status, 400, grant);
    t.is(refused.body.error, "unauthorized_client", grant);
  }

  for (const grant of [
    "implicit",
    "token",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:openid:params:grant-type:ciba",
  ]) {
    t.false(m.grant_types_supported.includes(grant), grant);
    const { status, body } = await tokenCall(m, { grant_type: grant }, confidential);
    t.is(status, 400, grant);
    t.is(body.error, "unsupported_grant_type", grant);
  }
});

test("code_challenge_methods_supported: S256 and plain both bind the code to its verifier; other methods are refused", async (t) => {
  const { m } = await setup(t);
  t.deepEqual([...m.code_challenge_methods_supported].sort(), ["S256", "plain"]);
  for (const method of m.code_challenge_methods_supported) {
    const good = await codeFor(m, { clientId: PUBLIC_CLIENT.id, scope: "openid", method });
    const ok = await tokenCall(m, { ...codeGrant(good.code, good.verifier), client_id: PUBLIC_CLIENT.id });
    t.is(ok.status, 200, method);
    t.is(typeof ok.body.access_token, "string", method);

    const bad = await codeFor(m, { clientId: PUBLIC_CLIENT.id, scope: "openid", method });
    const refused = await tokenCall(m, { ...codeGrant(bad.code, newVerifier()), client_id: PUBLIC_CLIENT.id });
    t.is(refused.status, 400, method);
    t.is(refused.body.error, "invalid_grant", method);
  }

  const verifier = newVerifier();
  for (const method of ["S512", "s256", "S384", "RS256", "none"]) {
    const res = await fetch(
      authorizeUrl(m, { client_id: PUBLIC_CLIENT.id, scope: "openid", code_challenge: s256(verifier), code_challenge_method: method }),
      { redirect: "manual" },
    );
    t.is(res.status, 302, method);
    const location = new URL(res.headers.get("location")!);
    t.is(`${location.origin}${location.pathname}`, REDIRECT_URI, method);
    t.is(location.searchParams.get("error"), "invalid_request", method);
    t.is(location.searchParams.get("iss"), m.issuer, method);
  }
});

test("token_endpoint_auth_methods_supported: basic, post, private_key_jwt and none each authenticate at the token endpoint; nothing else does", async (t) => {
  const { m, signed } = await setup(t);
  t.deepEqual([...m.token_endpoint_auth_methods_supported].sort(), ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]);

  const how: Record<string, { clientId: string; call: (body: Record<string, string>) => ReturnType<typeof tokenCall> }> = {
    client_secret_basic: { clientId: CONFIDENTIAL.id, call: (body) => tokenCall(m, body, basic(CONFIDENTIAL.id, CONFIDENTIAL.secret)) },
    client_secret_post: {
      clientId: CONFIDENTIAL.id,
      call: (body) => tokenCall(m, { ...body, client_id: CONFIDENTIAL.id, client_secret: CONFIDENTIAL.secret }),
    },
    none: { clientId: PUBLIC_CLIENT.id, call: (body) => tokenCall(m, { ...body, client_id: PUBLIC_CLIENT.id }) },
    private_key_jwt: { clientId: KEYED, call: async (body) => tokenCall(m, { ...body, ...(await signed()) }) },
  };
  for (const method of m.token_endpoint_auth_methods_supported) {
    const use = how[method];
    t.not(use, undefined, method);
    if (use === undefined) continue;
    const { code, verifier } = await codeFor(m, { clientId: use.clientId, scope: "openid" });
    const exchanged = await use.call(codeGrant(code, verifier));
    t.is(exchanged.status, 200, `${method}: ${JSON.stringify(exchanged.body)}`);
    // The refresh token too, with the same method.
    const refreshed = await use.call({ grant_type: "refresh_token", refresh_token: exchanged.body.refresh_token! });
    t.is(refreshed.status, 200, `${method} refresh: ${JSON.stringify(refreshed.body)}`);
  }

  // A confidential client without its secret ("none") is not authenticated.
  const { code, verifier } = await codeFor(m, { clientId: CONFIDENTIAL.id, scope: "openid" });
  const none = await tokenCall(m, { ...codeGrant(code, verifier), client_id: CONFIDENTIAL.id });
  t.is(none.status, 401);
  t.is(none.body.error, "invalid_client");
  // client_secret_jwt is not listed: an assertion signed with a shared secret authenticates nobody.
  const assertion = await tokenCall(m, {
    ...codeGrant(code, verifier),
    client_id: CONFIDENTIAL.id,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJycC13ZWIifQ.c2ln",
  });
  t.is(assertion.status, 401);
  t.is(assertion.body.error, "invalid_client");
  // The code was never redeemed: with the right method it still works.
  t.is((await tokenCall(m, codeGrant(code, verifier), basic(CONFIDENTIAL.id, CONFIDENTIAL.secret))).status, 200);
});

test("introspection_endpoint_auth_methods_supported: basic, post and private_key_jwt work; a public client is refused with 401 invalid_client", async (t) => {
  const { m, signed } = await setup(t);
  t.deepEqual([...m.introspection_endpoint_auth_methods_supported].sort(), ["client_secret_basic", "client_secret_post", "private_key_jwt"]);
  const tokens = await fullTokens(m);
  const how: Record<string, () => Promise<Response>> = {
    client_secret_basic: () => postForm(m.introspection_endpoint, { token: tokens.access_token }, basic(CONFIDENTIAL.id, CONFIDENTIAL.secret)),
    client_secret_post: () =>
      postForm(m.introspection_endpoint, { token: tokens.access_token, client_id: CONFIDENTIAL.id, client_secret: CONFIDENTIAL.secret }),
    private_key_jwt: async () => postForm(m.introspection_endpoint, { token: tokens.access_token, ...(await signed()) }),
  };
  for (const method of m.introspection_endpoint_auth_methods_supported) {
    const call = how[method];
    t.not(call, undefined, method);
    if (call === undefined) continue;
    const res = await call();
    t.is(res.status, 200, method);
    const body = (await res.json()) as { active: boolean; client_id: string; sub: string };
    t.true(body.active, method);
    t.is(body.client_id, CONFIDENTIAL.id, method);
    t.is(body.sub, USER.id, method);
  }

  // "none" is not listed: a public client, by client_id alone, is refused.
  const publicClient = await postForm(m.introspection_endpoint, { token: tokens.access_token, client_id: PUBLIC_CLIENT.id });
  t.is(publicClient.status, 401);
  const body = (await publicClient.json()) as { error: string; active?: boolean };
  t.is(body.error, "invalid_client");
  t.is(body.active, undefined);
  // Nor does a confidential client without its secret get in.
  const noSecret = await postForm(m.introspection_endpoint, { token: tokens.access_token, client_id: CONFIDENTIAL.id });
  t.is(noSecret.status, 401);
  t.is(((await noSecret.json()) as { error: string }).error, "invalid_client");
});

test("revocation_endpoint_auth_methods_supported: basic, post, private_key_jwt, and none for a public client revoking its own refresh token", async (t) => {
  const { m, signed } = await setup(t);
  t.deepEqual([...m.revocation_endpoint_auth_methods_supported].sort(), ["client_secret_basic", "client_secret_post", "none", "private_key_jwt"]);
  const how: Record<string, { clientId: string; revoke: (token: string) => Promise<Response>; exchange: (body: Record<string, string>) => ReturnType<typeof tokenCall> }> = {
    client_secret_basic: {
      clientId: CONFIDENTIAL.id,
      revoke: (token) => postForm(m.revocation_endpoint, { token, token_type_hint: "refresh_token" }, basic(CONFIDENTIAL.id, CONFIDENTIAL.secret)),
      exchange: (body) => tokenCall(m, body, basic(CONFIDENTIAL.id, CONFIDENTIAL.secret)),
    },
    client_secret_post: {
      clientId: CONFIDENTIAL.id,
      revoke: (token) => postForm(m.revocation_endpoint, { token, client_id: CONFIDENTIAL.id, client_secret: CONFIDENTIAL.secret }),
      exchange: (body) => tokenCall(m, body, basic(CONFIDENTIAL.id, CONFIDENTIAL.secret)),
    },
    none: {
      clientId: PUBLIC_CLIENT.id,
      revoke: (token) => postForm(m.revocation_endpoint, { token, token_type_hint: "refresh_token", client_id: PUBLIC_CLIENT.id }),
      exchange: (body) => tokenCall(m, { ...body, client_id: PUBLIC_CLIENT.id }),
    },
    private_key_jwt: {
      clientId: KEYED,
      revoke: async (token) => postForm(m.revocation_endpoint, { token, token_type_hint: "refresh_token", ...(await signed()) }),
      exchange: async (body) => tokenCall(m, { ...body, ...(await signed()) }),
    },
  };
  for (const method of m.revocation_endpoint_auth_methods_supported) {
    const use = how[method];
    t.not(use, undefined, method);
    if (use === undefined) continue;
    const { code, verifier } = await codeFor(m, { clientId: use.clientId, scope: `openid ${PERMISSION}` });
    const tokens = await use.exchange(codeGrant(code, verifier));
    t.is(tokens.status, 200, method);
    const refreshToken = tokens.body.refresh_token!;
    t.true((await introspect(m, refreshToken)).active, method);

    const res = await use.revoke(refreshToken);
    t.is(res.status, 200, method);
    t.is(await res.text(), "{}", method);
    t.false((await introspect(m, refreshToken)).active, method);
    t.false((await introspect(m, tokens.body.access_token)).active, method);
    const again = await use.exchange({ grant_type: "refresh_token", refresh_token: refreshToken });
    t.is(again.body.error, "invalid_grant", method);
  }

  // A confidential client without its secret cannot revoke.
  const tokens = await fullTokens(m);
  const noSecret = await postForm(m.revocation_endpoint, { token: tokens.refresh_token!, client_id: CONFIDENTIAL.id });
  t.is(noSecret.status, 401);
  t.is(((await noSecret.json()) as { error: string }).error, "invalid_client");
  t.true((await introspect(m, tokens.refresh_token!)).active);
  // A public client cannot revoke another client's token.
  const notYours = await postForm(m.revocation_endpoint, { token: tokens.refresh_token!, client_id: PUBLIC_CLIENT.id });
  t.is(notYours.status, 400);
  t.is(((await notYours.json()) as { error: string }).error, "unauthorized_client");
  t.true((await introspect(m, tokens.refresh_token!)).active);
});

test("response_types_supported is only code; other response types are unsupported_response_type, redirected with iss", async (t) => {
  const { m } = await setup(t);
  t.deepEqual(m.response_types_supported, ["code"]);
  t.deepEqual(m.response_modes_supported, ["query"]);
  const ok = await fetch(authorizeUrl(m, { client_id: CONFIDENTIAL.id, scope: "openid" }), {
    redirect: "manual",
    headers: { accept: "application/json" },
  });
  t.is(ok.status, 200);

  for (const responseType of ["token", "id_token", "code id_token", "code token", "id_token token", "none"]) {
    const res = await fetch(authorizeUrl(m, { client_id: CONFIDENTIAL.id, scope: "openid", response_type: responseType, state: "xyz" }), {
      redirect: "manual",
    });
    t.is(res.status, 302, responseType);
    const location = new URL(res.headers.get("location")!);
    t.is(`${location.origin}${location.pathname}`, REDIRECT_URI, responseType);
    t.is(location.hash, "", responseType);
    t.is(location.searchParams.get("error"), "unsupported_response_type", responseType);
    t.is(location.searchParams.get("state"), "xyz", responseType);
    t.is(location.searchParams.get("iss"), m.issuer, responseType);
    t.is(location.searchParams.get("access_token"), null, responseType);
  }

  // response_modes_supported ["query"]: the code comes back in the query, nothing in a fragment.
  const { redirect } = await codeFor(m, { clientId: CONFIDENTIAL.id, scope: "openid" });
  t.is(redirect.hash, "");
  t.truthy(redirect.searchParams.get("code"));
});

test("scopes_supported: openid, profile and email are each accepted at /authorize for a user holding no permission", async (t) => {
  const { s, m } = await setup(t);
  t.deepEqual([...m.scopes_supported].sort(), ["email", "openid", "profile"]);
  const bob = { id: "bob", password: "bob-password-1" };
  await seedUser(s.core, { ...s.ref, ...bob });
  for (const scope of m.scopes_supported) {
    const { code, verifier } = await codeFor(m, { clientId: CONFIDENTIAL.id, scope, user: bob });
    const { status, body } = await tokenCall(m, codeGrant(code, verifier), basic(CONFIDENTIAL.id, CONFIDENTIAL.secret));
    t.is(status, 200, scope);
    t.is(body.scope, scope, scope);
    // An ID token exactly when openid was granted (OpenID Connect Core §3.1.3.3).
    t.is(body.id_token !== undefined, scope === "openid", scope);
  }
  // All three at once, for alice as well.
  for (const user of [bob, USER]) {
    const { code, verifier } = await codeFor(m, { clientId: CONFIDENTIAL.id, scope: m.scopes_supported.join(" "), user });
    const { status, body } = await tokenCall(m, codeGrant(code, verifier), basic(CONFIDENTIAL.id, CONFIDENTIAL.secret));
    t.is(status, 200, user.id);
    t.deepEqual(body.scope.split(" ").sort(), [...m.scopes_supported].sort(), user.id);
  }
});

test("id_token_signing_alg_values_supported and jwks_uri: RS256 first, the ID token's algorithm is listed, its kid is served, and it verifies", async (t) => {
  const { m } = await setup(t);
  // Discovery §3: RS256 MUST be included; it is the algorithm of clients that registered none.
  t.deepEqual(m.id_token_signing_alg_values_supported, ["RS256", "ES256"]);
  const tokens = await fullTokens(m);
  const { header } = decodeJwt(tokens.id_token!);
  t.true(m.id_token_signing_alg_values_supported.includes(header.alg as string));

  const jwks = (await (await fetch(m.jwks_uri)).json()) as { keys: { kid: string; alg: string; use: string; kty: string }[] };
  const key = jwks.keys.find((k) => k.kid === header.kid);
  t.not(key, undefined);
  t.is(key?.alg, header.alg as string);
  t.is(key?.use, "sig");
  t.is(key?.kty, header.alg === "RS256" ? "RSA" : "EC");

  const { payload, protectedHeader } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(m.jwks_uri)), {
    issuer: m.issuer,
    audience: CONFIDENTIAL.id,
    algorithms: m.id_token_signing_alg_values_supported,
  });
  t.is(protectedHeader.kid, header.kid as string);
  t.is(payload.sub, USER.id);
});

test("claims_supported covers every claim of an ID token and of UserInfo with all scopes, and names only claims iam-core releases", async (t) => {
  const { m } = await setup(t);
  const tokens = await fullTokens(m);
  const idClaims = Object.keys(decodeJwt(tokens.id_token!).payload);
  for (const claim of idClaims) t.true(m.claims_supported.includes(claim), `ID token claim ${claim} is not in claims_supported`);

  const userInfo = await fetch(m.userinfo_endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  t.is(userInfo.status, 200);
  const infoClaims = Object.keys((await userInfo.json()) as Record<string, unknown>);
  for (const claim of infoClaims) t.true(m.claims_supported.includes(claim), `UserInfo claim ${claim} is not in claims_supported`);

  // Some appear only with the user's data (given_name…) or the request (acr, sid): the list is exactly these.
  t.deepEqual(
    [...m.claims_supported].sort(),
    [
      "acr", "amr", "at_hash", "aud", "auth_time", "azp", "email", "email_verified", "exp", "family_name", "given_name",
      "iat", "iss", "name", "nonce", "preferred_username", "sid", "sub",
    ],
  );
});

test("authorization_response_iss_parameter_supported: every redirect, success or error, carries iss equal to the issuer (RFC 9207)", async (t) => {
  const { m } = await setup(t);
  t.true(m.authorization_response_iss_parameter_supported);
  const { redirect } = await codeFor(m, { clientId: CONFIDENTIAL.id, scope: "openid" });
  t.is(redirect.searchParams.get("iss"), m.issuer);
  t.is(redirect.searchParams.get("state"), "st-1");

  const error = await fetch(authorizeUrl(m, { client_id: PUBLIC_CLIENT.id, scope: "openid" }), { redirect: "manual" });
  t.is(error.status, 302);
  const location = new URL(error.headers.get("location")!);
  t.is(location.searchParams.get("error"), "invalid_request"); // a public client without PKCE
  t.is(location.searchParams.get("iss"), m.issuer);
});

test("subject_types_supported public: the same user has the same sub for every client", async (t) => {
  const { m } = await setup(t);
  t.deepEqual(m.subject_types_supported, ["public"]);
  const subs: unknown[] = [];
  for (const [clientId, auth] of [
    [CONFIDENTIAL.id, basic(CONFIDENTIAL.id, CONFIDENTIAL.secret)],
    [PUBLIC_CLIENT.id, {}],
  ] as const) {
    const { code, verifier } = await codeFor(m, { clientId, scope: "openid" });
    const body = clientId === PUBLIC_CLIENT.id ? { ...codeGrant(code, verifier), client_id: clientId } : codeGrant(code, verifier);
    const { status, body: tokens } = await tokenCall(m, body, auth);
    t.is(status, 200);
    subs.push(decodeJwt(tokens.id_token!).payload.sub);
  }
  t.deepEqual(subs, [USER.id, USER.id]);
});

test("request and request_uri are advertised as unsupported, the claims parameter as supported: a claims request the user approves releases its claims", async (t) => {
  const { m } = await setup(t);
  t.false(m.request_parameter_supported);
  t.false(m.request_uri_parameter_supported);
  t.true(m.claims_parameter_supported);
  // OpenID Connect Core §5.5: asking for email and name through it, with scope
  // openid only; the user approves what is offered.
  const verifier = newVerifier();
  const url = authorizeUrl(m, {
    client_id: CONFIDENTIAL.id,
    scope: "openid",
    code_challenge: s256(verifier),
    code_challenge_method: "S256",
    claims: JSON.stringify({ id_token: { email: { essential: true }, name: null } }),
  });
  const { redirectTo, offered } = await userApproves(url);
  t.true(offered.includes("email") && offered.includes("profile"), JSON.stringify(offered));
  const { status, body } = await tokenCall(m, codeGrant(redirectTo.searchParams.get("code")!, verifier), basic(CONFIDENTIAL.id, CONFIDENTIAL.secret));
  t.is(status, 200);
  const { payload } = decodeJwt(body.id_token!);
  t.is(typeof payload.email, "string");
  t.is(typeof payload.name, "string");
  t.is(payload.sub, USER.id);
});
