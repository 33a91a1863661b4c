import type { LogLevel } from "../observe/log.js";
import { parseKek } from "../store/sealing.js";

/**
 * Every option of iam-core: its environment variable, default and meaning.
 * `loadConfig` validates them all at start-up and names the variable of any
 * value it refuses.
 */
export interface Config {
  /** Gateway port (HTTP/1.1); 0 picks a free one. */
  httpPort: number;
  /** Core port (HTTP/2 cleartext: gRPC, gRPC-Web, Connect); 0 picks a free one. */
  grpcPort: number;
  /** Interface both servers listen on. */
  host: string;
  /** Management listener's port (HTTP/1.1: /metrics, /healthz, /readyz); 0 picks a free one. */
  managementPort: number;
  /** Interface the management listener listens on; not IAM_HOST, so that opening the public ports opens nothing else. */
  managementHost: string;
  /** SQLite database file. */
  db: string;
  /** Public base URL: the prefix of every issuer and of the default client's redirect URI. */
  baseUrl: string;
  /** Password of the default `admin` user on first start; generated and printed when unset. */
  adminPassword: string | undefined;
  /** Secret of the default `admin-client` on first start. */
  adminClientSecret: string;
  /**
   * Core URLs the gateway calls when it runs alone (`iam gateway`): one, or
   * several replicas, balanced with failover (wire/balanced-transport.ts).
   */
  coreUrls: string[];
  /** Log level: debug, info, warn, error or silent. */
  logLevel: LogLevel;
  /** argon2id memory cost in KiB for new password and secret hashes. */
  passwordHashMemoryKib: number;
  /** argon2id iterations for new password and secret hashes. */
  passwordHashIterations: number;
  /** Lifetime of a pending authorization request, seconds. */
  authorizationRequestTtl: number;
  /** Lifetime of an authorization code, seconds. */
  authorizationCodeTtl: number;
  /** Lifetime of a pushed authorization request's request_uri (RFC 9126), seconds. */
  pushedAuthorizationRequestTtl: number;
  /** Seconds a sign-in session lives without being used. */
  sessionIdle: number;
  /** Seconds a sign-in session lives at most, however used; then the user signs in again. */
  sessionMax: number;
  /** Seconds a client's back-channel logout endpoint has to answer one logout token. */
  backchannelLogoutTimeout: number;
  /** Further attempts at a back-channel logout after a network error, a timeout or a 5xx answer. */
  backchannelLogoutRetries: number;
  /** Whether back-channel logout URIs may name loopback, private, link-local and unique-local hosts (and plain http to loopback). */
  backchannelLogoutPrivateNetworks: boolean;
  /** Seconds a client's jwks_uri has to answer whole (connection, headers and body) when its keys are fetched. */
  jwksUriTimeout: number;
  /** Whether a client's jwks_uri may name loopback, private, link-local and unique-local hosts (and plain http to loopback). */
  jwksUriPrivateNetworks: boolean;
  /** Seconds a client ID metadata document's URL has to answer whole (connection, headers and body). */
  clientMetadataTimeout: number;
  /** Whether client ID metadata documents may be fetched from loopback, private, link-local and unique-local addresses. */
  clientMetadataPrivateNetworks: boolean;
  /** Clients from metadata documents one project may hold; past it a new document is refused before it is fetched. */
  clientMetadataMaxClients: number;
  /** Days an audit event is kept; 0 keeps every event. */
  auditRetentionDays: number;
  /** Audit streams (StreamEvents) one caller may have open at once on this process. */
  auditStreamsPerCaller: number;
  /** Whether the gateway serves the administration console (and its API) at /admin. */
  console: boolean;
  /** Whether DPoP proofs at the token endpoint must carry a nonce the server gave. */
  dpopNonce: boolean;
  /** Client registrations (RFC 7591) per minute from one client address in one project; 0: no limit. */
  registrationRatePerAddress: number;
  /** Registrations one address may make at once above that rate. */
  registrationRateBurst: number;
  /** Dynamically registered clients one project may hold. */
  registrationMaxClients: number;
  /** Audit streams this process serves at once, every caller together. */
  auditStreamsMax: number;
  /** Seconds between purges of expired rows (core/server/purge.ts). */
  purgeInterval: number;
  /** Seconds in which a just-rotated refresh token may be presented again by its client without revoking its family. */
  refreshTokenGrace: number;
  /** Failed sign-ins of one username within the window that lock it. */
  loginMaxFailuresPerUser: number;
  /** Failed sign-ins from one client address within the window that lock it. */
  loginMaxFailuresPerAddress: number;
  /** Seconds over which failed sign-ins are counted. */
  loginFailureWindow: number;
  /** Seconds a locked username or address stays locked. */
  loginLockout: number;
  /** Milliseconds the answer to a repeated failure is held back, doubling with each (at most 5 s). */
  loginFailureDelayMs: number;
  /** Requests per second one client may make at the token endpoint (0: no limit). */
  tokenRatePerClient: number;
  /** How many token requests one client may make at once above that rate. */
  tokenRateBurst: number;
  /** Sign-in attempts per second from one client address (0: no limit). */
  loginRatePerAddress: number;
  /** How many sign-in attempts one address may make at once above that rate. */
  loginRateBurst: number;
  /** Largest request body the gateway reads, bytes. */
  httpMaxBodyBytes: number;
  /** Seconds a client may take to send its request headers. */
  httpHeadersTimeout: number;
  /** Seconds a client may take to send its whole request. */
  httpRequestTimeout: number;
  /** Seconds a request on the core port's HTTP/2 has to arrive whole (headers through the end of its body). */
  grpcRequestTimeout: number;
  /** Seconds an HTTP/2 connection to the core port may go with no stream open before it is closed gracefully. */
  grpcIdleTimeout: number;
  /** Streams one HTTP/2 connection to the core port may have open at once. */
  grpcMaxStreams: number;
  /** Whether the gateway takes the client address from X-Forwarded-For (behind a reverse proxy). */
  trustProxy: boolean;
  /** Key encryption key of the private signing keys at rest (32 bytes, base64); unset stores them unencrypted. */
  keyEncryptionKey: string | undefined;
  /** The previous key encryption key, while changing it: keys sealed under it are re-encrypted at start. */
  keyEncryptionKeyPrevious: string | undefined;
  /** SQLite commit durability: `full` (survives a power loss) or `normal` (survives a process crash). */
  dbSynchronous: "full" | "normal";
  /** PostgreSQL: connections each process keeps for queries. */
  dbPoolSize: number;
  /** Seconds in-flight requests may take to finish after SIGTERM before they are cut. */
  shutdownGrace: number;
  /** Whether `GET /metrics` answers on the management listener. */
  metrics: boolean;
  /** Processes serving the ports, sharing them and the database; 0: one per CPU core. */
  workers: number;
}

interface Option<K extends keyof Config> {
  key: K;
  env: string;
  doc: string;
  default: (partial: Partial<Config>) => Config[K];
  parse: (raw: string, env: string) => Config[K];
  secret?: boolean;
}

class ConfigError extends Error {
  constructor(env: string, problem: string) {
    super(`${env}: ${problem}`);
    this.name = "ConfigError";
  }
}

const port = (raw: string, env: string): number => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n > 65535) throw new ConfigError(env, `expected a port number 0-65535, got "${raw}"`);
  return n;
};
const positive = (min: number, max: number) => (raw: string, env: string): number => {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new ConfigError(env, `expected a whole number ${min}-${max}, got "${raw}"`);
  return n;
};
const text = (raw: string, env: string): string => {
  if (raw === "") throw new ConfigError(env, "must not be empty");
  return raw;
};
const url = (raw: string, env: string): string => {
  // Scheme, host (and port), optional path; nothing else. Checked on the raw
  // text: URL parsing silently drops an empty "?" or "#" and accepts "http:x".
  if (!/^https?:\/\/[^/?#@\s]+(\/[^?#\s]*)?$/.test(raw)) {
    throw new ConfigError(env, `expected an absolute http(s) URL without query, fragment or credentials, got "${raw}"`);
  }
  try {
    new URL(raw);
  } catch {
    throw new ConfigError(env, `expected an absolute http(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, "");
};
/** A comma-separated list of distinct http(s) URLs, each checked as `url` does. */
const urlList = (raw: string, env: string): string[] => {
  const urls: string[] = [];
  const seen = new Map<string, string>();
  for (const item of raw.split(",").map((s) => s.trim())) {
    if (item === "") throw new ConfigError(env, `expected comma-separated http(s) URLs, got an empty entry in "${raw}"`);
    const parsed = url(item, env);
    // The same origin and path however spelled: case, default port, trailing slash.
    const key = new URL(parsed).href.replace(/\/+$/, "");
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new ConfigError(env, `lists the same URL twice: "${earlier}" and "${item}"`);
    }
    seen.set(key, item);
    urls.push(parsed);
  }
  return urls;
};
const flag = (raw: string, env: string): boolean => {
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(env, `expected true or false, got "${raw}"`);
};
const kek = (raw: string, env: string): string => {
  if (parseKek(raw) === undefined) {
    throw new ConfigError(env, "expected 32 random bytes in base64 (for example: openssl rand -base64 32)");
  }
  return raw;
};
const synchronous = (raw: string, env: string): "full" | "normal" => {
  if (raw !== "full" && raw !== "normal") throw new ConfigError(env, `expected full or normal, got "${raw}"`);
  return raw;
};
/** Whether IAM_DB names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (db: string): boolean => /^postgres(ql)?:\/\//i.test(db);
/** IAM_DB as it may be logged or printed: a PostgreSQL URL without its password. */
export function displayDb(db: string): string {
  if (!isPostgresUrl(db)) return db;
  try {
    const parsed = new URL(db);
    if (parsed.password !== "") parsed.password = "********";
    // libpq also takes the password as a parameter, and key files' passphrases.
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|secret|key/i.test(key)) parsed.searchParams.set(key, "********");
    }
    return parsed.toString();
  } catch {
    return "postgres://(unreadable URL)";
  }
}
const database = (raw: string, env: string): string => {
  if (!isPostgresUrl(raw)) return text(raw, env);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(env, "expected postgres://user:password@host:port/database (characters such as @ : / in the password percent-encoded)");
  }
  if (parsed.hostname === "" || parsed.pathname.replace(/^\//, "") === "") {
    throw new ConfigError(env, "a PostgreSQL URL names a host and a database: postgres://user:password@host:port/database");
  }
  return raw;
};
const LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
const level = (raw: string, env: string): LogLevel => {
  if (!(LEVELS as readonly string[]).includes(raw)) throw new ConfigError(env, `expected one of ${LEVELS.join(", ")}, got "${raw}"`);
  return raw as LogLevel;
};

export const OPTIONS: { [K in keyof Config]: Option<K> }[keyof Config][] = [
  { key: "httpPort", env: "IAM_HTTP_PORT", doc: "gateway port (HTTP/1.1); 0 picks a free one", default: () => 8080, parse: port },
  { key: "grpcPort", env: "IAM_GRPC_PORT", doc: "core port (HTTP/2 cleartext gRPC, gRPC-Web, Connect); 0 picks a free one", default: () => 50051, parse: port },
  { key: "host", env: "IAM_HOST", doc: "interface to listen on (0.0.0.0 for every interface)", default: () => "127.0.0.1", parse: text },
  {
    key: "managementPort",
    env: "IAM_MANAGEMENT_PORT",
    doc: "management listener's port: GET /metrics, /healthz and /readyz (HTTP/1.1), never on the public ports; 0 picks a free one",
    default: () => 9000,
    parse: port,
  },
  {
    key: "managementHost",
    env: "IAM_MANAGEMENT_HOST",
    doc: "interface the management listener listens on, whatever IAM_HOST is (0.0.0.0 where Prometheus or the probes come from another host)",
    default: () => "127.0.0.1",
    parse: text,
  },
  { key: "db", env: "IAM_DB", doc: "SQLite database file, or a PostgreSQL database: postgres://user:password@host:5432/db", default: () => "./data/iam.db", parse: database },
  {
    key: "baseUrl",
    env: "IAM_BASE_URL",
    doc: "public base URL, prefix of every issuer",
    default: (c) => `http://localhost:${c.httpPort ?? 8080}`,
    parse: url,
  },
  { key: "adminPassword", env: "IAM_ADMIN_PASSWORD", doc: "password of the default admin user, first start only (else generated and printed)", default: () => undefined, parse: text, secret: true },
  { key: "adminClientSecret", env: "IAM_ADMIN_CLIENT_SECRET", doc: "secret of admin-client, first start only", default: () => "top-secret", parse: text, secret: true },
  {
    key: "coreUrls",
    env: "IAM_CORE_URL",
    doc: "core URL the gateway calls when run alone; several replicas comma-separated, balanced with failover",
    default: () => ["http://127.0.0.1:50051"],
    parse: urlList,
  },
  { key: "logLevel", env: "IAM_LOG_LEVEL", doc: "debug, info, warn, error or silent", default: () => "info", parse: level },
  { key: "passwordHashMemoryKib", env: "IAM_PASSWORD_HASH_MEMORY_KIB", doc: "argon2id memory cost (KiB) of new hashes", default: () => 19456, parse: positive(8, 4194304) },
  { key: "passwordHashIterations", env: "IAM_PASSWORD_HASH_ITERATIONS", doc: "argon2id iterations of new hashes", default: () => 2, parse: positive(1, 100) },
  { key: "authorizationRequestTtl", env: "IAM_AUTHORIZATION_REQUEST_TTL", doc: "seconds a pending authorization request lives", default: () => 600, parse: positive(30, 3600) },
  { key: "authorizationCodeTtl", env: "IAM_AUTHORIZATION_CODE_TTL", doc: "seconds an authorization code lives", default: () => 60, parse: positive(5, 600) },
  {
    key: "pushedAuthorizationRequestTtl",
    env: "IAM_PAR_TTL",
    doc: "seconds the request_uri of a pushed authorization request (RFC 9126) may be used in, once; it should be short",
    default: () => 60,
    parse: positive(5, 600),
  },
  { key: "sessionIdle", env: "IAM_SESSION_IDLE", doc: "seconds a sign-in session (single sign-on) lives unused; each sign-in through it renews it", default: () => 1800, parse: positive(60, 31536000) },
  { key: "sessionMax", env: "IAM_SESSION_MAX", doc: "seconds a sign-in session lives at most, however used; then the user signs in again", default: () => 36000, parse: positive(60, 31536000) },
  { key: "backchannelLogoutTimeout", env: "IAM_BACKCHANNEL_LOGOUT_TIMEOUT", doc: "seconds a client's back-channel logout endpoint has to answer a logout token (the user's sign-out never waits for it)", default: () => 5, parse: positive(1, 60) },
  { key: "backchannelLogoutRetries", env: "IAM_BACKCHANNEL_LOGOUT_RETRIES", doc: "further attempts at a back-channel logout after a network error, a timeout or a 5xx answer (not after a 4xx), with growing pauses", default: () => 2, parse: positive(0, 10) },
  {
    key: "backchannelLogoutPrivateNetworks",
    env: "IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS",
    doc: "allow back-channel logout URIs of clients administrators make on loopback, private, link-local and unique-local addresses (and plain http to loopback): only where the relying parties really live there; never for a client that registered itself",
    default: () => false,
    parse: flag,
  },
  { key: "jwksUriTimeout", env: "IAM_JWKS_URI_TIMEOUT", doc: "seconds a client's jwks_uri has to answer whole, connection through the last byte, when its keys for private_key_jwt are fetched; past it the client's authentication fails", default: () => 5, parse: positive(1, 60) },
  { key: "jwksUriPrivateNetworks", env: "IAM_JWKS_URI_PRIVATE_NETWORKS", doc: "allow the jwks_uri of clients administrators make on loopback, private, link-local and unique-local addresses (and plain http to loopback): only where the clients really live there; never for a client that registered itself", default: () => false, parse: flag },
  { key: "clientMetadataTimeout", env: "IAM_CLIENT_METADATA_TIMEOUT", doc: "seconds a client ID metadata document's URL has to answer whole, connection through the last byte; past it the authorization request is refused (docs/client-metadata-documents.md)", default: () => 5, parse: positive(1, 30) },
  { key: "clientMetadataMaxClients", env: "IAM_CLIENT_METADATA_MAX_CLIENTS", doc: "clients from client ID metadata documents one project may hold; past it a new document's client is refused, unfetched, until the purge removes idle ones (a day unused) or an administrator deletes some", default: () => 10000, parse: positive(1, 10000000) },
  { key: "clientMetadataPrivateNetworks", env: "IAM_CLIENT_METADATA_PRIVATE_NETWORKS", doc: "allow client ID metadata documents, and the jwks_uri they name, on loopback, private, link-local and unique-local addresses (documents still https only): only for tests, or where every client really lives there", default: () => false, parse: flag },
  { key: "refreshTokenGrace", env: "IAM_REFRESH_TOKEN_GRACE", doc: "seconds a just-rotated refresh token may be reused by its client (racing tabs) without revoking its family; 0 disables", default: () => 5, parse: positive(0, 60) },
  {
    key: "auditRetentionDays",
    env: "IAM_AUDIT_RETENTION_DAYS",
    doc: "days an audit event is kept before the purge deletes it, leaving a signed checkpoint (docs/audit.md); 0 keeps every event",
    default: () => 400,
    parse: positive(0, 36500),
  },
  {
    key: "auditStreamsPerCaller",
    env: "IAM_AUDIT_STREAMS_PER_CALLER",
    doc: "audit streams (AuditService.StreamEvents, the console's live audit) one user or client may have open at once on a process; past it RESOURCE_EXHAUSTED",
    default: () => 8,
    parse: positive(1, 1000),
  },
  {
    key: "auditStreamsMax",
    env: "IAM_AUDIT_STREAMS_MAX",
    doc: "audit streams a process serves at once, every caller together; past it RESOURCE_EXHAUSTED",
    default: () => 256,
    parse: positive(1, 100000),
  },
  { key: "purgeInterval", env: "IAM_PURGE_INTERVAL", doc: "seconds between purges of expired rows", default: () => 60, parse: positive(1, 86400) },
  { key: "loginMaxFailuresPerUser", env: "IAM_LOGIN_MAX_FAILURES_PER_USER", doc: "failed sign-ins of one username within the window that lock it", default: () => 5, parse: positive(1, 1000) },
  { key: "loginMaxFailuresPerAddress", env: "IAM_LOGIN_MAX_FAILURES_PER_ADDRESS", doc: "failed sign-ins from one client address within the window that lock it", default: () => 20, parse: positive(1, 100000) },
  { key: "loginFailureWindow", env: "IAM_LOGIN_FAILURE_WINDOW", doc: "seconds over which failed sign-ins are counted", default: () => 900, parse: positive(60, 86400) },
  { key: "loginLockout", env: "IAM_LOGIN_LOCKOUT", doc: "seconds a locked username or address stays locked", default: () => 900, parse: positive(1, 86400) },
  { key: "loginFailureDelayMs", env: "IAM_LOGIN_FAILURE_DELAY_MS", doc: "milliseconds the answer to a repeated failed sign-in is held back, doubling each time (at most 5000)", default: () => 250, parse: positive(0, 5000) },
  { key: "tokenRatePerClient", env: "IAM_TOKEN_RATE_PER_CLIENT", doc: "token requests per second one client may make with a secret, pushed authorization requests included (0: no limit); past it 429 with Retry-After", default: () => 100, parse: positive(0, 1000000) },
  { key: "tokenRateBurst", env: "IAM_TOKEN_RATE_BURST", doc: "token requests one client may make at once above that rate", default: () => 200, parse: positive(1, 1000000) },
  { key: "loginRatePerAddress", env: "IAM_LOGIN_RATE_PER_ADDRESS", doc: "sign-in attempts per second from one client address (0: no limit); past it 429 with Retry-After", default: () => 5, parse: positive(0, 100000) },
  { key: "registrationRatePerAddress", env: "IAM_REGISTRATION_RATE_PER_ADDRESS", doc: "Dynamic Client Registration calls (registration, read, update, delete) per minute from one client address in one project (0: no limit); past it 429 with Retry-After", default: () => 10, parse: positive(0, 100000) },
  { key: "registrationRateBurst", env: "IAM_REGISTRATION_RATE_BURST", doc: "Dynamic Client Registration calls one address may make at once above that rate", default: () => 10, parse: positive(1, 100000) },
  { key: "registrationMaxClients", env: "IAM_REGISTRATION_MAX_CLIENTS", doc: "dynamically registered clients one project may hold; past it registration is refused (403 access_denied) until some are deleted", default: () => 10000, parse: positive(1, 10000000) },
  { key: "loginRateBurst", env: "IAM_LOGIN_RATE_BURST", doc: "sign-in attempts one address may make at once above that rate", default: () => 20, parse: positive(1, 100000) },
  { key: "httpMaxBodyBytes", env: "IAM_HTTP_MAX_BODY_BYTES", doc: "largest request body the gateway reads (bytes); larger is 413", default: () => 16384, parse: positive(1024, 1048576) },
  { key: "httpHeadersTimeout", env: "IAM_HTTP_HEADERS_TIMEOUT", doc: "seconds a client may take to send its request headers", default: () => 15, parse: positive(1, 300) },
  { key: "httpRequestTimeout", env: "IAM_HTTP_REQUEST_TIMEOUT", doc: "seconds a client may take to send its whole request", default: () => 30, parse: positive(1, 600) },
  { key: "grpcRequestTimeout", env: "IAM_GRPC_REQUEST_TIMEOUT", doc: "seconds a request on the core port (HTTP/2) has to arrive whole, headers through the end of its body; then its stream is reset (RST_STREAM CANCEL)", default: () => 30, parse: positive(1, 600) },
  { key: "grpcIdleTimeout", env: "IAM_GRPC_IDLE_TIMEOUT", doc: "seconds an HTTP/2 connection to the core port may go with no stream open; then it is closed gracefully (GOAWAY NO_ERROR) and clients reconnect", default: () => 300, parse: positive(10, 86400) },
  { key: "grpcMaxStreams", env: "IAM_GRPC_MAX_STREAMS", doc: "streams one HTTP/2 connection to the core port may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); clients queue calls beyond it", default: () => 100, parse: positive(10, 10000) },
  { key: "trustProxy", env: "IAM_TRUST_PROXY", doc: "take the client address from X-Forwarded-For (true only behind a reverse proxy that sets it)", default: () => false, parse: flag },
  { key: "keyEncryptionKey", env: "IAM_KEY_ENCRYPTION_KEY", doc: "32 random bytes, base64: encrypts private signing keys in the database (unset: stored unencrypted, with a warning)", default: () => undefined, parse: kek, secret: true },
  { key: "keyEncryptionKeyPrevious", env: "IAM_KEY_ENCRYPTION_KEY_PREVIOUS", doc: "the previous IAM_KEY_ENCRYPTION_KEY while changing it: its keys are re-encrypted at start", default: () => undefined, parse: kek, secret: true },
  { key: "dbPoolSize", env: "IAM_DB_POOL_SIZE", doc: "PostgreSQL: connections each process keeps for queries (one more listens for changes)", default: () => 10, parse: positive(1, 500) },
  { key: "dbSynchronous", env: "IAM_DB_SYNCHRONOUS", doc: "full: a commit survives a power loss; normal: a process crash only, but commits are ~10x cheaper", default: () => "full", parse: synchronous },
  { key: "shutdownGrace", env: "IAM_SHUTDOWN_GRACE", doc: "seconds in-flight requests may take to finish on SIGTERM before they are cut", default: () => 10, parse: positive(0, 600) },
  { key: "workers", env: "IAM_WORKERS", doc: "processes that serve the ports together, on one database (0: one per CPU core; 1: a single process)", default: () => 0, parse: positive(0, 64) },
  {
    key: "dpopNonce",
    env: "IAM_DPOP_NONCE",
    doc: "require DPoP proofs at the token endpoint to carry a nonce the server gave (RFC 9449 §8; use_dpop_nonce and the DPoP-Nonce header), so that a proof made in advance stops being usable within minutes (true or false)",
    default: () => false,
    parse: flag,
  },
  {
    key: "console",
    env: "IAM_CONSOLE",
    doc: "serve the administration console and its API at /admin on the gateway (true or false); off, /admin answers 404 and administration is by the core's port (buf curl, iam) alone",
    default: () => true,
    parse: flag,
  },
  { key: "metrics", env: "IAM_METRICS", doc: "serve Prometheus metrics at GET /metrics on the management listener (true or false)", default: () => true, parse: flag },
];

/** Reads the configuration from `env`; throws a ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const config: Partial<Config> = {};
  for (const option of OPTIONS) {
    const raw = env[option.env];
    const value =
      option.key in overrides
        ? overrides[option.key]
        : raw === undefined || raw === ""
          ? option.default(config)
          : option.parse(raw, option.env);
    (config as Record<string, unknown>)[option.key] = value;
  }
  return config as Config;
}

/** The effective configuration, one line per option, secrets masked. */
export function describeConfig(config: Config): string {
  return OPTIONS.map((o) => {
    const value = config[o.key];
    const shown = o.secret && value !== undefined ? "********" : o.key === "db" ? displayDb(String(value)) : String(value);
    return `${o.env}=${shown}  # ${o.doc}`;
  }).join("\n");
}

export { ConfigError };
