/**
 * Property-based fuzzing of every endpoint (fast-check): generated requests
 * to each HTTP endpoint of the gateway and each RPC of the core, built by
 * ./_arbitraries.ts from the default tenant's real values, near-valid
 * mutations of them, hostile strings and random parameter sets.
 *
 * Checked for every request:
 *   - never a 5xx (HTTP), never INTERNAL, UNKNOWN or DATA_LOSS (RPC);
 *   - the server still answers afterwards (GET /healthz after an HTTP
 *     request; the core's grpc.health.v1 Check over the network after an RPC);
 *   - every error has its documented shape: JSON errors are an object with
 *     string `error` (an RFC code, or `not_found`) and `error_description`,
 *     sent with `Cache-Control: no-store`; HTML (every page, error or not)
 *     carries the page security headers and no injected markup; redirects go
 *     to a registered redirect URI with an RFC `error`, `iss` and no code next
 *     to it; RPC errors of the OAuth services carry an RFC `oauth-error` and
 *     its Connect code, AdminService errors only the codes it documents;
 *   - a refused request leaves the database as it was: the row count and the
 *     contents hash of every table, before and after each request, equal
 *     except for the writes a documented defence makes (see ALLOWED below);
 *     read-only endpoints never write, refused or not.
 *
 * Each property gets a fresh core and gateway (real SQLite file, real
 * loopback ports; a new one every RECYCLE_EVERY runs in long runs) and sends
 * its requests one at a time.
 *
 * Volume: FUZZ_RUNS runs per property, one fuzzed request each (default 200:
 * 15 properties, 3,000 requests, about 40 s on two busy cores). More:
 * `FUZZ_RUNS=50000 npx ava test/fuzz/` (or `npm run fuzz`).
 * A failure prints fast-check's seed and path; replay it exactly with
 * `FUZZ_SEED=<seed> FUZZ_PATH=<path> npx ava test/fuzz/endpoints.test.ts --match '<title>'`.
 */
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { create, toBinary, toJsonString, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import test, { type ExecutionContext } from "ava";
import Database from "better-sqlite3";
import fc from "fast-check";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuthorizationService } from "../../gen/iam/v1/authorization_pb.js";
import { TokenService } from "../../gen/iam/v1/token_pb.js";
import type { ProjectRef } from "../../core/store/types.js";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT, DEFAULT_REDIRECT, queryOf, RFC7636_CHALLENGE, RFC7636_VERIFIER, seedClient, startTestServer, type TestServer } from "../helpers.js";
import { ALICE, CONNECT_CODE_OF, M2M, NOREFRESH, OTHER, READ, seedFixtures, seedOtherProject, SPA, STRICT, WEB, WRITE } from "../core/flow.js";
import {
  ADMIN_PROTECTED,
  ADMIN_SCENARIOS,
  ADMIN_SCOPE,
  AUTHORIZATION_SCENARIOS,
  ENDPOINTS,
  FLOW_CLIENTS,
  FLOW_STAGE,
  FORM,
  httpRequest,
  isVal,
  mutate,
  noAdminAuthArb,
  nodeOnlyMethodRequest,
  rawHttpRequest,
  rawNodeOnlyMethodRequest,
  rawRpcRequest,
  readOnlyRequest,
  rootAuthArb,
  rpcRequest,
  TOKEN_SCENARIOS,
  unknownRequest,
  undecodableRequest,
  type AdminRefusal,
  type Auth,
  type Body,
  type FlowClient,
  type FlowPart,
  type HttpSpec,
  type JsonSpec,
  type LiveRef,
  type PathSpec,
  type RawHttpSpec,
  type RawRpcSpec,
  type RpcSpec,
  type TransportKind,
  type Val,
} from "./_arbitraries.js";

// ---------------------------------------------------------------------------
// Volume and reproduction.

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${raw}`);
  return n;
}
const RUNS = envInt("FUZZ_RUNS") ?? 200;
const SEED = envInt("FUZZ_SEED");
const PATH = process.env.FUZZ_PATH || undefined;
/** Runs per server in long runs (the database grows with every flow, and each snapshot reads it all). */
const RECYCLE_EVERY = 1000;
/** A request that gets no answer within this is a failure, not a hung test. */
const ANSWER_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------
// The database, before and after.

type Snapshot = ReadonlyMap<string, { readonly rows: number; readonly hash: string; readonly list?: readonly string[] }>;

/**
 * The audit trail records refusals by design (docs/audit.md): a refused
 * request may append events, each a refusal, and never change or remove one.
 * Its rows are kept whole in a snapshot to tell.
 */
const AUDIT_TABLE = "audit_events";
/** The outcome column of audit_events, in the order SELECT * answers (SQLite migration 6). */
const AUDIT_OUTCOME = 5;

/**
 * Row count and contents hash of every table, through a read-only
 * connection. `PRAGMA data_version` changes only when another connection
 * commits, so an unchanged version answers the last snapshot without reading.
 */
class DbWatch {
  readonly #db: Database.Database;
  #version = -1;
  #last: Snapshot | undefined;

  constructor(path: string) {
    this.#db = new Database(path, { readonly: true, fileMustExist: true });
  }

  snapshot(): Snapshot {
    const version = this.#db.pragma("data_version", { simple: true }) as number;
    if (this.#last !== undefined && version === this.#version) return this.#last;
    const tables = this.#db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    const snapshot = new Map<string, { rows: number; hash: string; list?: readonly string[] }>();
    for (const table of tables) {
      const rows = (this.#db.prepare(`SELECT * FROM "${table}"`).raw().all() as unknown[]).map((row) => JSON.stringify(row)).sort();
      const hash = createHash("sha256").update(rows.join("\n")).digest("hex");
      snapshot.set(table, table === AUDIT_TABLE ? { rows: rows.length, hash, list: rows } : { rows: rows.length, hash });
    }
    this.#version = version;
    this.#last = snapshot;
    return snapshot;
  }

  close(): void {
    this.#db.close();
  }
}

/** Per table: may a refused request change its rows (`rows`), or only values in place (`content`)? */
type Allowance = Readonly<Record<string, "rows" | "content">>;

const ALLOWED = {
  /** Nothing at all. */
  nothing: {},
  /**
   * README "Brute force": a failed sign-in is counted per username and
   * address (login_failures) and against the pending request, which is spent
   * at the fifth; a sign-in refused after authentication (the user holds none
   * of the requested scopes) spends the request and clears the username's count.
   */
  signIn: { login_failures: "rows", authorization_requests: "rows" },
  /** README "The login flow" step 3: denying (or approving nothing) spends the pending request. */
  denial: { authorization_requests: "rows" },
  /**
   * README "Security choices": a code presented again by its client, or a
   * rotated refresh token reused, revokes the grant and its refresh tokens
   * (marked revoked in place; no row added or removed); on SQLite a
   * revocation moves the change epoch with it (migration 5), so that every
   * worker's copy of the grant in memory is dropped.
   */
  theft: { grants: "content", refresh_tokens: "content", change_epoch: "content" },
} as const satisfies Record<string, Allowance>;

/** What a refused request may do to the audit trail: append refusals, nothing else. */
function auditViolations(before: readonly string[], after: readonly string[]): string[] {
  const now = new Set(after);
  const earlier = new Set(before);
  const out: string[] = [];
  if (before.some((row) => !now.has(row))) out.push("an audit event was changed or removed");
  for (const row of after.filter((r) => !earlier.has(r))) {
    if ((JSON.parse(row) as unknown[])[AUDIT_OUTCOME] !== "failure") out.push(`a refused request recorded an allowed decision: ${row}`);
  }
  return out;
}

function dbViolations(before: Snapshot, after: Snapshot, allowance: Allowance): string[] {
  const out: string[] = [];
  for (const [table, b] of before) {
    const a = after.get(table);
    const allowed = allowance[table];
    if (a === undefined) out.push(`table ${table} disappeared`);
    else if (table === AUDIT_TABLE) out.push(...auditViolations(b.list ?? [], a.list ?? []));
    else if (a.rows !== b.rows && allowed !== "rows") out.push(`database changed: ${table} went from ${b.rows} to ${a.rows} rows`);
    else if (a.hash !== b.hash && allowed === undefined) out.push(`database changed: rows of ${table} were modified`);
  }
  for (const table of after.keys()) if (!before.has(table)) out.push(`table ${table} appeared`);
  return out;
}

// ---------------------------------------------------------------------------
// The world: a server with the default tenant's fixtures, and the live values requests refer to.

interface FlowSetup {
  clientId: string;
  secret: string | undefined;
  redirectUri: string;
  user: string;
  password: string;
  scope: string;
  nonce: string;
  pkce: boolean;
}

/** The login flows behind `requestId.*`, `signedIn.*`, `code.*`, `access.*`… */
const FLOW_SETUP: Record<FlowClient, FlowSetup> = {
  admin: { clientId: "admin-client", secret: ADMIN_CLIENT_SECRET, redirectUri: DEFAULT_REDIRECT, user: "admin", password: ADMIN_PASSWORD, scope: "", nonce: "", pkce: true },
  web: { clientId: WEB.id, secret: WEB.secret, redirectUri: WEB.redirectUri, user: ALICE.id, password: ALICE.password, scope: `openid profile email ${READ} ${WRITE}`, nonce: "n-0S6_WzA2Mj", pkce: false },
  spa: { clientId: SPA.id, secret: undefined, redirectUri: SPA.redirectUri, user: ALICE.id, password: ALICE.password, scope: `openid ${READ}`, nonce: "", pkce: true },
};

type FlowValues = Record<FlowPart, string>;

/** A global administrator kept out of every generator's pool (see ADMIN_PROTECTED). */
const ROOT = { id: "fuzz-root", secret: "fuzz-root-secret-0001" } as const;

type AnyClient = Record<string, (request: unknown, options?: CallOptions) => Promise<unknown>>;

class World {
  readonly s: TestServer;
  readonly watch: DbWatch;
  readonly #stale = new Map<LiveRef, string>();
  readonly #transports: Record<TransportKind, Transport>;
  readonly #clients = new Map<string, AnyClient>();
  readonly #health: Client<typeof Health>;
  #root: string | undefined;
  #closed = false;

  private constructor(s: TestServer) {
    this.s = s;
    this.watch = new DbWatch(s.dbPath);
    const baseUrl = s.grpcUrl;
    this.#transports = {
      "connect-json-h1": createConnectTransport({ baseUrl, httpVersion: "1.1" }),
      "connect-binary-h2": createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }),
      "grpc-h2": createGrpcTransport({ baseUrl }),
      "grpc-web-h1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
    };
    this.#health = createClient(Health, this.#transports["connect-json-h1"]);
  }

  /** A fresh server with the fixtures of test/core/flow.ts (default tenant and acme/shop), and the stale values. */
  static async start(t: ExecutionContext, options: { admin?: boolean } = {}): Promise<World> {
    // No purge during the run: it would delete rows between a request's two
    // snapshots. Commits without fsync: durability is not under test, and the
    // flows behind live values commit several times per request.
    const s = await startTestServer({ config: { purgeInterval: 86_400, dbSynchronous: "normal" } });
    const world = new World(s);
    t.teardown(() => world.close());
    await seedFixtures(s);
    await seedOtherProject(s);
    await world.#prepareStale();
    if (options.admin === true) await world.#prepareRoot();
    return world;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.watch.close();
    await this.s.close();
  }

  /** Runs a login flow through the core up to `stage` (0 pending, 1 signed in, 2 code, 3 tokens). */
  async flow(client: FlowClient, stage: number, ref: ProjectRef = DEFAULT, scope?: string): Promise<FlowValues> {
    const f = FLOW_SETUP[client];
    const { authorization, tokens } = this.s;
    const binding = randomBytes(32).toString("base64url");
    const pending = await authorization.authorize({
      ...ref,
      responseType: "code",
      clientId: f.clientId,
      redirectUri: f.redirectUri,
      scope: scope ?? f.scope,
      state: "fuzz-state",
      nonce: f.nonce,
      codeChallenge: f.pkce ? RFC7636_CHALLENGE : "",
      codeChallengeMethod: f.pkce ? "S256" : "",
      browserBinding: binding,
    });
    const out: FlowValues = { requestId: pending.requestId, binding, signedIn: pending.requestId, code: "", access: "", refresh: "", idToken: "" };
    if (stage < 1) return out;
    const login = await authorization.login({ ...ref, requestId: pending.requestId, username: f.user, password: f.password, browserBinding: binding });
    if (stage < 2) return out;
    const consent = await authorization.consent({ ...ref, requestId: pending.requestId, scopes: login.scopes.map((s) => s.name), browserBinding: binding });
    out.code = queryOf(consent.redirectTo).get("code") ?? "";
    if (stage < 3) return out;
    const issued = await tokens.token({
      ...ref,
      grantType: "authorization_code",
      code: out.code,
      redirectUri: f.redirectUri,
      codeVerifier: f.pkce ? RFC7636_VERIFIER : "",
      ...(f.secret === undefined ? { clientId: f.clientId } : { basic: { clientId: f.clientId, clientSecret: f.secret } }),
    });
    return { ...out, access: issued.accessToken, refresh: issued.refreshToken, idToken: issued.idToken };
  }

  async #clientToken(clientId: string, secret: string, scope = ""): Promise<string> {
    const issued = await this.s.tokens.token({ ...DEFAULT, grantType: "client_credentials", scope, basic: { clientId, clientSecret: secret } });
    return issued.accessToken;
  }

  async #prepareStale(): Promise<void> {
    const { s } = this;
    const webBasic = { basic: { clientId: WEB.id, clientSecret: WEB.secret } };
    const spent = await this.flow("admin", 2);
    await s.tokens.token({ ...DEFAULT, grantType: "authorization_code", code: spent.code, redirectUri: DEFAULT_REDIRECT, codeVerifier: RFC7636_VERIFIER, basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET } });
    this.#stale.set("stale.code", spent.code);
    const rotated = await this.flow("web", 3);
    await s.tokens.token({ ...DEFAULT, grantType: "refresh_token", refreshToken: rotated.refresh, ...webBasic });
    this.#stale.set("stale.refresh", rotated.refresh);
    const revoked = await this.flow("web", 3);
    await s.tokens.revoke({ ...DEFAULT, token: revoked.access, client: webBasic });
    this.#stale.set("stale.access", revoked.access);
    // Issued two hours ago: the clock moves back for them, then forward again.
    s.clock.advance(-7200);
    const old = await this.flow("web", 3);
    const oldCode = await this.flow("admin", 2);
    s.clock.advance(7200);
    this.#stale.set("stale.expiredAccess", old.access);
    this.#stale.set("stale.expiredCode", oldCode.code);
    const other = await this.flow("web", 3, OTHER, `openid ${READ}`);
    this.#stale.set("other.access", other.access);
    this.#stale.set("other.refresh", other.refresh);
  }

  async #prepareRoot(): Promise<void> {
    await seedClient(this.s.core, { id: ROOT.id, secret: ROOT.secret, grantTypes: ["client_credentials"], accessTokenTtl: 86_400 });
    await this.s.core.deps.store.assignRole(DEFAULT, { clientId: ROOT.id }, "global-admin");
    this.#root = await this.#clientToken(ROOT.id, ROOT.secret, ADMIN_SCOPE);
  }

  /**
   * A rotation that retires the default project's key at once ends every
   * token that key signed, the administrator's own among them: checked here,
   * then the administrator gets a new token, as a real one would.
   */
  async renewRoot(): Promise<string[]> {
    const before = this.#root;
    if (before === undefined) return [];
    const verdict = await this.s.tokens.verifyToken({ token: before });
    this.#root = await this.#clientToken(ROOT.id, ROOT.secret, ADMIN_SCOPE);
    return verdict.active ? ["a token signed by a key retired at once still verifies"] : [];
  }

  async #other(ref: LiveRef): Promise<string> {
    if (ref === "cc.admin") return this.#clientToken("admin-client", ADMIN_CLIENT_SECRET, ADMIN_SCOPE);
    if (ref === "cc.m2m") return this.#clientToken(M2M.id, M2M.secret);
    if (ref === "root") {
      if (this.#root === undefined) throw new Error("the root token exists only in the admin tests");
      return this.#root;
    }
    const value = this.#stale.get(ref);
    if (value === undefined) throw new Error(`no live value ${ref}`);
    return value;
  }

  /**
   * Obtains every live value a spec refers to (one flow per client, run to
   * the furthest stage any reference needs) and answers the function that
   * turns a Val into the string to send.
   */
  async resolver(spec: unknown): Promise<(v: Val) => string> {
    const refs = new Set<LiveRef>();
    collectLive(spec, refs);
    const stages = new Map<FlowClient, number>();
    const others = new Map<LiveRef, string>();
    for (const ref of refs) {
      const [part, client] = ref.split(".") as [string, string | undefined];
      if (Object.hasOwn(FLOW_STAGE, part) && (FLOW_CLIENTS as readonly string[]).includes(client ?? "")) {
        const stage = FLOW_STAGE[part as FlowPart];
        stages.set(client as FlowClient, Math.max(stage, stages.get(client as FlowClient) ?? 0));
      } else {
        others.set(ref, await this.#other(ref));
      }
    }
    const flows = new Map<FlowClient, FlowValues>();
    for (const [client, stage] of stages) flows.set(client, await this.flow(client, stage));
    return (v) => {
      let base: string;
      if ("lit" in v) base = v.lit;
      else {
        const [part, client] = v.live.split(".") as [string, string];
        base = flows.get(client as FlowClient)?.[part as FlowPart] ?? others.get(v.live) ?? "";
      }
      return v.mut === undefined ? base : mutate(base, v.mut);
    };
  }

  client(service: DescService, transport: TransportKind): AnyClient {
    const key = `${service.typeName} ${transport}`;
    let client = this.#clients.get(key);
    if (client === undefined) {
      client = createClient(service, this.#transports[transport]) as unknown as AnyClient;
      this.#clients.set(key, client);
    }
    return client;
  }

  /**
   * The server still answers: the gateway's liveness probe after an HTTP
   * request, the core's grpc.health.v1 Check over the network after an RPC
   * (core and gateway share one process: either probe sees a crash).
   */
  async alive(core: boolean): Promise<string[]> {
    try {
      if (core) {
        const { status } = await this.#health.check({ service: "" }, { timeoutMs: ANSWER_TIMEOUT_MS });
        return status === HealthCheckResponse_ServingStatus.SERVING ? [] : [`the core's health afterwards is ${HealthCheckResponse_ServingStatus[status]}`];
      }
      const res = await fetch(`${this.s.httpUrl}/healthz`, { signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
      const body = await res.text();
      return res.status === 200 && body === '{"status":"ok"}' ? [] : [`GET /healthz afterwards answered ${res.status} ${body}`];
    } catch (err) {
      return [`no answer to the liveness probe afterwards: ${describeError(err)}`];
    }
  }
}

function collectLive(x: unknown, into: Set<LiveRef>): void {
  if (Array.isArray(x)) {
    for (const item of x) collectLive(item, into);
  } else if (typeof x === "object" && x !== null) {
    if (isVal(x) && "live" in x) into.add(x.live);
    for (const value of Object.values(x)) collectLive(value, into);
  }
}

function describeError(err: unknown): string {
  if (err instanceof ConnectError) return `${Code[err.code]}: ${err.rawMessage}`;
  if (err instanceof Error) return `${err.message}${err.cause instanceof Error ? ` (${err.cause.message})` : ""}`;
  return String(err);
}

// ---------------------------------------------------------------------------
// HTTP: building, sending, answers.

interface SentHttp {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

interface Answer {
  status: number;
  header(name: string): string | null;
  body: string;
}

/** Percent-encodes a path segment byte by byte (lone surrogates become U+FFFD, as a browser sends them). */
const pct = (s: string) =>
  Array.from(Buffer.from(s, "utf8"), (b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");

/** A header value fetch will send: the UTF-8 bytes as latin1, without control characters (tab aside). */
const headerSafe = (s: string) => Buffer.from(s, "utf8").toString("latin1").replace(/[\x00-\x08\x0a-\x1f\x7f]/g, "");

const formPair = (name: string, value: string) => new URLSearchParams([[name, value]]).toString();

function encodeParams(params: readonly { name: string; val: Val; raw?: boolean }[], value: (v: Val) => string): string {
  return params.map((p) => (p.raw === true ? `${new URLSearchParams([[p.name, ""]]).toString()}${value(p.val)}` : formPair(p.name, value(p.val)))).join("&");
}

function jsonText(spec: JsonSpec, value: (v: Val) => string): string {
  if ("val" in spec) return JSON.stringify(value(spec.val));
  if ("num" in spec) return Number.isFinite(spec.num) ? String(spec.num) : "1e999";
  if ("bool" in spec) return String(spec.bool);
  if ("nul" in spec) return "null";
  if ("arr" in spec) return `[${spec.arr.map((x) => jsonText(x, value)).join(",")}]`;
  return `{${spec.obj.map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x, value)}`).join(",")}}`;
}

function bodyBytes(body: Body, value: (v: Val) => string): Buffer | undefined {
  switch (body.kind) {
    case "none":
      return undefined;
    case "form":
      return Buffer.from(encodeParams(body.params, value));
    case "json":
      return Buffer.from(`{${body.fields.map(([k, x]) => `${JSON.stringify(k)}:${jsonText(x, value)}`).join(",")}}`);
    case "text":
      return Buffer.from(body.text);
    case "bytes":
      return Buffer.from(body.bytes);
    case "filler":
      return Buffer.alloc(body.size, "a");
  }
}

function pathOf(path: PathSpec, value: (v: Val) => string): string {
  if ("absolute" in path) return path.absolute;
  if ("inserted" in path) return `/.well-known/oauth-authorization-server/services/oauth2/${pct(value(path.org))}/${pct(value(path.project))}`;
  const segment = (v: Val) => (path.raw ? value(v) : pct(value(v)));
  return `/services/oauth2/${segment(path.org)}/${segment(path.project)}${path.suffix}`;
}

function authorizationHeader(auth: Auth, value: (v: Val) => string): string {
  switch (auth.kind) {
    case "basic": {
      const enc = (s: string) => (auth.encode ? formPair("v", s).slice(2) : s);
      return `Basic ${Buffer.from(`${enc(value(auth.id))}:${enc(value(auth.secret))}`, "utf8").toString("base64")}`;
    }
    case "bearer":
      return `${auth.scheme} ${value(auth.token)}`;
    case "raw":
      return value(auth.value);
  }
}

function buildHttp(spec: HttpSpec, value: (v: Val) => string, origin: string): SentHttp {
  const query = encodeParams(spec.query, value);
  const headers: Record<string, string> = {};
  if (spec.contentType !== undefined) headers["content-type"] = spec.contentType;
  if (spec.accept !== undefined) headers.accept = spec.accept;
  if (spec.auth !== undefined) headers.authorization = headerSafe(authorizationHeader(spec.auth, value));
  if (spec.cookie !== undefined) headers.cookie = headerSafe(`${spec.cookie.named ? "iam_browser=" : ""}${value(spec.cookie.value)}`);
  for (const [name, v] of spec.headers) headers[name] = headerSafe(value(v));
  const bodiless = spec.method === "GET" || spec.method === "HEAD";
  return {
    method: spec.method,
    url: `${origin}${pathOf(spec.path, value)}${query === "" ? "" : `?${query}`}`,
    headers,
    body: bodiless ? undefined : bodyBytes(spec.body, value),
  };
}

async function sendFetch(req: SentHttp): Promise<Answer> {
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: "manual", signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
    const body = await res.text();
    return { status: res.status, header: (name) => res.headers.get(name), body };
  } catch (err) {
    return { status: 0, header: () => null, body: `no answer: ${describeError(err)}` };
  }
}

/** Writes a request byte for byte (latin1) on a new connection and reads the answer until the server closes it. */
function sendRaw(port: number, spec: RawHttpSpec): Promise<Answer> {
  const names = new Set(spec.headers.map(([name]) => name.toLowerCase()));
  const lines = [`${spec.method} ${spec.target} ${spec.version}`.trimEnd()];
  if (!names.has("host")) lines.push("Host: 127.0.0.1");
  for (const [name, value] of spec.headers) lines.push(`${name}: ${value}`);
  if (spec.body !== "" && !names.has("content-length")) lines.push(`Content-Length: ${Buffer.byteLength(spec.body, "latin1")}`);
  lines.push("Connection: close");
  const bytes = Buffer.from(`${lines.join("\r\n")}\r\n\r\n${spec.body}`, "latin1");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, "127.0.0.1");
    socket.setTimeout(ANSWER_TIMEOUT_MS, () => socket.destroy());
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => resolve(parseRaw(Buffer.concat(chunks).toString("latin1"))));
    socket.end(bytes);
  });
}

function parseRaw(all: string): Answer {
  // Interim answers (100 Continue) come first: the final one follows.
  let text = all;
  while (/^HTTP\/1\.[01] 1\d\d /.test(text) && text.includes("\r\n\r\n")) text = text.slice(text.indexOf("\r\n\r\n") + 4);
  const end = text.indexOf("\r\n\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (end < 0 || match === null) return { status: 0, header: () => null, body: `no answer (${JSON.stringify(text.slice(0, 200))})` };
  const headers = new Map<string, string>();
  for (const line of text.slice(0, end).split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  let body = text.slice(end + 4);
  if (headers.get("transfer-encoding") === "chunked") {
    let out = "";
    for (let rest = body; ; ) {
      const nl = rest.indexOf("\r\n");
      const size = parseInt(rest.slice(0, nl), 16);
      if (!(size > 0)) break;
      out += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    body = out;
  }
  return { status: Number(match[1]), header: (name) => headers.get(name.toLowerCase()) ?? null, body: Buffer.from(body, "latin1").toString("utf8") };
}

// ---------------------------------------------------------------------------
// HTTP: the documented shapes.

/** RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, OpenID Connect Core §3.1.2.6: the codes a refusal may carry. */
const RFC_ERRORS = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "unsupported_response_type",
  "invalid_scope",
  "access_denied",
  "unsupported_token_type",
  "invalid_token",
  "insufficient_scope",
  "login_required",
  "consent_required",
  "interaction_required",
  "account_selection_required",
  "request_not_supported",
  "request_uri_not_supported",
  "registration_not_supported",
  "invalid_request_uri",
  // RFC 9449 §12.2
  "invalid_dpop_proof",
  "use_dpop_nonce",
]);
/** README: unknown paths and projects answer `{"error":"not_found"}`. */
const JSON_ERRORS = new Set([...RFC_ERRORS, "not_found"]);
/** A rate limit (off in tests, see testConfig) answers temporarily_unavailable, and only with 429. */
const RATE_LIMITED = "temporarily_unavailable";

/** Every redirect URI registered in the fixtures: where an authorization response may go. */
const REDIRECT_URIS = [DEFAULT_REDIRECT, WEB.redirectUri, WEB.redirectWithQuery, SPA.redirectUri, STRICT.redirectUri, NOREFRESH.redirectUri, M2M.redirectUri];
const ISSUERS = new Set([DEFAULT, OTHER].map((ref) => `http://iam.test/services/oauth2/${ref.organization}/${ref.project}`));
const CWD = process.cwd();

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The `redirect_to` of a JSON answer, or the Location of a redirect. */
function redirectOf(ans: Answer): string | undefined {
  if (ans.status >= 300 && ans.status < 400) return ans.header("location") ?? undefined;
  if ((ans.header("content-type") ?? "").startsWith("application/json")) {
    const body = parseJson(ans.body);
    if (typeof body === "object" && body !== null && "redirect_to" in body && typeof body.redirect_to === "string") return body.redirect_to;
  }
  return undefined;
}

function errorOfRedirect(location: string | undefined): string | null {
  if (location === undefined) return null;
  try {
    return new URL(location).searchParams.get("error");
  } catch {
    return null;
  }
}

function jsonErrorOf(ans: Answer): string | undefined {
  const body = parseJson(ans.body);
  return typeof body === "object" && body !== null && "error" in body && typeof body.error === "string" ? body.error : undefined;
}

/** Where the user agent is sent: a registered URI, with an RFC error, `iss` and no code next to it, or with a code. */
function redirectViolations(location: string): string[] {
  const registered = REDIRECT_URIS.some((uri) => location.startsWith(uri + (uri.includes("?") ? "&" : "?")));
  if (!registered) return [`redirect to an unregistered URI: ${location.slice(0, 200)}`];
  const q = queryOf(location);
  const error = q.get("error");
  if (error === null) return q.get("code") === null ? [`redirect with neither code nor error: ${location.slice(0, 200)}`] : [];
  const out: string[] = [];
  if (!RFC_ERRORS.has(error)) out.push(`redirect error ${error} is not an RFC 6749 §4.1.2.1 code`);
  if (!ISSUERS.has(q.get("iss") ?? "")) out.push(`redirect error without the issuer (RFC 9207): iss=${q.get("iss")}`);
  if (q.get("code") !== null) out.push("a code next to an error");
  return out;
}

function pageViolations(ans: Answer): string[] {
  const out: string[] = [];
  const csp = ans.header("content-security-policy") ?? "";
  if (!csp.includes("default-src 'none'") || !csp.includes("frame-ancestors 'none'")) out.push(`page without its Content-Security-Policy: "${csp}"`);
  if (ans.header("x-frame-options") !== "DENY") out.push("page without X-Frame-Options: DENY");
  if (ans.header("referrer-policy") !== "no-referrer") out.push("page without Referrer-Policy: no-referrer");
  if (ans.header("cache-control") !== "no-store") out.push("page without Cache-Control: no-store");
  if (ans.header("x-content-type-options") !== "nosniff") out.push("page without X-Content-Type-Options: nosniff");
  // The pages carry no script and no image but the console's own module, by
  // its fixed URL and nothing else: any other such tag is reflected input.
  const own = ans.body.replace(/<script type="module" src="[^"<>]*\/admin\/assets\/console\.js\?v=[A-Za-z0-9_-]+"><\/script>/g, "");
  if (/<(script|img|svg|iframe)\b/i.test(own)) out.push("markup injected into a page");
  // A refusal's page names an RFC code (the /redirect page shows whatever error its query carries: not a refusal).
  const code = /<code id="error-code">([^<]*)<\/code>/.exec(ans.body)?.[1];
  if (ans.status >= 400 && code !== undefined && !RFC_ERRORS.has(code)) out.push(`error page names ${code}, not an RFC code`);
  return out;
}

function jsonErrorViolations(ans: Answer, head: boolean): string[] {
  const out: string[] = [];
  if (!(ans.header("cache-control") ?? "").includes("no-store")) out.push(`JSON error without Cache-Control: no-store (${ans.header("cache-control")})`);
  if (head) return out;
  const body = parseJson(ans.body);
  if (typeof body !== "object" || body === null || Array.isArray(body)) return [...out, "JSON error is not an object"];
  const { error, error_description: description } = body as Record<string, unknown>;
  if (typeof error !== "string" || typeof description !== "string") out.push("JSON error without string error and error_description");
  else if (!JSON_ERRORS.has(error) && !(error === RATE_LIMITED && ans.status === 429)) out.push(`JSON error ${error} is not an RFC code`);
  return out;
}

/** The documented shape of an answer of the gateway. */
function httpShapeViolations(ans: Answer, method: string): string[] {
  if (ans.status === 0) return [ans.body];
  const out: string[] = [];
  if (ans.status >= 500) out.push(`status ${ans.status}: never a 5xx`);
  if (ans.header("x-injected") !== null) out.push("a header was injected into the answer");
  if (ans.body.includes(CWD) || ans.body.includes("node:internal")) out.push("the answer leaks server internals (a path or stack)");
  // Node's HTTP parser refuses malformed requests (400, 431) before the gateway sees them: no X-Request-Id, no body.
  if (ans.header("x-request-id") === null) return out;
  const type = ans.header("content-type") ?? "";
  const isJson = type.startsWith("application/json");
  if (type.startsWith("text/html")) out.push(...pageViolations(ans));
  if (ans.status >= 400) {
    if (isJson) out.push(...jsonErrorViolations(ans, method === "HEAD"));
    else if (!type.startsWith("text/html")) out.push(`error ${ans.status} is neither JSON nor a page (content-type "${type}")`);
  }
  const redirect = redirectOf(ans);
  if (ans.status >= 300 && ans.status < 400) {
    if (ans.header("cache-control") !== "no-store") out.push("redirect without Cache-Control: no-store");
    if (redirect === undefined) out.push(`${ans.status} without Location`);
  }
  if (redirect !== undefined) out.push(...redirectViolations(redirect));
  return out;
}

type Route = "authorize" | "login" | "consent" | "token" | "revoke" | "readOnly";

/**
 * Which handler a request reaches, as the gateway routes it: POST
 * /authorize is a sign-in unless it is a form with response_type and no
 * request_id (an authorization request by POST). Everything that is not one
 * of the writing endpoints (discovery, JWKS, introspection, UserInfo, pages,
 * probes, unknown paths, wrong methods) is read-only.
 */
function routeOf(req: SentHttp): Route {
  const path = new URL(req.url).pathname;
  const name = /^\/services\/oauth2\/[^/]+\/[^/]+\/(authorize|consent|token|revoke)\/?$/i.exec(path)?.[1]?.toLowerCase();
  if (name === undefined) return "readOnly";
  if (name === "authorize") {
    if (req.method === "GET" || req.method === "HEAD") return "authorize";
    if (req.method !== "POST") return "readOnly";
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== FORM) return "login";
    const form = new URLSearchParams(req.body?.toString("utf8") ?? "");
    return (form.get("request_id") ?? "") === "" && (form.get("response_type") ?? "") !== "" ? "authorize" : "login";
  }
  return req.method === "POST" ? (name as Route) : "readOnly";
}

/** What a request may have written: undefined when it succeeded on a writing endpoint (not checked). */
function httpAllowance(route: Route, ans: Answer): Allowance | undefined {
  if (route === "readOnly") return ALLOWED.nothing;
  const redirectError = errorOfRedirect(redirectOf(ans));
  const refused = ans.status === 0 || ans.status >= 400 || redirectError !== null;
  if (!refused) return undefined;
  if (route === "login" && (ans.status === 401 || ans.status === 429 || redirectError !== null)) return ALLOWED.signIn;
  if (route === "consent" && redirectError === "access_denied") return ALLOWED.denial;
  if (route === "token" && jsonErrorOf(ans) === "invalid_grant") return ALLOWED.theft;
  return ALLOWED.nothing;
}

const clip = (s: string, n = 400) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

function describeExchange(req: { method: string; url: string; headers: Record<string, string>; body?: Buffer | undefined }, ans: Answer): string {
  const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${clip(v, 120)}`);
  const shown = ["content-type", "location", "cache-control", "x-request-id"].flatMap((h) => (ans.header(h) === null ? [] : [`${h}: ${clip(ans.header(h)!, 200)}`]));
  return [
    `request: ${req.method} ${clip(req.url, 300)}`,
    ...headers.map((h) => `  ${h}`),
    ...(req.body === undefined ? [] : [`  body: ${clip(JSON.stringify(req.body.toString("latin1")), 300)}`]),
    `answer: ${ans.status}`,
    ...shown.map((h) => `  ${h}`),
    `  body: ${clip(JSON.stringify(ans.body), 300)}`,
  ].join("\n");
}

/** Sends one generated HTTP request and answers every property it breaks. */
async function sendHttp(world: World, spec: HttpSpec): Promise<Result> {
  const value = await world.resolver(spec);
  const req = buildHttp(spec, value, world.s.httpUrl);
  const before = world.watch.snapshot();
  const ans = await sendFetch(req);
  const after = world.watch.snapshot();
  return report(describeExchange(req, ans), httpOutcome(ans), [
    ...httpShapeViolations(ans, req.method),
    ...dbOf(before, after, httpAllowance(routeOf(req), ans)),
    ...(await world.alive(false)),
  ]);
}

async function sendRawHttp(world: World, spec: RawHttpSpec): Promise<Result> {
  const port = Number(new URL(world.s.httpUrl).port);
  const req = { method: spec.method, url: `${world.s.httpUrl}${spec.target.startsWith("/") ? "" : "/"}${spec.target}`, headers: Object.fromEntries(spec.headers), body: Buffer.from(spec.body, "latin1") };
  const before = world.watch.snapshot();
  const ans = await sendRaw(port, spec);
  const after = world.watch.snapshot();
  let route: Route = "readOnly";
  try {
    route = routeOf(req);
  } catch {
    // A target that is not a URL reaches no handler.
  }
  return report(describeExchange(req, ans), `raw ${httpOutcome(ans)}`, [...httpShapeViolations(ans, spec.method), ...dbOf(before, after, httpAllowance(route, ans)), ...(await world.alive(false))]);
}

const dbOf = (before: Snapshot, after: Snapshot, allowance: Allowance | undefined) => (allowance === undefined ? [] : dbViolations(before, after, allowance));

/** What one request broke (empty: nothing), and its outcome in a word or two, for the run's histogram. */
interface Result {
  violations: string[];
  outcome: string;
}
const report = (exchange: string, outcome: string, violations: string[]): Result => ({
  violations: violations.length === 0 ? [] : [...violations, exchange],
  outcome,
});

/** `400 invalid_request`, `302 error=access_denied`, `200`: an HTTP answer in a word. */
function httpOutcome(ans: Answer): string {
  const redirectError = errorOfRedirect(redirectOf(ans));
  if (redirectError !== null) return `${ans.status} error=${redirectError}`;
  const type = ans.header("content-type") ?? "";
  const error = ans.status < 400 ? undefined : type.startsWith("application/json") ? jsonErrorOf(ans) : /<code id="error-code">([^<]*)<\/code>/.exec(ans.body)?.[1];
  const page = type.startsWith("text/html") ? " page" : "";
  return `${ans.status}${page}${error === undefined ? "" : ` ${error}`}`;
}

// ---------------------------------------------------------------------------
// RPC: building, calling, the documented errors.

const SERVICES: readonly DescService[] = [AuthorizationService, TokenService, AdminService];
/** Codes that mean the server broke, not that it refused. */
const BROKEN = new Set<Code>([Code.Internal, Code.Unknown, Code.DataLoss]);
/** RPCs that never write, whatever they answer. */
const READ_ONLY_RPCS = new Set(["verifyToken", "getJwks", "getServerMetadata", "introspect", "userInfo"]);
const isReadOnlyRpc = (method: string) => READ_ONLY_RPCS.has(method) || method.startsWith("get") || method.startsWith("list");
/** The Connect code of each RFC code (core/errors.ts), CONNECT_CODE_OF's and the three it leaves out. */
const CODE_OF: Record<string, Code> = {
  ...CONNECT_CODE_OF,
  unsupported_token_type: Code.InvalidArgument,
  invalid_token: Code.Unauthenticated,
  insufficient_scope: Code.PermissionDenied,
  // OpenID Connect Core §3.1.2.6: interaction that prompt=none forbids; request objects and registration refused.
  login_required: Code.FailedPrecondition,
  consent_required: Code.FailedPrecondition,
  interaction_required: Code.FailedPrecondition,
  account_selection_required: Code.FailedPrecondition,
  request_not_supported: Code.InvalidArgument,
  request_uri_not_supported: Code.InvalidArgument,
  registration_not_supported: Code.InvalidArgument,
  invalid_dpop_proof: Code.InvalidArgument,
  use_dpop_nonce: Code.InvalidArgument,
};
/** README "Administration": bad fields, duplicates, missing objects, the undeletable default tenant. */
const ADMIN_REFUSALS = new Set<Code>([Code.InvalidArgument, Code.AlreadyExists, Code.NotFound, Code.FailedPrecondition]);
/** The core refuses bodies over 64 KiB (README "Security choices"): RESOURCE_EXHAUSTED, before any handler. */
const BODY_LIMIT = 64 * 1024;

function materialize(tree: unknown, value: (v: Val) => string): unknown {
  if (isVal(tree)) return value(tree);
  if (Array.isArray(tree)) return tree.map((x) => materialize(x, value));
  if (typeof tree === "object" && tree !== null) return Object.fromEntries(Object.entries(tree).map(([k, x]) => [k, materialize(x, value)]));
  return tree;
}

function methodOf(service: DescService, localName: string): DescMethod {
  const method = service.methods.find((m) => m.localName === localName);
  if (method === undefined) throw new Error(`${service.typeName} has no ${localName}`);
  return method;
}

function buildMessage(input: DescMessage, tree: unknown, value: (v: Val) => string) {
  return create(input, materialize(tree, value) as never);
}

interface Call {
  method: DescMethod;
  /** The message as sent. */
  request: unknown;
  headers: Record<string, string>;
  response: unknown;
  error: unknown;
  /** Larger than the core's body limit in the encoding this transport uses. */
  oversized: boolean;
  /** Refused by the HTTP layer for its header size before any RPC ran (see headerRefusal). */
  headerRefusal: boolean;
  describe: string;
}

async function call(world: World, service: DescService, spec: RpcSpec, value: (v: Val) => string): Promise<Call> {
  const method = methodOf(service, spec.method);
  const message = buildMessage(method.input, spec.message, value);
  const size = spec.transport === "connect-json-h1" ? Buffer.byteLength(toJsonString(method.input, message)) : toBinary(method.input, message).length;
  const headers: Record<string, string> = spec.auth === undefined ? {} : { authorization: headerSafe(authorizationHeader(spec.auth, value)).trim() };
  let response: unknown;
  let error: unknown;
  try {
    response = await world.client(service, spec.transport)[spec.method]!(message, { headers, timeoutMs: ANSWER_TIMEOUT_MS });
  } catch (err) {
    error = err;
  }
  const answered = error === undefined ? "ok" : describeError(error);
  const meta = error instanceof ConnectError ? ` oauth-error=${error.metadata.get("oauth-error")} oauth-status=${error.metadata.get("oauth-status")}` : "";
  const describe = [
    `call: ${service.typeName}/${method.name} over ${spec.transport}${spec.auth === undefined ? "" : ` with authorization ${clip(headers.authorization ?? "", 80)}`}`,
    `  message: ${clip(toJsonString(method.input, message), 600)}`,
    `answer: ${clip(answered, 300)}${meta}`,
  ].join("\n");
  return { method, request: message, headers, response, error, oversized: size > BODY_LIMIT - 16, headerRefusal: headerRefusal(headers, error), describe };
}

/**
 * Node refuses request headers over 16 KiB with HTTP 431 before Connect
 * sees the request (a hostile Authorization value can be that long); the
 * Connect client reports that status as UNKNOWN "HTTP 431". An answer of the
 * HTTP layer, not of an RPC: the HTTP properties check those.
 */
function headerRefusal(headers: Record<string, string>, error: unknown): boolean {
  const size = Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
  return size > 16 * 1024 && error instanceof ConnectError && error.rawMessage === "HTTP 431";
}

/** `ok`, `InvalidArgument invalid_request`: an RPC's answer in a word. */
function rpcOutcome(c: Call): string {
  if (c.error === undefined) return `${c.method.localName} ok`;
  if (!(c.error instanceof ConnectError)) return `${c.method.localName} failed`;
  const error = c.error.metadata.get("oauth-error");
  return `${c.method.localName} ${Code[c.error.code]}${error === null ? "" : ` ${error}`}`;
}

/** RFC errors of AuthorizationService and TokenService: an `oauth-error` among the RFC codes, with its Connect code. */
function oauthErrorViolations(c: Call): string[] {
  const err = c.error;
  if (err === undefined) return [];
  if (!(err instanceof ConnectError)) return [`the call failed outside Connect: ${describeError(err)}`];
  if (c.headerRefusal) return [];
  if (BROKEN.has(err.code)) return [`${Code[err.code]}: never INTERNAL or UNKNOWN`];
  const error = err.metadata.get("oauth-error");
  if (error === null) {
    // GetJwks, GetServerMetadata and EndSession answer an unknown project NOT_FOUND (the gateway's 404 not_found).
    const unknownProject = err.code === Code.NotFound && ["getJwks", "getServerMetadata", "endSession"].includes(c.method.localName);
    const tooLarge = err.code === Code.ResourceExhausted && c.oversized;
    return unknownProject || tooLarge ? [] : [`${Code[err.code]} without oauth-error metadata (${err.rawMessage})`];
  }
  const tooMany = err.metadata.get("oauth-status") === "429";
  if (!RFC_ERRORS.has(error) && !(error === RATE_LIMITED && tooMany)) return [`oauth-error ${error} is not an RFC code`];
  // A locked sign-in (README "Brute force") and a rate limit travel as RESOURCE_EXHAUSTED with oauth-status 429.
  const expected = tooMany && (error === "access_denied" || error === RATE_LIMITED) ? Code.ResourceExhausted : CODE_OF[error];
  return err.code === expected ? [] : [`oauth-error ${error} travels as ${Code[err.code]}, not ${Code[expected!]}`];
}

/** How an RPC ended, as far as what it may have written is concerned. */
interface RpcEnd {
  /** The call failed (whatever the protocol said). */
  failed: boolean;
  /** Its `oauth-error`, `oauth-status` and `oauth-redirect` metadata. */
  error: string | null;
  status: string | null;
  redirect: string | null;
  /** A successful Consent's `redirectTo`. */
  redirectTo: string | undefined;
}

/** What an RPC may have written: undefined when it succeeded on a writing method (not checked). */
function rpcAllowance(method: string, end: RpcEnd): Allowance | undefined {
  if (isReadOnlyRpc(method)) return ALLOWED.nothing;
  if (!end.failed) return method === "consent" && errorOfRedirect(end.redirectTo) === "access_denied" ? ALLOWED.denial : undefined;
  if (method === "login" && ((end.error === "access_denied" && (end.status === "401" || end.status === "429")) || end.redirect !== null)) return ALLOWED.signIn;
  if (method === "token" && end.error === "invalid_grant") return ALLOWED.theft;
  return ALLOWED.nothing;
}

function endOf(c: Call): RpcEnd {
  const meta = c.error instanceof ConnectError ? c.error.metadata : new Headers();
  const redirectTo = (c.response as { redirectTo?: unknown } | undefined)?.redirectTo;
  return {
    failed: c.error !== undefined,
    error: meta.get("oauth-error"),
    status: meta.get("oauth-status"),
    redirect: meta.get("oauth-redirect"),
    redirectTo: typeof redirectTo === "string" ? redirectTo : undefined,
  };
}

/** Calls a method of AuthorizationService or TokenService. */
async function sendOAuthRpc(world: World, service: DescService, spec: RpcSpec): Promise<Result> {
  const value = await world.resolver(spec);
  const before = world.watch.snapshot();
  const c = await call(world, service, spec, value);
  const after = world.watch.snapshot();
  const redirect = (c.response as { redirectTo?: unknown } | undefined)?.redirectTo;
  return report(c.describe, rpcOutcome(c), [
    ...oauthErrorViolations(c),
    ...(typeof redirect === "string" && redirect !== "" ? redirectViolations(redirect) : []),
    ...dbOf(before, after, rpcAllowance(c.method.localName, endOf(c))),
    ...(await world.alive(true)),
  ]);
}

/** Calls AdminService without a valid administrator's token: always the expected refusal, never a write. */
async function sendAdminRefused(world: World, spec: RpcSpec, expect: AdminRefusal): Promise<Result> {
  const value = await world.resolver(spec);
  const before = world.watch.snapshot();
  const c = await call(world, AdminService, spec, value);
  const after = world.watch.snapshot();
  const wanted = expect === "unauthenticated" ? Code.Unauthenticated : Code.PermissionDenied;
  const err = c.error;
  const out: string[] = [];
  if (err === undefined) out.push(`served without a valid administrator's token (expected ${Code[wanted]})`);
  else if (!(err instanceof ConnectError)) out.push(`the call failed outside Connect: ${describeError(err)}`);
  else if (err.code !== wanted && !(err.code === Code.ResourceExhausted && c.oversized) && !c.headerRefusal) out.push(`${Code[err.code]}, expected ${Code[wanted]}`);
  return report(c.describe, rpcOutcome(c), [...out, ...dbViolations(before, after, ALLOWED.nothing), ...(await world.alive(true))]);
}

/** Calls AdminService as a global administrator: served, or refused with a documented code and nothing written. */
async function sendAdmin(world: World, spec: RpcSpec): Promise<Result> {
  const value = await world.resolver(spec);
  const before = world.watch.snapshot();
  const c = await call(world, AdminService, spec, value);
  const after = world.watch.snapshot();
  const err = c.error;
  const out: string[] = [];
  if (err !== undefined) {
    if (!(err instanceof ConnectError)) out.push(`the call failed outside Connect: ${describeError(err)}`);
    else if (!ADMIN_REFUSALS.has(err.code) && !(err.code === Code.ResourceExhausted && c.oversized) && !c.headerRefusal) out.push(`${Code[err.code]} is not a documented AdminService refusal (${err.rawMessage})`);
  }
  const allowance = err === undefined ? (isReadOnlyRpc(c.method.localName) ? ALLOWED.nothing : undefined) : ALLOWED.nothing;
  if (err === undefined && retiredDefaultKey(c.method.localName, c.request)) out.push(...(await world.renewRoot()));
  return report(c.describe, rpcOutcome(c), [...out, ...dbOf(before, after, allowance), ...(await world.alive(true))]);
}

/** Whether a served call retired the default project's signing key at once (the administrator's token is signed by it). */
function retiredDefaultKey(method: string, request: unknown): boolean {
  if (method !== "rotateSigningKey") return false;
  const r = request as { organization?: string; project?: string; retireImmediately?: boolean };
  return r.retireImmediately === true && (r.organization ?? "") === DEFAULT.organization && (r.project ?? "") === DEFAULT.project;
}

/** Connect and gRPC codes by their wire names (Connect's JSON `code`). */
const WIRE_CODES = new Map(
  Object.entries(Code)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([name, value]) => [name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(), value as Code]),
);

/**
 * A raw request to the core's port: never a 5xx nor a broken code, JSON
 * errors in Connect's shape, nothing written when refused. One exception by
 * protocol: an unknown `content-encoding` is UNIMPLEMENTED (HTTP 501), the
 * answer the Connect and gRPC protocols prescribe for unsupported compression.
 */
async function sendRawRpc(world: World, spec: RawRpcSpec): Promise<Result> {
  const value = await world.resolver(spec);
  let body: Buffer;
  if (spec.body.kind === "bytes") body = Buffer.from(spec.body.bytes);
  else if (spec.body.kind === "text") body = Buffer.from(spec.body.text);
  else {
    const { rpc, encoding, envelope } = spec.body;
    const service = SERVICES.find((s) => s.methods.some((m) => m.localName === rpc.method))!;
    const method = methodOf(service, rpc.method);
    const message = buildMessage(method.input, rpc.message, value);
    const payload = encoding === "json" ? Buffer.from(toJsonString(method.input, message)) : Buffer.from(toBinary(method.input, message));
    // Connect streaming and gRPC frames: one flags byte, a big-endian length, the payload.
    const prefix = Buffer.alloc(5);
    prefix[0] = envelope ?? 0;
    prefix.writeUInt32BE(payload.length, 1);
    body = envelope === undefined ? payload : Buffer.concat([prefix, payload]);
  }
  const headers: Record<string, string> = Object.fromEntries(spec.headers);
  if (spec.contentType !== undefined && spec.contentType !== "") headers["content-type"] = spec.contentType;
  const req = { method: spec.method, url: `${world.s.grpcUrl}${spec.path}`, headers, body: spec.method === "GET" ? undefined : body };
  const before = world.watch.snapshot();
  let ans: Answer;
  let bytes = Buffer.alloc(0);
  try {
    const res = await fetch(req.url, { method: req.method, headers, body: req.body, redirect: "manual", signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
    bytes = Buffer.from(await res.arrayBuffer());
    ans = { status: res.status, header: (name) => res.headers.get(name), body: bytes.toString("utf8") };
  } catch (err) {
    ans = { status: 0, header: () => null, body: `no answer: ${describeError(err)}` };
  }
  const after = world.watch.snapshot();
  // gRPC and gRPC-Web carry the status in a header, or in the trailer frame of the body.
  const trailer = bytes.toString("latin1");
  const grpcStatus = ans.header("grpc-status") ?? /grpc-status:\s*(\d+)/.exec(trailer)?.[1] ?? null;
  const grpcMessage = ans.header("grpc-message") ?? /grpc-message:\s*([^\r\n]*)/.exec(trailer)?.[1] ?? null;
  const out: string[] = [];
  const unimplementedCompression = ans.status === 501 && /"code":"unimplemented","message":"unknown compression/.test(ans.body);
  if (ans.status === 0) out.push(ans.body);
  if (ans.status >= 500 && !unimplementedCompression) out.push(`status ${ans.status}: never a 5xx`);
  if (grpcStatus !== null && BROKEN.has(Number(grpcStatus) as Code)) out.push(`grpc-status ${grpcStatus}: never INTERNAL or UNKNOWN (${grpcMessage})`);
  if (ans.status >= 400 && (ans.header("content-type") ?? "").startsWith("application/json")) {
    const json = parseJson(ans.body) as Record<string, unknown> | undefined;
    const code = typeof json?.code === "string" ? json.code : undefined;
    // The core's fallback answers unknown paths with the gateway's {"error":"not_found"}.
    if (code === undefined && !(ans.status === 404 && typeof json?.error === "string")) out.push("JSON error without a Connect code");
    if (code !== undefined && !WIRE_CODES.has(code)) out.push(`${code} is not a Connect code`);
    if (code !== undefined && BROKEN.has(WIRE_CODES.get(code)!)) out.push(`Connect code ${code}: never internal or unknown`);
  }
  const methodName = /^\/[\w.]+\/(\w+)$/.exec(spec.path)?.[1];
  const localName = methodName === undefined ? undefined : methodName[0]!.toLowerCase() + methodName.slice(1);
  const rpc = SERVICES.some((s) => s.methods.some((m) => m.localName === localName)) ? localName : undefined;
  // Error metadata travels as headers (Connect unary, gRPC trailers-only) or in the gRPC-Web trailer frame.
  const meta = (name: string) => ans.header(name) ?? new RegExp(`${name}:\\s*([^\\r\\n]*)`).exec(trailer)?.[1] ?? null;
  const success = ans.status === 200 && (grpcStatus === null || grpcStatus === "0");
  const json = success && (ans.header("content-type") ?? "").startsWith("application/json") ? (parseJson(ans.body) as { redirectTo?: unknown } | undefined) : undefined;
  const end: RpcEnd = {
    failed: !success,
    error: meta("oauth-error"),
    status: meta("oauth-status"),
    redirect: meta("oauth-redirect"),
    redirectTo: typeof json?.redirectTo === "string" ? json.redirectTo : undefined,
  };
  const allowance = rpc === undefined ? ALLOWED.nothing : rpcAllowance(rpc, end);
  return report(describeExchange(req, ans), `${ans.status}${grpcStatus === null ? "" : ` grpc-status=${grpcStatus}`}`, [...out, ...dbOf(before, after, allowance), ...(await world.alive(true))]);
}

// ---------------------------------------------------------------------------
// The properties.

/**
 * Registers one property: a fresh world, FUZZ_RUNS generated requests, each
 * sent and checked by `send` (which answers the broken properties).
 */
function fuzz<S>(
  title: string,
  arbitrary: fc.Arbitrary<S>,
  send: (world: World, spec: S) => Promise<Result>,
  options: { admin?: boolean } = {},
): void {
  test.serial(title, async (t) => {
    t.timeout(60_000 + RUNS * 300);
    let world = await World.start(t, options);
    let onWorld = 0;
    const outcomes = new Map<string, number>();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(arbitrary, async (spec) => {
        // Long runs move to a fresh server now and then: every snapshot reads every row.
        if (onWorld === RECYCLE_EVERY) {
          await world.close();
          world = await World.start(t, options);
          onWorld = 0;
        }
        onWorld += 1;
        sent += 1;
        const { violations, outcome } = await send(world, spec);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (violations.length > 0) throw new Error(violations.join("\n"));
      }),
      { numRuns: RUNS, seed: SEED, path: PATH, includeErrorInReport: true },
    );
    // What the requests met (npx ava --verbose shows it): refusals and successes alike.
    t.log([...outcomes].sort((a, b) => b[1] - a[1]).map(([outcome, n]) => `${n} × ${outcome}`).join("\n"));
    // A replayed path (FUZZ_PATH) runs from the case it names on: fewer requests.
    if (PATH === undefined) t.is(sent, RUNS, "every generated request was sent");
    else t.true(sent >= 1, "the replayed case was sent");
  });
}

fuzz("GET and POST /authorize (authorization requests)", httpRequest(ENDPOINTS.authorize), sendHttp);
fuzz("POST /authorize (sign-in, form and JSON)", httpRequest(ENDPOINTS.login), sendHttp);
fuzz("POST /consent", httpRequest(ENDPOINTS.consent), sendHttp);
fuzz("POST /token (every grant, both client authentications, a public client)", httpRequest(ENDPOINTS.token), sendHttp);
fuzz("POST /introspect and /revoke", fc.oneof(httpRequest(ENDPOINTS.introspect), httpRequest(ENDPOINTS.revoke)), sendHttp);
fuzz("GET and POST /userinfo", httpRequest(ENDPOINTS.userinfo), sendHttp);
fuzz("discovery documents, JWKS, /redirect, /healthz, /readyz, /metrics", readOnlyRequest, sendHttp);
fuzz(
  "unknown paths and methods (fetch, and raw bytes on a socket)",
  fc.oneof(unknownRequest.map((spec) => ({ raw: false as const, spec })), rawHttpRequest.map((spec) => ({ raw: true as const, spec }))),
  (world, r) => (r.raw ? sendRawHttp(world, r.spec) : sendHttp(world, r.spec)),
);
fuzz(
  "methods Node accepts and the router does not implement (PROPFIND, LOCK, TRACE…)",
  fc.oneof(nodeOnlyMethodRequest.map((spec) => ({ raw: false as const, spec })), rawNodeOnlyMethodRequest.map((spec) => ({ raw: true as const, spec }))),
  // Found by this property: @koa/router answered 501 text/plain to methods
  // outside its list; the gateway now answers them as a JSON 405.
  (world, r) => (r.raw ? sendRawHttp(world, r.spec) : sendHttp(world, r.spec)),
);
fuzz("AuthorizationService RPCs over Connect, gRPC and gRPC-Web", rpcRequest(AuthorizationService, AUTHORIZATION_SCENARIOS), (world, spec) => sendOAuthRpc(world, AuthorizationService, spec));
fuzz("TokenService RPCs over Connect, gRPC and gRPC-Web", rpcRequest(TokenService, TOKEN_SCENARIOS), (world, spec) => sendOAuthRpc(world, TokenService, spec));
fuzz(
  "AdminService without a valid administrator's token",
  fc.tuple(rpcRequest(AdminService, ADMIN_SCENARIOS), noAdminAuthArb),
  (world, [spec, { auth, expect }]) => sendAdminRefused(world, { ...spec, auth }, expect),
);
fuzz("AdminService with a global administrator's token", rpcRequest(AdminService, ADMIN_SCENARIOS, { omit: ADMIN_PROTECTED, auth: rootAuthArb }), sendAdmin, { admin: true });
fuzz(
  "raw bodies and content types to the core's Connect endpoints",
  rawRpcRequest(
    SERVICES.flatMap((s) => s.methods.map((m) => `/${s.typeName}/${m.name}`)),
    fc.oneof(rpcRequest(TokenService, TOKEN_SCENARIOS), rpcRequest(AuthorizationService, AUTHORIZATION_SCENARIOS), rpcRequest(AdminService, {})),
  ),
  sendRawRpc,
);
fuzz(
  "bodies the core cannot decode (binary messages, gRPC-Web frames, false brotli)",
  undecodableRequest(SERVICES.flatMap((s) => s.methods.map((m) => `/${s.typeName}/${m.name}`))),
  // Found by these properties: connect-node answered INTERNAL (HTTP 500,
  // grpc-status 13); the core now answers INVALID_ARGUMENT.
  sendRawRpc,
);
