/**
 * The client the administration console signs in with, `iam-console`: made
 * by the first start in iam-admins and by CreateProject in every project, an
 * ordinary client otherwise (listed, changed, deleted), the code flow with
 * PKCE S256 only, and the warning of a database that has none.
 */
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import test from "ava";
import { join } from "node:path";
import { ClientSchema, ClientType } from "../../gen/iam/v1/admin_pb.js";
import { loadConfig } from "../../core/server/config.js";
import { CONSOLE_CLIENT_ID } from "../../core/rpc/admin/default-tenant.js";
import type { ProjectRef } from "../../core/store/types.js";
import { ADMIN_PASSWORD, BASE_URL, DEFAULT, queryOf, startTestCore, tempDir } from "../helpers.js";
import { expectOAuthError, pkcePair, refreshRecordOf } from "../core/flow.js";
import { ACME, createTenant, createUser, expectCode, startAdmin, type AdminTest } from "./rpc-support.js";

const CALLBACK = `${BASE_URL}/admin/callback`;

/** The console's client in `ref`, as it is made (its creation time aside). */
const consoleClientIn = (ref: ProjectRef, base = BASE_URL) => ({
  organization: ref.organization,
  project: ref.project,
  id: "iam-console",
  name: "iam-core console",
  type: ClientType.PUBLIC,
  redirectUris: [`${base}/admin/callback`],
  grantTypes: ["authorization_code", "refresh_token"],
  pkceRequired: true,
  rememberConsent: true,
  accessTokenTtl: 300n,
  // Eight hours: an administrator's working day.
  refreshTokenTtl: 28_800n,
  postLogoutRedirectUris: [`${base}/admin/`],
  backchannelLogoutUri: "",
  idTokenSignedResponseAlg: "RS256",
  webOrigins: [new URL(base).origin],
  roles: [],
});

async function getConsoleClient(c: AdminTest, ref: ProjectRef) {
  return (await c.admin.getClient({ ...ref, clientId: CONSOLE_CLIENT_ID }, c.auth)).client!;
}

const nowSeconds = (c: AdminTest) => BigInt(Math.floor(c.clock.now() / 1000));

/** The console's sign-in up to the code, as a person in `ref`: Authorize with PKCE S256, Login, Consent when asked. */
async function consoleSignIn(c: AdminTest, ref: ProjectRef, user: { id: string; password: string }) {
  const { verifier, challenge } = pkcePair();
  const auth = await c.authorization.authorize({
    ...ref,
    responseType: "code",
    clientId: CONSOLE_CLIENT_ID,
    redirectUri: CALLBACK,
    state: "console-state",
    codeChallenge: challenge,
    codeChallengeMethod: "S256",
  });
  const login = await c.authorization.login({ ...ref, requestId: auth.requestId, username: user.id, password: user.password });
  const asked = login.redirectTo === "";
  const redirectTo = asked
    ? (await c.authorization.consent({ ...ref, requestId: auth.requestId, scopes: login.scopes.map((s) => s.name) })).redirectTo
    : login.redirectTo;
  return { asked, redirectTo, verifier };
}

/** The code exchange by the console: a public client, no secret, the PKCE verifier. */
function consoleTokens(c: AdminTest, ref: ProjectRef, redirectTo: string, verifier: string) {
  return c.tokens.token({
    ...ref,
    grantType: "authorization_code",
    code: queryOf(redirectTo).get("code")!,
    redirectUri: CALLBACK,
    clientId: CONSOLE_CLIENT_ID,
    codeVerifier: verifier,
  });
}

test("a fresh server's iam-admins has iam-console with exactly the console's settings", async (t) => {
  const c = await startAdmin(t);
  const client = await getConsoleClient(c, DEFAULT);
  t.deepEqual(client, create(ClientSchema, { ...consoleClientIn(DEFAULT), createdAt: nowSeconds(c) }));
  const ids = (await c.admin.listClients(DEFAULT, c.auth)).clients.map((x) => x.id);
  t.deepEqual(ids, ["admin-client", "iam-console"], "beside admin-client");
});

test("a project created by CreateProject has its own iam-console, its only client", async (t) => {
  const c = await startAdmin(t);
  c.clock.advance(60);
  await createTenant(c, ACME);
  t.deepEqual(await getConsoleClient(c, ACME), create(ClientSchema, { ...consoleClientIn(ACME), createdAt: nowSeconds(c) }));
  t.deepEqual((await c.admin.listClients(ACME, c.auth)).clients.map((x) => x.id), ["iam-console"]);
});

test("a project administrator signs in to the console through their own project, and the token administers that project", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const carol = { id: "carol", password: "carol-password" };
  await createUser(c, ACME, carol, ["project-admin"]);

  const first = await consoleSignIn(c, ACME, carol);
  t.true(first.asked, "the first sign-in asks for consent");
  t.is(queryOf(first.redirectTo).get("state"), "console-state");
  t.true(first.redirectTo.startsWith(`${CALLBACK}?`));
  const tokens = await consoleTokens(c, ACME, first.redirectTo, first.verifier);
  t.is(tokens.scope, "iam.project.admin");
  t.is(tokens.expiresIn, 300n);
  const refresh = await refreshRecordOf(c, tokens.refreshToken);
  t.is(refresh!.expiresAt - Math.floor(c.clock.now() / 1000), 8 * 3600, "refresh tokens last a working day");

  const asCarol = { headers: { authorization: `Bearer ${tokens.accessToken}` } };
  t.deepEqual((await c.admin.listClients(ACME, asCarol)).clients.map((x) => x.id), ["iam-console"]);
  await expectCode(t, c.admin.listClients(DEFAULT, asCarol), Code.PermissionDenied, "another project");

  const again = await consoleSignIn(c, ACME, carol);
  t.false(again.asked, "consent is remembered: the next sign-in is not asked again");
  t.truthy(queryOf(again.redirectTo).get("code"));
});

test("the global administrator signs in to the console through iam-admins", async (t) => {
  const c = await startAdmin(t);
  const { redirectTo, verifier } = await consoleSignIn(c, DEFAULT, { id: "admin", password: ADMIN_PASSWORD });
  const tokens = await consoleTokens(c, DEFAULT, redirectTo, verifier);
  t.is(tokens.scope, "iam.global.admin");
  const asAdmin = { headers: { authorization: `Bearer ${tokens.accessToken}` } };
  t.deepEqual((await c.admin.listOrganizations({}, asAdmin)).organizations.map((o) => o.id), ["iam-admins"]);
});

test("an authorization request of iam-console without PKCE, or to another redirect URI, is refused", async (t) => {
  const c = await startAdmin(t);
  const request = { ...DEFAULT, responseType: "code", clientId: CONSOLE_CLIENT_ID, redirectUri: CALLBACK, state: "s" };
  await expectOAuthError(t, c.authorization.authorize(request), {
    error: "invalid_request",
    redirect: { to: CALLBACK, state: "s" },
  });
  const { challenge } = pkcePair();
  await expectOAuthError(
    t,
    c.authorization.authorize({ ...request, redirectUri: `${BASE_URL}/admin/other`, codeChallenge: challenge, codeChallengeMethod: "S256" }),
    { error: "invalid_request", redirect: false },
  );
});

test("iam-console is an ordinary client: UpdateClient changes it, and deleting it turns console sign-in off for its project only", async (t) => {
  // An https base URL: the AdminService accepts http redirect URIs only on loopback hosts, and the tests' base is http://iam.test.
  const base = "https://iam.example";
  const c = await startAdmin(t, { baseUrl: base });
  await createTenant(c, ACME);
  const updated = await c.admin.updateClient(
    { ...ACME, clientId: CONSOLE_CLIENT_ID, name: "Shop console", accessTokenTtl: 120n, updateMask: { paths: ["name", "access_token_ttl"] } },
    c.auth,
  );
  t.like(updated.client, { name: "Shop console", accessTokenTtl: 120n, redirectUris: [`${base}/admin/callback`] });

  await c.admin.deleteClient({ ...ACME, clientId: CONSOLE_CLIENT_ID }, c.auth);
  t.deepEqual((await c.admin.listClients(ACME, c.auth)).clients, []);
  const { challenge } = pkcePair();
  const request = {
    responseType: "code",
    clientId: CONSOLE_CLIENT_ID,
    redirectUri: `${base}/admin/callback`,
    codeChallenge: challenge,
    codeChallengeMethod: "S256",
  };
  await expectOAuthError(t, c.authorization.authorize({ ...ACME, ...request }), { error: "invalid_request", redirect: false });
  t.truthy((await c.authorization.authorize({ ...DEFAULT, ...request })).requestId, "iam-admins keeps its own");
});

// The forms of IAM_BASE_URL the server accepts give redirect URIs that the
// AdminService's own rules accept: the client can be changed as it was made.
for (const [given, base] of [
  ["https://iam.example.com", "https://iam.example.com"],
  ["https://iam.example.com/", "https://iam.example.com"],
  ["https://example.com/identity", "https://example.com/identity"],
  ["https://example.com/identity/", "https://example.com/identity"],
  ["http://localhost:8080", "http://localhost:8080"],
  ["http://localhost", "http://localhost"],
  ["http://127.0.0.1:8080/iam", "http://127.0.0.1:8080/iam"],
  ["http://[::1]:8080", "http://[::1]:8080"],
] as const) {
  test(`IAM_BASE_URL=${given}: iam-console is called back at ${base}/admin/callback, which UpdateClient accepts as it is`, async (t) => {
    const c = await startAdmin(t, { baseUrl: loadConfig({ IAM_BASE_URL: given }).baseUrl });
    const client = await getConsoleClient(c, DEFAULT);
    t.deepEqual(
      [client.redirectUris, client.postLogoutRedirectUris, client.webOrigins],
      [[`${base}/admin/callback`], [`${base}/admin/`], [new URL(base).origin]],
    );
    const same = await c.admin.updateClient(
      {
        ...DEFAULT,
        clientId: CONSOLE_CLIENT_ID,
        redirectUris: client.redirectUris,
        postLogoutRedirectUris: client.postLogoutRedirectUris,
        webOrigins: client.webOrigins,
        updateMask: { paths: ["redirect_uris", "post_logout_redirect_uris", "web_origins"] },
      },
      c.auth,
    );
    t.deepEqual(same.client, client);
  });
}

test("a database without iam-console in iam-admins (made by an earlier version) logs one warning saying how to add it; a fresh one none", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const warnings = (lines: string[]) => lines.filter((line) => line.includes(CONSOLE_CLIENT_ID));

  const fresh = await startTestCore({ dbPath });
  t.deepEqual(warnings(fresh.lines), []);
  await fresh.core.deps.store.deleteClient(DEFAULT, CONSOLE_CLIENT_ID);
  await fresh.close();

  const earlier = await startTestCore({ dbPath });
  t.teardown(() => earlier.close());
  const [warning, ...more] = warnings(earlier.lines).map((line) => JSON.parse(line) as { level: string; msg: string });
  t.deepEqual(more, []);
  t.is(warning?.level, "warn");
  t.regex(warning?.msg ?? "", /administration console .*no client iam-console.*: iam console-client iam-admins iam-admins$/);
});

test("a base URL changed since iam-console was made logs one warning naming the new callback and how to remake the client", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const warnings = (lines: string[]) => lines.filter((line) => line.includes(CONSOLE_CLIENT_ID)).map((line) => JSON.parse(line) as { level: string; msg: string; redirect_uris?: string[] });

  const before = await startTestCore({ dbPath, config: { baseUrl: "https://id.example.com" } });
  t.deepEqual(warnings(before.lines), []);
  await before.close();

  const moved = await startTestCore({ dbPath, config: { baseUrl: "https://login.example.com" } });
  t.teardown(() => moved.close());
  const [warning, ...more] = warnings(moved.lines);
  t.deepEqual(more, []);
  t.is(warning?.level, "warn");
  t.regex(warning?.msg ?? "", /does not name this base URL's callback https:\/\/login\.example\.com\/admin\/callback .*iam console-client iam-admins iam-admins$/);
  t.deepEqual(warning?.redirect_uris, ["https://id.example.com/admin/callback"]);
});

test("iam-admins or iam-console requiring pushed authorization requests, which the console does not make, logs one warning saying how to turn it off", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const warnings = (lines: string[]) => lines.filter((line) => line.includes("pushed authorization requests")).map((line) => JSON.parse(line) as { level: string; msg: string });

  const first = await startTestCore({ dbPath });
  t.deepEqual(warnings(first.lines), []);
  const project = (await first.core.deps.store.getProject(DEFAULT))!;
  await first.core.deps.store.updateProject(DEFAULT, { name: project.name, audience: project.audience, requirePushedAuthorizationRequests: true });
  await first.close();

  const projectWide = await startTestCore({ dbPath });
  const [warning, ...more] = warnings(projectWide.lines);
  t.deepEqual(more, []);
  t.is(warning?.level, "warn");
  t.regex(warning?.msg ?? "", /administration console .*the project requires pushed authorization requests .*: iam project update iam-admins iam-admins --require-par false$/);
  await projectWide.core.deps.store.updateProject(DEFAULT, { name: project.name, audience: project.audience, requirePushedAuthorizationRequests: false });
  const client = (await projectWide.core.deps.store.getClient(DEFAULT, CONSOLE_CLIENT_ID))!;
  await projectWide.core.deps.store.updateClient({ ...client, requirePushedAuthorizationRequests: true });
  await projectWide.close();

  const clientOnly = await startTestCore({ dbPath });
  t.teardown(() => clientOnly.close());
  t.regex(warnings(clientOnly.lines)[0]?.msg ?? "", /client iam-console requires pushed authorization requests .*--require-par false$/);
});

test("a base URL with a path logs that iam-core shares its origin; one without a path does not", async (t) => {
  const shared = (lines: string[]) => lines.filter((line) => line.includes("shares its origin")).map((line) => JSON.parse(line) as { level: string; msg: string });
  const own = await startTestCore({ config: { baseUrl: "https://id.example.com" } });
  t.teardown(() => own.close());
  t.deepEqual(shared(own.lines), []);
  const path = await startTestCore({ config: { baseUrl: "https://apps.example.com/identity" } });
  t.teardown(() => path.close());
  const [warning, ...more] = shared(path.lines);
  t.deepEqual(more, []);
  t.is(warning?.level, "warn");
  t.regex(warning?.msg ?? "", /^IAM_BASE_URL has a path \(\/identity\)/);
});
