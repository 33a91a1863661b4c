/**
 * The storage contract of the core, split by concern. Every method is async so
 * that a networked backend fits behind the same interface; the SQLite backend
 * answers synchronously underneath. Records are plain data. Secrets are never
 * stored raw: codes, refresh tokens and request ids are SHA-256 hashes,
 * passwords and client secrets argon2id hashes.
 */
import type { LoginThrottleStore, SessionStore } from "./sign-in-types.js";
import type { AuditStore } from "./audit-types.js";

// The contracts of signing in and of the audit trail live in sign-in-types.ts and audit-types.ts; every record and store is named here too.
export type { LoginFailurePolicy, LoginThrottleStore, LogoutDeliveryRecord, SessionRecord, SessionStore } from "./sign-in-types.js";
export type { AuditChange, AuditCheckpoint, AuditEventInput, AuditEventRecord, AuditFilter, AuditParty, AuditPartyKind, AuditStore } from "./audit-types.js";

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
  /** The `alg` of the project's access tokens: ES256 unless the project says otherwise. */
  accessTokenSigningAlg: SigningAlg;
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
  /** Whether a user who approved scopes for this client is not asked again for the same or fewer. */
  rememberConsent: boolean;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  /** RP-Initiated Logout 1.0 §3.1: where a logout may send the user agent back to, matched exactly. */
  postLogoutRedirectUris: string[];
  /** Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed; "" for none. */
  backchannelLogoutUri: string;
  /** The `alg` of the client's ID tokens (OpenID Connect Registration §2); RS256 unless it registered another. */
  idTokenSignedResponseAlg: SigningAlg;
  /**
   * The web origins (`scheme://host[:port]`) whose pages may call the token,
   * userinfo and revocation endpoints (CORS). Empty: for a public client, the
   * origins of its redirect URIs; for a confidential one, none.
   */
  webOrigins: string[];
  createdAt: EpochSeconds;
}

export type SigningAlg = "ES256" | "RS256";

export interface UserRecord extends ProjectRef {
  id: string;
  name: string;
  email: string;
  /** Whether the email address was verified (the `email_verified` claim). */
  emailVerified: boolean;
  /** The `given_name` and `family_name` claims (OpenID Connect Core §5.1); "" when unknown. */
  givenName: string;
  familyName: string;
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
  alg: SigningAlg;
  /** Private JWK as JSON. */
  privateJwk: string;
  /** Public JWK as JSON. */
  publicJwk: string;
  createdAt: EpochSeconds;
  /** When it stopped signing; null for the current key. */
  retiredAt: EpochSeconds | null;
  /** For a retired key, when the last token it may have signed expires: then it leaves the JWKS. */
  expiresAt: EpochSeconds | null;
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
  /** The sign-in session (its `sid`) the user was authenticated by, set with userId; "" before. */
  sessionId: string;
  /** The `acr` the sign-in satisfies ("" for none) and its `amr` values. */
  acr: string;
  amr: string[];
  /** The `claims` request parameter (OpenID Connect Core §5.5) as validated JSON; "" when absent. */
  claims: string;
  /** `prompt=consent`: the consent page is shown even when consent is remembered. */
  forceConsent: boolean;
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
  /** The sign-in session, acr, amr and requested claims of the authorization request (see AuthorizationRequestRecord). */
  sessionId: string;
  acr: string;
  amr: string[];
  claims: string;
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
  /** `user`: a user authorized the client; `client`: the client acting for itself (client_credentials). */
  kind: "user" | "client";
  /** The user; "" for a client grant. */
  userId: string;
  scopes: string[];
  authTime: EpochSeconds;
  /**
   * The sign-in session the grant was made in ("" for none: client grants,
   * the password grant): ending the session revokes the grant.
   */
  sessionId: string;
  acr: string;
  amr: string[];
  /** The `claims` request parameter of the authorization request, "" when absent. */
  claims: string;
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
  /** The refresh token it was issued in exchange for (its hash); null for the first of a family. */
  parentHash: string | null;
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

/** A page of a listing ordered by id: the rows after `after`, at most `limit`. */
export interface Page {
  after: string;
  limit: number;
}

export interface TenantStore {
  createOrganization(org: OrganizationRecord): Promise<void>;
  getOrganization(id: string): Promise<OrganizationRecord | undefined>;
  listOrganizations(page: Page): Promise<OrganizationRecord[]>;
  /** False when it does not exist. */
  updateOrganization(id: string, change: { name: string }): Promise<boolean>;
  /** Deletes it with its projects and everything in them; false when it does not exist. */
  deleteOrganization(id: string): Promise<boolean>;
  createProject(project: ProjectRecord): Promise<void>;
  getProject(ref: ProjectRef): Promise<ProjectRecord | undefined>;
  listProjects(organization: string, page: Page): Promise<ProjectRecord[]>;
  /** Writes name and audience, and the access tokens' `alg` when given. */
  updateProject(ref: ProjectRef, change: { name: string; audience: string; accessTokenSigningAlg?: SigningAlg }): Promise<boolean>;
  /** Deletes it and everything in it, tokens included; false when it does not exist. */
  deleteProject(ref: ProjectRef): Promise<boolean>;
  /** True when no organization exists yet: the database is new. */
  isEmpty(): Promise<boolean>;
}

export interface ClientStore {
  createClient(client: ClientRecord): Promise<void>;
  getClient(ref: ProjectRef, id: string): Promise<ClientRecord | undefined>;
  listClients(ref: ProjectRef, page: Page): Promise<ClientRecord[]>;
  /** Writes every mutable field of the client (not its secret); false when it does not exist. */
  updateClient(client: ClientRecord): Promise<boolean>;
  setClientSecret(ref: ProjectRef, id: string, secretHash: string): Promise<boolean>;
  /** Deletes the client and its grants, codes and pending requests; false when it does not exist. */
  deleteClient(ref: ProjectRef, id: string): Promise<boolean>;
}

export interface UserStore {
  createUser(user: UserRecord): Promise<void>;
  getUser(ref: ProjectRef, id: string): Promise<UserRecord | undefined>;
  listUsers(ref: ProjectRef, page: Page): Promise<UserRecord[]>;
  /** Writes name, email, enabled, emailVerified, givenName and familyName; false when it does not exist. */
  updateUser(user: UserRecord): Promise<boolean>;
  setUserPassword(ref: ProjectRef, id: string, passwordHash: string): Promise<boolean>;
  /** Deletes the user and their grants and codes; false when it does not exist. */
  deleteUser(ref: ProjectRef, id: string): Promise<boolean>;
  /** Revokes every grant the user holds. */
  revokeUserGrants(ref: ProjectRef, userId: string, at: EpochSeconds): Promise<void>;
}

export type RoleSubject = { userId: string } | { clientId: string };

export interface AccessStore {
  createPermission(permission: PermissionRecord): Promise<void>;
  /** The permissions of the project among `ids`, in the order of `ids`. */
  getPermissions(ref: ProjectRef, ids: readonly string[]): Promise<PermissionRecord[]>;
  listPermissions(ref: ProjectRef, page: Page): Promise<PermissionRecord[]>;
  deletePermission(ref: ProjectRef, id: string): Promise<boolean>;
  createRole(role: RoleRecord): Promise<void>;
  getRole(ref: ProjectRef, id: string): Promise<RoleRecord | undefined>;
  listRoles(ref: ProjectRef, page: Page): Promise<RoleRecord[]>;
  deleteRole(ref: ProjectRef, id: string): Promise<boolean>;
  /** Gives or takes a role; `assign` is idempotent, `unassign` answers whether it was held. */
  assignRole(ref: ProjectRef, subject: RoleSubject, roleId: string): Promise<void>;
  unassignRole(ref: ProjectRef, subject: RoleSubject, roleId: string): Promise<boolean>;
  /** The role ids a user or client holds, ordered. */
  getRolesOf(ref: ProjectRef, subject: RoleSubject): Promise<string[]>;
  /** Every permission the user holds through its roles, ordered by id. */
  getUserPermissions(ref: ProjectRef, userId: string): Promise<PermissionRecord[]>;
  /** Every permission the client holds through its own roles, ordered by id. */
  getClientPermissions(ref: ProjectRef, clientId: string): Promise<PermissionRecord[]>;
}

export interface SigningKeyStore {
  addSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Every key of the project, current first. */
  listSigningKeys(ref: ProjectRef): Promise<SigningKeyRecord[]>;
  /** Retires the project's current key(s): they stop signing, and stay for verification until `expiresAt`. */
  retireSigningKeys(ref: ProjectRef, at: EpochSeconds, expiresAt: EpochSeconds): Promise<string[]>;
  /** The longest access token lifetime of the project's clients, seconds (0 without clients). */
  maxAccessTokenTtl(ref: ProjectRef): Promise<number>;
  /**
   * A number that moves whenever organizations, projects, signing keys,
   * clients, users, roles or permissions change, by any process: what is kept
   * in memory of them is current while it has not moved.
   */
  getChangeEpoch(): Promise<number>;
}

export interface AuthorizationRequestStore {
  createAuthorizationRequest(request: AuthorizationRequestRecord): Promise<void>;
  getAuthorizationRequest(idHash: string): Promise<AuthorizationRequestRecord | undefined>;
  /** Records a successful login (by password, or by the browser's sign-in session) on a pending request. */
  authenticateAuthorizationRequest(
    idHash: string,
    login: { userId: string; authTime: EpochSeconds; offeredScopes: string[]; sessionId: string; acr: string; amr: string[] },
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
  /**
   * A grant made in a sign-in session that has ended (or is gone) by the
   * time it is written is written revoked: a session ended while a code was
   * being exchanged cannot leave a live grant behind.
   */
  createGrant(grant: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /** The live (unrevoked) client grant of a client, if any. */
  findClientGrant(ref: ProjectRef, clientId: string): Promise<GrantRecord | undefined>;
  /** Pushes the grant's expiry out to cover a newly issued token. */
  extendGrant(id: string, expiresAt: EpochSeconds): Promise<void>;
  /**
   * Revokes the grant and every refresh token of it. Answers whether this
   * call revoked it: false for a grant unknown or already revoked, also when
   * another transaction revoked it first while this one waited.
   */
  revokeGrant(id: string, at: EpochSeconds): Promise<boolean>;
}

export interface RefreshTokenStore {
  createRefreshToken(token: RefreshTokenRecord): Promise<void>;
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Marks a refresh token as exchanged, and with it its siblings (the other
   * tokens issued for the same parent within a grace window); false when it
   * already was.
   */
  rotateRefreshToken(tokenHash: string, at: EpochSeconds): Promise<boolean>;
}

export interface ConsentRecord extends ProjectRef {
  userId: string;
  clientId: string;
  scopes: string[];
  grantedAt: EpochSeconds;
}

export interface ConsentStore {
  getConsent(ref: ProjectRef, userId: string, clientId: string): Promise<ConsentRecord | undefined>;
  /** Adds `scopes` to what the user approved for the client (creating the record). */
  rememberConsent(consent: ConsentRecord): Promise<void>;
  listConsents(ref: ProjectRef, userId: string): Promise<ConsentRecord[]>;
  /** Forgets the consent and revokes every grant the user gave the client; false when there was none of either. */
  revokeConsent(ref: ProjectRef, userId: string, clientId: string, at: EpochSeconds): Promise<boolean>;
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
    ConsentStore,
    SessionStore,
    LoginThrottleStore,
    AuditStore,
    MaintenanceStore {
  /**
   * Runs `fn` atomically: every write it makes through the store it is given
   * lands, or none does. Other callers wait until it ends.
   */
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
