// `npm test`: the whole suite on SQLite (with the PostgreSQL store and
// replica suites when a server is configured), then the end-to-end flow
// suites again with every core on PostgreSQL. IAM_TEST_POSTGRES names the
// server (scripts/postgres-test-cluster.sh starts a throwaway one; .ci/run
// always does); without it the PostgreSQL parts are skipped, and said so.
// Arguments go to both ava runs (for example --tap, or a file to run alone,
// which then runs on SQLite only).
import { spawnSync } from "node:child_process";

/** The flow suites run a second time with their cores on PostgreSQL. */
const POSTGRES_PASS = [
  "test/core/authorize.test.ts",
  "test/core/login-consent.test.ts",
  "test/core/lockout.test.ts",
  "test/core/remembered-consent.test.ts",
  "test/core/token-code.test.ts",
  "test/core/token-refresh.test.ts",
  "test/core/purge.test.ts",
  "test/core/verify.test.ts",
  "test/gateway/flow-json.test.ts",
  "test/gateway/flow-html.test.ts",
  "test/gateway/token-endpoint.test.ts",
  "test/standards/core-introspect-revoke.test.ts",
  "test/standards/core-oidc.test.ts",
  "test/standards/grace-siblings.test.ts",
  "test/standards/http-endpoints.test.ts",
  "test/standards/client-oauth4webapi.test.ts",
  "test/security/protocol-input-admin.test.ts",
  "test/gateway/bad-input.test.ts",
];

const args = process.argv.slice(2);
const ava = (extra, env = {}) =>
  spawnSync("npx", ["ava", ...args, ...extra], { stdio: "inherit", env: { ...process.env, ...env } }).status ?? 1;

const namesFiles = args.some((a) => !a.startsWith("-"));
let status = ava([]);
if (namesFiles) process.exit(status);
if (!process.env.IAM_TEST_POSTGRES) {
  console.error(
    "\nnotice: PostgreSQL is not configured (IAM_TEST_POSTGRES): its store, replica and flow suites were skipped. " +
      "Start one with: eval $(scripts/postgres-test-cluster.sh | sed 's/^/export /')",
  );
} else {
  console.error("\n== the flow suites again, every core on PostgreSQL");
  status = ava(POSTGRES_PASS, { IAM_TEST_BACKEND: "postgres" }) || status;
}
process.exit(status);
