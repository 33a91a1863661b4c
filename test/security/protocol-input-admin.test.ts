/**
 * Protocol strictness, hostile input and administrative escalation.
 *
 * 1. Protocol (real HTTP, startTestServer): repeated parameters at
 *    /authorize, /token, /introspect and /revoke (RFC 6749 §3.1, §3.2), unknown
 *    and empty grant types, content types other than a form, parameters in the
 *    query of the client-authenticated endpoints (a client secret among them),
 *    GET on them, and two client authentication methods in one request
 *    (RFC 6749 §2.3). Each refusal is checked against a control: the same
 *    request without the defect succeeds afterwards, so the refusal was for the
 *    defect and spent nothing.
 * 2. Hostile input (real HTTP): SQL fragments, markup, CRLF, NUL, 100 KiB and
 *    invalid UTF-8 in every field of /authorize (GET and form POST), of the
 *    login and consent form posts and of /token. Every answer is a 4xx in a
 *    documented shape (RFC 6749 §5.2 JSON with no-store, an error page, an
 *    error redirect, the login page again) or, for the client's opaque values
 *    (state, nonce), the value kept as inert data; never a 5xx, a stack trace,
 *    an injected header or an unescaped reflection, and the database is left as
 *    it was (row counts of every table, read from the SQLite file).
 * 3. Administration (AdminService over the core's in-memory transport): every
 *    way out of a tenant. The matrix of ordinary callers is
 *    test/admin/isolation.test.ts, the forged-scope and forged-token attempts
 *    test/admin/isolation-escalation.test.ts; this file runs again the rows the
 *    brief names (each over every RPC, through their operations and their
 *    after-checks) and adds what they lack: RotateSigningKey,
 *    RevokeUserConsent and ListUserConsents across tenants, expired
 *    project-admin tokens, revoked admin tokens, ID and refresh tokens as
 *    Bearer, a look-alike `admin-client` in a project, and an audience taken
 *    from iam-admins.
 *
 * Overlaps with test/gateway/token-endpoint.test.ts, bad-input.test.ts,
 * pages.test.ts and test/standards/http-endpoints.test.ts are on purpose:
 * this file is an inventory and runs every case it lists.
 */
import type { CallOptions } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { decodeJwt } from "jose";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { escapeHtml } from "../../gateway/html.js";
import type { ProjectRef } from "../../core/store/types.js";
import { GLOBAL_OPS, PROJECT_OPS } from "../admin/isolation-ops.js";
import {
  A,
  A2,
  ADMINS,
  B,
  clientCredentials,
  GLOBAL_ADMIN,
  globalToken,
  issuerOf,
  loginThroughPortal,
  openWorld,
  OPS,
  outcomeOf,
  PADMIN,
  PLAIN,
  PORTAL,
  PROJECT_ADMIN,
  refLabel,
  type Outcome,
  type World,
} from "../admin/isolation-support.js";
import { countRows, pendingOf } from "../core/flow.js";
import {
  adminBasic,
  adminRequest,
  adminTokens,
  assertErrorPage,
  assertErrorRedirect,
  assertJsonError,
  assertNoStack,
  assertPageHeaders,
  assertTokens,
  authorizeUrl,
  basic,
  browserCookie,
  FORM,
  get,
  jsonCode,
  postForm,
  postJson,
  requestIdOf,
} from "../gateway/_support.js";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT_REDIRECT, RFC7636_CHALLENGE, RFC7636_VERIFIER, seedClient, startTestServer, type TestServer } from "../helpers.js";

// ================================================================ the case table

interface Case {
  /** What the attacker does. */
  attack: string;
  /** What iam-core must do about it, in one line. */
  defence: string;
  /** The section that asks for the defence. */
  reference: string;
  run: (t: ExecutionContext) => Promise<void>;
  /**
   * Set when iam-core does NOT refuse the attack (a real vulnerability): the
   * case then runs as test.failing, and this says what goes wrong.
   */
  vulnerable?: string;
}

function register(section: string, cases: readonly Case[]): void {
  for (const c of cases) {
    const title = `${section} | ${c.attack} | ${c.defence} | ${c.reference}`;
    if (c.vulnerable !== undefined) test.failing(title, c.run);
    else test(title, c.run);
  }
}

// ================================================================ HTTP helpers

type Pairs = [string, string][];

/** application/x-www-form-urlencoded encoding of one value (what a browser sends). */
const formEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2);
/** Pairs as a form or query string; `raw` gives one name an already encoded value. */
function formOf(pairs: Pairs, raw?: { name: string; encoded: string }): string {
  return pairs.map(([name, value]) => `${name}=${raw !== undefined && name === raw.name ? raw.encoded : formEncode(value)}`).join("&");
}
const withRepeated = (pairs: Pairs, name: string): Pairs => [...pairs, pairs.find(([n]) => n === name)!];
const objectOf = (pairs: Pairs): Record<string, string> => Object.fromEntries(pairs);

/**
 * Every table a refused or inert request must leave alone, read from the file
 * read-only as countRows of test/core/flow.ts does. Not login_failures: a
 * failed sign-in is counted on purpose.
 */
const TABLES = [
  "organizations",
  "projects",
  "signing_keys",
  "clients",
  "users",
  "permissions",
  "roles",
  "role_permissions",
  "user_roles",
  "client_roles",
  "consents",
  "grants",
  "authorization_codes",
  "refresh_tokens",
  "authorization_requests",
] as const;
type Snapshot = Record<(typeof TABLES)[number], number>;

async function snapshot(s: TestServer): Promise<Snapshot> {
  // A dropped table makes countRows throw: the test fails loudly rather than counting 0.
  const counts: [string, number][] = [];
  for (const table of TABLES) counts.push([table, await countRows(s, table)]);
  return Object.fromEntries(counts) as Snapshot;
}

async function assertUnchanged(t: ExecutionContext, s: TestServer, before: Snapshot): Promise<void> {
  t.deepEqual(await snapshot(s), before, "the database is as it was");
}

/** No error was logged and no request answered 5xx: nothing was a server error in disguise. */
function assertNoServerError(t: ExecutionContext, s: TestServer): void {
  const lines = s.lines.map((line) => JSON.parse(line) as { level: string; status?: unknown });
  t.deepEqual(lines.filter((line) => line.level === "error"), [], "no error logged");
  t.deepEqual(lines.filter((line) => typeof line.status === "number" && line.status >= 500), [], "no 5xx answered");
}

/** The CRLF payload must not have become a header of its own. */
function assertNoInjectedHeader(t: ExecutionContext, res: Response): void {
  for (const cookie of res.headers.getSetCookie()) t.false(/^\s*x=/.test(cookie), `injected cookie: ${cookie}`);
  for (const [name, value] of res.headers) t.false(/set-cookie:\s*x=1/i.test(value), `header ${name} carries the injected line`);
}

/** A value with HTML or JSON meta-characters never comes back as it was sent. */
function assertNotReflected(t: ExecutionContext, text: string, value: string): void {
  if (/[<>"'`&]/.test(value)) t.false(text.includes(value), "the hostile value is reflected unescaped");
}

/** RFC 6749 §5.2: exactly {error, error_description}, JSON, no-store, no stack. */
async function oauthError(t: ExecutionContext, res: Response, status: number, error: string): Promise<string> {
  const body = await assertJsonError(t, res.clone(), status, error);
  t.deepEqual(Object.keys(body).sort(), ["error", "error_description"]);
  return body.error_description;
}

/**
 * A core and gateway of its own for one case, closed at teardown. At most
 * MAX_SERVERS run at once: ava starts every case of the file together, and a
 * few hundred servers on a small machine would make requests outlive the
 * gateway's timeouts (a reset connection, not an answer to judge).
 */
const MAX_SERVERS = 6;
let running = 0;
const waiting: Array<() => void> = [];
function release(): void {
  const next = waiting.shift();
  if (next === undefined) running--;
  else next(); // the slot passes to the next case as it is
}
async function serve(t: ExecutionContext): Promise<TestServer> {
  if (running < MAX_SERVERS) running++;
  else await new Promise<void>((resolve) => waiting.push(resolve));
  let s: TestServer;
  try {
    s = await startTestServer();
  } catch (err) {
    release();
    throw err;
  }
  t.teardown(async () => {
    try {
      await s.close();
    } finally {
      release();
    }
  });
  return s;
}

const post = (s: TestServer, path: string, body: string, headers: Record<string, string> = {}) => postForm(`${s.project}${path}`, body, headers);

/** A pending request started by a browser: its id and the binding cookie. */
async function browserRequest(s: TestServer): Promise<{ requestId: string; cookie: string }> {
  const res = await get(authorizeUrl(s, adminRequest()));
  return { cookie: browserCookie(res), requestId: requestIdOf(await res.text()) };
}

/** …and signed in through the form: the consent page is next. */
async function signedIn(t: ExecutionContext, s: TestServer): Promise<{ requestId: string; cookie: string }> {
  const p = await browserRequest(s);
  const res = await post(s, "/authorize", formOf([["request_id", p.requestId], ["username", "admin"], ["password", ADMIN_PASSWORD]]), { cookie: p.cookie });
  t.is(res.status, 200, "control: the right password reaches the consent page");
  await res.text();
  return p;
}

const isActive = async (s: TestServer, token: string) => (await s.tokens.verifyToken({ token })).active;

// ================================================================ 1. protocol

/** Every parameter of an authorization request, so that each can be the one repeated. */
const AUTHORIZE_PARAMS: Pairs = [
  ["response_type", "code"],
  ["client_id", "admin-client"],
  ["redirect_uri", DEFAULT_REDIRECT],
  ["scope", "openid"],
  ["state", "st-123"],
  ["nonce", "n-0S6_WzA2Mj"],
  ["code_challenge", RFC7636_CHALLENGE],
  ["code_challenge_method", "S256"],
];
/** Before these two are checked there is no redirect URI to trust: the error is shown, never redirected. */
const UNTRUSTED = new Set(["client_id", "redirect_uri"]);

type AuthorizeVia = "GET" | "POST";
const sendAuthorize = (s: TestServer, via: AuthorizeVia, query: string) =>
  via === "GET" ? get(`${s.project}/authorize?${query}`) : post(s, "/authorize", query);
const redirectStatus = (via: AuthorizeVia) => (via === "GET" ? 302 : 303);

const repeatedAtAuthorize: Case[] = (["GET", "POST"] as const).flatMap((via) =>
  AUTHORIZE_PARAMS.map(([name]): Case => ({
    attack: `${via} /authorize with ${name} given twice`,
    defence: UNTRUSTED.has(name)
      ? "400 invalid_request error page, never a redirect; no pending request"
      : `${redirectStatus(via)} to the registered redirect URI with invalid_request, state and iss; no pending request`,
    reference: UNTRUSTED.has(name) ? "RFC 6749 §3.1, §4.1.2.1" : "RFC 6749 §3.1, §4.1.2.1; RFC 9207 §2",
    async run(t) {
      const s = await serve(t);
      const control = await sendAuthorize(s, via, formOf(AUTHORIZE_PARAMS));
      t.is(control.status, 200, "control: the same request without the repetition is accepted");
      await control.text();
      const before = await snapshot(s);
      const res = await sendAuthorize(s, via, formOf(withRepeated(AUTHORIZE_PARAMS, name)));
      if (UNTRUSTED.has(name)) await assertErrorPage(t, res, 400, "invalid_request");
      else assertErrorRedirect(t, res, redirectStatus(via), "invalid_request");
      await assertUnchanged(t, s, before);
      assertNoServerError(t, s);
    },
  })),
);

/** A token request that succeeds as it is; `repeatable` are its parameters to give twice. */
interface TokenRequestKind {
  label: string;
  repeatable: string[];
  prepare(t: ExecutionContext, s: TestServer): Promise<{ pairs: Pairs; headers: Record<string, string> }>;
}

const LEGACY = { id: "legacy-app", secret: "legacy-app-secret" } as const;

const TOKEN_REQUESTS: TokenRequestKind[] = [
  {
    label: "authorization_code with PKCE and client_secret_post",
    repeatable: ["grant_type", "code", "redirect_uri", "code_verifier", "client_id", "client_secret"],
    async prepare(_t, s) {
      const { code } = await jsonCode(s, { params: adminRequest({ code_challenge: RFC7636_CHALLENGE, code_challenge_method: "S256" }) });
      return {
        pairs: [
          ["grant_type", "authorization_code"],
          ["code", code],
          ["redirect_uri", DEFAULT_REDIRECT],
          ["code_verifier", RFC7636_VERIFIER],
          ["client_id", "admin-client"],
          ["client_secret", ADMIN_CLIENT_SECRET],
        ],
        headers: {},
      };
    },
  },
  {
    label: "refresh_token with client_secret_basic",
    repeatable: ["refresh_token", "scope"],
    async prepare(t, s) {
      const tokens = await adminTokens(t, s);
      return {
        pairs: [
          ["grant_type", "refresh_token"],
          ["refresh_token", tokens.refresh_token!],
          ["scope", "iam.global.admin"],
        ],
        headers: adminBasic(),
      };
    },
  },
  {
    label: "password (a client configured for it)",
    repeatable: ["username", "password"],
    async prepare(_t, s) {
      await seedClient(s.core, { ...LEGACY, redirectUris: [], grantTypes: ["password"] });
      return {
        pairs: [
          ["grant_type", "password"],
          ["username", "admin"],
          ["password", ADMIN_PASSWORD],
          ["scope", "iam.global.admin"],
        ],
        headers: basic(LEGACY.id, LEGACY.secret),
      };
    },
  },
];

const repeatedAtToken: Case[] = TOKEN_REQUESTS.flatMap((kind) =>
  kind.repeatable.map(
    (name): Case => ({
      attack: `POST /token (${kind.label}) with ${name} given twice`,
      defence: `400 invalid_request naming ${name}; nothing issued, the grant still usable once`,
      reference: "RFC 6749 §3.1, §3.2, §5.2",
      async run(t) {
        const s = await serve(t);
        const { pairs, headers } = await kind.prepare(t, s);
        const before = await snapshot(s);
        const description = await oauthError(t, await post(s, "/token", formOf(withRepeated(pairs, name)), headers), 400, "invalid_request");
        t.is(description, `parameter ${name} must not be repeated`);
        await assertUnchanged(t, s, before);
        await assertTokens(t, await post(s, "/token", formOf(pairs), headers));
        assertNoServerError(t, s);
      },
    }),
  ),
);

type FormEndpoint = "token" | "introspect" | "revoke";
const FORM_ENDPOINTS: readonly FormEndpoint[] = ["token", "introspect", "revoke"];

/**
 * A request to a client-authenticated endpoint that is correct as it is
 * (client_credentials at /token; admin-client's own access token at
 * /introspect and /revoke), what a refusal must have left alive, and the
 * control that the correct request works.
 */
interface Prepared {
  pairs: Pairs;
  /** The access token introspected or revoked (not for /token). */
  live?: string;
}
async function prepareEndpoint(t: ExecutionContext, s: TestServer, endpoint: FormEndpoint): Promise<Prepared> {
  if (endpoint === "token") return { pairs: [["grant_type", "client_credentials"]] };
  const { access_token } = await adminTokens(t, s);
  return { pairs: [["token", access_token], ["token_type_hint", "access_token"]], live: access_token };
}
/** After a refusal: nothing stored, and the token of /introspect or /revoke still active. */
async function assertRefusedCleanly(t: ExecutionContext, s: TestServer, before: Snapshot, prepared: Prepared): Promise<void> {
  await assertUnchanged(t, s, before);
  if (prepared.live !== undefined) t.true(await isActive(s, prepared.live), "the token is still active");
  assertNoServerError(t, s);
}
/** The correct request, sent afterwards, does what it should: the refusal was for the defect. */
async function control(t: ExecutionContext, s: TestServer, endpoint: FormEndpoint, prepared: Prepared, headers: Record<string, string> = adminBasic()): Promise<void> {
  const res = await post(s, `/${endpoint}`, formOf(prepared.pairs), headers);
  if (endpoint === "token") {
    await assertTokens(t, res);
  } else if (endpoint === "introspect") {
    t.is(res.status, 200);
    t.true(((await res.json()) as { active: boolean }).active, "control: introspection answers active");
  } else {
    t.is(res.status, 200);
    t.false(await isActive(s, prepared.live!), "control: the revocation took effect");
  }
}

const CLIENT_IN_BODY: Pairs = [
  ["client_id", "admin-client"],
  ["client_secret", ADMIN_CLIENT_SECRET],
];

const repeatedAtIntrospectRevoke: Case[] = (["introspect", "revoke"] as const).flatMap((endpoint) =>
  ["token", "token_type_hint", "client_id", "client_secret"].map(
    (name): Case => ({
      attack: `POST /${endpoint} with ${name} given twice`,
      defence: `400 invalid_request; the token is left ${endpoint === "revoke" ? "unrevoked" : "as it was"}`,
      reference: endpoint === "revoke" ? "RFC 6749 §3.1; RFC 7009 §2.1, §2.2.1" : "RFC 6749 §3.1; RFC 7662 §2.1, §2.3",
      async run(t) {
        const s = await serve(t);
        const prepared = await prepareEndpoint(t, s, endpoint);
        const pairs = [...prepared.pairs, ...CLIENT_IN_BODY];
        const before = await snapshot(s);
        await oauthError(t, await post(s, `/${endpoint}`, formOf(withRepeated(pairs, name))), 400, "invalid_request");
        await assertRefusedCleanly(t, s, before, prepared);
        await control(t, s, endpoint, { ...prepared, pairs }, {});
      },
    }),
  ),
);

const GRANT_TYPES: Array<{ label: string; pairs: Pairs; error: string }> = [
  { label: "an empty grant_type", pairs: [["grant_type", ""]], error: "invalid_request" },
  { label: "no grant_type at all", pairs: [["scope", "iam.global.admin"]], error: "invalid_request" },
  { label: "grant_type=implicit", pairs: [["grant_type", "implicit"]], error: "unsupported_grant_type" },
  { label: "grant_type=nonsense", pairs: [["grant_type", "nonsense"]], error: "unsupported_grant_type" },
  { label: "grant_type=CLIENT_CREDENTIALS (case changed)", pairs: [["grant_type", "CLIENT_CREDENTIALS"]], error: "unsupported_grant_type" },
  { label: "grant_type with a leading space", pairs: [["grant_type", " client_credentials"]], error: "unsupported_grant_type" },
  { label: "grant_type with a trailing NUL", pairs: [["grant_type", "client_credentials\u0000"]], error: "unsupported_grant_type" },
  { label: "the JWT bearer grant", pairs: [["grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"]], error: "unsupported_grant_type" },
  // Supported (RFC 8693), but not a grant the admin client is allowed.
  { label: "the token exchange grant", pairs: [["grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"]], error: "unauthorized_client" },
];

const grantTypes: Case[] = GRANT_TYPES.map(
  (g): Case => ({
    attack: `POST /token with ${g.label} (valid client credentials)`,
    defence: `400 ${g.error}; nothing issued`,
    reference: "RFC 6749 §5.2",
    async run(t) {
      const s = await serve(t);
      const before = await snapshot(s);
      await oauthError(t, await post(s, "/token", formOf(g.pairs), adminBasic()), 400, g.error);
      await assertRefusedCleanly(t, s, before, { pairs: [] });
      await control(t, s, "token", { pairs: [["grant_type", "client_credentials"]] });
    },
  }),
);

/** Bodies that are not application/x-www-form-urlencoded, built from the same parameters. */
const CONTENT_TYPES: Array<{ label: string; init(pairs: Pairs): { body: string | FormData | Uint8Array; headers: Record<string, string> } }> = [
  { label: "application/json", init: (pairs) => ({ body: JSON.stringify(objectOf(pairs)), headers: { "content-type": "application/json" } }) },
  { label: "text/plain", init: (pairs) => ({ body: formOf(pairs), headers: { "content-type": "text/plain" } }) },
  {
    label: "multipart/form-data",
    init(pairs) {
      const form = new FormData();
      for (const [name, value] of pairs) form.append(name, value);
      return { body: form, headers: {} }; // fetch sets multipart/form-data; boundary=…
    },
  },
  { label: "no content type", init: (pairs) => ({ body: new Uint8Array(Buffer.from(formOf(pairs))), headers: {} }) },
];

const contentTypes: Case[] = FORM_ENDPOINTS.flatMap((endpoint) =>
  CONTENT_TYPES.map(
    (type): Case => ({
      attack: `POST /${endpoint} with a correct request sent as ${type.label}`,
      defence: "400 invalid_request; nothing issued or revoked",
      reference: endpoint === "token" ? "RFC 6749 §3.2, §4.4.2" : endpoint === "revoke" ? "RFC 7009 §2.1" : "RFC 7662 §2.1",
      async run(t) {
        const s = await serve(t);
        const prepared = await prepareEndpoint(t, s, endpoint);
        const { body, headers } = type.init(prepared.pairs);
        const before = await snapshot(s);
        const res = await fetch(`${s.project}/${endpoint}`, { method: "POST", redirect: "manual", body, headers: { ...headers, ...adminBasic() } });
        await oauthError(t, res, 400, "invalid_request");
        await assertRefusedCleanly(t, s, before, prepared);
        await control(t, s, endpoint, prepared);
      },
    }),
  ),
);

const queryParameters: Case[] = FORM_ENDPOINTS.flatMap((endpoint) =>
  [
    { label: "an unrelated parameter", query: () => "x=1" },
    { label: "a copy of its first body parameter", query: (p: Prepared) => formOf(p.pairs.slice(0, 1)) },
  ].map(
    (q): Case => ({
      attack: `POST /${endpoint} with a correct form body and ${q.label} in the query string`,
      defence: "400 invalid_request even though the body is right; nothing issued or revoked",
      reference: "RFC 6749 §3.2 (parameters in the body); RFC 9700 §4.3.1 (no credentials in URLs)",
      async run(t) {
        const s = await serve(t);
        const prepared = await prepareEndpoint(t, s, endpoint);
        const before = await snapshot(s);
        const res = await fetch(`${s.project}/${endpoint}?${q.query(prepared)}`, {
          method: "POST",
          redirect: "manual",
          headers: { "content-type": FORM, ...adminBasic() },
          body: formOf(prepared.pairs),
        });
        await oauthError(t, res, 400, "invalid_request");
        await assertRefusedCleanly(t, s, before, prepared);
        await control(t, s, endpoint, prepared);
      },
    }),
  ),
);

const secretInQuery: Case = {
  attack: "POST /token with client_secret in the query string (client_id and grant in the body)",
  defence: "400 invalid_request; the secret is neither echoed nor logged; nothing issued",
  reference: "RFC 6749 §2.3.1 (MUST NOT be in the request URI); RFC 9700 §4.3.1",
  async run(t) {
    const s = await serve(t);
    const before = await snapshot(s);
    const res = await fetch(`${s.project}/token?client_secret=${formEncode(ADMIN_CLIENT_SECRET)}`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": FORM },
      body: formOf([["grant_type", "client_credentials"], ["client_id", "admin-client"]]),
    });
    const description = await oauthError(t, res, 400, "invalid_request");
    t.false(description.includes(ADMIN_CLIENT_SECRET));
    t.deepEqual(s.lines.filter((line) => line.includes(ADMIN_CLIENT_SECRET)), [], "the secret is not in the log");
    await assertRefusedCleanly(t, s, before, { pairs: [] });
    await control(t, s, "token", { pairs: [["grant_type", "client_credentials"], ...CLIENT_IN_BODY] }, {});
  },
};

const getOnFormEndpoints: Case[] = FORM_ENDPOINTS.map(
  (endpoint): Case => ({
    attack: `GET /${endpoint} with a complete, correct request in the query and Basic credentials`,
    defence: `405 invalid_request JSON with Allow: ${endpoint === "introspect" ? "POST" : "POST, OPTIONS (its CORS preflight)"}; nothing issued or revoked`,
    reference: endpoint === "token" ? "RFC 6749 §3.2 (MUST use POST)" : endpoint === "revoke" ? "RFC 7009 §2.1" : "RFC 7662 §2.1",
    async run(t) {
      const s = await serve(t);
      const prepared = await prepareEndpoint(t, s, endpoint);
      const before = await snapshot(s);
      const res = await fetch(`${s.project}/${endpoint}?${formOf(prepared.pairs)}`, { redirect: "manual", headers: adminBasic() });
      t.is(res.headers.get("allow"), endpoint === "introspect" ? "POST" : "POST, OPTIONS");
      await oauthError(t, res, 405, "invalid_request");
      await assertRefusedCleanly(t, s, before, prepared);
      await control(t, s, endpoint, prepared);
    },
  }),
);

const twoAuthenticationMethods: Case[] = FORM_ENDPOINTS.flatMap((endpoint) =>
  [
    { label: "client_id and client_secret in the body too", body: CLIENT_IN_BODY },
    { label: "another client's client_id in the body", body: [["client_id", "someone-else"]] as Pairs },
  ].map(
    (variant): Case => ({
      attack: `POST /${endpoint} authenticated by HTTP Basic with ${variant.label}`,
      defence: "400 invalid_request (one authentication method per request); nothing issued or revoked",
      reference: "RFC 6749 §2.3 (MUST NOT use more than one method)",
      async run(t) {
        const s = await serve(t);
        const prepared = await prepareEndpoint(t, s, endpoint);
        const before = await snapshot(s);
        await oauthError(t, await post(s, `/${endpoint}`, formOf([...prepared.pairs, ...variant.body]), adminBasic()), 400, "invalid_request");
        await assertRefusedCleanly(t, s, before, prepared);
        await control(t, s, endpoint, prepared);
      },
    }),
  ),
);

register("protocol", [
  ...repeatedAtAuthorize,
  ...repeatedAtToken,
  ...repeatedAtIntrospectRevoke,
  ...grantTypes,
  ...contentTypes,
  ...queryParameters,
  secretInQuery,
  ...getOnFormEndpoints,
  ...twoAuthenticationMethods,
]);

// ================================================================ 2. hostile input

interface Payload {
  name: string;
  /** As it travels in a query string or form body. */
  encoded: string;
  /** What the server decodes it to. */
  value: string;
  /** Beyond every size limit: refused before any parsing. */
  huge?: true;
}
const payload = (name: string, value: string): Payload => ({ name, encoded: formEncode(value), value });
/** Percent-encoded bytes that are not UTF-8: URL decoding turns them into U+FFFD. */
const rawBytes = (name: string, encoded: string): Payload => ({ name, encoded, value: new URLSearchParams(`v=${encoded}`).get("v")! });

const PAYLOADS: readonly Payload[] = [
  payload("SQL ' OR 1=1 --", "' OR 1=1 --"),
  payload('SQL "; DROP TABLE users; --', '"; DROP TABLE users; --'),
  payload("markup <script>alert(1)</script>", "<script>alert(1)</script>"),
  payload("CRLF + Set-Cookie", "a\r\nSet-Cookie: x=1"),
  payload("a NUL byte", "a\u0000b"),
  { ...payload("a 100 KiB value", "x".repeat(100 * 1024)), huge: true },
  rawBytes("invalid UTF-8 %C3%28", "%C3%28"),
  rawBytes("invalid UTF-8 %FF", "%FF"),
];

/** What an endpoint must answer to a hostile value in one of its fields. */
type Expected =
  | { as: "page"; status: number; error: string }
  | { as: "json"; status: number; error: string }
  | { as: "redirect"; status: number; error: string }
  /** The login form again: 401, "Invalid username or password.", the username kept but escaped. */
  | { as: "login-again" }
  /** A value opaque to the server (state, nonce): accepted, stored and returned exactly, never interpreted. */
  | { as: "inert" }
  /** Node's HTTP parser refuses a request line over its 16 KiB header limit before the gateway sees it. */
  | { as: "header-too-large" };

const TOO_LARGE: Expected = { as: "page", status: 413, error: "invalid_request" };
const TOO_LARGE_JSON: Expected = { as: "json", status: 413, error: "invalid_request" };

/** Common checks of every hostile-input answer, then the expected shape. */
async function assertHostileAnswer(t: ExecutionContext, s: TestServer, res: Response, expected: Expected, p: Payload): Promise<string> {
  t.true(res.status < 500, `never a 5xx, got ${res.status}`);
  assertNoInjectedHeader(t, res);
  const text = await res.clone().text();
  assertNoStack(t, text);
  assertNotReflected(t, text, p.value);
  const location = res.headers.get("location");
  if (location !== null) {
    t.false(/[\r\n\u0000]/.test(location), "Location holds no raw control character");
    assertNotReflected(t, location, p.value);
  }
  switch (expected.as) {
    case "page":
      await assertErrorPage(t, res, expected.status, expected.error);
      break;
    case "json":
      await oauthError(t, res, expected.status, expected.error);
      break;
    case "redirect":
      assertErrorRedirect(t, res, expected.status, expected.error);
      break;
    case "login-again":
      t.is(res.status, 401, text);
      assertPageHeaders(t, res);
      t.true(text.includes("Invalid username or password."));
      break;
    case "header-too-large":
      t.is(res.status, 431);
      break;
    case "inert":
      t.is(res.status, 200, text.slice(0, 300));
      assertPageHeaders(t, res);
      break;
  }
  assertNoServerError(t, s);
  return text;
}

// ---------------------------------------------------------------- /authorize

/** Expected answer per field of the authorization request, for every non-huge payload. */
const AUTHORIZE_FIELDS: Record<string, (via: AuthorizeVia) => Expected> = {
  client_id: () => ({ as: "page", status: 400, error: "invalid_request" }),
  redirect_uri: () => ({ as: "page", status: 400, error: "invalid_request" }),
  scope: (via) => ({ as: "redirect", status: redirectStatus(via), error: "invalid_scope" }),
  state: () => ({ as: "inert" }),
  nonce: () => ({ as: "inert" }),
  code_challenge: (via) => ({ as: "redirect", status: redirectStatus(via), error: "invalid_request" }),
  response_type: (via) => ({ as: "redirect", status: redirectStatus(via), error: "unsupported_response_type" }),
};

function authorizeExpected(field: string, via: AuthorizeVia, p: Payload): Expected {
  if (p.huge === true) return via === "GET" ? { as: "header-too-large" } : TOO_LARGE;
  return AUTHORIZE_FIELDS[field]!(via);
}

function describe(expected: Expected): string {
  switch (expected.as) {
    case "page":
      return `${expected.status} ${expected.error} error page`;
    case "json":
      return `${expected.status} ${expected.error} JSON`;
    case "redirect":
      return `${expected.status} to the client with ${expected.error}`;
    case "login-again":
      return "401 login page again, username escaped";
    case "inert":
      return "kept as inert data: stored and returned exactly, escaped, percent-encoded";
    case "header-too-large":
      return "431 from the HTTP parser (request line over 16 KiB)";
  }
}

/**
 * The inert path: the login page (which does not show the value), the
 * pending request holding exactly the decoded value, and, once the user
 * denies, an error redirect carrying `state` exactly, percent-encoded.
 */
async function assertInertAuthorize(t: ExecutionContext, s: TestServer, text: string, field: "state" | "nonce", p: Payload): Promise<void> {
  const requestId = requestIdOf(text);
  const pending = await pendingOf(s, requestId);
  t.is(field === "state" ? pending?.state : pending?.nonce, p.value, `the ${field} is stored exactly as decoded`);
  const login = await postJson(`${s.project}/authorize`, { request_id: requestId, username: "admin", password: ADMIN_PASSWORD });
  t.is(login.status, 200);
  await login.text();
  const deny = await postJson(`${s.project}/consent`, { request_id: requestId, deny: true });
  t.is(deny.status, 200);
  const { redirect_to } = (await deny.json()) as { redirect_to: string };
  t.false(/[\r\n\u0000<>"' ]/.test(redirect_to), "redirect_to is a percent-encoded URL");
  const query = new URL(redirect_to).searchParams;
  t.is(query.get("error"), "access_denied");
  t.is(query.get("state"), field === "state" ? p.value : "st-123");
  t.is(query.get("code"), null);
}

const hostileAuthorize: Case[] = (["GET", "POST"] as const).flatMap((via) =>
  Object.keys(AUTHORIZE_FIELDS).flatMap((field) =>
    PAYLOADS.map((p): Case => {
      const expected = authorizeExpected(field, via, p);
      return {
        attack: `${via} /authorize with ${p.name} as ${field}`,
        defence: `${describe(expected)}; no 5xx, no injected header, database unchanged`,
        reference:
          expected.as === "inert"
            ? "RFC 6749 §4.1.2 (state returned exactly); OWASP ASVS 5.3.3, 5.3.4"
            : expected.as === "header-too-large"
              ? "RFC 9110 §15.5 (4xx); RFC 6585 §5"
              : "RFC 6749 §4.1.2.1; RFC 9700 §4.11.1",
        async run(t) {
          const s = await serve(t);
          const before = await snapshot(s);
          const res = await sendAuthorize(s, via, formOf(AUTHORIZE_PARAMS, { name: field, encoded: p.encoded }));
          const text = await assertHostileAnswer(t, s, res, expected, p);
          if (expected.as === "inert") {
            await assertInertAuthorize(t, s, text, field as "state" | "nonce", p);
          }
          // An inert request was denied, which deletes it: nothing is left either way.
          await assertUnchanged(t, s, before);
        },
      };
    }),
  ),
);

// ---------------------------------------------------------------- login and consent form posts

interface FormPost {
  path: "/authorize" | "/consent";
  label: string;
  fields: Record<string, Expected>;
  /** A pending request ready for this post: its form fields and the browser cookie. */
  prepare(t: ExecutionContext, s: TestServer): Promise<{ pairs: Pairs; cookie: string }>;
}

const FORM_POSTS: FormPost[] = [
  {
    path: "/authorize",
    label: "the login form",
    fields: {
      request_id: { as: "page", status: 400, error: "invalid_request" },
      username: { as: "login-again" },
      password: { as: "login-again" },
    },
    async prepare(_t, s) {
      const p = await browserRequest(s);
      return {
        pairs: [
          ["request_id", p.requestId],
          ["username", "admin"],
          ["password", ADMIN_PASSWORD],
        ],
        cookie: p.cookie,
      };
    },
  },
  {
    path: "/consent",
    label: "the consent form",
    fields: {
      request_id: { as: "page", status: 400, error: "invalid_request" },
      scope: { as: "page", status: 400, error: "invalid_request" },
    },
    async prepare(t, s) {
      const p = await signedIn(t, s);
      return {
        pairs: [
          ["request_id", p.requestId],
          ["scope", "iam.global.admin"],
        ],
        cookie: p.cookie,
      };
    },
  },
];

const hostileForms: Case[] = FORM_POSTS.flatMap((form) =>
  Object.entries(form.fields).flatMap(([field, fieldExpected]) =>
    PAYLOADS.map((p): Case => {
      const expected = p.huge === true ? TOO_LARGE : fieldExpected;
      return {
        attack: `POST ${form.path} (${form.label}) with ${p.name} as ${field}`,
        defence: `${describe(expected)}; no code, no grant, no 5xx, database unchanged`,
        reference: expected.as === "login-again" ? "RFC 6749 §10.12; OWASP ASVS 5.3.3" : "RFC 6749 §4.1.2.1; OWASP ASVS 5.3.3, 5.3.4",
        async run(t) {
          const s = await serve(t);
          const { pairs, cookie } = await form.prepare(t, s);
          const before = await snapshot(s);
          const res = await post(s, form.path, formOf(pairs, { name: field, encoded: p.encoded }), { cookie });
          const text = await assertHostileAnswer(t, s, res, expected, p);
          // The login page keeps the username typed: escaped, never as markup.
          if (expected.as === "login-again" && field === "username") t.true(text.includes(`value="${escapeHtml(p.value)}"`), "username kept, escaped");
          await assertUnchanged(t, s, before);
        },
      };
    }),
  ),
);

// ---------------------------------------------------------------- /token

interface TokenField {
  field: string;
  expected: Expected;
  /**
   * A request around the hostile value. A real code or refresh token exists
   * beforehand, so that an injected `OR 1=1` would have a row to match.
   */
  prepare(t: ExecutionContext, s: TestServer): Promise<{ pairs: Pairs; headers: Record<string, string> }>;
}

const codeGrant = (code: string, extra: Pairs = []): Pairs => [["grant_type", "authorization_code"], ["code", code], ["redirect_uri", DEFAULT_REDIRECT], ...extra];

const TOKEN_FIELDS: TokenField[] = [
  {
    field: "code",
    expected: { as: "json", status: 400, error: "invalid_grant" },
    async prepare(_t, s) {
      await jsonCode(s);
      return { pairs: codeGrant("HOSTILE"), headers: adminBasic() };
    },
  },
  {
    field: "refresh_token",
    expected: { as: "json", status: 400, error: "invalid_grant" },
    async prepare(t, s) {
      await adminTokens(t, s);
      return { pairs: [["grant_type", "refresh_token"], ["refresh_token", "HOSTILE"]], headers: adminBasic() };
    },
  },
  {
    field: "code_verifier",
    expected: { as: "json", status: 400, error: "invalid_grant" },
    async prepare(_t, s) {
      const { code } = await jsonCode(s, { params: adminRequest({ code_challenge: RFC7636_CHALLENGE, code_challenge_method: "S256" }) });
      return { pairs: codeGrant(code, [["code_verifier", "HOSTILE"]]), headers: adminBasic() };
    },
  },
  {
    field: "client_id",
    expected: { as: "json", status: 401, error: "invalid_client" },
    async prepare() {
      return { pairs: [["grant_type", "client_credentials"], ["client_id", "HOSTILE"], ["client_secret", ADMIN_CLIENT_SECRET]], headers: {} };
    },
  },
  {
    field: "client_secret",
    expected: { as: "json", status: 401, error: "invalid_client" },
    async prepare() {
      return { pairs: [["grant_type", "client_credentials"], ["client_id", "admin-client"], ["client_secret", "HOSTILE"]], headers: {} };
    },
  },
  {
    field: "scope",
    expected: { as: "json", status: 400, error: "invalid_scope" },
    async prepare() {
      return { pairs: [["grant_type", "client_credentials"], ["scope", "HOSTILE"]], headers: adminBasic() };
    },
  },
];

const hostileToken: Case[] = TOKEN_FIELDS.flatMap((f) =>
  PAYLOADS.map((p): Case => {
    const expected = p.huge === true ? TOO_LARGE_JSON : f.expected;
    return {
      attack: `POST /token with ${p.name} as ${f.field}`,
      defence: `${describe(expected)}; nothing issued, no 5xx, database unchanged`,
      reference: "RFC 6749 §5.2; OWASP ASVS 5.3.4",
      async run(t) {
        const s = await serve(t);
        const { pairs, headers } = await f.prepare(t, s);
        const before = await snapshot(s);
        const res = await post(s, "/token", formOf(pairs, { name: f.field, encoded: p.encoded }), headers);
        await assertHostileAnswer(t, s, res, expected, p);
        await assertUnchanged(t, s, before);
      },
    };
  }),
);

register("hostile input", [...hostileAuthorize, ...hostileForms, ...hostileToken]);

// ================================================================ 3. administration

/** RPCs the isolation matrix (isolation-ops.ts) does not run; each checks, as global admin, that a refused call changed nothing. */
interface ExtraOp {
  name: string;
  attempt(t: ExecutionContext, w: World, ref: ProjectRef, options: CallOptions, expected: Outcome): Promise<void>;
}

const jwksKids = async (w: World, ref: ProjectRef) => (await w.c.tokens.getJwks({ ...ref })).keys.map((k) => k.kid).sort();

const EXTRA_OPS: ExtraOp[] = [
  {
    name: "RotateSigningKey",
    async attempt(t, w, ref, options, expected) {
      const before = await jwksKids(w, ref);
      t.is(await outcomeOf(w.admin.rotateSigningKey({ ...ref }, options)), expected, `RotateSigningKey in ${refLabel(ref)}`);
      t.deepEqual(await jwksKids(w, ref), before, "no key added or retired");
    },
  },
  {
    name: "RevokeUserConsent",
    async attempt(t, w, ref, options, expected) {
      // A live token the user gave `portal`: revoking the consent would revoke it.
      const { accessToken } = await loginThroughPortal(w.c, ref, PLAIN);
      const call = w.admin.revokeUserConsent({ ...ref, userId: PLAIN.id, clientId: PORTAL.id }, options);
      t.is(await outcomeOf(call), expected, `RevokeUserConsent in ${refLabel(ref)}`);
      t.true((await w.c.tokens.verifyToken({ token: accessToken })).active, "the user's token still verifies");
    },
  },
  {
    name: "ListUserConsents",
    async attempt(t, w, ref, options, expected) {
      t.is(await outcomeOf(w.admin.listUserConsents({ ...ref, userId: PLAIN.id }, options)), expected, `ListUserConsents in ${refLabel(ref)}`);
    },
  },
];

/**
 * Runs every global RPC and every in-project RPC (isolation-ops.ts and the
 * extras above) in each of `refs` with `options`: each must answer `expected`
 * and leave everything as it was (the operations' own after-checks).
 */
async function assertLockedOut(t: ExecutionContext, w: World, options: CallOptions, refs: ProjectRef[], expected: Outcome): Promise<void> {
  for (const op of GLOBAL_OPS) {
    t.is(await outcomeOf(op.call(w.admin, options)), expected, `${op.name} (global)`);
    await op.after(t, w, false, undefined);
  }
  for (const ref of refs) {
    for (const op of PROJECT_OPS) {
      t.is(await outcomeOf(op.call(w.admin, ref, options)), expected, `${op.name} in ${refLabel(ref)}`);
      await op.after(t, w, ref, false, undefined);
    }
    for (const op of EXTRA_OPS) await op.attempt(t, w, ref, options, expected);
  }
}

/** The token works where it should before the attack: a later refusal is about the target, not a dead token. */
async function assertWorksIn(t: ExecutionContext, w: World, token: string, ref: ProjectRef | "global"): Promise<void> {
  const call = ref === "global" ? w.admin.listOrganizations({}, w.as(token)) : w.admin.getProject({ ...ref }, w.as(token));
  t.is(await outcomeOf(call), "OK", "control: the token administers its own tenant");
}

/** As project admin of A: a permission named iam.global.admin and a role `global-admin` holding it, the names iam-admins uses. */
async function forgeGlobalAdminInA(w: World): Promise<void> {
  const asAdminA = w.as(w.tokens.adminA);
  await w.admin.createPermission({ ...A, permissionId: GLOBAL_ADMIN, description: "Administer everything (not really)" }, asAdminA);
  await w.admin.createRole({ ...A, roleId: "global-admin", permissions: [GLOBAL_ADMIN] }, asAdminA);
}

const advancePast = (w: World, token: string) => {
  const exp = decodeJwt(token).exp!;
  w.c.clock.advance(exp - Math.floor(w.c.clock.now() / 1000) + 1);
};

const NOT_A = [A2, B, ADMINS];
const EVERY_PROJECT = [A, A2, B, ADMINS];

const administration: Case[] = [
  {
    attack: "project admin of A (client_credentials token of `ops`) calls every RPC on A2 (same organization), B (other organization), iam-admins, and every organization/project RPC",
    defence: "PermissionDenied for each, nothing changed; the same token still administers A (also covered by isolation.test.ts)",
    reference: "RFC 9068 §4 (the issuer decides the tenant); RFC 6750 §3.1",
    async run(t) {
      const w = await openWorld(t);
      await assertWorksIn(t, w, w.tokens.adminA, A);
      await assertLockedOut(t, w, w.as(w.tokens.adminA), NOT_A, "PermissionDenied");
    },
  },
  {
    attack: "project admin of A signed in as a user (code flow) calls every RPC outside A",
    defence: "PermissionDenied for each, nothing changed (also covered by isolation.test.ts)",
    reference: "RFC 9068 §4; RFC 6750 §3.1",
    async run(t) {
      const w = await openWorld(t);
      await assertWorksIn(t, w, w.tokens.adminAUser, A);
      await assertLockedOut(t, w, w.as(w.tokens.adminAUser), NOT_A, "PermissionDenied");
    },
  },
  {
    attack: "project admin of iam-admins (iam.project.admin, not global) calls every RPC, iam-admins included",
    defence: "PermissionDenied everywhere: administering iam-admins is global administration (also covered by isolation.test.ts)",
    reference: "RFC 9068 §4; RFC 6750 §3.1",
    async run(t) {
      const w = await openWorld(t);
      t.deepEqual((await w.c.tokens.verifyToken({ token: w.tokens.adminAdmins })).scopes, [PROJECT_ADMIN]);
      await assertLockedOut(t, w, w.as(w.tokens.adminAdmins), EVERY_PROJECT, "PermissionDenied");
    },
  },
  {
    attack: "a user of A with no admin permission calls every RPC, A included",
    defence: "PermissionDenied everywhere, nothing changed (also covered by isolation.test.ts)",
    reference: "RFC 6750 §3.1 (insufficient_scope)",
    async run(t) {
      const w = await openWorld(t);
      t.true((await w.c.tokens.verifyToken({ token: w.tokens.plainUserA })).active, "control: the token itself is valid");
      await assertLockedOut(t, w, w.as(w.tokens.plainUserA), EVERY_PROJECT, "PermissionDenied");
    },
  },
  {
    attack: "a client of A with no admin permission (client_credentials) calls every RPC, A included",
    defence: "PermissionDenied everywhere, nothing changed (also covered by isolation.test.ts)",
    reference: "RFC 6750 §3.1 (insufficient_scope)",
    async run(t) {
      const w = await openWorld(t);
      t.true((await w.c.tokens.verifyToken({ token: w.tokens.plainClientA })).active, "control: the token itself is valid");
      await assertLockedOut(t, w, w.as(w.tokens.plainClientA), EVERY_PROJECT, "PermissionDenied");
    },
  },
  {
    attack: "project admin of A creates a permission iam.global.admin in A, takes it, and uses the token carrying it outside A and at an iam-admins resource server",
    defence: "PermissionDenied outside A; VerifyToken for iam-admins requiring iam.global.admin is inactive (also isolation-escalation.test.ts)",
    reference: "RFC 9068 §4 (iss, not scope names, decides); RFC 8707 §2",
    async run(t) {
      const w = await openWorld(t);
      await forgeGlobalAdminInA(w);
      await w.admin.assignRole({ ...A, roleId: "global-admin", subject: { case: "clientId", value: OPS.id } }, w.as(w.tokens.adminA));
      const minted = await clientCredentials(w.c, A, OPS);
      t.deepEqual(minted.scope.split(" ").sort(), [GLOBAL_ADMIN, PROJECT_ADMIN], "the token really carries the forged scope");
      await assertWorksIn(t, w, minted.accessToken, A);
      const atAdmins = await w.c.tokens.verifyToken({ token: minted.accessToken, ...ADMINS, requiredScopes: [GLOBAL_ADMIN] });
      t.false(atAdmins.active, "an iam-admins resource server refuses it");
      await assertLockedOut(t, w, w.as(minted.accessToken), NOT_A, "PermissionDenied");
    },
  },
  {
    attack: "project admin of A registers a look-alike `admin-client` in A holding a forged iam.global.admin and uses its client_credentials token",
    defence: "PermissionDenied everywhere, A included (the token holds no iam.project.admin): same client id and scope, another issuer",
    reference: "RFC 9068 §4, §5 (client_id and sub are per issuer)",
    async run(t) {
      const w = await openWorld(t);
      const asAdminA = w.as(w.tokens.adminA);
      await forgeGlobalAdminInA(w);
      const lookAlike = { id: "admin-client", secret: "look-alike-admin-client-secret" };
      await w.admin.createClient({ ...A, clientId: lookAlike.id, secret: lookAlike.secret, type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"] }, asAdminA);
      await w.admin.assignRole({ ...A, roleId: "global-admin", subject: { case: "clientId", value: lookAlike.id } }, asAdminA);
      const minted = await clientCredentials(w.c, A, lookAlike);
      const claims = decodeJwt(minted.accessToken);
      t.is(claims.client_id, "admin-client");
      t.is(claims.scope, GLOBAL_ADMIN);
      t.is(claims.iss, issuerOf(A));
      await assertLockedOut(t, w, w.as(minted.accessToken), EVERY_PROJECT, "PermissionDenied");
    },
  },
  {
    attack: "project admin of A points A's audience at iam-admins' issuer, so that A's tokens would pass iam-admins' audience check",
    defence: "InvalidArgument; A's audience and its next tokens' aud unchanged; VerifyToken with iam-admins' audience refuses A's token",
    reference: "RFC 9068 §4 (aud); RFC 8707 §2; RFC 8725 §3.9",
    async run(t) {
      const w = await openWorld(t);
      const asAdminA = w.as(w.tokens.adminA);
      const own = (await w.admin.getProject({ ...A }, asAdminA)).project!.audience;
      const call = w.admin.updateProject({ ...A, audience: issuerOf(ADMINS), updateMask: { paths: ["audience"] } }, asAdminA);
      t.is(await outcomeOf(call), "InvalidArgument");
      t.is((await w.admin.getProject({ ...A }, await w.asGlobal())).project!.audience, own);
      const next = await clientCredentials(w.c, A, OPS);
      t.is(decodeJwt(next.accessToken).aud, own);
      t.false((await w.c.tokens.verifyToken({ token: next.accessToken, audience: issuerOf(ADMINS) })).active);
    },
  },
  {
    attack: "an expired project-admin token of A (client_credentials) calls every RPC, A included",
    defence: "Unauthenticated everywhere, nothing changed",
    reference: "RFC 9068 §4 (exp); RFC 6750 §3.1 (invalid_token)",
    async run(t) {
      const w = await openWorld(t);
      await assertWorksIn(t, w, w.tokens.adminA, A);
      advancePast(w, w.tokens.adminA);
      await assertLockedOut(t, w, w.as(w.tokens.adminA), EVERY_PROJECT, "Unauthenticated");
    },
  },
  {
    attack: "an expired global-admin token calls every RPC",
    defence: "Unauthenticated everywhere, nothing changed (also covered by isolation.test.ts)",
    reference: "RFC 9068 §4 (exp); RFC 6750 §3.1",
    async run(t) {
      const w = await openWorld(t);
      await assertWorksIn(t, w, w.tokens.global, "global");
      advancePast(w, w.tokens.global);
      await assertLockedOut(t, w, w.as(w.tokens.global), EVERY_PROJECT, "Unauthenticated");
    },
  },
  {
    attack: "a global-admin access token revoked by its client (RFC 7009) calls every RPC",
    defence: "Unauthenticated everywhere at once, not at expiry; nothing changed",
    reference: "RFC 7009 §2.1, §2.2",
    async run(t) {
      const w = await openWorld(t);
      const token = await globalToken(w.c);
      await assertWorksIn(t, w, token, "global");
      await w.c.tokens.revoke({ ...ADMINS, token, client: { basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET } } });
      await assertLockedOut(t, w, w.as(token), EVERY_PROJECT, "Unauthenticated");
    },
  },
  {
    attack: "a project admin of A whose refresh token was revoked keeps using the access token of that grant",
    defence: "Unauthenticated everywhere, A included: revoking the refresh token revokes the grant's access tokens",
    reference: "RFC 7009 §2.1 (SHOULD also invalidate access tokens of the same grant)",
    async run(t) {
      const w = await openWorld(t);
      const login = await loginThroughPortal(w.c, A, PADMIN);
      await assertWorksIn(t, w, login.accessToken, A);
      await w.c.tokens.revoke({
        ...A,
        token: login.refreshToken,
        tokenTypeHint: "refresh_token",
        client: { basic: { clientId: PORTAL.id, clientSecret: PORTAL.secret } },
      });
      await assertLockedOut(t, w, w.as(login.accessToken), EVERY_PROJECT, "Unauthenticated");
    },
  },
  {
    attack: "the ID token of a project admin of A (same key, same issuer, no at+jwt type) presented as a Bearer access token",
    defence: "Unauthenticated everywhere, A included: only at+jwt access tokens are accepted",
    reference: "RFC 9068 §2.1, §4 (typ at+jwt); RFC 8725 §3.11",
    async run(t) {
      const w = await openWorld(t);
      const login = await loginThroughPortal(w.c, A, PADMIN, `openid ${PROJECT_ADMIN}`);
      t.true(login.idToken.length > 0, "an ID token was issued");
      t.is(decodeJwt(login.idToken).iss, issuerOf(A));
      await assertWorksIn(t, w, login.accessToken, A);
      await assertLockedOut(t, w, w.as(login.idToken), EVERY_PROJECT, "Unauthenticated");
    },
  },
  {
    attack: "the refresh token of a project admin of A presented as a Bearer access token",
    defence: "Unauthenticated everywhere, A included",
    reference: "RFC 6749 §1.5 (refresh tokens are for the authorization server only); RFC 6750 §3.1",
    async run(t) {
      const w = await openWorld(t);
      const login = await loginThroughPortal(w.c, A, PADMIN);
      t.regex(login.refreshToken, /^[A-Za-z0-9_-]{43}$/, "a Bearer-shaped value");
      await assertWorksIn(t, w, login.accessToken, A);
      await assertLockedOut(t, w, w.as(login.refreshToken), EVERY_PROJECT, "Unauthenticated");
    },
  },
];

register("administration", administration);
