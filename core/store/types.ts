/**
 * The storage contract of the core, split by concern. Every method is async so
 * that a networked backend fits behind the same interface; the SQLite backend
 * answers synchronously underneath. Records are plain data. Secrets are never
 * stored raw: codes, refresh tokens and request ids are SHA-256 hashes,
 * passwords and client secrets argon2id hashes.
 */

/** Seconds since the Unix epoch are used for every time field. */
export type EpochSeconds = number;

export interface ProjectRef {
  organization: string;
  project: string;
}

export interface OrganizationRecord {
  id: string;
  name: string;
  createdAt: EpochSeconds;
}

export interface ProjectRecord extends ProjectRef {
  name: string;
  /** The `aud` of the project's access tokens. */
  audience: string;
  createdAt: EpochSeconds;
}

export type ClientType = "confidential" | "public";

export interface ClientRecord extends ProjectRef {
  id: string;
  name: string;
  type: ClientType;
  /** argon2id hash; null for public clients. */
  secretHash: string | null;
  redirectUris: string[];
  grantTypes: string[];
  pkceRequired: boolean;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  createdAt: EpochSeconds;
}

export interface UserRecord extends ProjectRef {
  id: string;
  name: string;
  email: string;
  passwordHash: string;
  enabled: boolean;
  createdAt: EpochSeconds;
}

export interface PermissionRecord extends ProjectRef {
  /** `service.resource.action`; also the scope token. */
  id: string;
  description: string;
}

export interface RoleRecord extends ProjectRef {
  id: string;
  description: string;
  permissions: string[];
}

export interface SigningKeyRecord extends ProjectRef {
  kid: string;
  alg: "ES256";
  /** Private JWK as JSON. */
  privateJwk: string;
  /** Public JWK as JSON. */
  publicJwk: string;
  createdAt: EpochSeconds;
  /** When it stopped signing; null for the current key. */
  retiredAt: EpochSeconds | null;
}

export interface AuthorizationRequestRecord extends ProjectRef {
  /** SHA-256 of the request id handed to the user agent. */
  idHash: string;
  clientId: string;
  redirectUri: string;
  /** The scopes asked for that the project knows; empty = all the user holds. */
  scopes: string[];
  state: string;
  codeChallenge: string;
  codeChallengeMethod: "S256" | "plain" | "";
  nonce: string;
  /** SHA-256 of the browser binding cookie, "" when none was given. */
  browserBindingHash: string;
  /** Set by a successful login. */
  userId: string | null;
  authTime: EpochSeconds | null;
  /** The scopes Login offered the user. */
  offeredScopes: string[] | null;
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
}

export interface AuthorizationCodeRecord extends ProjectRef {
  codeHash: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string;
  codeChallengeMethod: "S256" | "plain" | "";
  nonce: string;
  authTime: EpochSeconds;
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
  /** Set by the first exchange. */
  consumedAt: EpochSeconds | null;
  /** The grant the first exchange created; revoked when the code is replayed. */
  grantId: string | null;
}

/**
 * A grant: one authorization of a client by a user, the family of every
 * refresh and access token issued from it. Revoking it stops them all.
 */
export interface GrantRecord extends ProjectRef {
  id: string;
  clientId: string;
  userId: string;
  scopes: string[];
  authTime: EpochSeconds;
  createdAt: EpochSeconds;
  /** The last expiry of any token issued in it: past that, the grant can be purged. */
  expiresAt: EpochSeconds;
  revokedAt: EpochSeconds | null;
}

export interface RefreshTokenRecord {
  tokenHash: string;
  grantId: string;
  clientId: string;
  scopes: string[];
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
  /** Set when the token was exchanged for a new one. */
  rotatedAt: EpochSeconds | null;
}

export class NotFound extends Error {
  constructor(what: string) {
    super(`${what} not found`);
    this.name = "NotFound";
  }
}

export class AlreadyExists extends Error {
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = "AlreadyExists";
  }
}

export interface TenantStore {
  createOrganization(org: OrganizationRecord): Promise<void>;
  getOrganization(id: string): Promise<OrganizationRecord | undefined>;
  createProject(project: ProjectRecord): Promise<void>;
  getProject(ref: ProjectRef): Promise<ProjectRecord | undefined>;
  /** True when no organization exists yet: the database is new. */
  isEmpty(): Promise<boolean>;
}

export interface ClientStore {
  createClient(client: ClientRecord): Promise<void>;
  getClient(ref: ProjectRef, id: string): Promise<ClientRecord | undefined>;
}

export interface UserStore {
  createUser(user: UserRecord): Promise<void>;
  getUser(ref: ProjectRef, id: string): Promise<UserRecord | undefined>;
}

export interface AccessStore {
  createPermission(permission: PermissionRecord): Promise<void>;
  /** The permissions of the project among `ids`, in the order of `ids`. */
  getPermissions(ref: ProjectRef, ids: readonly string[]): Promise<PermissionRecord[]>;
  createRole(role: RoleRecord): Promise<void>;
  assignUserRole(ref: ProjectRef, userId: string, roleId: string): Promise<void>;
  /** Every permission the user holds through its roles, ordered by id. */
  getUserPermissions(ref: ProjectRef, userId: string): Promise<PermissionRecord[]>;
}

export interface SigningKeyStore {
  addSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Every key of the project, current first. */
  listSigningKeys(ref: ProjectRef): Promise<SigningKeyRecord[]>;
}

export interface AuthorizationRequestStore {
  createAuthorizationRequest(request: AuthorizationRequestRecord): Promise<void>;
  getAuthorizationRequest(idHash: string): Promise<AuthorizationRequestRecord | undefined>;
  /** Records a successful login on a pending request. */
  authenticateAuthorizationRequest(
    idHash: string,
    login: { userId: string; authTime: EpochSeconds; offeredScopes: string[] },
  ): Promise<void>;
  /** Counts a failed login on a pending request; answers the failures so far. */
  recordFailedLogin(idHash: string): Promise<number>;
  /** Deletes a pending request; false when it was already gone (used or expired). */
  consumeAuthorizationRequest(idHash: string): Promise<boolean>;
}

export interface AuthorizationCodeStore {
  createAuthorizationCode(code: AuthorizationCodeRecord): Promise<void>;
  getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined>;
  /**
   * Marks a code used and binds it to the grant its exchange created.
   * False when it was already used: the caller lost a race or sees a replay.
   */
  consumeAuthorizationCode(codeHash: string, grantId: string, at: EpochSeconds): Promise<boolean>;
}

export interface GrantStore {
  createGrant(grant: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /** Pushes the grant's expiry out to cover a newly issued token. */
  extendGrant(id: string, expiresAt: EpochSeconds): Promise<void>;
  /** Revokes the grant and every refresh token of it. */
  revokeGrant(id: string, at: EpochSeconds): Promise<void>;
}

export interface RefreshTokenStore {
  createRefreshToken(token: RefreshTokenRecord): Promise<void>;
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /** Marks a refresh token as exchanged; false when it already was. */
  rotateRefreshToken(tokenHash: string, at: EpochSeconds): Promise<boolean>;
}

export interface MaintenanceStore {
  /** Deletes what has expired; answers how many rows of each kind went. */
  purgeExpired(now: EpochSeconds): Promise<Record<string, number>>;
}

export interface Store
  extends TenantStore,
    ClientStore,
    UserStore,
    AccessStore,
    SigningKeyStore,
    AuthorizationRequestStore,
    AuthorizationCodeStore,
    GrantStore,
    RefreshTokenStore,
    MaintenanceStore {
  /**
   * Runs `fn` atomically: every write it makes through the store it is given
   * lands, or none does. Other callers wait until it ends.
   */
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
