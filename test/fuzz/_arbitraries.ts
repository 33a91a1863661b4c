/**
 * Generators of the endpoint fuzz tests (endpoints.test.ts): requests to every
 * HTTP endpoint of the gateway and every RPC of the core.
 *
 * Requests start from a valid scenario of the default tenant (a real client
 * id, its redirect URI, a live code or token) and are then perturbed: each
 * parameter kept, replaced by another value of its kind, mutated into a
 * near-valid one, replaced by a hostile string or dropped; parameters added or
 * repeated; content type, Accept, credentials and cookie swapped. Values that
 * must be live (a pending request, a code, a token) are symbolic (`{ live }`):
 * the test obtains them from its own server just before sending, so a
 * counterexample is a recipe that replays on a fresh server.
 *
 * Not a test file itself (ava only runs *.test.ts).
 */
import http from "node:http";
import type { DescField, DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import fc from "fast-check";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT, DEFAULT_REDIRECT, RFC7636_CHALLENGE, RFC7636_VERIFIER } from "../helpers.js";
import { ALICE, BOB, CAROL, DELETE, issuerOf, M2M, NOREFRESH, OTHER, READ, SPA, STRICT, WEB, WEB2, WRITE } from "../core/flow.js";

export const ADMIN_SCOPE = "iam.global.admin";
export const FORM = "application/x-www-form-urlencoded";
export const JSON_TYPE = "application/json";

// ---------------------------------------------------------------------------
// Values: literals, live values of the world, and near-valid mutations.

/** The login flows the test can run on demand: the default admin's, alice through WEB (OpenID), alice through SPA (PKCE). */
export const FLOW_CLIENTS = ["admin", "web", "spa"] as const;
export type FlowClient = (typeof FLOW_CLIENTS)[number];

/** Which stage of a flow a live value needs: 0 pending, 1 signed in, 2 code issued, 3 code exchanged. */
export const FLOW_STAGE = { requestId: 0, binding: 0, signedIn: 1, code: 2, access: 3, refresh: 3, idToken: 3 } as const;
export type FlowPart = keyof typeof FLOW_STAGE;
export type FlowRef = `${FlowPart}.${FlowClient}`;

/**
 * Live values that are not a fresh flow: client_credentials tokens (fresh),
 * and values made stale at setup (a spent code, a rotated refresh token, a
 * revoked or expired access token, an expired code), and another project's.
 */
export const OTHER_LIVE = [
  "cc.admin",
  "cc.m2m",
  "stale.code",
  "stale.expiredCode",
  "stale.refresh",
  "stale.access",
  "stale.expiredAccess",
  "other.access",
  "other.refresh",
  /** Only in the admin tests: a global administrator's token, of a client no pool names. */
  "root",
] as const;
export type LiveRef = FlowRef | (typeof OTHER_LIVE)[number];

export type Mutation =
  | { readonly op: "flip"; readonly at: number }
  | { readonly op: "cut"; readonly at: number }
  | { readonly op: "insert"; readonly at: number; readonly s: string }
  | { readonly op: "append"; readonly s: string }
  | { readonly op: "prepend"; readonly s: string }
  | { readonly op: "case" }
  | { readonly op: "double" }
  | { readonly op: "pad" }
  | { readonly op: "encode" }
  /** Changes a character inside one dot-separated part (never its last, whose low bits base64url may ignore). */
  | { readonly op: "flipPart"; readonly part: number; readonly at: number };

/** A value of a generated request: a literal, or a live value of the world; either possibly mutated. */
export type Val = { readonly lit: string; readonly mut?: Mutation } | { readonly live: LiveRef; readonly mut?: Mutation };

export const lit = (s: string): Val => ({ lit: s });
export const live = (ref: LiveRef): Val => ({ live: ref });
export const isVal = (x: unknown): x is Val =>
  typeof x === "object" && x !== null && !Array.isArray(x) && ("lit" in x || "live" in x);

const flipChar = (c: string | undefined) => (c === "A" ? "B" : "A");

/** Applies a mutation; pure, so a counterexample replays. */
export function mutate(s: string, m: Mutation): string {
  const at = (n: number) => (s.length === 0 ? 0 : n % s.length);
  switch (m.op) {
    case "flip": {
      const i = at(m.at);
      return s.slice(0, i) + flipChar(s[i]) + s.slice(i + 1);
    }
    case "cut":
      return s.slice(0, at(m.at));
    case "insert": {
      const i = at(m.at);
      return s.slice(0, i) + m.s + s.slice(i);
    }
    case "append":
      return s + m.s;
    case "prepend":
      return m.s + s;
    case "case":
      return s === s.toUpperCase() ? s.toLowerCase() : s.toUpperCase();
    case "double":
      return s + s;
    case "pad":
      return ` ${s} `;
    case "encode":
      return encodeURIComponent(s);
    case "flipPart": {
      const parts = s.split(".");
      const p = m.part % parts.length;
      const part = parts[p]!;
      if (part.length < 3) return `${s}A`;
      const i = 1 + (m.at % (part.length - 2));
      parts[p] = part.slice(0, i) + flipChar(part[i]) + part.slice(i + 1);
      return parts.join(".");
    }
  }
}

/**
 * Hostile strings: injection (SQL, markup, template, header), control and
 * NUL characters, invalid or overlong UTF-8 percent sequences, non-ASCII and
 * lookalikes, path traversal, prototype keys, and lengths just past each
 * documented limit (credentials 1024, state/nonce/scope 2048) and far past.
 */
export const HOSTILE: readonly string[] = [
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  'admin" --',
  "%' UNION SELECT secret_hash FROM clients --",
  "<script>alert(1)</script>",
  '"><img src=x onerror=alert(1)>',
  "javascript:alert(1)",
  "{{7*7}}${7*7}",
  "\r\nX-Injected: 1",
  "%0D%0AX-Injected:%201",
  "a\u0000b",
  "\u0000",
  "%00",
  "\t\n\r\u000b\f",
  "%",
  "%E0%A4%A",
  "%C3%28",
  "%FF%FE",
  "%ED%A0%80",
  "%C0%AF",
  "%ZZ",
  "\u00fc\u65e5\u672c\ud83d\ude00",
  "\u202eevil",
  "\ufeff",
  "\ud800",
  "\udfff",
  "\uff41\uff44\uff4d\uff49\uff4e",
  "e\u0301",
  "../../../etc/passwd",
  "..%2F..%2Fetc%2Fpasswd",
  "https://evil.example/cb",
  "//evil.example",
  "__proto__",
  "constructor",
  "null",
  "-1",
  "1e309",
  "",
  " ",
  "u".repeat(1025),
  "s".repeat(2049),
  "x".repeat(20_000),
];

/** Raw query or form fragments, sent without encoding: broken percent escapes and separators. */
export const RAW_FRAGMENTS: readonly string[] = ["%", "%E0%A4%A", "%C3%28", "%FF%FE", "%ZZ", "%00", "a&b=c", "=", "&&", "%0D%0AX-Injected:%201", "+%2B+"];

export const hostileString = fc.constantFrom(...HOSTILE);
export const randomString = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 16 }),
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,43}$/),
);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(200) }),
  fc.record({ op: fc.constant("cut" as const), at: fc.nat(200) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(200), s: fc.constantFrom("\u0000", "\u200b", "%00", " ", "/", "\uff41") }),
  fc.record({ op: fc.constant("append" as const), s: fc.constantFrom(" ", "x", "/", "=", "#frag", "?a=b", "%00", "..", "\u00e9") }),
  fc.record({ op: fc.constant("prepend" as const), s: fc.constantFrom(" ", "x", "/", "\ufeff") }),
  fc.constant({ op: "case" as const }),
  fc.constant({ op: "double" as const }),
  fc.constant({ op: "pad" as const }),
  fc.constant({ op: "encode" as const }),
  fc.record({ op: fc.constant("flipPart" as const), part: fc.nat(2), at: fc.nat(200) }),
);

/**
 * Mutations that certainly break a signed JWT (a character changed inside a
 * part, a cut, bytes added, the case swapped): used where a test must know
 * the mutated token is not valid. Not `pad` (trimmed), `encode` (a JWT is
 * URL-safe) nor a trailing `=` (base64url padding may be ignored).
 */
export const breakingMutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flipPart" as const), part: fc.nat(2), at: fc.nat(200) }),
  fc.record({ op: fc.constant("cut" as const), at: fc.nat(200) }),
  fc.record({ op: fc.constant("append" as const), s: fc.constantFrom("x", ".x", "..") }),
  fc.record({ op: fc.constant("prepend" as const), s: fc.constantFrom("x", ".") }),
  fc.constant({ op: "case" as const }),
  fc.constant({ op: "double" as const }),
);

const lits = (...values: string[]): Val[] => values.map(lit);
const lives = (...refs: LiveRef[]): Val[] => refs.map(live);
const flows = (part: FlowPart): Val[] => FLOW_CLIENTS.map((c) => live(`${part}.${c}`));

/** The valid (or plausible) values of each kind of field, the most useful first. */
const VALID = {
  organization: lits(DEFAULT.organization, OTHER.organization, "globex"),
  project: lits(DEFAULT.project, OTHER.project, "a2"),
  client: lits("admin-client", WEB.id, SPA.id, WEB2.id, STRICT.id, NOREFRESH.id, M2M.id),
  secret: lits(ADMIN_CLIENT_SECRET, WEB.secret, WEB2.secret, STRICT.secret, NOREFRESH.secret, M2M.secret),
  redirect: lits(DEFAULT_REDIRECT, WEB.redirectUri, WEB.redirectWithQuery, SPA.redirectUri, STRICT.redirectUri, NOREFRESH.redirectUri, "http://127.0.0.1:8080/cb", "com.example.app:/cb"),
  responseType: lits("code", "token", "id_token", "code id_token", "none"),
  grantType: lits("authorization_code", "refresh_token", "client_credentials", "password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"),
  scope: lits("", ADMIN_SCOPE, "openid", `openid profile email ${READ}`, `${READ} ${WRITE}`, DELETE, "iam.project.admin", "offline_access", `${READ}  ${READ}`),
  scopeName: lits(ADMIN_SCOPE, "openid", "profile", "email", READ, WRITE, DELETE, "iam.project.admin"),
  state: lits("st-123", "xyz", "n-0S6_WzA2Mj"),
  challenge: lits(RFC7636_CHALLENGE, RFC7636_VERIFIER, "too-short"),
  challengeMethod: lits("S256", "plain", "s256", "SHA-256", ""),
  verifier: lits(RFC7636_VERIFIER, "too-short"),
  code: [...flows("code"), ...lives("stale.code", "stale.expiredCode")],
  refresh: [...flows("refresh"), ...lives("stale.refresh", "other.refresh")],
  token: [
    ...flows("access"),
    ...lives("cc.admin", "cc.m2m", "stale.access", "stale.expiredAccess", "other.access"),
    ...flows("refresh"),
    live("idToken.web"),
    live("code.admin"),
  ],
  tokenTypeHint: lits("access_token", "refresh_token", "id_token", "ACCESS_TOKEN"),
  user: lits("admin", ALICE.id, BOB.id, CAROL.id, "nobody"),
  password: lits(ADMIN_PASSWORD, ALICE.password, BOB.password, CAROL.password, "wrong-password"),
  requestId: [...flows("requestId"), ...flows("signedIn")],
  binding: flows("binding"),
  address: lits("127.0.0.1", "::1", "10.1.2.3", "::ffff:127.0.0.1", "not-an-ip", "999.0.0.1"),
  audience: lits(issuerOf(DEFAULT), issuerOf(OTHER), "https://evil.example"),
  action: lits("allow", "deny", "DENY"),
  role: lits("global-admin", "project-admin", `role-${ALICE.id}`, `role-${BOB.id}`, "reader"),
  id: lits(DEFAULT.organization, OTHER.organization, OTHER.project, "globex", "new-org", "Bad_Id"),
  text: lits("Acme Corp", "A name", "alice@example.test", "not-an-email"),
  errorCode: lits("access_denied", "invalid_request", "server_error"),
  parameterName: lits("client_id", "redirect_uri", "scope", "state", "code"),
} as const satisfies Record<string, readonly Val[]>;
type Kind = keyof typeof VALID;

/** The kind of each field or parameter name, lower-cased and without underscores (so `client_id` and `clientId` agree). */
const KIND_OF: Readonly<Record<string, Kind>> = {
  organization: "organization",
  project: "project",
  clientid: "client",
  clientsecret: "secret",
  secret: "secret",
  redirecturi: "redirect",
  redirecturis: "redirect",
  responsetype: "responseType",
  granttype: "grantType",
  granttypes: "grantType",
  scope: "scope",
  scopes: "scopeName",
  requiredscopes: "scopeName",
  permissions: "scopeName",
  permissionid: "scopeName",
  state: "state",
  nonce: "state",
  codechallenge: "challenge",
  codechallengemethod: "challengeMethod",
  codeverifier: "verifier",
  code: "code",
  refreshtoken: "refresh",
  token: "token",
  accesstoken: "token",
  tokentypehint: "tokenTypeHint",
  username: "user",
  userid: "user",
  password: "password",
  requestid: "requestId",
  browserbinding: "binding",
  clientaddress: "address",
  audience: "audience",
  action: "action",
  roleid: "role",
  id: "id",
  name: "text",
  description: "text",
  email: "text",
  error: "errorCode",
  errordescription: "text",
  repeatedparameters: "parameterName",
};

const normal = (name: string) => name.toLowerCase().replace(/_/g, "");

/** Ids a test keeps out of every pool (the objects its own credentials rest on). */
export type Protected = ReadonlySet<string>;
const NOTHING: Protected = new Set();

/**
 * A value for a field or parameter of this name: mostly a valid one of its
 * kind, else a near-valid mutation, a hostile or a random string.
 */
export function valueOf(name: string, omit: Protected = NOTHING): fc.Arbitrary<Val> {
  const key = normal(name);
  // Own keys only: a generated name may be "constructor" or "__proto__".
  const kind = Object.hasOwn(KIND_OF, key) ? KIND_OF[key] : undefined;
  const memo = `${kind ?? "-"}\u0000${[...omit].join(",")}`;
  let arb = VALUE_ARBS.get(memo);
  if (arb === undefined) VALUE_ARBS.set(memo, (arb = buildValueOf(kind, omit)));
  return arb;
}

/** Built once per kind: building fast-check's string arbitraries costs more than drawing from them. */
const VALUE_ARBS = new Map<string, fc.Arbitrary<Val>>();

function buildValueOf(kind: Kind | undefined, omit: Protected): fc.Arbitrary<Val> {
  const valid = (kind === undefined ? [] : VALID[kind]).filter((v) => !("lit" in v && omit.has(v.lit)));
  const hostile = hostileString.map(lit);
  const random = randomString.map(lit);
  if (valid.length === 0) return fc.oneof({ weight: 3, arbitrary: hostile }, { weight: 2, arbitrary: random });
  const pick = fc.constantFrom(...valid);
  const near = fc.tuple(pick, mutationArb).map(([v, mut]): Val => ({ ...v, mut }));
  return fc.oneof(
    { weight: 6, arbitrary: pick },
    { weight: 2, arbitrary: near },
    { weight: 2, arbitrary: hostile },
    { weight: 1, arbitrary: random },
  );
}

/** `a` most of the time, `b` now and then (keeps shrinking towards `a`). */
const mostly = <T>(a: fc.Arbitrary<T>, b: fc.Arbitrary<T>, weight = 6): fc.Arbitrary<T> =>
  fc.oneof({ weight, arbitrary: a }, { weight: 1, arbitrary: b });
const maybe = <T>(a: fc.Arbitrary<T>, weight = 3): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });

// ---------------------------------------------------------------------------
// HTTP requests to the gateway.

export interface Param {
  readonly name: string;
  readonly val: Val;
  /** Sent without form-encoding (broken escapes, separators). */
  readonly raw?: boolean;
}

/** A JSON value of a generated body: strings are Vals; keys may repeat. */
export type JsonSpec =
  | { readonly val: Val }
  | { readonly num: number }
  | { readonly bool: boolean }
  | { readonly nul: true }
  | { readonly arr: readonly JsonSpec[] }
  | { readonly obj: readonly (readonly [string, JsonSpec])[] };

export type Body =
  | { readonly kind: "none" }
  | { readonly kind: "form"; readonly params: readonly Param[] }
  | { readonly kind: "json"; readonly fields: readonly (readonly [string, JsonSpec])[] }
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "bytes"; readonly bytes: readonly number[] }
  /** `size` bytes of form filler: past the gateway's 16 KiB body limit. */
  | { readonly kind: "filler"; readonly size: number };

export type Auth =
  | { readonly kind: "basic"; readonly id: Val; readonly secret: Val; readonly encode: boolean }
  | { readonly kind: "bearer"; readonly scheme: string; readonly token: Val }
  | { readonly kind: "raw"; readonly value: Val };

/** The Cookie header: `iam_browser=<value>` when named, else the raw value. */
export interface Cookie {
  readonly named: boolean;
  readonly value: Val;
}

export type PathSpec =
  /** `/services/oauth2/{org}/{project}{suffix}`, the segments encoded unless `raw`. */
  | { readonly org: Val; readonly project: Val; readonly raw: boolean; readonly suffix: string }
  /** RFC 8414 §3.1: `/.well-known/oauth-authorization-server/services/oauth2/{org}/{project}`. */
  | { readonly inserted: true; readonly org: Val; readonly project: Val }
  | { readonly absolute: string };

export interface HttpSpec {
  readonly method: string;
  readonly path: PathSpec;
  readonly query: readonly Param[];
  readonly body: Body;
  readonly contentType?: string | undefined;
  readonly accept?: string | undefined;
  readonly auth?: Auth | undefined;
  readonly cookie?: Cookie | undefined;
  readonly headers: readonly (readonly [string, Val])[];
}

/** A valid request of an endpoint, the starting point of perturbation. */
export interface Scenario {
  readonly method: string;
  readonly query?: readonly Param[];
  readonly form?: readonly Param[];
  readonly json?: readonly (readonly [string, JsonSpec])[];
  readonly auth?: Auth;
  readonly cookie?: Cookie;
  readonly accept?: string;
}

const p = (name: string, val: Val): Param => ({ name, val });
const j = (name: string, val: Val): readonly [string, JsonSpec] => [name, { val }];
const basic = (id: string, secret: string): Auth => ({ kind: "basic", id: lit(id), secret: lit(secret), encode: true });
const bearer = (token: LiveRef): Auth => ({ kind: "bearer", scheme: "Bearer", token: live(token) });
const binding = (client: FlowClient): Cookie => ({ named: true, value: live(`binding.${client}`) });

/** Methods @koa/router implements (its default list). */
export const ROUTER_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/**
 * Methods Node's HTTP parser accepts that the router does not implement
 * (PROPFIND, LOCK, TRACE…). CONNECT is left out: Node hands it to the
 * server's `connect` event, which a web server without a proxy never answers.
 */
export const NODE_ONLY_METHODS: readonly string[] = http.METHODS.filter(
  (m) => !(ROUTER_METHODS as readonly string[]).includes(m) && m !== "CONNECT",
);
/** Methods fetch refuses to send (they go through a raw socket). */
export const FETCH_FORBIDDEN = new Set(["CONNECT", "TRACE", "TRACK"]);
/** Tokens Node's parser does not know: answered 400 before the gateway. */
const UNKNOWN_METHODS = ["FOO", "GETS", "X-CUSTOM", "BREW"];
const knownMethod = fc.constantFrom(...ROUTER_METHODS);

export const contentTypeArb = fc.constantFrom(
  FORM,
  JSON_TYPE,
  `${FORM}; charset=utf-8`,
  "APPLICATION/X-WWW-FORM-URLENCODED",
  `${JSON_TYPE}; charset=utf-8`,
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/xml",
  "",
  `${FORM}, ${JSON_TYPE}`,
  `${JSON_TYPE};;;`,
  "*/*",
  "application/jwt",
  "application/proto",
);
export const acceptArb = fc.constantFrom("application/json", "text/html", "*/*", "application/json;q=0, text/html", "", "image/png", "application/json, text/html", "text/*;q=0.1");

const cookieArb: fc.Arbitrary<Cookie> = fc.oneof(
  fc.constantFrom(...FLOW_CLIENTS).map(binding),
  fc.record({ named: fc.boolean(), value: fc.oneof(hostileString, randomString, fc.constantFrom("iam_browser=; iam_browser=x", "a=b; iam_browser")).map(lit) }),
);

export const authArb: fc.Arbitrary<Auth> = fc.oneof(
  fc.record({ kind: fc.constant("basic" as const), id: valueOf("client_id"), secret: valueOf("client_secret"), encode: fc.boolean() }),
  fc.record({ kind: fc.constant("bearer" as const), scheme: fc.constantFrom("Bearer", "bearer", "BEARER", "Bearer ", "Token", "Basic"), token: valueOf("token") }),
  fc.record({
    kind: fc.constant("raw" as const),
    value: fc
      .oneof(hostileString, randomString, fc.constantFrom("Basic", "Basic ", "Basic =", "Basic Og==", "Basic bm8tY29sb24=", "Basic JSUl", "Bearer", "Negotiate abc"))
      .map(lit),
  }),
);

const extraHeadersArb: fc.Arbitrary<(readonly [string, Val])[]> = mostly(
  fc.constant([]),
  fc.array(
    fc.tuple(
      fc.constantFrom("x-request-id", "x-forwarded-for", "origin", "referer", "content-encoding", "accept-charset", "x-http-method-override"),
      fc.oneof(fc.constantFrom("gzip", "https://evil.example", "1.2.3.4, 5.6.7.8", "DELETE", "ok-id_1:2").map(lit), hostileString.map(lit), randomString.map(lit)),
    ),
    { maxLength: 2 },
  ),
  3,
);

const RANDOM_NAME = fc.stringMatching(/^[a-z_]{1,12}$/);
const ODD_NAME = fc.constantFrom("__proto__", "constructor", "a[b]", "", "CLIENT_ID", "client_id ");
const nameArb = (names: readonly string[]) =>
  fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: RANDOM_NAME }, { weight: 1, arbitrary: ODD_NAME });

/**
 * A valid parameter set, perturbed: each parameter mostly kept, else
 * replaced by another value of its kind, mutated, sent raw or dropped; now
 * and then a parameter added, one repeated, the order reversed.
 */
export function perturbParams(base: readonly Param[], names: readonly string[]): fc.Arbitrary<Param[]> {
  const each = base.map((param) =>
    fc.oneof(
      { weight: 20, arbitrary: fc.constant<Param | undefined>(param) },
      { weight: 2, arbitrary: valueOf(param.name).map((val): Param => ({ name: param.name, val })) },
      { weight: 1, arbitrary: mutationArb.map((mut): Param => ({ name: param.name, val: { ...param.val, mut } })) },
      { weight: 1, arbitrary: fc.constantFrom(...RAW_FRAGMENTS).map((s): Param => ({ name: param.name, val: lit(s), raw: true })) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
  );
  const added = nameArb(names).chain((name) => valueOf(name).map((val): Param => ({ name, val })));
  return fc
    .tuple(fc.tuple(...each), mostly(fc.constant<Param[]>([]), fc.array(added, { minLength: 1, maxLength: 3 }), 4), mostly(fc.constant<number[]>([]), fc.array(fc.nat(), { minLength: 1, maxLength: 2 }), 5), mostly(fc.constant(false), fc.constant(true), 8))
    .map(([kept, extra, repeats, reversed]) => {
      const params = [...kept.filter((x): x is Param => x !== undefined), ...extra];
      for (const i of repeats) if (params.length > 0) params.push(params[i % params.length]!);
      return reversed ? params.reverse() : params;
    });
}

/** A JSON value for a field of this name: mostly a string of its kind, else another type. */
const JSON_ARBS = new Map<fc.Arbitrary<Val>, fc.Arbitrary<JsonSpec>>();
function jsonOf(name: string): fc.Arbitrary<JsonSpec> {
  const strings = valueOf(name);
  let arb = JSON_ARBS.get(strings);
  if (arb === undefined) JSON_ARBS.set(strings, (arb = buildJsonOf(name)));
  return arb;
}
function buildJsonOf(name: string): fc.Arbitrary<JsonSpec> {
  return fc.oneof(
    { weight: 6, arbitrary: valueOf(name).map((val): JsonSpec => ({ val })) },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1e308, 0.5)).map((num): JsonSpec => ({ num })) },
    { weight: 1, arbitrary: fc.boolean().map((bool): JsonSpec => ({ bool })) },
    { weight: 1, arbitrary: fc.constant<JsonSpec>({ nul: true }) },
    { weight: 1, arbitrary: fc.array(valueOf(name).map((val): JsonSpec => ({ val })), { maxLength: 3 }).map((arr): JsonSpec => ({ arr })) },
    { weight: 1, arbitrary: fc.constant<JsonSpec>({ obj: [["$ne", { nul: true }]] }) },
  );
}

function perturbJson(base: readonly (readonly [string, JsonSpec])[], names: readonly string[]): fc.Arbitrary<Body> {
  const each = base.map(([name, value]) =>
    fc.oneof(
      { weight: 20, arbitrary: fc.constant<readonly [string, JsonSpec] | undefined>([name, value]) },
      { weight: 3, arbitrary: jsonOf(name).map((v) => [name, v] as const) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
  );
  const added = nameArb(names).chain((name) => jsonOf(name).map((v) => [name, v] as const));
  return fc
    .tuple(fc.tuple(...each), mostly(fc.constant<(readonly [string, JsonSpec])[]>([]), fc.array(added, { minLength: 1, maxLength: 2 }), 4))
    .map(([kept, extra]): Body => ({ kind: "json", fields: [...kept.filter((x) => x !== undefined), ...extra] }));
}

const INVALID_UTF8: readonly (readonly number[])[] = [
  [0x72, 0x65, 0x71, 0x3d, 0xc3, 0x28, 0xff, 0xfe],
  [0xed, 0xa0, 0x80],
  [0xc0, 0xaf],
  [0xef, 0xbb, 0xbf, 0x7b, 0x7d],
];
const JSON_TEXTS = ["", "{", "[]", "null", "42", '"admin"', '{"request_id":', '{"__proto__":{"request_id":"x"}}', '{"a":1e999}', '\ufeff{}', '{"request_id":"a","request_id":"b"}', "[".repeat(5000)];

const otherBody: fc.Arbitrary<Body> = fc.oneof(
  fc.oneof(fc.uint8Array({ maxLength: 48 }).map((b) => [...b]), fc.constantFrom(...INVALID_UTF8)).map((bytes): Body => ({ kind: "bytes", bytes })),
  fc.oneof(fc.constantFrom(...JSON_TEXTS), fc.json({ maxDepth: 2 }), hostileString).map((text): Body => ({ kind: "text", text })),
  fc.constantFrom(16 * 1024 + 1, 70 * 1024).map((size): Body => ({ kind: "filler", size })),
);

function bodyArb(sc: Scenario, names: readonly string[]): fc.Arbitrary<Body> {
  if (sc.form !== undefined) {
    const asJson = sc.form.map((q) => j(q.name, q.val));
    return fc.oneof(
      { weight: 12, arbitrary: perturbParams(sc.form, names).map((params): Body => ({ kind: "form", params })) },
      { weight: 1, arbitrary: perturbJson(asJson, names) },
      { weight: 1, arbitrary: otherBody },
    );
  }
  if (sc.json !== undefined) {
    const asForm = sc.json.flatMap(([name, v]) => ("val" in v ? [p(name, v.val)] : []));
    return fc.oneof(
      { weight: 12, arbitrary: perturbJson(sc.json, names) },
      { weight: 1, arbitrary: perturbParams(asForm, names).map((params): Body => ({ kind: "form", params })) },
      { weight: 1, arbitrary: otherBody },
    );
  }
  return mostly(fc.constant<Body>({ kind: "none" }), fc.oneof(perturbParams([], names).map((params): Body => ({ kind: "form", params })), otherBody), 8);
}

const segmentOf = (valid: string, other: string, name: string) =>
  fc.oneof({ weight: 14, arbitrary: fc.constant(lit(valid)) }, { weight: 1, arbitrary: fc.constant(lit(other)) }, { weight: 2, arbitrary: valueOf(name) });

export const projectPath = (suffix: string | fc.Arbitrary<string>): fc.Arbitrary<PathSpec> =>
  fc.record({
    org: segmentOf(DEFAULT.organization, OTHER.organization, "organization"),
    project: segmentOf(DEFAULT.project, OTHER.project, "project"),
    raw: mostly(fc.constant(false), fc.constant(true), 12),
    suffix: typeof suffix === "string" ? fc.constant(suffix) : suffix,
  });

export interface Endpoint {
  /** The path after the project prefix. */
  readonly suffix: string;
  /** Parameter names the endpoint knows (and a few it does not). */
  readonly names: readonly string[];
  readonly scenarios: readonly [Scenario, ...Scenario[]];
}

/** A request to the endpoint: one of its scenarios, perturbed. */
export function httpRequest(endpoint: Endpoint): fc.Arbitrary<HttpSpec> {
  const path = projectPath(endpoint.suffix);
  const perScenario = endpoint.scenarios.map((sc) => {
    const type = sc.form !== undefined ? FORM : sc.json !== undefined ? JSON_TYPE : undefined;
    const query = sc.query !== undefined ? perturbParams(sc.query, endpoint.names) : mostly(fc.constant<Param[]>([]), perturbParams(sc.form ?? [], endpoint.names), 10);
    return fc.record({
      method: fc.oneof({ weight: 15, arbitrary: fc.constant(sc.method) }, { weight: 1, arbitrary: knownMethod }),
      path,
      query,
      body: bodyArb(sc, endpoint.names),
      contentType: mostly(fc.constant(type), contentTypeArb, 9),
      accept: mostly(fc.constant(sc.accept), acceptArb, 4),
      auth: fc.oneof({ weight: 8, arbitrary: fc.constant(sc.auth) }, { weight: 2, arbitrary: authArb }, { weight: 1, arbitrary: fc.constant(undefined) }),
      cookie: mostly(fc.constant(sc.cookie), cookieArb, 5),
      headers: extraHeadersArb,
    });
  });
  return fc.oneof(...perScenario);
}

const ADMIN_AUTHORIZE = [
  p("response_type", lit("code")),
  p("client_id", lit("admin-client")),
  p("redirect_uri", lit(DEFAULT_REDIRECT)),
  p("state", lit("st-123")),
  p("scope", lit("")),
  p("code_challenge", lit(RFC7636_CHALLENGE)),
  p("code_challenge_method", lit("S256")),
];
const AUTHORIZE_NAMES = ["response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "nonce", "client_secret", "request", "request_uri", "response_mode", "prompt", "request_id"];
const TOKEN_NAMES = ["grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "client_id", "client_secret", "username", "password", "client_assertion", "audience"];
const TOKEN_ENDPOINT_NAMES = ["token", "token_type_hint", "client_id", "client_secret", "access_token"];

/** Every HTTP endpoint of a project, with valid scenarios of the default tenant. */
export const ENDPOINTS = {
  /** Step 1 (RFC 6749 §4.1.1), by GET and by form POST (OpenID Connect Core §3.1.2.1). */
  authorize: {
    suffix: "/authorize",
    names: AUTHORIZE_NAMES,
    scenarios: [
      { method: "GET", query: ADMIN_AUTHORIZE },
      {
        method: "GET",
        accept: "application/json",
        query: [p("response_type", lit("code")), p("client_id", lit(WEB.id)), p("redirect_uri", lit(WEB.redirectUri)), p("state", lit("xyz")), p("scope", lit(`openid profile ${READ}`)), p("nonce", lit("n-0S6_WzA2Mj"))],
      },
      {
        method: "GET",
        cookie: binding("spa"),
        query: [p("response_type", lit("code")), p("client_id", lit(SPA.id)), p("redirect_uri", lit(SPA.redirectUri)), p("state", lit("s")), p("code_challenge", lit(RFC7636_VERIFIER)), p("code_challenge_method", lit("plain"))],
      },
      { method: "GET", query: [p("response_type", lit("code")), p("client_id", lit(STRICT.id)), p("redirect_uri", lit(STRICT.redirectUri)), p("state", lit("s"))] },
      { method: "POST", form: ADMIN_AUTHORIZE },
    ],
  },
  /** Step 2: the user's credentials, as a form (with the browser cookie) or JSON. */
  login: {
    suffix: "/authorize",
    names: ["request_id", "username", "password", "response_type", "action"],
    scenarios: [
      { method: "POST", cookie: binding("admin"), form: [p("request_id", live("requestId.admin")), p("username", lit("admin")), p("password", lit(ADMIN_PASSWORD))] },
      { method: "POST", accept: "application/json", json: [j("request_id", live("requestId.web")), j("username", lit(ALICE.id)), j("password", lit(ALICE.password))] },
      { method: "POST", cookie: binding("spa"), form: [p("request_id", live("requestId.spa")), p("username", lit(CAROL.id)), p("password", lit(CAROL.password))] },
    ],
  },
  /** Step 3: consent. */
  consent: {
    suffix: "/consent",
    names: ["request_id", "scope", "scopes", "action", "deny"],
    scenarios: [
      { method: "POST", cookie: binding("admin"), form: [p("request_id", live("signedIn.admin")), p("scope", lit(ADMIN_SCOPE))] },
      { method: "POST", json: [j("request_id", live("signedIn.web")), ["scopes", { arr: [{ val: lit("openid") }, { val: lit(READ) }] }]] },
      { method: "POST", json: [j("request_id", live("signedIn.spa")), ["deny", { bool: true }]] },
      { method: "POST", cookie: binding("web"), form: [p("request_id", live("signedIn.web")), p("action", lit("deny"))] },
    ],
  },
  /** The token endpoint (RFC 6749 §3.2): every grant, both client authentication methods, a public client. */
  token: {
    suffix: "/token",
    names: TOKEN_NAMES,
    scenarios: [
      {
        method: "POST",
        auth: basic("admin-client", ADMIN_CLIENT_SECRET),
        form: [p("grant_type", lit("authorization_code")), p("code", live("code.admin")), p("redirect_uri", lit(DEFAULT_REDIRECT)), p("code_verifier", lit(RFC7636_VERIFIER))],
      },
      {
        method: "POST",
        form: [p("grant_type", lit("authorization_code")), p("code", live("code.web")), p("redirect_uri", lit(WEB.redirectUri)), p("client_id", lit(WEB.id)), p("client_secret", lit(WEB.secret))],
      },
      {
        method: "POST",
        form: [p("grant_type", lit("authorization_code")), p("code", live("code.spa")), p("redirect_uri", lit(SPA.redirectUri)), p("client_id", lit(SPA.id)), p("code_verifier", lit(RFC7636_VERIFIER))],
      },
      { method: "POST", auth: basic(WEB.id, WEB.secret), form: [p("grant_type", lit("refresh_token")), p("refresh_token", live("refresh.web")), p("scope", lit(READ))] },
      { method: "POST", auth: basic("admin-client", ADMIN_CLIENT_SECRET), form: [p("grant_type", lit("client_credentials")), p("scope", lit(ADMIN_SCOPE))] },
      { method: "POST", form: [p("grant_type", lit("client_credentials")), p("client_id", lit(M2M.id)), p("client_secret", lit(M2M.secret))] },
      { method: "POST", auth: basic(WEB.id, WEB.secret), form: [p("grant_type", lit("password")), p("username", lit(ALICE.id)), p("password", lit(ALICE.password))] },
    ],
  },
  /** RFC 7662. */
  introspect: {
    suffix: "/introspect",
    names: TOKEN_ENDPOINT_NAMES,
    scenarios: [
      { method: "POST", auth: basic(WEB.id, WEB.secret), form: [p("token", live("access.web"))] },
      { method: "POST", form: [p("token", live("refresh.web")), p("token_type_hint", lit("refresh_token")), p("client_id", lit(WEB.id)), p("client_secret", lit(WEB.secret))] },
      { method: "POST", auth: basic("admin-client", ADMIN_CLIENT_SECRET), form: [p("token", live("cc.admin"))] },
      { method: "POST", form: [p("token", live("access.spa")), p("client_id", lit(SPA.id))] },
    ],
  },
  /** RFC 7009. */
  revoke: {
    suffix: "/revoke",
    names: TOKEN_ENDPOINT_NAMES,
    scenarios: [
      { method: "POST", auth: basic(WEB.id, WEB.secret), form: [p("token", live("refresh.web")), p("token_type_hint", lit("refresh_token"))] },
      { method: "POST", form: [p("token", live("refresh.spa")), p("client_id", lit(SPA.id))] },
      { method: "POST", auth: basic("admin-client", ADMIN_CLIENT_SECRET), form: [p("token", live("access.admin")), p("token_type_hint", lit("access_token"))] },
      { method: "POST", auth: basic(WEB.id, WEB.secret), form: [p("token", live("cc.admin"))] },
    ],
  },
  /** OpenID Connect Core §5.3, RFC 6750 §2.1-2.2. */
  userinfo: {
    suffix: "/userinfo",
    names: ["access_token", "token", "scope"],
    scenarios: [
      { method: "GET", auth: bearer("access.web") },
      { method: "POST", form: [p("access_token", live("access.spa"))] },
      { method: "GET", auth: bearer("cc.admin") },
      { method: "POST", auth: bearer("access.web"), form: [] },
    ],
  },
} as const satisfies Record<string, Endpoint>;

/** Discovery, JWKS, the /redirect page and the probes: read-only GET endpoints, any query. */
export const readOnlyRequest: fc.Arbitrary<HttpSpec> = fc
  .record({
    path: fc.oneof(
      ...["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json", "/redirect"].map((suffix) => projectPath(suffix)),
      fc.record({
        inserted: fc.constant(true as const),
        org: segmentOf(DEFAULT.organization, OTHER.organization, "organization"),
        project: segmentOf(DEFAULT.project, OTHER.project, "project"),
      }),
      fc.constantFrom("/healthz", "/readyz", "/metrics").map((absolute): PathSpec => ({ absolute })),
    ),
    method: fc.oneof({ weight: 12, arbitrary: fc.constant("GET") }, { weight: 2, arbitrary: fc.constant("HEAD") }, { weight: 1, arbitrary: knownMethod }),
    query: mostly(
      fc.constant<Param[]>([]),
      perturbParams([p("code", live("code.admin")), p("state", lit("st-123"))], ["code", "state", "error", "error_description", "iss", "callback"]),
      2,
    ),
    accept: maybe(acceptArb),
    auth: maybe(authArb, 5),
    cookie: maybe(cookieArb, 5),
    headers: extraHeadersArb,
  })
  .map((r): HttpSpec => ({ ...r, body: { kind: "none" } }));

const UNKNOWN_ABSOLUTE = [
  "/",
  "/services",
  "/services/oauth2",
  "/services/oauth2/iam-admins",
  "/favicon.ico",
  "/.well-known/",
  "/.well-known/openid-configuration",
  "/admin",
  "//",
  "/healthz/",
  "/metrics/x",
  "/services/oauth2/iam-admins/iam-admins",
  "/services/oauth2/iam-admins/iam-admins/",
  "/services/oauth2/iam-admins/iam-admins/token/",
  "/services/oauth2/iam-admins/iam-admins/TOKEN",
  "/services/oauth2/iam-admins/iam-admins/%2e%2e/%2e%2e/healthz",
  "/services/oauth2/iam-admins/iam-admins;x=1/token",
  "/services/oauth2/iam-admins/iam-admins/%E0%A4%A",
  "/services/oauth2/%/%/token",
  "/iam.v1.TokenService/Token",
];

const unknownPath: fc.Arbitrary<PathSpec> = fc.oneof(
  fc.constantFrom(...UNKNOWN_ABSOLUTE).map((absolute): PathSpec => ({ absolute })),
  fc.stringMatching(/^\/[a-zA-Z0-9._%~-]{0,16}(\/[a-zA-Z0-9._%~-]{0,8}){0,3}$/).map((absolute): PathSpec => ({ absolute })),
  projectPath(fc.oneof(fc.stringMatching(/^\/[a-z.%_-]{0,12}$/), fc.constantFrom("/token", "/authorize", "/consent", "/userinfo", "/revoke", "/introspect", "/redirect"))),
);

/** Any path, known or not, with a method the router implements or one Node's parser does not know. */
export const unknownRequest: fc.Arbitrary<HttpSpec> = fc
  .record({
    path: unknownPath,
    method: fc.oneof({ weight: 6, arbitrary: knownMethod }, { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN_METHODS) }),
    query: mostly(fc.constant<Param[]>([]), perturbParams([], AUTHORIZE_NAMES), 3),
    body: mostly(fc.constant<Body>({ kind: "none" }), otherBody, 3),
    contentType: maybe(contentTypeArb),
    accept: maybe(acceptArb),
    headers: extraHeadersArb,
  })
  .map((r): HttpSpec => r);

/** Any path with a method Node accepts but the router does not implement (it answered 501 text/plain before the gateway mapped it to its JSON 405). */
export const nodeOnlyMethodRequest: fc.Arbitrary<HttpSpec> = fc
  .record({ path: fc.oneof(unknownPath, projectPath("/token"), fc.constant<PathSpec>({ absolute: "/healthz" })), method: fc.constantFrom(...NODE_ONLY_METHODS.filter((m) => !FETCH_FORBIDDEN.has(m))) })
  .map((r): HttpSpec => ({ ...r, query: [], body: { kind: "none" }, headers: [] }));

/** A request written byte for byte on a socket: what fetch cannot send. */
export interface RawHttpSpec {
  readonly method: string;
  /** The request target, as latin1 bytes. */
  readonly target: string;
  readonly version: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: string;
}

const RAW_TARGETS = [
  "/healthz",
  "*",
  "http://evil.example/healthz",
  "/services/oauth2/\xff\xfe/x/token",
  "/services/oauth2/iam-admins/iam-admins/authorize?state=\x80\x81",
  "/services/oauth2/iam-admins/iam-admins/../../healthz",
  "/services/oauth2/iam-admins/iam-admins/redirect?code=a%0d%0aX-Injected:%201",
  "/services/oauth2/iam-admins/iam-admins/.well-known/jwks.json#frag",
  "/%2e%2e/%2e%2e/etc/passwd",
  "\\services\\oauth2\\iam-admins\\iam-admins\\token",
  "/" + "a".repeat(20_000),
];
const RAW_HEADERS: readonly (readonly [string, string])[] = [
  ["X-Folded", "a\r\n b"],
  ["Content-Length", "-1"],
  ["Content-Length", "1, 2"],
  ["Host", "evil.example"],
  ["X-Latin1", "\xe9\xff"],
  ["X-Injected", "1\rX-Other: 2"],
  ["Content-Type", "application/x-www-form-urlencoded"],
  ["Authorization", "Basic \xff\xfe"],
  ["Cookie", "iam_browser=\x80"],
  ["Transfer-Encoding", "gzip"],
  ["Expect", "100-continue"],
  ["Big", "b".repeat(17_000)],
];

export const rawHttpRequest: fc.Arbitrary<RawHttpSpec> = fc.record({
  method: fc.oneof({ weight: 4, arbitrary: knownMethod }, { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN_METHODS, "G ET", "") }),
  target: fc.oneof(fc.constantFrom(...RAW_TARGETS), fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => `/${Buffer.from(b).toString("latin1").replace(/[\r\n ]/g, "_")}`)),
  version: mostly(fc.constant("HTTP/1.1"), fc.constantFrom("HTTP/1.0", "HTTP/1.2", "HTTP/0.9", "HTTPS/1.1", ""), 6),
  headers: fc.subarray([...RAW_HEADERS], { maxLength: 3 }),
  body: mostly(fc.constant(""), fc.constantFrom("grant_type=client_credentials", "\xff\xfe", "a=%E0%A4%A"), 3),
});

/** The same for the methods fetch cannot send (TRACE, TRACK). */
export const rawNodeOnlyMethodRequest: fc.Arbitrary<RawHttpSpec> = fc.record({
  method: fc.constantFrom(...NODE_ONLY_METHODS.filter((m) => FETCH_FORBIDDEN.has(m))),
  target: fc.constantFrom("/healthz", "/nope", "/services/oauth2/iam-admins/iam-admins/token"),
  version: fc.constant("HTTP/1.1"),
  headers: fc.constant([]),
  body: fc.constant(""),
});

// ---------------------------------------------------------------------------
// RPCs of the core.

/** A generated message: Vals for strings, numbers, bigints, booleans, lists, messages and oneof cases. */
export type Tree = Val | number | bigint | boolean | readonly Tree[] | OneofCase | { readonly [key: string]: Tree };
/** The chosen case of a oneof, as protobuf-es takes it. */
export interface OneofCase {
  readonly case: string;
  readonly value: Tree;
}

export const TRANSPORTS = ["connect-json-h1", "connect-binary-h2", "grpc-h2", "grpc-web-h1"] as const;
export type TransportKind = (typeof TRANSPORTS)[number];

export interface RpcSpec {
  readonly method: string;
  readonly message: Readonly<Record<string, Tree>>;
  readonly transport: TransportKind;
  readonly auth?: Auth | undefined;
}

const INT32 = fc.oneof(fc.constantFrom(0, 1, -1, 20, 1000, 2147483647, -2147483648), fc.integer());
const INT64 = fc.oneof(fc.constantFrom(0n, 1n, -1n, 60n, 3600n, 9223372036854775807n, -9223372036854775808n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
const FIELD_MASK = "google.protobuf.FieldMask";
const SNAKE = fc.stringMatching(/^[a-z]{1,10}(_[a-z]{1,8}){0,2}$/);

function scalarArb(field: DescField, scalar: ScalarType, omit: Protected): fc.Arbitrary<Tree> {
  switch (scalar) {
    case ScalarType.STRING:
      return valueOf(field.localName, omit);
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return INT64;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.nat();
    case ScalarType.BYTES:
      return fc.constant(0);
    default:
      return INT32;
  }
}

/**
 * A generated value for a field. FieldMask paths are snake_case names (the
 * message's own fields, or made up): the JSON codec refuses others before
 * anything is sent.
 */
function fieldArb(field: DescField, parent: DescMessage, omit: Protected, depth: number): fc.Arbitrary<Tree> {
  switch (field.fieldKind) {
    case "scalar":
      return scalarArb(field, field.scalar, omit);
    case "enum":
      return fc.oneof(fc.constantFrom(...field.enum.values.map((v) => v.number)), fc.constantFrom(99, -1));
    case "list":
      if (field.listKind === "scalar") return fc.array(scalarArb(field, field.scalar, omit), { maxLength: 4 });
      if (field.listKind === "enum") return fc.array(fc.constantFrom(...field.enum.values.map((v) => v.number)), { maxLength: 3 });
      return depth > 2 ? fc.constant([]) : fc.array(messageArb(field.message, undefined, omit, depth + 1), { maxLength: 2 });
    case "message":
      if (field.message.typeName === FIELD_MASK) {
        const names = parent.fields.map((f) => f.name);
        return fc.record({ paths: fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: SNAKE }).map(lit), { maxLength: 4 }) });
      }
      return depth > 2 ? fc.constant({}) : messageArb(field.message, undefined, omit, depth + 1);
    case "map":
      return fc.constant({});
  }
}

/** A base value perturbed: kept, regenerated, mutated or dropped. */
function around(base: Tree, fresh: fc.Arbitrary<Tree>, nested: fc.Arbitrary<Tree> | undefined): fc.Arbitrary<Tree | undefined> {
  const near = isVal(base) ? mutationArb.map((mut): Tree => ({ ...base, mut })) : (nested ?? fresh);
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant<Tree | undefined>(base) },
    { weight: 2, arbitrary: fresh },
    { weight: 1, arbitrary: near },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

/**
 * A message of any type, generated from its descriptor: each field absent or
 * a value of its kind (by name: a clientId field gets client ids), one case of
 * each oneof or none. With a base, each field mostly keeps the base's value.
 */
export function messageArb(desc: DescMessage, base: Readonly<Record<string, Tree>> | undefined, omit: Protected = NOTHING, depth = 0): fc.Arbitrary<Record<string, Tree>> {
  const plain = desc.fields.filter((f) => f.oneof === undefined);
  const entries = plain.map((field) => {
    const fresh = fieldArb(field, desc, omit, depth);
    const given = base?.[field.localName];
    const value =
      given === undefined
        ? maybe(fresh, 2)
        : around(given, fresh, field.fieldKind === "message" && field.message.typeName !== FIELD_MASK && !isVal(given) && typeof given === "object" && !Array.isArray(given) ? messageArb(field.message, given as Record<string, Tree>, omit, depth + 1) : undefined);
    return value.map((v) => [field.localName, v] as const);
  });
  const oneofs = desc.oneofs.map((oneof) => {
    const cases = oneof.fields.map((field) => fieldArb(field, desc, omit, depth).map((value): Tree => ({ case: field.localName, value })));
    return maybe(fc.oneof(...cases), 1).map((v) => [oneof.localName, v] as const);
  });
  // Without a base, a message naming a project mostly names a real one (else nearly every call would be NOT_FOUND).
  const names = new Set(plain.map((f) => f.localName));
  const tenant = base === undefined && names.has("organization") && names.has("project") ? mostly(fc.constantFrom(DEFAULT, OTHER), fc.constant(undefined), 3) : fc.constant(undefined);
  return fc.tuple(fc.tuple(...entries), fc.tuple(...oneofs), tenant).map(([a, b, pair]) => {
    const out: Record<string, Tree> = {};
    for (const [key, value] of [...a, ...b]) if (value !== undefined) out[key] = value;
    if (pair !== undefined) Object.assign(out, { organization: lit(pair.organization), project: lit(pair.project) });
    return out;
  });
}

export const transportArb = fc.constantFrom(...TRANSPORTS);

/** A call of any method of the service: a scenario of it perturbed, or a message generated from scratch. */
export function rpcRequest(
  service: DescService,
  scenarios: Readonly<Record<string, readonly Readonly<Record<string, Tree>>[]>>,
  options: { omit?: Protected; auth?: fc.Arbitrary<Auth | undefined> } = {},
): fc.Arbitrary<RpcSpec> {
  const perMethod = service.methods.map((method: DescMethod) => {
    const bases = scenarios[method.localName] ?? [];
    const message =
      bases.length === 0
        ? messageArb(method.input, undefined, options.omit)
        : fc.oneof(...bases.map((b) => ({ weight: 5, arbitrary: messageArb(method.input, b, options.omit) })), { weight: 1, arbitrary: messageArb(method.input, undefined, options.omit) });
    return message.map((m) => ({ method: method.localName, message: m }));
  });
  return fc
    .record({ call: fc.oneof(...perMethod), transport: transportArb, auth: options.auth ?? fc.constant(undefined) })
    .map(({ call, transport, auth }): RpcSpec => ({ ...call, transport, auth }));
}

const ref = { organization: lit(DEFAULT.organization), project: lit(DEFAULT.project) };

/** Valid calls of AuthorizationService (the admin flow, as the gateway makes them). */
export const AUTHORIZATION_SCENARIOS: Record<string, Readonly<Record<string, Tree>>[]> = {
  authorize: [
    {
      ...ref,
      responseType: lit("code"),
      clientId: lit("admin-client"),
      redirectUri: lit(DEFAULT_REDIRECT),
      state: lit("st-123"),
      codeChallenge: lit(RFC7636_CHALLENGE),
      codeChallengeMethod: lit("S256"),
      browserBinding: live("binding.admin"),
    },
  ],
  login: [
    { ...ref, requestId: live("requestId.admin"), username: lit("admin"), password: lit(ADMIN_PASSWORD), browserBinding: live("binding.admin"), clientAddress: lit("127.0.0.1") },
    { ...ref, requestId: live("requestId.web"), username: lit(ALICE.id), password: lit(ALICE.password) },
  ],
  consent: [
    { ...ref, requestId: live("signedIn.admin"), scopes: [lit(ADMIN_SCOPE)], browserBinding: live("binding.admin") },
    { ...ref, requestId: live("signedIn.web"), scopes: [lit("openid"), lit(READ)] },
    { ...ref, requestId: live("signedIn.spa"), deny: true },
  ],
};

const webClient = { basic: { clientId: lit(WEB.id), clientSecret: lit(WEB.secret) } };

/** Valid calls of TokenService. */
export const TOKEN_SCENARIOS: Record<string, Readonly<Record<string, Tree>>[]> = {
  token: [
    { ...ref, grantType: lit("authorization_code"), code: live("code.admin"), redirectUri: lit(DEFAULT_REDIRECT), codeVerifier: lit(RFC7636_VERIFIER), basic: { clientId: lit("admin-client"), clientSecret: lit(ADMIN_CLIENT_SECRET) } },
    { ...ref, grantType: lit("refresh_token"), refreshToken: live("refresh.web"), ...webClient },
    { ...ref, grantType: lit("client_credentials"), clientId: lit(M2M.id), clientSecret: lit(M2M.secret) },
    { ...ref, grantType: lit("authorization_code"), code: live("code.spa"), redirectUri: lit(SPA.redirectUri), codeVerifier: lit(RFC7636_VERIFIER), clientId: lit(SPA.id) },
  ],
  verifyToken: [{ token: live("access.web"), ...ref, requiredScopes: [lit(READ)] }, { token: live("cc.admin"), audience: lit(issuerOf(DEFAULT)) }],
  getJwks: [ref],
  getServerMetadata: [ref],
  introspect: [{ ...ref, token: live("access.web"), client: webClient }, { ...ref, token: live("refresh.web"), tokenTypeHint: lit("refresh_token"), client: webClient }],
  revoke: [{ ...ref, token: live("refresh.web"), client: webClient }, { ...ref, token: live("refresh.spa"), client: { clientId: lit(SPA.id) } }],
  userInfo: [{ ...ref, token: live("access.web") }],
};

/** Raw bodies to the core's Connect endpoints. */
export interface RawRpcSpec {
  readonly path: string;
  readonly method: string;
  readonly contentType?: string | undefined;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: RawRpcBody;
}

export type RawRpcBody =
  | { readonly kind: "bytes"; readonly bytes: readonly number[] }
  | { readonly kind: "text"; readonly text: string }
  /** A generated message of `rpc`'s input type, in JSON or binary, optionally in a gRPC/Connect envelope. */
  | { readonly kind: "message"; readonly rpc: RpcSpec; readonly encoding: "json" | "binary"; readonly envelope: number | undefined };

export const RPC_CONTENT_TYPES = [
  "application/json",
  "application/proto",
  "application/connect+json",
  "application/connect+proto",
  "application/grpc",
  "application/grpc+json",
  "application/grpc-web+proto",
  "application/grpc-web-text",
  "text/plain",
  FORM,
  "multipart/form-data; boundary=x",
  "",
  "application/json; charset=latin1",
  "application/json; charset=utf-16",
  "APPLICATION/PROTO",
];

/** A raw request to a Connect endpoint of the core, with one of `paths` or an unknown one. */
export function rawRpcRequest(paths: readonly string[], messages: fc.Arbitrary<RpcSpec>): fc.Arbitrary<RawRpcSpec> {
  return fc.record({
    path: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...paths) },
      { weight: 1, arbitrary: fc.constantFrom("/iam.v1.TokenService/Nope", "/iam.v1.Nope/Token", "/", "/iam.v1.TokenService/Token/extra", "/iam.v1.TokenService/", "/grpc.health.v1.Health/Check", "/%E0%A4%A") },
    ),
    method: mostly(fc.constant("POST"), fc.constantFrom("GET", "PUT", "OPTIONS", "DELETE"), 10),
    contentType: fc.constantFrom(...RPC_CONTENT_TYPES),
    headers: fc.subarray(
      [
        ["connect-protocol-version", "1"],
        ["connect-protocol-version", "2"],
        ["connect-timeout-ms", "-1"],
        ["connect-timeout-ms", "99999999999"],
        ["connect-timeout-ms", "abc"],
        ["content-encoding", "gzip"],
        ["content-encoding", "br"],
        ["content-encoding", "bogus"],
        ["connect-content-encoding", "gzip"],
        ["grpc-encoding", "gzip"],
        ["grpc-timeout", "1S"],
        ["grpc-timeout", "xyz"],
        ["x-request-id", "\xff"],
      ] as const,
      { maxLength: 3 },
    ),
    body: fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((b): RawRpcBody => ({ kind: "bytes", bytes: [...b] })),
      fc.oneof(fc.constantFrom(...JSON_TEXTS, '{"token":5}', '{"organization":["x"]}', '{"basic":"x"}', '{"expiresIn":"NaN"}'), fc.json({ maxDepth: 2 })).map((text): RawRpcBody => ({ kind: "text", text })),
      fc
        .record({ rpc: messages, encoding: fc.constantFrom("json" as const, "binary" as const), envelope: maybe(fc.constantFrom(0, 1, 2, 0x80), 2) })
        .map((m): RawRpcBody => ({ kind: "message", ...m })),
    ),
  });
}

// ---------------------------------------------------------------------------
// AdminService.

/**
 * Objects the global-admin tests keep out of every pool: the role and the
 * permission the test's own token rests on (deleting them would turn the rest
 * of the run into PERMISSION_DENIED and test nothing).
 */
export const ADMIN_PROTECTED: Protected = new Set(["global-admin", ADMIN_SCOPE]);

const acme = { organization: lit(OTHER.organization), project: lit(OTHER.project) };

/** Valid calls that create, so that later calls meet existing objects (and ALREADY_EXISTS). */
export const ADMIN_SCENARIOS: Record<string, Readonly<Record<string, Tree>>[]> = {
  createOrganization: [{ id: lit("globex"), name: lit("Globex") }],
  createProject: [{ organization: lit(OTHER.organization), id: lit("a2") }],
  createClient: [{ ...acme, clientId: lit("portal"), type: 1, redirectUris: [lit("https://portal.example/cb")], grantTypes: [lit("authorization_code"), lit("refresh_token")] }],
  createUser: [{ ...acme, userId: lit(BOB.id), password: lit("a long enough password") }],
  createPermission: [{ ...acme, permissionId: lit(WRITE), description: lit("Change files") }],
  createRole: [{ ...acme, roleId: lit("reader"), permissions: [lit(READ)] }],
  assignRole: [{ ...acme, roleId: lit(`role-${ALICE.id}`), subject: { case: "userId", value: lit(ALICE.id) } }],
  updateClient: [{ ...ref, clientId: lit(WEB.id), name: lit("Web"), updateMask: { paths: [lit("name")] } }],
};

export type AdminRefusal = "unauthenticated" | "permission_denied";

/** Credentials that are not a valid administrator's, with the refusal each must get. */
export interface NoAdminAuth {
  readonly auth: Auth | undefined;
  readonly expect: AdminRefusal;
}

const withExpect = (expect: AdminRefusal) => (auth: Auth | undefined): NoAdminAuth => ({ auth, expect });

export const noAdminAuthArb: fc.Arbitrary<NoAdminAuth> = fc.oneof(
  fc.constant(withExpect("unauthenticated")(undefined)),
  authArb.filter((a) => a.kind !== "bearer").map(withExpect("unauthenticated")),
  // Valid tokens without administration: a client's own, users' of this project and another.
  fc.constantFrom<LiveRef>("cc.m2m", "access.web", "access.spa", "other.access").map(bearer).map(withExpect("permission_denied")),
  // Not access tokens, or dead ones.
  fc.constantFrom<LiveRef>("stale.access", "stale.expiredAccess", "refresh.web", "idToken.web", "code.admin").map(bearer).map(withExpect("unauthenticated")),
  // Administrators' tokens, broken.
  fc
    .tuple(fc.constantFrom<LiveRef>("cc.admin", "access.admin"), breakingMutationArb)
    .map(([token, mut]): Auth => ({ kind: "bearer", scheme: "Bearer", token: { live: token, mut } }))
    .map(withExpect("unauthenticated")),
  // Administrators' tokens under another scheme.
  fc
    .tuple(fc.constantFrom("Basic", "Token", "Bearer ", "Bearer\t", "Bearer:"), fc.constantFrom<LiveRef>("cc.admin", "access.admin"))
    .map(([scheme, token]): Auth => ({ kind: "bearer", scheme, token: live(token) }))
    .map(withExpect("unauthenticated")),
);

/** The global administrator's token (now and then with the scheme in lower case, RFC 6750 §2.1 is case-insensitive there). */
export const rootAuthArb: fc.Arbitrary<Auth> = mostly(fc.constant<Auth>(bearer("root")), fc.constant<Auth>({ kind: "bearer", scheme: "bearer", token: live("root") }), 8);

/**
 * Bodies the core's protocol layer cannot decode (connect-node answered them
 * INTERNAL): a binary message that does not parse, as Connect unary or in a
 * gRPC-Web frame; a frame flagged compressed when no encoding was named; a
 * body said to be brotli that is not.
 */
export function undecodableRequest(paths: readonly string[]): fc.Arbitrary<RawRpcSpec> {
  // A field number 0 (tag byte 0x00..0x07) never decodes; whatever follows.
  const garbage = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 16 })).map(([tag, rest]) => [tag, ...rest]);
  const frame = (flags: number, payload: readonly number[]) => [flags, 0, 0, 0, payload.length, ...payload];
  return fc
    .record({
      path: fc.constantFrom(...paths),
      form: fc.constantFrom("unary", "framed", "compressed-flag", "brotli"),
      payload: garbage,
    })
    .map(({ path, form, payload }): RawRpcSpec => {
      const base = { path, method: "POST" };
      switch (form) {
        case "unary":
          return { ...base, contentType: "application/proto", headers: [], body: { kind: "bytes", bytes: payload } };
        case "framed":
          return { ...base, contentType: "application/grpc-web+proto", headers: [], body: { kind: "bytes", bytes: frame(0, payload) } };
        case "compressed-flag":
          return { ...base, contentType: "application/grpc-web+proto", headers: [], body: { kind: "bytes", bytes: frame(1, []) } };
        case "brotli":
          // One byte is never a whole brotli stream.
          return { ...base, contentType: "application/json", headers: [["content-encoding", "br"]], body: { kind: "bytes", bytes: payload.slice(0, 1) } };
      }
    });
}
