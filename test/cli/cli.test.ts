import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { decodeJwt } from "jose";
import { BASE_URL, queryOf, startTestServer, tempDir, TestClock } from "../helpers.js";
import { iam } from "./_support.js";

/** package.json's `iam` command: the same program through tsx's loader. */
const packageBin = fileURLToPath(new URL("../../bin/iam.mjs", import.meta.url));


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
  t.regex(iam(db, ["user", "list", "acme", "shop", "--query", "alice@acme"]).stdout, /^alice\tenabled\treader$/m, "found by her email");
  t.is(iam(db, ["user", "list", "acme", "shop", "--query", "Alice"]).stdout, "(none)\n", "case-sensitive");
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
    { args: ["user", "list", "iam-admins", "iam-admins", "--query", "a".repeat(255)], code: 1, message: /InvalidArgument: query must be at most 254 characters/ },
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

test("iam client, user and project create and update take the logout URIs, ID token algorithm, web origins, profile fields and access token algorithm", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  const project = iam(db, ["project", "create", "acme", "shop", "--access-token-alg", "RS256", "--json"]);
  t.is((JSON.parse(project.stdout) as { project: { accessTokenSigningAlg: string } }).project.accessTokenSigningAlg, "RS256");
  const updatedProject = iam(db, ["project", "update", "acme", "shop", "--access-token-alg", "ES256", "--name", "Shop"]);
  t.is(updatedProject.stdout, `updated project acme/shop: audience ${BASE_URL}/services/oauth2/acme/shop, access tokens ES256\n`);

  const created = iam(db, [
    "client", "create", "acme", "shop", "web", "--redirect-uri", "https://web.example/cb",
    "--post-logout-redirect-uri", "https://web.example/bye", "--post-logout-redirect-uri", "com.example.app:/bye",
    "--backchannel-logout-uri", "https://web.example/backchannel", "--id-token-alg", "ES256", "--web-origin", "HTTPS://Web.Example:443", "--json",
  ]);
  t.is(created.code, 0, created.stderr);
  t.like((JSON.parse(created.stdout) as { client: object }).client, {
    postLogoutRedirectUris: ["https://web.example/bye", "com.example.app:/bye"],
    backchannelLogoutUri: "https://web.example/backchannel",
    idTokenSignedResponseAlg: "ES256",
    webOrigins: ["https://web.example"],
  });
  // A repeated option replaces the list; given once as '' it empties it; options not given stay.
  const updated = iam(db, ["client", "update", "acme", "shop", "web", "--web-origin", "", "--post-logout-redirect-uri", "https://web.example/signed-out", "--id-token-alg", "RS256", "--json"]);
  t.is(updated.code, 0, updated.stderr);
  const client = (JSON.parse(updated.stdout) as { client: Record<string, unknown> }).client;
  t.like(client, { postLogoutRedirectUris: ["https://web.example/signed-out"], backchannelLogoutUri: "https://web.example/backchannel", idTokenSignedResponseAlg: "RS256" });
  t.is(client.webOrigins, undefined, "no web origin left (an empty list is omitted from JSON)");
  t.is(iam(db, ["client", "update", "acme", "shop", "web", "--name", "Web shop"]).stdout, "updated client web\n");

  const user = iam(db, ["user", "create", "acme", "shop", "alice", "--password", "alice-password", "--email", "alice@acme.example", "--email-verified", "--given-name", "Alice", "--family-name", "Liddell", "--json"]);
  t.like((JSON.parse(user.stdout) as { user: object }).user, { email: "alice@acme.example", emailVerified: true, givenName: "Alice", familyName: "Liddell" });
  const moved = iam(db, ["user", "update", "acme", "shop", "alice", "--email", "al@wonder.example", "--family-name", "L.", "--json"]);
  t.like((JSON.parse(moved.stdout) as { user: Record<string, unknown> }).user, { email: "al@wonder.example", givenName: "Alice", familyName: "L." });
  t.is((JSON.parse(moved.stdout) as { user: Record<string, unknown> }).user.emailVerified, undefined, "a new address is unverified (false is omitted from JSON)");
  const verified = iam(db, ["user", "update", "acme", "shop", "alice", "--email-verified", "--json"]);
  t.like((JSON.parse(verified.stdout) as { user: object }).user, { emailVerified: true });

  const refusals: { args: string[]; code: number; message: string }[] = [
    { args: ["project", "update", "acme", "shop"], code: 2, message: "iam: name what to change: --name, --audience, --access-token-alg, --require-par, --client-registration, --client-documents\n" },
    { args: ["project", "create", "acme", "other", "--access-token-alg", "HS256"], code: 1, message: "iam: InvalidArgument: access_token_signing_alg must be RS256 or ES256\n" },
    { args: ["client", "update", "acme", "shop", "web", "--id-token-alg", "none"], code: 1, message: "iam: InvalidArgument: id_token_signed_response_alg must be RS256 or ES256\n" },
    {
      args: ["client", "update", "acme", "shop", "web", "--backchannel-logout-uri", "http://web.example/bc"],
      code: 1,
      message: "iam: InvalidArgument: backchannel_logout_uri http://web.example/bc: http is allowed only for loopback hosts\n",
    },
    {
      args: ["client", "update", "acme", "shop", "web", "--web-origin", "https://web.example/"],
      code: 1,
      message: "iam: InvalidArgument: web origin https://web.example/ must be scheme://host[:port], with no path, query or fragment\n",
    },
    {
      args: ["client", "create", "acme", "shop", "web2", "--redirect-uri", "https://web.example/cb", "--post-logout-redirect-uri", "https://web.example/bye#x"],
      code: 1,
      message: "iam: InvalidArgument: post-logout redirect URI https://web.example/bye#x must not have a fragment\n",
    },
    {
      args: ["client", "update", "acme", "shop", "web"],
      code: 2,
      message:
        "iam: name what to change: --name, --redirect-uri, --grant, --post-logout-redirect-uri, --backchannel-logout-uri, --id-token-alg, --web-origin, --require-par, --auth-method, --jwks, --jwks-uri, --dpop-bound, --profile, --exchange-subject-client, --exchange-resource, --exchange-impersonation, --may-act\n",
    },
    { args: ["user", "update", "acme", "shop", "alice", "--email-verified", "--email-unverified"], code: 2, message: "iam: give --email-verified or --email-unverified, not both\n" },
    { args: ["user", "create", "acme", "shop", "bob", "--password", "bob-password", "--email-verified"], code: 1, message: "iam: InvalidArgument: email_verified needs an email address\n" },
  ];
  for (const r of refusals) {
    const result = iam(db, r.args);
    t.is(result.code, r.code, r.args.join(" "));
    t.true(result.stderr.endsWith(r.message), `${r.args.join(" ")}: ${result.stderr}`);
  }
  const after = JSON.parse(iam(db, ["client", "list", "acme", "shop", "--json"]).stdout) as { clients: Record<string, unknown>[] };
  t.deepEqual(
    after.clients.map((c) => [c.id, c.name, c.idTokenSignedResponseAlg, c.backchannelLogoutUri]),
    [["iam-console", "iam-core console", "RS256", undefined], ["web", "Web shop", "RS256", "https://web.example/backchannel"]],
    "the refusals changed nothing (iam-console: the console's client, which every project starts with)",
  );
});

test("iam project update --client-registration: open, initial_access_token, off; another value is refused and changes nothing", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "shop"]).code, 0);
  const project = `updated project acme/shop: audience ${BASE_URL}/services/oauth2/acme/shop, access tokens ES256`;
  t.is(iam(db, ["project", "update", "acme", "shop", "--client-registration", "open"]).stdout, `${project}, client registration open\n`);
  t.is(iam(db, ["project", "update", "acme", "shop", "--client-registration", "initial_access_token"]).stdout, `${project}, client registration initial_access_token\n`);
  const refused = iam(db, ["project", "update", "acme", "shop", "--client-registration", "anyone"]);
  t.not(refused.code, 0);
  t.regex(refused.stderr, /client_registration must be empty \(off\), open or initial_access_token/);
  t.is(iam(db, ["project", "update", "acme", "shop", "--name", "Shop"]).stdout, `${project}, client registration initial_access_token\n`, "unchanged by the refusal");
  t.is(iam(db, ["project", "update", "acme", "shop", "--client-registration", "off"]).stdout, `${project}\n`);
});

test("iam project and client --require-par: pushed authorization requests required (RFC 9126), shown in the lists; another value is a usage error", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "shop", "--require-par", "true"]).stdout, `created project acme/shop, issuer ${BASE_URL}/services/oauth2/acme/shop, pushed authorization requests required\n`);
  t.is(iam(db, ["project", "list", "acme"]).stdout, `shop\t${BASE_URL}/services/oauth2/acme/shop\tpar:required\n`);
  t.is(iam(db, ["project", "update", "acme", "shop", "--require-par", "false"]).stdout, `updated project acme/shop: audience ${BASE_URL}/services/oauth2/acme/shop, access tokens ES256\n`);
  t.is(iam(db, ["project", "list", "acme"]).stdout, `shop\t${BASE_URL}/services/oauth2/acme/shop\tpar:optional\n`);

  const created = iam(db, ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://web.example/cb", "--require-par", "true"]);
  t.regex(created.stdout, /^created client web, pushed authorization requests required\nsecret: /);
  t.regex(iam(db, ["client", "list", "acme", "shop"]).stdout, /^web\tconfidential\tauthorization_code,refresh_token\thttps:\/\/web\.example\/cb\tpar:required$/m);
  const json = iam(db, ["client", "update", "acme", "shop", "web", "--require-par", "false", "--json"]);
  t.is((JSON.parse(json.stdout) as { client: Record<string, unknown> }).client.requirePushedAuthorizationRequests, undefined, "false is omitted from JSON");
  t.regex(iam(db, ["client", "list", "acme", "shop"]).stdout, /^web\t.*\tpar:optional$/m);
  for (const args of [["client", "update", "acme", "shop", "web", "--require-par", "yes"], ["project", "create", "acme", "other", "--require-par", "1"]]) {
    const refused = iam(db, args);
    t.is(refused.code, 2, args.join(" "));
    t.true(refused.stderr.endsWith("iam: --require-par must be true or false\n"), refused.stderr);
  }
});

test("iam user sessions lists a user's sign-in sessions; iam user end-sessions ends one (--session) or all, and their tokens stop", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "shop"]).code, 0);
  const secret = (JSON.parse(iam(db, ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://shop.example/cb", "--json"]).stdout) as { secret: string }).secret;
  t.is(iam(db, ["user", "create", "acme", "shop", "alice", "--password", "alice-password-1"]).code, 0);
  t.is(iam(db, ["user", "sessions", "acme", "shop", "alice"]).stdout, "(none)\n");

  // The command reads the time of the machine: the server's sessions are opened now.
  const clock = new TestClock();
  clock.ms = Date.now();
  const s = await startTestServer({ dbPath: db, clock });
  const ref = { organization: "acme", project: "shop" };
  const signIn = async (address: string, userAgent: string) => {
    const auth = await s.authorization.authorize({ ...ref, responseType: "code", clientId: "web", redirectUri: "https://shop.example/cb", scope: "openid", nonce: "n" });
    await s.authorization.login({ ...ref, requestId: auth.requestId, username: "alice", password: "alice-password-1", clientAddress: address, userAgent });
    const consent = await s.authorization.consent({ ...ref, requestId: auth.requestId, scopes: ["openid"] });
    const tokens = await s.tokens.token({
      ...ref,
      grantType: "authorization_code",
      code: queryOf(consent.redirectTo).get("code")!,
      redirectUri: "https://shop.example/cb",
      basic: { clientId: "web", clientSecret: secret },
    });
    return { accessToken: tokens.accessToken, sid: decodeJwt(tokens.idToken).sid as string };
  };
  const laptop = await signIn("192.0.2.10", "Firefox");
  clock.advance(1);
  const phone = await signIn("198.51.100.7", "Safari");
  await s.close();

  const listed = iam(db, ["user", "sessions", "acme", "shop", "alice"]);
  t.is(listed.code, 0, listed.stderr);
  const rows = listed.stdout.trimEnd().split("\n").map((line) => line.split("\t"));
  t.deepEqual(
    rows.map((row) => [row[0], row[4], row[5], row[6]]),
    [
      [phone.sid, "198.51.100.7", "web", "Safari"],
      [laptop.sid, "192.0.2.10", "web", "Firefox"],
    ],
  );
  t.regex(rows[0]![1]!, /^signed in \d{4}-\d\d-\d\dT/);
  const json = JSON.parse(iam(db, ["user", "sessions", "acme", "shop", "alice", "--json"]).stdout) as { sessions: { id: string; clientIds: string[]; amr: string[] }[] };
  t.deepEqual(json.sessions.map((x) => [x.id, x.clientIds, x.amr]), [[phone.sid, ["web"], ["pwd"]], [laptop.sid, ["web"], ["pwd"]]]);

  const one = iam(db, ["user", "end-sessions", "acme", "shop", "alice", "--session", laptop.sid]);
  t.is(one.code, 0, one.stderr);
  t.is(one.stdout, "session ended; its tokens are revoked\n");
  t.deepEqual(iam(db, ["user", "sessions", "acme", "shop", "alice"]).stdout.split("\t")[0], phone.sid);
  const again = iam(db, ["user", "end-sessions", "acme", "shop", "alice", "--session", laptop.sid]);
  t.is(again.code, 1);
  t.true(again.stderr.endsWith(`iam: NotFound: session ${laptop.sid} of user alice in acme/shop not found\n`), again.stderr);

  const all = iam(db, ["user", "end-sessions", "acme", "shop", "alice"]);
  t.is(all.stdout, `ended 1 session(s): ${phone.sid}\n`);
  t.is(iam(db, ["user", "end-sessions", "acme", "shop", "alice"]).stdout, "no session to end\n");
  t.is(iam(db, ["user", "sessions", "acme", "shop", "alice"]).stdout, "(none)\n");
  const missing = iam(db, ["user", "sessions", "acme", "shop", "bob"]);
  t.is(missing.code, 1);
  t.true(missing.stderr.endsWith("iam: NotFound: user bob in acme/shop not found\n"), missing.stderr);

  const later = await startTestServer({ dbPath: db, clock });
  t.teardown(() => later.close());
  for (const [what, token] of [["laptop", laptop.accessToken], ["phone", phone.accessToken]] as const) {
    const verified = await later.tokens.verifyToken({ token });
    t.false(verified.active, what);
    t.is(verified.failure, TokenFailure.REVOKED, what);
  }
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
