import { issuerOf, type Deps } from "./deps.js";
import { epochSeconds } from "./lib/clock.js";
import { randomToken } from "./lib/crypto.js";
import type { ProjectRef } from "./store/types.js";

export const DEFAULT_TENANT: ProjectRef = { organization: "iam-admins", project: "iam-admins" };
export const ADMIN_CLIENT_ID = "admin-client";
export const ADMIN_USER_ID = "admin";
export const GLOBAL_ADMIN_ROLE = "global-admin";
export const GLOBAL_ADMIN_PERMISSION = "iam.global.admin";

/** Lifetimes of the default client's tokens, seconds. */
export const DEFAULT_ACCESS_TOKEN_TTL = 600;
export const DEFAULT_REFRESH_TOKEN_TTL = 30 * 24 * 3600;

export interface BootstrapResult {
  created: boolean;
  /** The admin password, when it was generated; shown once and never stored raw. */
  generatedAdminPassword?: string;
}

/**
 * Creates the default tenant of an empty database (DESIGN.md): organization
 * and project `iam-admins` with their signing key, the confidential
 * `admin-client`, and the `admin` user holding global administration.
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

  await deps.store.transaction(async (store) => {
    await store.createOrganization({ id: ref.organization, name: "IAM administrators", createdAt: now });
    await store.createProject({ ...ref, name: "IAM administration", audience: issuer, createdAt: now });
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
      accessTokenTtl: DEFAULT_ACCESS_TOKEN_TTL,
      refreshTokenTtl: DEFAULT_REFRESH_TOKEN_TTL,
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
      passwordHash,
      enabled: true,
      createdAt: now,
    });
    await store.assignUserRole(ref, ADMIN_USER_ID, GLOBAL_ADMIN_ROLE);
  });
  return { created: true, generatedAdminPassword };
}
