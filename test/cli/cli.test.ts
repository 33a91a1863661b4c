import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { BASE_URL, compiledIam, queryOf, startTestServer, tempDir } from "../helpers.js";

/** package.json's `iam` command: the same program through tsx's loader. */
const packageBin = fileURLToPath(new URL("../../bin/iam.mjs", import.meta.url));

/** Runs the `iam` command as a user would, on the given database file (compiled, as `npm start` runs it, unless `bin` is given). */
function iam(db: string, args: string[], input?: string, bin = compiledIam()) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    env: {
      ...process.env,
      IAM_DB: db,
      IAM_BASE_URL: BASE_URL,
      IAM_ADMIN_PASSWORD: "cli-admin-password",
      IAM_PASSWORD_HASH_MEMORY_KIB: "64",
      IAM_PASSWORD_HASH_ITERATIONS: "1",
    },
    input: input ?? "",
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("the iam command sets up a tenant on the database file, and the server then signs its user in", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");

  t.is(iam(db, ["org", "create", "acme", "--name", "Acme Corp"]).code, 0);
  const project = iam(db, ["project", "create", "acme", "shop", "--json"]);
  t.is(project.code, 0);
  t.is((JSON.parse(project.stdout) as { project: { issuer: string } }).project.issuer, `${BASE_URL}/services/oauth2/acme/shop`);

  const client = iam(db, ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://shop.example/cb", "--json"]);
  t.is(client.code, 0);
  const secret = (JSON.parse(client.stdout) as { secret: string }).secret;
  t.regex(secret, /^[A-Za-z0-9_-]{43}$/);

  t.is(iam(db, ["user", "create", "acme", "shop", "alice", "--password-stdin", "--email", "alice@acme.example"], "first-password\n").code, 0);
  t.is(iam(db, ["permission", "create", "acme", "shop", "shop.orders.read", "--description", "Read orders"]).code, 0);
  t.is(iam(db, ["role", "create", "acme", "shop", "reader", "--permission", "shop.orders.read"]).code, 0);
  t.is(iam(db, ["role", "assign", "acme", "shop", "reader", "--user", "alice"]).code, 0);
  t.is(iam(db, ["user", "set-password", "acme", "shop", "alice", "--password-stdin"], "second-password").code, 0);

  const users = iam(db, ["user", "list", "acme", "shop", "--json"]);
  t.deepEqual(
    (JSON.parse(users.stdout) as { users: { id: string; roles: string[]; enabled: boolean }[] }).users.map((u) => [u.id, u.roles, u.enabled]),
    [["alice", ["reader"], true]],
  );
  t.regex(iam(db, ["user", "list", "acme", "shop"]).stdout, /^alice\tenabled\treader$/m);
  t.false(users.stdout.includes("password"), "listing never shows a password or its hash");

  // The server started on that file signs alice in with the password set last.
  const s = await startTestServer({ dbPath: db });
  t.teardown(() => s.close());
  const ref = { organization: "acme", project: "shop" };
  const auth = await s.authorization.authorize({ ...ref, responseType: "code", clientId: "web", redirectUri: "https://shop.example/cb" });
  await t.throwsAsync(s.authorization.login({ ...ref, requestId: auth.requestId, username: "alice", password: "first-password" }));
  const login = await s.authorization.login({ ...ref, requestId: auth.requestId, username: "alice", password: "second-password" });
  t.deepEqual(login.scopes.map((sc) => sc.name), ["shop.orders.read"]);
  const consent = await s.authorization.consent({ ...ref, requestId: auth.requestId, scopes: ["shop.orders.read"] });
  const tokens = await s.tokens.token({
    ...ref,
    grantType: "authorization_code",
    code: queryOf(consent.redirectTo).get("code")!,
    redirectUri: "https://shop.example/cb",
    basic: { clientId: "web", clientSecret: secret },
  });
  t.true((await s.tokens.verifyToken({ token: tokens.accessToken, ...ref })).active);

  // Disabling alice from the command line revokes her tokens at once.
  await s.close();
  t.is(iam(db, ["user", "disable", "acme", "shop", "alice"]).code, 0);
  const again = await startTestServer({ dbPath: db });
  t.teardown(() => again.close());
  const verified = await again.tokens.verifyToken({ token: tokens.accessToken });
  t.false(verified.active);
  t.is(verified.failure, TokenFailure.REVOKED);
});

test("the iam command refuses bad input with a clear message and a non-zero exit code, and changes nothing", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);

  const cases: { args: string[]; code: number; message: RegExp; input?: string }[] = [
    { args: ["org", "create", "Bad_Id"], code: 1, message: /InvalidArgument: id must be 1-63 lowercase/ },
    { args: ["org", "create", "acme"], code: 1, message: /AlreadyExists: organization acme already exists/ },
    { args: ["project", "create", "nowhere", "p"], code: 1, message: /NotFound: organization nowhere not found/ },
    { args: ["user", "list", "acme", "nope"], code: 1, message: /NotFound: project acme\/nope not found/ },
    { args: ["org", "delete", "iam-admins"], code: 1, message: /FailedPrecondition/ },
    { args: ["user", "create", "iam-admins", "iam-admins", "bob"], code: 2, message: /--password-stdin/ },
    { args: ["user", "create", "iam-admins", "iam-admins", "bob", "--password-stdin"], code: 1, message: /password must be 8 to 1024/, input: "short" },
    { args: ["client", "create", "iam-admins", "iam-admins", "c1", "--redirect-uri", "http://evil.example/cb"], code: 1, message: /http is allowed only for loopback/ },
    { args: ["role", "assign", "iam-admins", "iam-admins", "global-admin"], code: 2, message: /exactly one of --user ID or --client ID/ },
    { args: ["org", "create"], code: 2, message: /takes ID/ },
    { args: ["org", "frobnicate"], code: 2, message: /unknown command "org frobnicate"/ },
    { args: ["org", "list", "--bogus"], code: 2, message: /Unknown option '--bogus'/ },
  ];
  for (const c of cases) {
    const result = iam(db, c.args, c.input);
    t.is(result.code, c.code, c.args.join(" "));
    t.regex(result.stderr, c.message, c.args.join(" "));
  }
  const orgs = iam(db, ["org", "list", "--json"]);
  t.deepEqual(
    (JSON.parse(orgs.stdout) as { organizations: { id: string }[] }).organizations.map((o) => o.id),
    ["acme", "iam-admins"],
  );
  const users = JSON.parse(iam(db, ["user", "list", "iam-admins", "iam-admins", "--json"]).stdout) as { users: { id: string }[] };
  t.deepEqual(users.users.map((u) => u.id), ["admin"]);
});

test("iam client create --remember-consent, then iam user consents and revoke-consent", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "shop"]).code, 0);
  const client = iam(db, ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://shop.example/cb", "--remember-consent", "--json"]);
  t.is((JSON.parse(client.stdout) as { client: { rememberConsent: boolean } }).client.rememberConsent, true);
  const secret = (JSON.parse(client.stdout) as { secret: string }).secret;
  t.is(iam(db, ["user", "create", "acme", "shop", "alice", "--password", "alice-password-1"]).code, 0);
  t.is(iam(db, ["user", "consents", "acme", "shop", "alice"]).stdout.trim(), "(none)");

  const s = await startTestServer({ dbPath: db });
  const ref = { organization: "acme", project: "shop" };
  const auth = await s.authorization.authorize({ ...ref, responseType: "code", clientId: "web", redirectUri: "https://shop.example/cb", scope: "openid" });
  await s.authorization.login({ ...ref, requestId: auth.requestId, username: "alice", password: "alice-password-1" });
  const consent = await s.authorization.consent({ ...ref, requestId: auth.requestId, scopes: ["openid"] });
  const tokens = await s.tokens.token({
    ...ref,
    grantType: "authorization_code",
    code: queryOf(consent.redirectTo).get("code")!,
    redirectUri: "https://shop.example/cb",
    basic: { clientId: "web", clientSecret: secret },
  });
  await s.close();

  t.is(iam(db, ["user", "consents", "acme", "shop", "alice"]).stdout.trim(), "web\topenid");
  const revoked = iam(db, ["user", "revoke-consent", "acme", "shop", "alice", "web"]);
  t.is(revoked.code, 0, revoked.stderr);
  t.is(iam(db, ["user", "consents", "acme", "shop", "alice"]).stdout.trim(), "(none)");
  const again = await startTestServer({ dbPath: db });
  t.teardown(() => again.close());
  t.false((await again.tokens.verifyToken({ token: tokens.accessToken })).active);
  const missing = iam(db, ["user", "revoke-consent", "acme", "shop", "alice", "web"]);
  t.not(missing.code, 0);
});

test("package.json's iam command (bin/iam.mjs, through tsx) runs the same program as the compiled one", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme", "--name", "Acme Corp"], undefined, packageBin).code, 0);
  const throughTsx = iam(db, ["org", "list", "--json"], undefined, packageBin);
  t.is(throughTsx.code, 0, throughTsx.stderr);
  t.deepEqual(JSON.parse(throughTsx.stdout), JSON.parse(iam(db, ["org", "list", "--json"]).stdout));
  t.regex(iam(db, ["org", "frobnicate"], undefined, packageBin).stderr, /unknown command "org frobnicate"/);
});
