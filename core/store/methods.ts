/**
 * What each Store method does, declared once for every backend: the caching
 * layer (cached.ts) acts on these declarations and on nothing else, not on a
 * method's name. A method added to the Store does not compile until it is
 * declared here, and test/store/declarations.test.ts fails when a backend
 * has an operation without a declaration, or a declaration no operation.
 */
import type { ProjectRef, Store } from "./types.js";

/** The Store's methods that reach the database: all but transaction and close. */
export type StoreMethod = Exclude<keyof Store, "transaction" | "close" | "writability">;

export type Declaration<A extends unknown[]> =
  /**
   * Reads. With a cache key, it reads what only administration changes and
   * is answered from memory under that key while the change epoch stands;
   * without one, it reads the database at every call.
   */
  | {
      readonly kind: "read";
      cacheKey?(...args: A): string;
      /**
       * A grant: token state that only revocation (or a client grant's
       * extension) changes once it exists. Kept in memory only by a backend
       * whose epoch moves with those writes themselves (SQLite's triggers),
       * so that a revocation by any process is seen by the next read
       * anywhere; never kept when nothing was found, since a row inserted
       * later moves no epoch. A user grant's `expiresAt` may be older in
       * memory than in the database (refreshes push it further): no check
       * decides on it.
       */
      readonly revocable?: true;
    }
  /**
   * Writes. `administration`: organizations, projects, signing keys,
   * clients, users, roles or permissions; what is kept in memory is dropped
   * and the change epoch moves (the key ring reloads a project's keys on
   * it). `token state`: only the login and token flows' rows; memory and the
   * epoch are left alone. `audit event`: an event appended to its chain,
   * which a backend may write at its transaction's commit (SQLite batches
   * them in the group commit); `audit trail`: the trail's other writes (its
   * purge). Memory and the epoch are left alone by both.
   */
  | { readonly kind: "write"; readonly changes: "administration" | "token state" | "audit event" | "audit trail" };

export type Declarations = { readonly [K in StoreMethod]: Declaration<Parameters<Store[K]>> };

const read = { kind: "read" } as const;
const administration = { kind: "write", changes: "administration" } as const;
const tokenState = { kind: "write", changes: "token state" } as const;
const auditEvent = { kind: "write", changes: "audit event" } as const;
const auditTrail = { kind: "write", changes: "audit trail" } as const;

const project = (ref: ProjectRef) => `${ref.organization}\u0000${ref.project}`;
const inProject = (ref: ProjectRef, id: string) => `${project(ref)}\u0000${id}`;

export const DECLARATIONS: Declarations = {
  // TenantStore
  createOrganization: administration,
  getOrganization: read,
  listOrganizations: read,
  updateOrganization: administration,
  deleteOrganization: administration,
  createProject: administration,
  getProject: { kind: "read", cacheKey: project },
  listProjects: read,
  updateProject: administration,
  deleteProject: administration,
  isEmpty: read,

  // ClientStore
  createClient: administration,
  getClient: { kind: "read", cacheKey: inProject },
  // Read per project at every browser call of the token, UserInfo and
  // revocation endpoints (their web origins, core/rpc/server-metadata.ts).
  listClients: { kind: "read", cacheKey: (ref, page) => `${project(ref)}\u0000${page.after}\u0000${page.limit}` },
  updateClient: administration,
  setClientSecret: administration,
  deleteClient: administration,

  // RegistrationStore (RFC 7591, RFC 7592): read at each registration call,
  // never kept; a registration's rows go with its client's creation, which is
  // the administration write that moves the epoch.
  countDynamicClients: read,
  createClientRegistration: administration,
  getClientRegistration: read,
  updateClientRegistration: administration,
  createInitialAccessToken: administration,
  listInitialAccessTokens: read,
  deleteInitialAccessToken: administration,
  findInitialAccessToken: read,
  spendInitialAccessToken: tokenState,
  // ClientMetadataDocumentRuleStore: read once per document fetch or admission, from the database.
  putClientMetadataDocumentRule: administration,
  getClientMetadataDocumentRule: read,
  listClientMetadataDocumentRules: read,
  deleteClientMetadataDocumentRule: administration,
  countMetadataDocumentClients: read,

  // UserStore
  createUser: administration,
  getUser: { kind: "read", cacheKey: inProject },
  listUsers: read,
  updateUser: administration,
  setUserPassword: administration,
  deleteUser: administration,
  revokeUserGrants: tokenState,

  // AccessStore
  createPermission: administration,
  getPermissions: read,
  listPermissions: read,
  deletePermission: administration,
  createRole: administration,
  getRole: read,
  listRoles: read,
  deleteRole: administration,
  assignRole: administration,
  unassignRole: administration,
  getRolesOf: read,
  getUserPermissions: { kind: "read", cacheKey: inProject },
  getClientPermissions: { kind: "read", cacheKey: inProject },
  // ResourceStore: read at every authorization and token request that names one.
  createResource: administration,
  getResource: { kind: "read", cacheKey: inProject },
  listResources: read,
  updateResource: administration,
  deleteResource: administration,

  // SigningKeyStore
  addSigningKey: administration,
  listSigningKeys: read,
  retireSigningKeys: administration,
  expireSigningKeys: administration,
  maxAccessTokenTtl: read,
  // Kept in memory while the epoch stands: the value kept is the epoch itself.
  getChangeEpoch: { kind: "read", cacheKey: () => "" },

  // ProjectOverviewStore: a dashboard's counts and key list, from the database at every call.
  countProject: read,
  listSigningKeyMetadata: read,

  // AuthorizationRequestStore
  createAuthorizationRequest: tokenState,
  getAuthorizationRequest: read,
  authenticateAuthorizationRequest: tokenState,
  awaitSecondFactor: tokenState,
  recordFailedLogin: tokenState,
  consumeAuthorizationRequest: tokenState,

  // PushedAuthorizationRequestStore. Taken from the database, once, by
  // whichever process serves the authorization request.
  createPushedAuthorizationRequest: tokenState,
  takePushedAuthorizationRequest: tokenState,

  // AuthorizationCodeStore
  createAuthorizationCode: tokenState,
  getAuthorizationCode: read,
  consumeAuthorizationCode: tokenState,

  // GrantStore
  createGrant: tokenState,
  getGrant: { kind: "read", cacheKey: (id) => id, revocable: true },
  findClientGrant: { kind: "read", cacheKey: inProject, revocable: true },
  extendGrant: tokenState,
  revokeGrant: tokenState,

  // RefreshTokenStore
  createRefreshToken: tokenState,
  getRefreshToken: read,
  rotateRefreshToken: tokenState,

  // ConsentStore
  getConsent: read,
  rememberConsent: tokenState,
  listConsents: read,
  revokeConsent: tokenState,

  // SessionStore. Reads go to the database at every call, never to memory:
  // a session ended through one process must be refused by every other at once.
  createSession: tokenState,
  findSessionBySecret: read,
  getSession: read,
  reauthenticateSession: tokenState,
  touchSession: tokenState,
  listUserSessions: read,
  endSession: tokenState,
  endUserSessions: tokenState,
  recordLogoutDelivery: tokenState,
  listLogoutDeliveries: read,

  // LoginThrottleStore
  lockedUntil: read,
  recordLoginFailure: tokenState,
  recordSingleUse: tokenState,
  clearLoginFailures: tokenState,

  // FactorStore. Read at every sign-in from the database: a factor removed
  // or used through one process must count in every other at once. The
  // policy is administration's, kept in memory while the epoch stands.
  createFactor: tokenState,
  listFactors: read,
  findPasskey: read,
  useFactor: tokenState,
  deleteFactor: tokenState,
  deleteUserFactors: tokenState,
  setRecoveryCodes: tokenState,
  useRecoveryCode: tokenState,
  countRecoveryCodes: read,
  createCeremony: tokenState,
  takeCeremony: tokenState,
  getMfaPolicy: { kind: "read", cacheKey: project },
  setMfaPolicy: administration,

  // AuditStore
  appendAuditEvent: auditEvent,
  listAuditEvents: read,
  listAuditChains: read,
  auditPrefixBefore: read,
  purgeAuditEvents: auditTrail,
  getAuditCheckpoint: read,

  // MaintenanceStore. Expired token state; when a retired signing key
  // expires with it, the backend moves the epoch itself (SQLite's triggers,
  // PostgreSQL's purge), as it would for any write to signing_keys.
  purgeExpired: tokenState,
};

/** The declared methods, in the order above. */
export const STORE_METHODS = Object.keys(DECLARATIONS) as StoreMethod[];
