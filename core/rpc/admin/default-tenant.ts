import { issuerOf, type Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { randomToken } from "../../lib/crypto.js";
import type { AccessStore, ClientRecord, ClientStore, EpochSeconds, ProjectRef } from "../../store/types.js";
import { CLIENT_AUTH_DEFAULTS } from "../../store/types.js";

export const DEFAULT_TENANT: ProjectRef = { organization: "iam-admins", project: "iam-admins" };
export const ADMIN_CLIENT_ID = "admin-client";
/** The client the administration console (the browser application at `/admin`) signs in with, in every project. */
export const CONSOLE_CLIENT_ID = "iam-console";
export const ADMIN_USER_ID = "admin";
export const GLOBAL_ADMIN_ROLE = "global-admin";
export const GLOBAL_ADMIN_PERMISSION = "iam.global.admin";
export const PROJECT_ADMIN_ROLE = "project-admin";
export const PROJECT_ADMIN_PERMISSION = "iam.project.admin";

/**
 * What every project starts with besides its key: the permission that lets a
 * token of the project administer it, a role holding it, and the console's
 * client, through which those who hold it sign in to the console.
 */
export async function seedProjectAdministration(
  store: AccessStore & ClientStore,
  ref: ProjectRef,
  baseUrl: string,
  createdAt: EpochSeconds,
): Promise<void> {
  await store.createPermission({ ...ref, id: PROJECT_ADMIN_PERMISSION, description: "Administer this project" });
  await store.createRole({
    ...ref,
    id: PROJECT_ADMIN_ROLE,
    description: "Administration of this project",
    permissions: [PROJECT_ADMIN_PERMISSION],
  });
  await store.createClient(consoleClient(baseUrl, ref, createdAt));
}

/**
 * The console's client in `ref`: a public client of the code flow with PKCE
 * (it runs in the browser and keeps no secret), called back at
 * `{base_url}/admin/callback`. It holds no role: its tokens carry what the
 * person signed in holds. An ordinary client otherwise: deleting it turns
 * console sign-in off for the project.
 */
export function consoleClient(baseUrl: string, ref: ProjectRef, createdAt: EpochSeconds): ClientRecord {
  return {
    ...ref,
    id: CONSOLE_CLIENT_ID,
    name: "iam-core console",
    type: "public",
    secretHash: null,
    redirectUris: [`${baseUrl}/admin/callback`],
    grantTypes: ["authorization_code", "refresh_token"],
    // RFC 9700 §2.1.1: public clients always use PKCE.
    pkceRequired: true,
    // A person approves the console's scopes once, not at every sign-in.
    rememberConsent: true,
    // Short: a token held by a page is what a script running in it could take.
    accessTokenTtl: 300,
    // An administrator's working day: past it, they sign in again.
    refreshTokenTtl: 8 * 3600,
    postLogoutRedirectUris: [`${baseUrl}/admin/`],
    backchannelLogoutUri: "",
    // OpenID Connect Registration §2: RS256 unless the client registered another.
    idTokenSignedResponseAlg: "RS256",
    // Where the console is served: it may call the token endpoints from
    // there, and a remembered consent holds for its http://localhost callback
    // too (identityAssured, authorization/sign-in.ts), as it does for https.
    webOrigins: [new URL(baseUrl).origin],
    requirePushedAuthorizationRequests: false,
    ...CLIENT_AUTH_DEFAULTS,
    createdAt,
  };
}

/** Lifetimes of the default client's tokens, seconds. */
export const DEFAULT_ACCESS_TOKEN_TTL = 600;
export const DEFAULT_REFRESH_TOKEN_TTL = 30 * 24 * 3600;

/**
 * A client's settings where nothing says otherwise: the default lifetimes,
 * consent asked every time, no logout URIs, RS256 ID tokens (OpenID Connect
 * Registration §2), no web origins, pushed requests not required, and the
 * authentication and token exchange defaults (CLIENT_AUTH_DEFAULTS).
 */
export const CLIENT_DEFAULTS = {
  rememberConsent: false,
  accessTokenTtl: DEFAULT_ACCESS_TOKEN_TTL,
  refreshTokenTtl: DEFAULT_REFRESH_TOKEN_TTL,
  postLogoutRedirectUris: [] as string[],
  backchannelLogoutUri: "",
  idTokenSignedResponseAlg: "RS256",
  webOrigins: [] as string[],
  requirePushedAuthorizationRequests: false,
  ...CLIENT_AUTH_DEFAULTS,
} satisfies Partial<ClientRecord>;

export interface BootstrapResult {
  created: boolean;
  /** The admin password, when it was generated; shown once and never stored raw. */
  generatedAdminPassword?: string;
}

/**
 * Creates the default tenant of an empty database (DESIGN.md): organization
 * and project `iam-admins` with their signing key, the confidential
 * `admin-client`, the `admin` user holding global administration (as does
 * admin-client itself, for client_credentials), and the console's client.
 * A database that has any organization is left as it is.
 */
export async function bootstrap(
  deps: Deps,
  options: { adminPassword: string | undefined; adminClientSecret: string },
): Promise<BootstrapResult> {
  if (!(await deps.store.isEmpty())) return { created: false };
  const generatedAdminPassword = options.adminPassword === undefined ? randomToken(18) : undefined;
  const adminPassword = options.adminPassword ?? generatedAdminPassword!;
  const [passwordHash, secretHash] = await Promise.all([
    deps.passwords.hash(adminPassword),
    deps.passwords.hash(options.adminClientSecret),
  ]);
  const now = epochSeconds(deps.clock);
  const ref = DEFAULT_TENANT;
  const issuer = issuerOf(deps.config.baseUrl, ref);

  const created = await deps.store.transaction(async (store) => {
    // Again inside the transaction: of processes starting at once on one
    // empty database, one creates the tenant and the others find it made.
    if (!(await store.isEmpty())) return false;
    await store.createOrganization({ id: ref.organization, name: "IAM administrators", createdAt: now });
    await store.createProject({ ...ref, name: "IAM administration", audience: issuer, accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: now });
    await deps.keys.create(ref, store);
    await store.createClient({
      ...ref,
      id: ADMIN_CLIENT_ID,
      name: "IAM administration client",
      type: "confidential",
      secretHash,
      redirectUris: [`${issuer}/redirect`],
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
      // The documented first curl has no PKCE; public clients always need it.
      pkceRequired: false,
      ...CLIENT_DEFAULTS,
      createdAt: now,
    });
    await store.createPermission({
      ...ref,
      id: GLOBAL_ADMIN_PERMISSION,
      description: "Administer every organization, project, client and user",
    });
    await store.createRole({
      ...ref,
      id: GLOBAL_ADMIN_ROLE,
      description: "Global administration of every organization",
      permissions: [GLOBAL_ADMIN_PERMISSION],
    });
    await store.createUser({
      ...ref,
      id: ADMIN_USER_ID,
      name: "Administrator",
      email: "",
      emailVerified: false,
      givenName: "",
      familyName: "",
      passwordHash,
      enabled: true,
      createdAt: now,
    });
    await store.assignRole(ref, { userId: ADMIN_USER_ID }, GLOBAL_ADMIN_ROLE);
    // admin-client holds it too, so that a client_credentials token of it can
    // drive the admin API (the README's first step).
    await store.assignRole(ref, { clientId: ADMIN_CLIENT_ID }, GLOBAL_ADMIN_ROLE);
    await seedProjectAdministration(store, ref, deps.config.baseUrl, now);
    return true;
  });
  return created ? { created: true, generatedAdminPassword } : { created: false };
}
