import { execFileSync } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { RequestListener } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, createRouterTransport, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AuthorizationService } from "../gen/iam/v1/authorization_pb.js";
import { TokenService } from "../gen/iam/v1/token_pb.js";
import { createCore, type Core } from "../core/server/compose.js";
import { loadConfig, type Config } from "../core/server/config.js";
import { createInProcessTransport } from "../wire/in-process-transport.js";
import type { Clock } from "../core/lib/clock.js";
import { s256 } from "../core/lib/pkce.js";
import { createLogger, type Logger } from "../core/observe/log.js";
import { startCoreServer, type RunningServer } from "../core/server/listen.js";
import type { ClientRecord, ProjectRef, UserRecord } from "../core/store/types.js";
import { CLIENT_AUTH_DEFAULTS } from "../core/store/types.js";
import { newPrivateKey, type PrivateKeySource } from "../core/tokens/keys.js";
import { createGateway } from "../gateway/app.js";
import { startGatewayServer } from "../gateway/server.js";
import { startManagement } from "../bin/management.js";
import { createMigratedDatabase, ON_POSTGRES } from "./pg.js";

export const BASE_URL = "http://iam.test";
export const ADMIN_PASSWORD = "admin-password-for-tests";
export const ADMIN_CLIENT_SECRET = "top-secret";
export const DEFAULT: ProjectRef = { organization: "iam-admins", project: "iam-admins" };
export const DEFAULT_REDIRECT = `${BASE_URL}/services/oauth2/iam-admins/iam-admins/redirect`;

/** RFC 7636 Appendix B. */
export const RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
export const RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** A clock the test moves; starts at a fixed instant. */
export class TestClock implements Clock {
  ms = Date.UTC(2026, 0, 1, 12, 0, 0);
  now(): number {
    return this.ms;
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/** Collects log lines in memory so tests can read them (and the run stays quiet). */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger("debug", (line) => lines.push(line)), lines };
}

/** A fresh temporary directory, removed by `cleanup`. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "iam-test-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let compiled: string | undefined;

/**
 * The compiled `iam` command, dist/bin/iam.js, as `npm start` runs it (no
 * TypeScript loader in the process). Built first if its sources changed since
 * the last build; scripts/build.mjs returns at once otherwise, and builds
 * started at once by several test files do not disturb each other.
 */
export function compiledIam(): string {
  if (compiled === undefined) {
    execFileSync(process.execPath, [fileURLToPath(new URL("../scripts/build.mjs", import.meta.url))], { stdio: "inherit" });
    compiled = fileURLToPath(new URL("../dist/bin/iam.js", import.meta.url));
  }
  return compiled;
}

/**
 * RSA keys made once per test process and handed out again to every
 * database: making one takes a fifth of a second, and most tests start a core
 * (with the default tenant's keys) or two. Within one database each is handed
 * out once, so kids stay unique there, as the schema requires (only for a
 * database the harness made itself: one it is given may hold them already);
 * ES256 keys are cheap and always new.
 */
const rsaKeys: Promise<KeyObject>[] = [];
const rsaKeysUsed = new Map<string, number>();
export function reusedKeys(database: string): PrivateKeySource {
  return (alg) => {
    if (alg !== "RS256") return newPrivateKey(alg);
    const i = rsaKeysUsed.get(database) ?? 0;
    rsaKeysUsed.set(database, i + 1);
    return (rsaKeys[i] ??= newPrivateKey("RS256"));
  };
}

/** Test configuration: a real SQLite file, the cheapest argon2id setting, a fixed base URL. */
export function testConfig(db: string, overrides: Partial<Config> = {}): Config {
  return loadConfig(
    {},
    {
      db,
      baseUrl: BASE_URL,
      httpPort: 0,
      grpcPort: 0,
      managementPort: 0,
      adminPassword: ADMIN_PASSWORD,
      adminClientSecret: ADMIN_CLIENT_SECRET,
      passwordHashMemoryKib: 64,
      passwordHashIterations: 1,
      logLevel: "silent",
      // Strict refresh-token reuse detection unless a test is about the grace window.
      refreshTokenGrace: 0,
      // Sign-in lockout, hold-back and rate limits only where a test is about
      // them (the clock of a test stands still: a bucket would never refill).
      loginMaxFailuresPerUser: 1000,
      loginMaxFailuresPerAddress: 1000,
      loginFailureDelayMs: 0,
      tokenRatePerClient: 0,
      loginRatePerAddress: 0,
      registrationRatePerAddress: 0,
      ...overrides,
    },
  );
}

export interface TestCore {
  core: Core;
  clock: TestClock;
  lines: string[];
  /** Connect's in-memory router transport: the whole protocol, no network. */
  transport: Transport;
  authorization: Client<typeof AuthorizationService>;
  tokens: Client<typeof TokenService>;
  dbPath: string;
  close(): Promise<void>;
}

/** A core on a temporary database, called through the in-memory transport, with a movable clock. */
export async function startTestCore(
  options: { dbPath?: string; clock?: TestClock; config?: Partial<Config> } = {},
): Promise<TestCore> {
  const tmp = options.dbPath === undefined ? tempDir() : undefined;
  // On PostgreSQL's pass of the suite, a core given no file of its own gets a database of its own, its schema applied.
  const pgDb = ON_POSTGRES && options.dbPath === undefined && options.config?.db === undefined ? await createMigratedDatabase() : undefined;
  const dbPath = pgDb?.url ?? options.config?.db ?? options.dbPath ?? join(tmp!.dir, "iam.db");
  const clock = options.clock ?? new TestClock();
  const { logger, lines } = memoryLogger();
  let core: Core;
  try {
    // A database the harness made itself starts empty: its keys may be ones other databases use. One it
    // was given (a copy, another worker's) may hold them already.
    const fresh = options.dbPath === undefined && options.config?.db === undefined;
    core = await createCore(testConfig(dbPath, options.config), { clock, logger, privateKeys: fresh ? reusedKeys(dbPath) : undefined });
  } catch (err) {
    await pgDb?.drop();
    tmp?.cleanup();
    throw err;
  }
  const transport = createRouterTransport(core.routes);
  return {
    core,
    clock,
    lines,
    transport,
    authorization: createClient(AuthorizationService, transport),
    tokens: createClient(TokenService, transport),
    dbPath,
    async close() {
      const leaks = await auditSecretLeaks(core.deps.store).catch(() => []);
      await core.close();
      await pgDb?.drop();
      tmp?.cleanup();
      if (leaks.length > 0) throw new Error(`secrets reached the audit trail: ${leaks.join("; ")}`);
    },
  };
}

/**
 * The secrets the shared fixtures use (here and in test/core/flow.ts). When a
 * test core closes, no event of its audit trail may hold one, nor anything
 * shaped like a signed token outside a retention checkpoint: so every test
 * that runs a core also checks that no secret reached the trail.
 */
const FIXTURE_SECRETS = [
  ADMIN_PASSWORD,
  ADMIN_CLIENT_SECRET,
  RFC7636_VERIFIER,
  "web-app-secret",
  "web-app-2-secret",
  "strict-secret",
  "code-only-secret",
  "m2m-secret",
  "alice-password",
  "bob-password",
  "carol-password",
];
const SIGNED_TOKEN = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/;

/** Where the audit trail of `store` holds a fixture secret or a signed token: one line each. */
export async function auditSecretLeaks(store: Core["deps"]["store"]): Promise<string[]> {
  const found: string[] = [];
  for (const chain of await store.listAuditChains()) {
    for (let after = 0; ; ) {
      const page = await store.listAuditEvents(chain, {}, { after, limit: 1000 });
      for (const event of page) {
        // A retention checkpoint is a JWS by design; nothing else of an event is.
        const text = JSON.stringify({ ...event, changes: event.action === "AUDIT_EVENTS_PURGED" ? [] : event.changes });
        const where = `${chain.organization}/${chain.project} #${event.sequence} ${event.action}`;
        for (const secret of FIXTURE_SECRETS) if (text.includes(secret)) found.push(`${where} holds "${secret}"`);
        if (SIGNED_TOKEN.test(text)) found.push(`${where} holds a signed token`);
      }
      if (page.length < 1000) break;
      after = page.at(-1)!.sequence;
    }
  }
  return found;
}

export interface TestServer extends TestCore {
  /** Gateway origin, e.g. http://127.0.0.1:PORT (http://localhost:PORT, its base URL, for a `localhost` server) */
  httpUrl: string;
  /** Core origin (HTTP/2 cleartext). */
  grpcUrl: string;
  /** Management listener's origin (bin/management.ts): /metrics, /healthz, /readyz. */
  managementUrl: string;
  /** `${httpUrl}/services/oauth2/iam-admins/iam-admins` */
  project: string;
}

/**
 * Core and gateway on real loopback ports, as `npm start` runs them: the
 * gateway reaches the core in process; the core also serves HTTP/2.
 *
 * `localhost`: the base URL is http://localhost:PORT, the gateway's own
 * port, and the browser visits it there. WebAuthn needs this: a secure
 * context whose host is the relying party the base URL names.
 */
export async function startTestServer(
  options: { dbPath?: string; clock?: TestClock; config?: Partial<Config>; localhost?: boolean } = {},
): Promise<TestServer> {
  // The gateway listens first, so that a base URL can name its port; it answers once the core exists.
  let listener: RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const http = await startGatewayServer((req, res) => listener(req, res), "127.0.0.1", 0);
  const localhost = options.localhost === true ? `http://localhost:${http.port}` : undefined;
  let base: TestCore;
  try {
    base = await startTestCore(localhost === undefined ? options : { ...options, config: { ...options.config, baseUrl: localhost } });
  } catch (err) {
    await http.close();
    throw err;
  }
  const grpc: RunningServer = await startCoreServer(base.core.routes, "127.0.0.1", 0);
  const inProcess = createInProcessTransport(base.core.routes);
  const management = await startManagement(
    { host: "127.0.0.1", port: 0 },
    { transport: inProcess, metrics: base.core.deps.metrics, logger: base.core.deps.logger },
  );
  const app = createGateway({
    transport: inProcess,
    baseUrl: base.core.deps.config.baseUrl,
    logger: base.core.deps.logger,
    metrics: base.core.deps.metrics,
    serveConsole: options.config?.console,
  });
  listener = app.callback();
  const httpUrl = localhost ?? `http://127.0.0.1:${http.port}`;
  return {
    ...base,
    httpUrl,
    grpcUrl: `http://127.0.0.1:${grpc.port}`,
    managementUrl: `http://127.0.0.1:${management.port}`,
    project: `${httpUrl}/services/oauth2/iam-admins/iam-admins`,
    async close() {
      await http.close();
      await management.close(500);
      // Clients of a test may keep their HTTP/2 sessions open: cut them off soon.
      await grpc.close(500);
      await base.close();
    },
  };
}

/**
 * Another gateway in front of a test server's core: over gRPC, as `iam
 * gateway` runs it, or in process. Closed with the test.
 */
export async function startExtraGateway(
  t: { teardown(fn: () => Promise<void>): void },
  s: TestServer,
  options: { overNetwork?: boolean; trustProxy?: boolean } = {},
): Promise<{ origin: string; project: string }> {
  const app = createGateway({
    transport: options.overNetwork === false ? createInProcessTransport(s.core.routes) : createGrpcTransport({ baseUrl: s.grpcUrl }),
    baseUrl: BASE_URL,
    logger: s.core.deps.logger,
    metrics: s.core.deps.metrics,
    trustProxy: options.trustProxy,
  });
  const server = await startGatewayServer(app.callback(), "127.0.0.1", 0);
  t.teardown(() => server.close());
  const origin = `http://127.0.0.1:${server.port}`;
  return { origin, project: `${origin}/services/oauth2/iam-admins/iam-admins` };
}

/** Creates a client in a project directly in the store (no admin API yet). */
export async function seedClient(
  core: Core,
  client: Partial<ClientRecord> & { id: string; secret?: string },
): Promise<ClientRecord> {
  const { secret, ...rest } = client;
  const record: ClientRecord = {
    ...DEFAULT,
    name: `Client ${client.id}`,
    type: secret === undefined ? "public" : "confidential",
    secretHash: secret === undefined ? null : await core.deps.passwords.hash(secret),
    redirectUris: ["https://app.example/callback"],
    grantTypes: ["authorization_code", "refresh_token"],
    pkceRequired: false,
    rememberConsent: false,
    accessTokenTtl: 300,
    refreshTokenTtl: 3600,
    postLogoutRedirectUris: [],
    backchannelLogoutUri: "",
    idTokenSignedResponseAlg: "RS256",
    webOrigins: [],
    requirePushedAuthorizationRequests: false,
    ...CLIENT_AUTH_DEFAULTS,
    createdAt: 0,
    ...rest,
  };
  await core.deps.store.createClient(record);
  return record;
}

/** Creates a user holding the given permissions (through one role of its own). */
export async function seedUser(
  core: Core,
  user: { id: string; password: string; permissions?: string[]; enabled?: boolean } & Partial<ProjectRef> &
    Partial<Pick<UserRecord, "name" | "email" | "emailVerified" | "givenName" | "familyName">>,
): Promise<UserRecord> {
  const ref = { organization: user.organization ?? DEFAULT.organization, project: user.project ?? DEFAULT.project };
  const { store } = core.deps;
  for (const permission of user.permissions ?? []) {
    const existing = await store.getPermissions(ref, [permission]);
    if (existing.length === 0) await store.createPermission({ ...ref, id: permission, description: `May ${permission}` });
  }
  const record: UserRecord = {
    ...ref,
    id: user.id,
    name: user.name ?? `User ${user.id}`,
    email: user.email ?? `${user.id}@example.test`,
    emailVerified: user.emailVerified ?? false,
    givenName: user.givenName ?? "",
    familyName: user.familyName ?? "",
    passwordHash: await core.deps.passwords.hash(user.password),
    enabled: user.enabled ?? true,
    createdAt: 0,
  };
  await store.createUser(record);
  if ((user.permissions ?? []).length > 0) {
    await store.createRole({ ...ref, id: `role-${user.id}`, description: "test role", permissions: user.permissions! });
    await store.assignRole(ref, { userId: user.id }, `role-${user.id}`);
  }
  return record;
}

/** Creates another organization and project with its signing key. */
export async function seedProject(core: Core, ref: ProjectRef): Promise<void> {
  const { store, keys } = core.deps;
  if ((await store.getOrganization(ref.organization)) === undefined) {
    await store.createOrganization({ id: ref.organization, name: ref.organization, createdAt: 0 });
  }
  await store.createProject({ ...ref, name: ref.project, audience: `${BASE_URL}/services/oauth2/${ref.organization}/${ref.project}`, accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 0 });
  await keys.create(ref);
}

export const pkcePair = (verifier = RFC7636_VERIFIER) => ({ verifier, challenge: s256(verifier) });

/** Reads a query parameter of a redirect URL. */
export function queryOf(url: string): URLSearchParams {
  return new URL(url).searchParams;
}
