/**
 * Where each test file runs. `npm test` runs the tiers in this order, then
 * the PostgreSQL pass; `npm run test:fast`, `test:integration` and
 * `test:process` run one tier.
 *
 * A file's tier is decided by what it starts, then by what it costs:
 *
 * - fast: pure functions and in-memory suites: the core called through
 *   Connect's in-memory router or the in-process transport, the store
 *   contract on SQLite. No listening port, no child process. Under a minute
 *   on a 2-core machine.
 * - integration: real servers on loopback: the gateway over HTTP, gRPC and
 *   standards clients, PostgreSQL. Also the isolation matrix: in memory, but
 *   1,040 cases, a fifth of the fast tier's time on its own.
 * - process: other processes: the server started as `npm start` runs it
 *   (crash and SIGKILL, workers, replicas, the CLI, builds), a browser, the
 *   fuzzer.
 *
 * An entry is a file, or a folder (ending in "/") whose files go to its tier
 * unless a file is listed itself; the longest entry that matches a file
 * decides. test/scripts/tiers.test.ts fails when a test file matches no entry
 * or an entry matches no file, so a new test file is placed when it is added.
 * Within a tier, entries are listed slowest first, and `npm test` names the
 * files to ava in that order, so that a long file does not finish alone at
 * the end.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

export const TIERS = {
  fast: [
    "test/core/",
    "test/sessions/",
    "test/factors/",
    "test/admin/",
    "test/store/sqlite.test.ts",
    "test/standards/core-oidc.test.ts",
    "test/standards/core-introspect-revoke.test.ts",
    "test/standards/core-rotation-leaked.test.ts",
    "test/standards/grace-siblings.test.ts",
    "test/gateway/core-decides.test.ts",
    "test/store/declarations.test.ts",
    "test/unit/",
    "test/dpop/",
    "test/tokens/client-jwks.test.ts",
    "test/tokens-algs/",
    "test/wire/imports.test.ts",
    "test/scripts/tiers.test.ts",
    "test/store-copy/versions.test.ts",
    "test/bench/",
  ],
  integration: [
    "test/security/protocol-input-admin.test.ts",
    "test/security/",
    "test/admin/isolation.test.ts",
    "test/replicas/",
    "test/storage-faults/",
    "test/gateway/",
    "test/token-exchange/",
    "test/sessions/gateway.test.ts",
    "test/logout/",
    "test/standards/",
    "test/grpc/",
    "test/observe/",
    "test/management/",
    "test/store/postgres.test.ts",
    "test/store/schema-versions.test.ts",
    "test/wire/balanced-transport.test.ts",
    "test/examples/",
    "test/resources/",
    "test/tokens-algs/http.test.ts",
    "test/tokens/client-jwks-fetch.test.ts",
    "test/client-auth/",
    "test/registration/",
    "test/client-metadata/",
    "test/dpop/token.test.ts",
    "test/dpop/resource.test.ts",
    "test/dpop/par.test.ts",
    "test/core/core-port-limits.test.ts",
    "test/core/core-port-http2.test.ts",
    "test/core/grpc-unary.test.ts",
  ],
  process: [
    "test/store-copy/",
    "test/crash/",
    "test/fuzz/",
    "test/upgrade/",
    "test/drills/",
    "test/cli/",
    "test/browser/",
    "test/mcp/",
    "test/scripts/build.test.ts",
    "test/replicas/replicas.test.ts",
    "test/gateway/cluster.test.ts",
    "test/management/process.test.ts",
    "test/standards/client-oauth4webapi-fapi2.test.ts",
    "test/gateway/process.test.ts",
    "test/standards/core-rotation-grace.test.ts",
  ],
};

/**
 * Files run at once in a tier, where ava's default (one per core) is not the
 * faster: files of the fast tier often wait (a lock held for 5 s, timers), so
 * four at a time keep two cores busy (54 s instead of 62 s, measured here);
 * the files of the other tiers use more than a core each, and are faster two
 * at a time.
 */
export const CONCURRENCY = { fast: 4 };

/** The files that drive a browser (chromium): left out, with a notice, where chromium cannot be provided. */
export const BROWSER = ["test/browser/", "test/mcp/"];

/**
 * The PostgreSQL pass: suites whose outcome depends on how the store writes
 * and races, run again with every core on PostgreSQL (IAM_TEST_BACKEND).
 * The store contract and the replica suites need PostgreSQL anyway and run
 * in their tiers. The rest make the same store calls as these suites and the
 * contract, and answer the same on either store: authorization-request
 * validation, token verification and the OIDC reads, the gateway, the
 * standards clients and the hostile-input suite over HTTP (the contract
 * round-trips U+0000 and U+FFFF through what a client may send, on both).
 */
export const POSTGRES_PASS = [
  { file: "test/core/token-code.test.ts", why: "a code is consumed once, under concurrent exchanges; a replay revokes its grant" },
  { file: "test/core/login-consent.test.ts", why: "pending requests spent at sign-in and consent" },
  { file: "test/core/token-refresh.test.ts", why: "refresh rotation, reuse detection, the family revoked in one transaction" },
  { file: "test/core/purge.test.ts", why: "what the purge deletes, in batches" },
  { file: "test/core/lockout.test.ts", why: "failure counters and lockouts kept by the store" },
  { file: "test/core/remembered-consent.test.ts", why: "consents remembered and revoked" },
  { file: "test/standards/grace-siblings.test.ts", why: "siblings of a refresh token rotated within the grace window" },
  { file: "test/sessions/single-sign-on.test.ts", why: "sign-in sessions opened, renewed and ended; ending one revokes the grants made in it" },
  { file: "test/admin/rpc-sessions.test.ts", why: "sessions listed and ended by administration, with the user disabled, deleted or given a new password" },
  { file: "test/admin/rpc-users-query.test.ts", why: "users found by the beginning of their id or email, a page at a time, in a project of 10,000" },
  { file: "test/admin/rpc-overview.test.ts", why: "a project's counts and its signing keys' states, read by the database" },
  { file: "test/admin/rpc-factors.test.ts", why: "a user's factors and recovery codes removed by administration in the event's transaction; a policy change reaching the next sign-in" },
  { file: "test/logout/rp-initiated.test.ts", why: "a logout ends the session and the grants made in it at once" },
  { file: "test/factors/totp.test.ts", why: "a TOTP step and a recovery code accepted once, by conditional updates; failures counted with the passwords'" },
  { file: "test/factors/passkeys.test.ts", why: "passkey counters and single-use challenges, by conditional updates and DELETE … RETURNING" },
  { file: "test/gateway/par.test.ts", why: "pushed authorization requests kept only once every check passed, nothing for a refusal" },
  { file: "test/gateway/par-authorize.test.ts", why: "a pushed request's request_uri taken once, by DELETE … RETURNING, in its project only; expiry and requirements" },
  { file: "test/token-exchange/exchange.test.ts", why: "an exchanged grant hangs off the subject's: revoking that grant stops the delegated tokens down the chain" },
  { file: "test/token-exchange/refusals.test.ts", why: "a refused exchange writes no grant, on either store" },
  { file: "test/core/pushed-requests.test.ts", why: "a pushed request replayed by Authorize with the parameters kept" },
  { file: "test/dpop/token.test.ts", why: "a DPoP proof accepted once by a conditional insert; a public client's grant and a code bound to its key" },
  { file: "test/dpop/par.test.ts", why: "a DPoP proof at /par recorded once; the pushed request keeps the key the code is bound to" },
  { file: "test/dpop/resource.test.ts", why: "a bound token's proofs at UserInfo and VerifyToken, each recorded once" },
  { file: "test/client-auth/private-key-jwt.test.ts", why: "a client assertion's jti accepted once by a conditional insert, at every endpoint" },
  { file: "test/client-auth/fapi2.test.ts", why: "a FAPI 2.0 client's client, code and refresh token as both stores keep them; its refresh token not rotated" },
  { file: "test/client-metadata/limits.test.ts", why: "a document's client counted against the ceiling in the transaction that writes it; idle ones deleted by the purge's batches" },
  { file: "test/registration/register.test.ts", why: "a client and its registration created in one transaction with the per-project count; nothing kept for a refusal" },
  { file: "test/registration/initial-access-token.test.ts", why: "an initial access token's uses spent by a conditional update in the registration's transaction" },
  { file: "test/registration/manage.test.ts", why: "a registration replaced and deleted with its client; the registration access token checked against the stored hash" },
  { file: "test/tokens-algs/core.test.ts", why: "an older project's RS256 key added once, inside the code exchange's transaction; both algorithms rotated" },
];

/** Every test file under test/, relative to the repository root, "/"-separated. */
export function testFiles() {
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".test.ts")) found.push(path);
    }
  };
  walk("test");
  return found.sort();
}

const ENTRIES = Object.entries(TIERS).flatMap(([tier, entries]) => entries.map((entry, rank) => ({ tier, entry, rank })));

const matches = (entry, file) => (entry.endsWith("/") ? file.startsWith(entry) : file === entry);

/** The entry that places a file (the longest that matches), or undefined. */
export function placeOf(file) {
  let best;
  for (const e of ENTRIES) if (matches(e.entry, file) && (best === undefined || e.entry.length > best.entry.length)) best = e;
  return best;
}

/** What is wrong with the tiers for these files: files no entry places, entries that place no file, entries listed twice. */
export function problems(files) {
  const found = [];
  for (const file of files) if (placeOf(file) === undefined) found.push(`${file} is in no tier (scripts/test-tiers.mjs)`);
  const seen = new Set();
  for (const { entry } of ENTRIES) {
    if (seen.has(entry)) found.push(`${entry} is listed twice`);
    seen.add(entry);
    if (!files.some((file) => placeOf(file)?.entry === entry)) found.push(`${entry} places no test file`);
  }
  for (const { file } of POSTGRES_PASS) if (!files.includes(file)) found.push(`${file} of the PostgreSQL pass does not exist`);
  return found;
}

/** The files of a tier, in the order ava starts them. */
export function filesOf(tier, files) {
  return files.filter((file) => placeOf(file)?.tier === tier).sort(runOrder);
}

/** Slowest first: by the rank of the entry that places each file, then by name. */
function runOrder(a, b) {
  return placeOf(a).rank - placeOf(b).rank || a.localeCompare(b);
}
