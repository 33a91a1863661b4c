/**
 * Shared fixtures of the AdminService RPC tests (rpc-*.test.ts): a core with
 * a global-admin token, assertions on Connect codes and OAuth errors, and
 * tenants, clients, users and token flows built through the admin API itself.
 * Not a test file itself (ava only runs *.test.ts).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import { AdminService, ClientType, type CreateClientRequestSchema } from "../../gen/iam/v1/admin_pb.js";
import type { TokenResponse, VerifyTokenResponse } from "../../gen/iam/v1/token_pb.js";
import type { Config } from "../../core/server/config.js";
import type { ProjectRef } from "../../core/store/types.js";
import { ADMIN_CLIENT_SECRET, BASE_URL, DEFAULT, queryOf, startTestCore, type TestCore } from "../helpers.js";

export interface AdminTest extends TestCore {
  /** The AdminService client over the in-memory transport. */
  admin: Client<typeof AdminService>;
  /** Call options carrying the global admin's bearer token. */
  auth: CallOptions;
  adminToken: string;
}

/** A client_credentials token of the default admin-client (global administration). */
export async function globalAdminToken(c: TestCore): Promise<string> {
  const res = await c.tokens.token({
    ...DEFAULT,
    grantType: "client_credentials",
    basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET },
  });
  return res.accessToken;
}

/** A fresh core (closed at teardown) and a global admin token for its AdminService. */
export async function startAdmin(t: ExecutionContext, config: Partial<Config> = {}): Promise<AdminTest> {
  const c = await startTestCore({ config });
  t.teardown(() => c.close());
  const adminToken = await globalAdminToken(c);
  return {
    ...c,
    admin: createClient(AdminService, c.transport),
    auth: { headers: { authorization: `Bearer ${adminToken}` } },
    adminToken,
  };
}

/** Awaits a rejected call and checks its Connect code; answers the error. */
export async function expectCode(
  t: ExecutionContext,
  promise: Promise<unknown>,
  code: Code,
  what = "",
): Promise<ConnectError | undefined> {
  const err = await t.throwsAsync(promise, { instanceOf: ConnectError }, `${what}: expected ${Code[code]}`);
  if (err !== undefined) {
    t.is<Code, Code>(err.code, code, `${what}: expected ${Code[code]}, got ${Code[err.code]} (${err.rawMessage})`);
  }
  return err;
}

/** Awaits a rejected token/authorization call and checks its RFC 6749 error and Connect code. */
export async function expectOAuth(t: ExecutionContext, promise: Promise<unknown>, error: string, code: Code, what = ""): Promise<void> {
  const err = await t.throwsAsync(promise, { instanceOf: ConnectError }, `${what}: expected ${error}`);
  if (err !== undefined) {
    t.is(err.metadata.get("oauth-error"), error, `${what}: oauth-error (${err.rawMessage})`);
    t.is<Code, Code>(err.code, code, `${what}: expected ${Code[code]}, got ${Code[err.code]}`);
  }
}

/** The second tenant every test builds through the admin API. */
export const ACME: ProjectRef = { organization: "acme", project: "shop" };
export const issuerOf = (ref: ProjectRef): string => `${BASE_URL}/services/oauth2/${ref.organization}/${ref.project}`;

export const READ = "shop.orders.read";
export const WRITE = "shop.orders.write";
export const REDIRECT = "https://web.example/cb";
export const ALICE = { id: "alice", password: "alice-password" } as const;

export interface App {
  ref: ProjectRef;
  id: string;
  secret: string;
  redirectUri: string;
}

/** Creates the organization (when it does not exist yet) and the project. */
export async function createTenant(c: AdminTest, ref: ProjectRef = ACME): Promise<void> {
  const orgs = await c.admin.listOrganizations({ pageSize: 1000 }, c.auth);
  if (!orgs.organizations.some((o) => o.id === ref.organization)) {
    await c.admin.createOrganization({ id: ref.organization }, c.auth);
  }
  await c.admin.createProject({ organization: ref.organization, id: ref.project }, c.auth);
}

type CreateClientInit = Exclude<MessageInitShape<typeof CreateClientRequestSchema>, { $typeName: string }>;

/** A confidential client with the code, refresh and client_credentials grants (no PKCE required). */
export async function createApp(c: AdminTest, ref: ProjectRef = ACME, overrides: Partial<CreateClientInit> = {}): Promise<App> {
  const res = await c.admin.createClient(
    {
      ...ref,
      clientId: "web",
      type: ClientType.CONFIDENTIAL,
      redirectUris: [REDIRECT],
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      ...overrides,
    },
    c.auth,
  );
  return { ref, id: res.client!.id, secret: res.secret, redirectUri: res.client!.redirectUris[0] ?? "" };
}

/** Creates the permissions that do not exist yet, then a role holding them. */
export async function createRole(c: AdminTest, ref: ProjectRef, roleId: string, permissions: string[]): Promise<void> {
  const existing = (await c.admin.listPermissions({ ...ref, pageSize: 1000 }, c.auth)).permissions.map((p) => p.id);
  for (const permission of permissions) {
    if (!existing.includes(permission)) {
      await c.admin.createPermission({ ...ref, permissionId: permission, description: `May ${permission}` }, c.auth);
    }
  }
  await c.admin.createRole({ ...ref, roleId, permissions }, c.auth);
}

/** Creates a user and assigns them the roles. */
export async function createUser(
  c: AdminTest,
  ref: ProjectRef,
  user: { id: string; password: string },
  roles: string[] = [],
): Promise<void> {
  await c.admin.createUser({ ...ref, userId: user.id, password: user.password }, c.auth);
  for (const roleId of roles) {
    await c.admin.assignRole({ ...ref, roleId, subject: { case: "userId", value: user.id } }, c.auth);
  }
}

/**
 * A tenant ready for the flows: ACME with the confidential app `web`, the
 * permissions READ and WRITE, the role `reader` (READ) and alice holding it.
 */
export async function fullTenant(c: AdminTest, ref: ProjectRef = ACME): Promise<App> {
  await createTenant(c, ref);
  const app = await createApp(c, ref);
  await createRole(c, ref, "reader", [READ]);
  await c.admin.createPermission({ ...ref, permissionId: WRITE, description: "Change orders" }, c.auth);
  await createUser(c, ref, ALICE, ["reader"]);
  return app;
}

/** Authorize and Login (no PKCE, scope empty: everything held): the scopes the user is offered. */
export async function loginScopes(c: AdminTest, app: App, user: { id: string; password: string }, scope = ""): Promise<string[]> {
  const auth = await c.authorization.authorize({
    ...app.ref,
    responseType: "code",
    clientId: app.id,
    redirectUri: app.redirectUri,
    state: "st",
    scope,
  });
  const login = await c.authorization.login({ ...app.ref, requestId: auth.requestId, username: user.id, password: user.password });
  return login.scopes.map((s) => s.name);
}

/** The whole code flow (Authorize, Login, Consent to every offered scope, code exchange by the app). */
export async function userTokens(c: AdminTest, app: App, user: { id: string; password: string }): Promise<TokenResponse> {
  const auth = await c.authorization.authorize({
    ...app.ref,
    responseType: "code",
    clientId: app.id,
    redirectUri: app.redirectUri,
    state: "st",
  });
  const login = await c.authorization.login({ ...app.ref, requestId: auth.requestId, username: user.id, password: user.password });
  const consent = await c.authorization.consent({ ...app.ref, requestId: auth.requestId, scopes: login.scopes.map((s) => s.name) });
  const code = queryOf(consent.redirectTo).get("code");
  if (code === null) throw new Error(`consent did not issue a code: ${consent.redirectTo}`);
  return c.tokens.token({
    ...app.ref,
    grantType: "authorization_code",
    code,
    redirectUri: app.redirectUri,
    basic: { clientId: app.id, clientSecret: app.secret },
  });
}

/** A refresh by the app. */
export function refresh(c: AdminTest, app: App, refreshToken: string): Promise<TokenResponse> {
  return c.tokens.token({
    ...app.ref,
    grantType: "refresh_token",
    refreshToken,
    basic: { clientId: app.id, clientSecret: app.secret },
  });
}

/** A client_credentials token of a client (client_secret_basic). */
export function clientToken(c: AdminTest, ref: ProjectRef, clientId: string, secret: string, scope = ""): Promise<TokenResponse> {
  return c.tokens.token({ ...ref, grantType: "client_credentials", scope, basic: { clientId, clientSecret: secret } });
}

/** Call options of a project administrator of `ref`: a client `clientId` of it, holding project-admin, with its client_credentials token. */
export async function projectAdminAuth(c: AdminTest, ref: ProjectRef, clientId = "ops"): Promise<CallOptions> {
  const app = await createApp(c, ref, { clientId, redirectUris: [], grantTypes: ["client_credentials"] });
  await c.admin.assignRole({ ...ref, roleId: "project-admin", subject: { case: "clientId", value: app.id } }, c.auth);
  const token = await clientToken(c, ref, app.id, app.secret);
  if (!scopesOf(token.scope).includes("iam.project.admin")) throw new Error(`not a project admin token: ${token.scope}`);
  return { headers: { authorization: `Bearer ${token.accessToken}` } };
}

export function verify(c: AdminTest, token: string): Promise<VerifyTokenResponse> {
  return c.tokens.verifyToken({ token });
}

/** Splits a space-delimited scope string. */
export const scopesOf = (scope: string): string[] => scope.split(" ").filter((s) => s !== "");
