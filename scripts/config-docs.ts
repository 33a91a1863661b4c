/**
 * Writes docs/configuration.md from the options themselves (OPTIONS in
 * core/server/config.ts): each variable with its default, what its validator
 * accepts and its one line of doc, so that the page cannot drift from the
 * code. `npm run docs:config` writes it; `--check` only compares and exits 1
 * when the page is stale. test/unit/config-doc.test.ts makes the same
 * comparison in `npm test`.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError, OPTIONS, type Config } from "../core/server/config.js";

export const DOC_PATH = fileURLToPath(new URL("../docs/configuration.md", import.meta.url));

/**
 * Where each option is explained at length, by subject. Only these links are
 * kept here: defaults, accepted values and the one-line doc come from OPTIONS.
 * A link to a variable that no option reads stops the generation.
 */
const MORE: Record<string, string> = {
  IAM_HTTP_PORT: "operations.md#running-it",
  IAM_GRPC_PORT: "operations.md#running-it",
  IAM_HOST: "operations.md#running-it",
  IAM_MANAGEMENT_PORT: "operations.md#management-listener",
  IAM_MANAGEMENT_HOST: "operations.md#management-listener",
  IAM_DB: "operations.md#the-database-and-the-purge",
  IAM_BASE_URL: "flows.md#the-default-tenant",
  IAM_ADMIN_PASSWORD: "flows.md#the-default-tenant",
  IAM_ADMIN_CLIENT_SECRET: "administration.md#an-admin-token",
  IAM_CORE_URL: "replicas.md#the-gateways-balancing",
  IAM_LOG_LEVEL: "operations.md#logs",
  IAM_PASSWORD_HASH_MEMORY_KIB: "security.md#security-choices",
  IAM_PASSWORD_HASH_ITERATIONS: "security.md#security-choices",
  IAM_AUTHORIZATION_REQUEST_TTL: "flows.md#with-curl-json",
  IAM_AUTHORIZATION_CODE_TTL: "flows.md#with-curl-json",
  IAM_BACKCHANNEL_LOGOUT_TIMEOUT: "flows.md#logout",
  IAM_BACKCHANNEL_LOGOUT_RETRIES: "flows.md#logout",
  IAM_JWKS_URI_TIMEOUT: "client-keys.md#fetched-keys-jwks_uri",
  IAM_JWKS_URI_PRIVATE_NETWORKS: "client-keys.md#fetched-keys-jwks_uri",
  IAM_REFRESH_TOKEN_GRACE: "flows.md#refresh-and-its-grace-window",
  IAM_PURGE_INTERVAL: "operations.md#the-database-and-the-purge",
  IAM_CONSOLE: "console.md#turning-it-off",
  IAM_DPOP_NONCE: "dpop.md#nonces",
  IAM_AUDIT_STREAMS_PER_CALLER: "audit.md#following-it-auditservicestreamevents",
  IAM_AUDIT_STREAMS_MAX: "audit.md#following-it-auditservicestreamevents",
  IAM_LOGIN_MAX_FAILURES_PER_USER: "flows.md#brute-force-slow-down-then-lock-out",
  IAM_LOGIN_MAX_FAILURES_PER_ADDRESS: "flows.md#brute-force-slow-down-then-lock-out",
  IAM_LOGIN_FAILURE_WINDOW: "flows.md#brute-force-slow-down-then-lock-out",
  IAM_LOGIN_LOCKOUT: "flows.md#brute-force-slow-down-then-lock-out",
  IAM_LOGIN_FAILURE_DELAY_MS: "flows.md#brute-force-slow-down-then-lock-out",
  IAM_TOKEN_RATE_PER_CLIENT: "operations.md#limits",
  IAM_TOKEN_RATE_BURST: "operations.md#limits",
  IAM_LOGIN_RATE_PER_ADDRESS: "operations.md#limits",
  IAM_LOGIN_RATE_BURST: "operations.md#limits",
  IAM_HTTP_MAX_BODY_BYTES: "operations.md#limits",
  IAM_HTTP_HEADERS_TIMEOUT: "operations.md#limits",
  IAM_HTTP_REQUEST_TIMEOUT: "operations.md#limits",
  IAM_GRPC_REQUEST_TIMEOUT: "operations.md#the-core-ports-connections",
  IAM_GRPC_IDLE_TIMEOUT: "operations.md#the-core-ports-connections",
  IAM_GRPC_MAX_STREAMS: "operations.md#the-core-ports-connections",
  IAM_TRUST_PROXY: "flows.md#brute-force-slow-down-then-lock-out",
  IAM_KEY_ENCRYPTION_KEY: "operations.md#secrets-at-rest",
  IAM_KEY_ENCRYPTION_KEY_PREVIOUS: "operations.md#secrets-at-rest",
  IAM_DB_POOL_SIZE: "replicas.md#what-each-replica-needs",
  IAM_DB_SYNCHRONOUS: "operations.md#durability",
  IAM_SHUTDOWN_GRACE: "operations.md#shutdown",
  IAM_WORKERS: "operations.md#workers",
  IAM_METRICS: "operations.md#metrics",
};

const HEADER = `# Configuration

<!-- Generated from OPTIONS in core/server/config.ts by \`npm run docs:config\` (scripts/config-docs.ts).
     Edit the options there, then run it; test/unit/config-doc.test.ts fails while this page differs. -->

Every option is an environment variable, read and validated once at start-up. A bad value stops the server
before it listens, with a message that names the variable:

\`\`\`
iam: invalid configuration: IAM_HTTP_PORT: expected a port number 0-65535, got "abc"
\`\`\`

An empty variable counts as unset. \`npm run iam -- config\` prints the effective configuration, one line per
option, secrets masked (and the password of a PostgreSQL \`IAM_DB\`). \`IAM_ADMIN_PASSWORD\` and
\`IAM_ADMIN_CLIENT_SECRET\` are read on the first start of an empty database only. Replicas on one PostgreSQL
database share some settings: [replicas.md](replicas.md#what-each-replica-needs).

"accepted" is what the option's validator asks for, in its own words.
`;

/** A value of the configuration as the page shows it. */
function shown(value: unknown): string {
  if (value === undefined) return "unset";
  const text = Array.isArray(value) ? value.join(",") : String(value);
  return `\`${text}\``;
}

/**
 * The default of an option. A default computed from other options (the base
 * URL from the HTTP port) is shown with those options' variables in braces.
 */
function defaultOf(option: (typeof OPTIONS)[number]): string {
  const placeholders = new Proxy({} as Partial<Config>, {
    get: (_, key) => `{${OPTIONS.find((o) => o.key === key)?.env ?? String(key)}}`,
  });
  return shown(option.default(placeholders));
}

/** What the validator accepts, from the message it gives for a value it refuses. */
function accepted(option: (typeof OPTIONS)[number]): string {
  try {
    option.parse("?", option.env);
    return "any non-empty text";
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message
      .slice(`${option.env}: `.length)
      .replace(/^expected /, "")
      .replace(/, got "\?"$/, "");
  }
}

const cell = (text: string) => text.replace(/\|/g, "\\|");

/** The whole page, as docs/configuration.md must hold it. */
export function renderConfigurationDoc(): string {
  const envs = new Set(OPTIONS.map((o) => o.env));
  for (const env of Object.keys(MORE)) {
    if (!envs.has(env)) throw new Error(`scripts/config-docs.ts links ${env}, which no option in core/server/config.ts reads`);
  }
  const rows = OPTIONS.map((option) => {
    const more = MORE[option.env] === undefined ? "" : ` ([more](${MORE[option.env]}))`;
    const secret = option.secret ? "; a secret, masked when printed" : "";
    return `| \`${option.env}\` | ${cell(defaultOf(option))} | ${cell(accepted(option))} | ${cell(option.doc)}${secret}${more} |`;
  });
  return [HEADER, "| variable | default | accepted | meaning |", "|---|---|---|---|", ...rows, ""].join("\n");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const page = renderConfigurationDoc();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(DOC_PATH, "utf8");
    } catch {}
    if (current !== page) {
      console.error("docs/configuration.md differs from core/server/config.ts: run npm run docs:config");
      process.exit(1);
    }
  } else {
    writeFileSync(DOC_PATH, page);
    console.log(`wrote docs/configuration.md: ${OPTIONS.length} options`);
  }
}
