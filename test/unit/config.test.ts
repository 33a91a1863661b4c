import test from "ava";
import { ConfigError, describeConfig, displayDb, loadConfig } from "../../core/server/config.js";

test("loadConfig without variables gives the documented defaults", (t) => {
  const config = loadConfig({});
  t.is(config.httpPort, 8080);
  t.is(config.grpcPort, 50051);
  t.is(config.host, "127.0.0.1");
  t.is(config.managementPort, 9000, "Keycloak's management port");
  t.is(config.managementHost, "127.0.0.1", "nothing but loopback reaches the metrics unless told");
  t.is(config.metrics, true);
  t.is(config.db, "./data/iam.db");
  t.is(config.baseUrl, "http://localhost:8080");
  t.is(config.adminPassword, undefined);
  t.is(config.adminClientSecret, "top-secret");
  t.deepEqual(config.coreUrls, ["http://127.0.0.1:50051"]);
  t.is(config.logLevel, "info");
  t.is(config.passwordHashMemoryKib, 19456);
  t.is(config.passwordHashIterations, 2);
  t.is(config.authorizationRequestTtl, 600);
  t.is(config.authorizationCodeTtl, 60);
  t.is(config.pushedAuthorizationRequestTtl, 60);
  t.is(config.purgeInterval, 60);
  t.is(config.workers, 0, "one worker per CPU core");
});

test("an empty variable counts as unset", (t) => {
  const config = loadConfig({ IAM_HTTP_PORT: "", IAM_DB: "", IAM_BASE_URL: "", IAM_LOG_LEVEL: "" });
  t.is(config.httpPort, 8080);
  t.is(config.db, "./data/iam.db");
  t.is(config.baseUrl, "http://localhost:8080");
  t.is(config.logLevel, "info");
});

test("environment variables override every default", (t) => {
  const config = loadConfig({
    IAM_HTTP_PORT: "9090",
    IAM_GRPC_PORT: "6000",
    IAM_HOST: "0.0.0.0",
    IAM_MANAGEMENT_PORT: "9100",
    IAM_MANAGEMENT_HOST: "10.0.0.5",
    IAM_DB: "/var/lib/iam.db",
    IAM_BASE_URL: "https://iam.example.com",
    IAM_ADMIN_PASSWORD: "pw-from-env",
    IAM_ADMIN_CLIENT_SECRET: "secret-from-env",
    IAM_CORE_URL: "http://core.internal:6000",
    IAM_LOG_LEVEL: "debug",
    IAM_PASSWORD_HASH_MEMORY_KIB: "65536",
    IAM_PASSWORD_HASH_ITERATIONS: "3",
    IAM_AUTHORIZATION_REQUEST_TTL: "300",
    IAM_AUTHORIZATION_CODE_TTL: "30",
    IAM_PAR_TTL: "90",
    IAM_SESSION_IDLE: "900",
    IAM_SESSION_MAX: "7200",
    IAM_BACKCHANNEL_LOGOUT_TIMEOUT: "3",
    IAM_BACKCHANNEL_LOGOUT_RETRIES: "0",
    IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS: "true",
    IAM_JWKS_URI_TIMEOUT: "2",
    IAM_JWKS_URI_PRIVATE_NETWORKS: "true",
    IAM_CLIENT_METADATA_TIMEOUT: "4",
    IAM_CLIENT_METADATA_PRIVATE_NETWORKS: "true",
    IAM_CLIENT_METADATA_MAX_CLIENTS: "250",
    IAM_PURGE_INTERVAL: "120",
    IAM_AUDIT_RETENTION_DAYS: "90",
    IAM_AUDIT_STREAMS_PER_CALLER: "4",
    IAM_AUDIT_STREAMS_MAX: "50",
    IAM_CONSOLE: "false",
    IAM_DPOP_NONCE: "true",
    IAM_REFRESH_TOKEN_GRACE: "0",
    IAM_METRICS: "false",
    IAM_SHUTDOWN_GRACE: "30",
    IAM_LOGIN_MAX_FAILURES_PER_USER: "7",
    IAM_LOGIN_MAX_FAILURES_PER_ADDRESS: "70",
    IAM_LOGIN_FAILURE_WINDOW: "600",
    IAM_LOGIN_LOCKOUT: "120",
    IAM_LOGIN_FAILURE_DELAY_MS: "0",
    IAM_TRUST_PROXY: "true",
    IAM_KEY_ENCRYPTION_KEY: "q1Sv2bVv3m6rj7v8Kz0yQy1p2s9XW3dV4b5n6m7k8Lc=",
    IAM_KEY_ENCRYPTION_KEY_PREVIOUS: "q1Sv2bVv3m6rj7v8Kz0yQy1p2s9XW3dV4b5n6m7k8Ld",
    IAM_DB_SYNCHRONOUS: "normal",
    IAM_DB_POOL_SIZE: "25",
    IAM_TOKEN_RATE_PER_CLIENT: "0",
    IAM_TOKEN_RATE_BURST: "5",
    IAM_LOGIN_RATE_PER_ADDRESS: "2",
    IAM_LOGIN_RATE_BURST: "4",
    IAM_REGISTRATION_RATE_PER_ADDRESS: "3",
    IAM_REGISTRATION_RATE_BURST: "6",
    IAM_REGISTRATION_MAX_CLIENTS: "500",
    IAM_HTTP_MAX_BODY_BYTES: "4096",
    IAM_HTTP_HEADERS_TIMEOUT: "5",
    IAM_HTTP_REQUEST_TIMEOUT: "10",
    IAM_GRPC_REQUEST_TIMEOUT: "20",
    IAM_GRPC_IDLE_TIMEOUT: "600",
    IAM_GRPC_MAX_STREAMS: "250",
    IAM_WORKERS: "3",
  });
  t.deepEqual(config, {
    httpPort: 9090,
    grpcPort: 6000,
    host: "0.0.0.0",
    managementPort: 9100,
    managementHost: "10.0.0.5",
    db: "/var/lib/iam.db",
    baseUrl: "https://iam.example.com",
    adminPassword: "pw-from-env",
    adminClientSecret: "secret-from-env",
    coreUrls: ["http://core.internal:6000"],
    logLevel: "debug",
    passwordHashMemoryKib: 65536,
    passwordHashIterations: 3,
    metrics: false,
    shutdownGrace: 30,
    loginMaxFailuresPerUser: 7,
    loginMaxFailuresPerAddress: 70,
    loginFailureWindow: 600,
    loginLockout: 120,
    loginFailureDelayMs: 0,
    trustProxy: true,
    keyEncryptionKey: "q1Sv2bVv3m6rj7v8Kz0yQy1p2s9XW3dV4b5n6m7k8Lc=",
    keyEncryptionKeyPrevious: "q1Sv2bVv3m6rj7v8Kz0yQy1p2s9XW3dV4b5n6m7k8Ld",
    dbSynchronous: "normal",
    dbPoolSize: 25,
    tokenRatePerClient: 0,
    tokenRateBurst: 5,
    loginRatePerAddress: 2,
    loginRateBurst: 4,
    registrationRatePerAddress: 3,
    registrationRateBurst: 6,
    registrationMaxClients: 500,
    httpMaxBodyBytes: 4096,
    httpHeadersTimeout: 5,
    httpRequestTimeout: 10,
    grpcRequestTimeout: 20,
    grpcIdleTimeout: 600,
    grpcMaxStreams: 250,
    authorizationRequestTtl: 300,
    authorizationCodeTtl: 30,
    pushedAuthorizationRequestTtl: 90,
    sessionIdle: 900,
    sessionMax: 7200,
    backchannelLogoutTimeout: 3,
    backchannelLogoutRetries: 0,
    backchannelLogoutPrivateNetworks: true,
    jwksUriTimeout: 2,
    jwksUriPrivateNetworks: true,
    clientMetadataTimeout: 4,
    clientMetadataPrivateNetworks: true,
    clientMetadataMaxClients: 250,
    auditRetentionDays: 90,
    auditStreamsPerCaller: 4,
    auditStreamsMax: 50,
    console: false,
    dpopNonce: true,
    purgeInterval: 120,
    refreshTokenGrace: 0,
    workers: 3,
  });
});

test("the default base URL follows the HTTP port", (t) => {
  t.is(loadConfig({ IAM_HTTP_PORT: "9090" }).baseUrl, "http://localhost:9090");
});

test("port 0 is allowed, to pick a free port", (t) => {
  const config = loadConfig({ IAM_HTTP_PORT: "0", IAM_GRPC_PORT: "0", IAM_MANAGEMENT_PORT: "0" });
  t.is(config.httpPort, 0);
  t.is(config.grpcPort, 0);
  t.is(config.managementPort, 0);
});

test("the management listener's interface is its own: opening the public ports (IAM_HOST) leaves it on loopback", (t) => {
  const config = loadConfig({ IAM_HOST: "0.0.0.0" });
  t.is(config.host, "0.0.0.0");
  t.is(config.managementHost, "127.0.0.1");
});

test("port 65535 is allowed", (t) => {
  t.is(loadConfig({ IAM_HTTP_PORT: "65535" }).httpPort, 65535);
});

test("trailing slashes of the base URL are removed", (t) => {
  t.is(loadConfig({ IAM_BASE_URL: "https://iam.example.com/" }).baseUrl, "https://iam.example.com");
  t.is(loadConfig({ IAM_BASE_URL: "https://iam.example.com/auth//" }).baseUrl, "https://iam.example.com/auth");
});

test("explicit overrides win over the environment, unparsed", (t) => {
  const config = loadConfig({ IAM_HTTP_PORT: "abc", IAM_DB: "/from/env" }, { httpPort: 0, db: ":memory:" });
  t.is(config.httpPort, 0);
  t.is(config.db, ":memory:");
});

const invalid: [string, string][] = [
  ["IAM_HTTP_PORT", "abc"],
  ["IAM_HTTP_PORT", "70000"],
  ["IAM_HTTP_PORT", "65536"],
  ["IAM_HTTP_PORT", "-1"],
  ["IAM_HTTP_PORT", "80.5"],
  ["IAM_HTTP_PORT", " 8080"],
  ["IAM_HTTP_PORT", "1e3"],
  ["IAM_GRPC_PORT", "0x50"],
  ["IAM_MANAGEMENT_PORT", "65536"],
  ["IAM_MANAGEMENT_PORT", "nine thousand"],
  ["IAM_BASE_URL", "not-a-url"],
  ["IAM_BASE_URL", "ftp://x"],
  ["IAM_BASE_URL", "http://x/?q=1"],
  ["IAM_BASE_URL", "http://x/#top"],
  ["IAM_BASE_URL", "http://user@x"],
  ["IAM_BASE_URL", "http://user:pw@x"],
  ["IAM_BASE_URL", "/relative/path"],
  ["IAM_CORE_URL", "javascript:alert(1)"],
  ["IAM_CORE_URL", "http://core-a:6000,javascript:alert(1)"],
  ["IAM_CORE_URL", "http://core-a:6000,core-b:6000"],
  ["IAM_CORE_URL", "http://core-a:6000,http://core-b:6000/?q=1"],
  ["IAM_CORE_URL", "http://core-a:6000,,http://core-b:6000"],
  ["IAM_CORE_URL", "http://core-a:6000,"],
  ["IAM_CORE_URL", ","],
  ["IAM_CORE_URL", "http://core-a:6000,http://core-a:6000"],
  ["IAM_LOG_LEVEL", "loud"],
  ["IAM_LOG_LEVEL", "INFO"],
  ["IAM_PASSWORD_HASH_MEMORY_KIB", "7"],
  ["IAM_PASSWORD_HASH_ITERATIONS", "0"],
  ["IAM_PASSWORD_HASH_ITERATIONS", "101"],
  ["IAM_AUTHORIZATION_REQUEST_TTL", "29"],
  ["IAM_AUTHORIZATION_CODE_TTL", "601"],
  ["IAM_PURGE_INTERVAL", "0"],
  ["IAM_AUDIT_RETENTION_DAYS", "-1"],
  ["IAM_AUDIT_RETENTION_DAYS", "36501"],
  ["IAM_AUDIT_STREAMS_PER_CALLER", "0"],
  ["IAM_AUDIT_STREAMS_MAX", "0"],
  ["IAM_CONSOLE", "off"],
  ["IAM_DPOP_NONCE", "yes"],
  ["IAM_BACKCHANNEL_LOGOUT_TIMEOUT", "0"],
  ["IAM_BACKCHANNEL_LOGOUT_TIMEOUT", "61"],
  ["IAM_BACKCHANNEL_LOGOUT_RETRIES", "11"],
  ["IAM_JWKS_URI_TIMEOUT", "0"],
  ["IAM_JWKS_URI_TIMEOUT", "61"],
  ["IAM_JWKS_URI_TIMEOUT", "1.5"],
  ["IAM_JWKS_URI_PRIVATE_NETWORKS", "yes"],
  ["IAM_CLIENT_METADATA_MAX_CLIENTS", "0"],
  ["IAM_METRICS", "yes"],
  ["IAM_SHUTDOWN_GRACE", "601"],
  ["IAM_LOGIN_MAX_FAILURES_PER_USER", "0"],
  ["IAM_LOGIN_FAILURE_WINDOW", "59"],
  ["IAM_LOGIN_FAILURE_DELAY_MS", "5001"],
  ["IAM_TRUST_PROXY", "yes"],
  ["IAM_KEY_ENCRYPTION_KEY", "too-short"],
  ["IAM_KEY_ENCRYPTION_KEY", "q1Sv2bVv3m6rj7v8Kz0yQy1p2s9XW3dV4b5n6m7k8"],
  ["IAM_DB_SYNCHRONOUS", "off"],
  ["IAM_DB_POOL_SIZE", "0"],
  ["IAM_DB", "postgres://"],
  ["IAM_DB", "postgres://db.internal:5432"],
  ["IAM_DB", "postgres://user:p@ss@word@/iam"],
  ["IAM_HTTP_MAX_BODY_BYTES", "100"],
  ["IAM_HTTP_HEADERS_TIMEOUT", "0"],
  ["IAM_TOKEN_RATE_BURST", "0"],
  ["IAM_METRICS", "TRUE"],
  ["IAM_WORKERS", "-1"],
  ["IAM_WORKERS", "65"],
  ["IAM_WORKERS", "two"],
];
for (const [name, value] of invalid) {
  test(`${name}=${JSON.stringify(value)} is refused with a ConfigError naming the variable`, (t) => {
    const err = t.throws(() => loadConfig({ [name]: value }), { instanceOf: ConfigError });
    t.is(err?.name, "ConfigError");
    t.true(err?.message.startsWith(`${name}: `), err?.message);
  });
}

// The URL check reads URL#search, URL#hash and URL#username, which are empty
// for an empty query "?", an empty fragment "#" and password-only credentials.
const invalidEdgeUrls: [string, string][] = [
  ["an empty query", "http://x/?"],
  ["an empty fragment", "http://x/#"],
  ["password-only credentials", "http://:pw@x"],
];
for (const [name, value] of invalidEdgeUrls) {
  test(`IAM_BASE_URL with ${name} (${value}) is refused`, (t) => {
    t.throws(() => loadConfig({ IAM_BASE_URL: value }), { instanceOf: ConfigError, message: /^IAM_BASE_URL: / });
  });
}

test("IAM_CORE_URL takes a comma-separated list of core replicas, in order", (t) => {
  t.deepEqual(loadConfig({ IAM_CORE_URL: "http://core-a:6000,https://core-b.internal/,http://10.0.0.7:50051" }).coreUrls, [
    "http://core-a:6000",
    "https://core-b.internal",
    "http://10.0.0.7:50051",
  ]);
  t.deepEqual(loadConfig({ IAM_CORE_URL: " http://core-a:6000 , http://core-b:6000 " }).coreUrls, ["http://core-a:6000", "http://core-b:6000"]);
  t.regex(describeConfig(loadConfig({ IAM_CORE_URL: "http://core-a:6000,http://core-b:6000" })), /^IAM_CORE_URL=http:\/\/core-a:6000,http:\/\/core-b:6000 {2}# /m);
});

test("IAM_CORE_URL refuses a bad URL in the list, naming it", (t) => {
  t.throws(() => loadConfig({ IAM_CORE_URL: "http://core-a:6000,ftp://core-b:6000" }), {
    instanceOf: ConfigError,
    message: /^IAM_CORE_URL: .*"ftp:\/\/core-b:6000"/,
  });
});

test("IAM_CORE_URL refuses the same replica listed twice, however spelled", (t) => {
  for (const raw of [
    "http://core-a:6000,http://core-b:6000,http://core-a:6000",
    "http://core-a:6000,http://core-a:6000/",
    "http://core-a,http://CORE-A:80",
  ]) {
    t.throws(() => loadConfig({ IAM_CORE_URL: raw }), { instanceOf: ConfigError, message: /^IAM_CORE_URL: lists the same URL twice: / }, raw);
  }
  // Another port or path is another replica.
  t.is(loadConfig({ IAM_CORE_URL: "http://core-a:6000,http://core-a:6001,http://core-a:6000/v2" }).coreUrls.length, 3);
});

test("the first bad variable is the one named", (t) => {
  t.throws(() => loadConfig({ IAM_HTTP_PORT: "abc", IAM_LOG_LEVEL: "loud" }), { instanceOf: ConfigError, message: /^IAM_HTTP_PORT: / });
});

test("describeConfig shows one line per option with its variable", (t) => {
  const text = describeConfig(loadConfig({}));
  const lines = text.split("\n");
  t.is(lines.length, 59);
  t.true(lines.some((l) => l.startsWith("IAM_HTTP_PORT=8080  # ")));
  t.regex(text, /^IAM_BASE_URL=http:\/\/localhost:8080 {2}# /m);
  t.regex(text, /^IAM_LOG_LEVEL=info {2}# /m);
});

test("describeConfig masks the admin password and client secret", (t) => {
  const password = "pw-4f1c9e2a-unique";
  const secret = "secret-7d3b8c1f-unique";
  const kek = "q1Sv2bVv3m6rj7v8Kz0yQy1p2s9XW3dV4b5n6m7k8Lc=";
  const text = describeConfig(loadConfig({ IAM_ADMIN_PASSWORD: password, IAM_ADMIN_CLIENT_SECRET: secret, IAM_KEY_ENCRYPTION_KEY: kek }));
  t.false(text.includes(password));
  t.false(text.includes(secret));
  t.false(text.includes(kek));
  t.regex(text, /^IAM_KEY_ENCRYPTION_KEY=\*{8} {2}# /m);
  t.regex(text, /^IAM_ADMIN_PASSWORD=\*{8} {2}# /m);
  t.regex(text, /^IAM_ADMIN_CLIENT_SECRET=\*{8} {2}# /m);
});

test("describeConfig masks the default client secret too", (t) => {
  const text = describeConfig(loadConfig({}));
  t.false(text.includes("top-secret"));
  t.regex(text, /^IAM_ADMIN_CLIENT_SECRET=\*{8} {2}# /m);
});

test("IAM_DB names a SQLite file or a PostgreSQL database; its password is never shown", (t) => {
  t.is(loadConfig({ IAM_DB: "/var/lib/iam.db" }).db, "/var/lib/iam.db");
  const url = "postgres://iam:s3cr3t-0e9d@db.internal:5432/iam";
  t.is(loadConfig({ IAM_DB: url }).db, url);
  t.is(loadConfig({ IAM_DB: "postgresql://db.internal/iam" }).db, "postgresql://db.internal/iam");
  const text = describeConfig(loadConfig({ IAM_DB: url }));
  t.false(text.includes("s3cr3t-0e9d"));
  t.regex(text, /^IAM_DB=postgres:\/\/iam:\*{8}@db\.internal:5432\/iam {2}# /m);
  t.is(displayDb("./data/iam.db"), "./data/iam.db");
  t.is(displayDb("postgres://db.internal/iam"), "postgres://db.internal/iam");
  t.false(displayDb("postgres://iam@db.internal/iam?password=s3cr3t-0e9d&sslmode=verify-full").includes("s3cr3t-0e9d"));
  t.regex(displayDb("postgres://iam@db.internal/iam?sslpassword=k3y-pass&sslmode=verify-full"), /sslpassword=\*{8}&sslmode=verify-full$/);
});
