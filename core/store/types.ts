/**
 * The storage contract of the core, split by concern. Every method is async so
 * that a networked backend fits behind the same interface; the SQLite backend
 * answers synchronously underneath. Records are plain data. Secrets are never
 * stored raw: codes, refresh tokens and request ids are SHA-256 hashes,
 * passwords and client secrets argon2id hashes.
 */
import type { LoginThrottleStore, SessionStore } from "./sign-in-types.js";
import type { AuditStore } from "./audit-types.js";
import type { FactorStore } from "./factor-types.js";
import type { Writability } from "./writability.js";
import type { ClientMetadataDocumentRuleStore, ClientRegistrationMode, RegistrationStore, ResourceStore } from "./registry-types.js";
import type {
  AuthorizationCodeStore,
  AuthorizationRequestStore,
  ConsentStore,
  DpopProofStore,
  GrantStore,
  PushedAuthorizationRequestStore,
  RefreshTokenStore,
} from "./token-types.js";

// The contracts of the token flows, of signing in, of the audit trail and of the registries beside the clients live
// in token-types.ts, sign-in-types.ts, audit-types.ts and registry-types.ts; every record and store is named here too.
export type {
  AuthorizationCodeRecord,
  AuthorizationCodeStore,
  AuthorizationRequestRecord,
  AuthorizationRequestStore,
  ConsentRecord,
  ConsentStore,
  DpopProofStore,
  GrantRecord,
  GrantStore,
  PushedAuthorizationRequestRecord,
  PushedAuthorizationRequestStore,
  PushedParameters,
  RefreshTokenRecord,
  RefreshTokenStore,
  SecondFactorStage,
} from "./token-types.js";
export type { CeremonyRecord, FactorKind, FactorRecord, FactorStore, MfaPolicyRecord, RecoveryCodeCount } from "./factor-types.js";
export type { LoginFailurePolicy, LoginThrottleStore, LogoutDeliveryRecord, SessionRecord, SessionStore } from "./sign-in-types.js";
export type { AuditChange, AuditCheckpoint, AuditEventInput, AuditEventRecord, AuditFilter, AuditParty, AuditPartyKind, AuditStore } from "./audit-types.js";
export { CLIENT_REGISTRATION_MODES } from "./registry-types.js";
export type {
  ClientMetadataDocumentRuleRecord,
  ClientRegistrationMode,
  ClientMetadataDocumentRuleStore,
  ClientRegistrationRecord,
  InitialAccessTokenRecord,
  RegistrationStore,
  ResourceRecord,
  ResourceStore,
} from "./registry-types.js";

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
  /** RFC 9126 §5: every authorization request of the project must be a pushed one. */
  requirePushedAuthorizationRequests: boolean;
  /** Whether clients may register themselves (RFC 7591): "" no, `open`, or with an initial access token. */
  clientRegistration: ClientRegistrationMode;
  /**
   * Whether a client may name the HTTPS URL of its client ID metadata
   * document as its client_id (core/clients/metadata-documents.ts); absent:
   * false. Written by updateProject only.
   */
  clientIdMetadataDocuments?: boolean;
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
  /** RFC 9126 §6: the client's authorization requests must be pushed ones. */
  requirePushedAuthorizationRequests: boolean;
  /** RFC 7591 §2: the one way it authenticates; "" for either secret method (confidential) or none (public). */
  tokenEndpointAuthMethod: TokenEndpointAuthMethod | "";
  /** For private_key_jwt: its JWK Set as registered (JSON), or "". */
  jwks: string;
  /** For private_key_jwt: where its JWK Set is fetched, or "". */
  jwksUri: string;
  /** RFC 9449 §5.2: every token request must carry a DPoP proof. */
  dpopBoundAccessTokens: boolean;
  /** The security profile it is held to ("" for none). */
  securityProfile: SecurityProfile;
  /** Whether it registered itself (RFC 7591); set at creation only. */
  dynamicallyRegistered: boolean;
  /** Whether it is a client ID metadata document's (its id the document's URL, kept in step by core/clients/); set at creation only; absent: false. */
  metadataDocument?: boolean;
  /** Token exchange (RFC 8693): the clients whose user tokens it may present as subject tokens. */
  tokenExchangeSubjectClients: string[];
  /** Token exchange: the registered resources (URIs) it may ask exchanged tokens for. */
  tokenExchangeResources: string[];
  /** Token exchange: whether an exchange without an actor token (impersonation, no `act`) is allowed. */
  tokenExchangeImpersonation: boolean;
  /** The client named by `may_act` (RFC 8693 §4.4) in its user access tokens; "" for none. */
  mayActClient: string;
  createdAt: EpochSeconds;
}

export type SigningAlg = "ES256" | "RS256";

/** RFC 7591 §2 `token_endpoint_auth_method` values iam-core supports. */
export const TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** A client's token exchange policy (RFC 8693) until an administrator sets one: no exchange, no `may_act`. */
export const EXCHANGE_DEFAULTS = {
  tokenExchangeSubjectClients: [] as string[], tokenExchangeResources: [] as string[], tokenExchangeImpersonation: false, mayActClient: "",
} as const satisfies Partial<ClientRecord>;

/** What a client registered without them has of its authentication, profile and exchange settings; not dynamically registered. */
export const CLIENT_AUTH_DEFAULTS = {
  tokenEndpointAuthMethod: "",
  jwks: "",
  jwksUri: "",
  dpopBoundAccessTokens: false,
  securityProfile: "",
  dynamicallyRegistered: false,
  ...EXCHANGE_DEFAULTS,
} as const satisfies Partial<ClientRecord>;

/** "" for none; `fapi2`: the FAPI 2.0 Security Profile (core/tokens/profile.ts). */
export type SecurityProfile = "" | "fapi2";

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

/** What administration may see of a signing key: neither its private nor its public key. */
export type SigningKeyMetadata = Omit<SigningKeyRecord, "privateJwk" | "publicJwk">;

/** How many of each thing a project holds, counted by the database. */
export interface ProjectCounts {
  clients: number;
  users: number;
  enabledUsers: number;
  roles: number;
  permissions: number;
  /** The keys that sign or still verify: current, or retired with `expiresAt` still ahead. */
  signingKeys: number;
  /** The sign-in sessions not ended, not past `expiresAt`, and used since `seenSince`. */
  liveSessions: number;
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
  /** Writes name and audience, and the access tokens' `alg`, the pushed requests' requirement and the metadata documents' switch when given. */
  updateProject(
    ref: ProjectRef,
    change: {
      name: string;
      audience: string;
      accessTokenSigningAlg?: SigningAlg;
      requirePushedAuthorizationRequests?: boolean;
      clientRegistration?: ClientRegistrationMode;
      clientIdMetadataDocuments?: boolean;
    },
  ): Promise<boolean>;
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
  /** Replaces the client's secret hash; null removes it (a client that authenticates with its keys). */
  setClientSecret(ref: ProjectRef, id: string, secretHash: string | null): Promise<boolean>;
  /** Deletes the client and its grants, codes and pending requests; false when it does not exist. */
  deleteClient(ref: ProjectRef, id: string): Promise<boolean>;
}

export interface UserStore {
  createUser(user: UserRecord): Promise<void>;
  getUser(ref: ProjectRef, id: string): Promise<UserRecord | undefined>;
  /**
   * The project's users by id; with `prefix`, only those whose id or email
   * begins with it (case-sensitive, as stored), read from indexes.
   */
  listUsers(ref: ProjectRef, page: Page, prefix?: string): Promise<UserRecord[]>;
  /** Writes name, email, enabled, emailVerified, givenName and familyName; false when it does not exist. */
  updateUser(user: UserRecord): Promise<boolean>;
  setUserPassword(ref: ProjectRef, id: string, passwordHash: string): Promise<boolean>;
  /** Deletes the user and their grants and codes; false when it does not exist. */
  deleteUser(ref: ProjectRef, id: string): Promise<boolean>;
  /** Revokes every grant the user holds. */
  revokeUserGrants(ref: ProjectRef, userId: string, at: EpochSeconds): Promise<void>;
}

/** The longest user id or email the store holds (an email address: 254 characters, RFC 5321 §4.5.3.1). */
export const LONGEST_USER_FIELD = 254;

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
  /** Ends the verification of the project's retired keys still verifying after `at` (a leaked key): they expire at `at`. Answers their kids. */
  expireSigningKeys(ref: ProjectRef, at: EpochSeconds): Promise<string[]>;
  /** The longest access token lifetime of the project's clients, seconds (0 without clients). */
  maxAccessTokenTtl(ref: ProjectRef): Promise<number>;
  /**
   * A number that moves whenever organizations, projects, signing keys,
   * clients, users, roles or permissions change, by any process: what is kept
   * in memory of them is current while it has not moved.
   */
  getChangeEpoch(): Promise<number>;
}

/** What administration reads of a project as a whole: its counts, and its signing keys without their keys. */
export interface ProjectOverviewStore {
  /**
   * Counts what the project holds (ProjectCounts) without reading its rows
   * out: signing keys as of `now`, sessions live at `now` and used since
   * `seenSince` (the idle limit). Zeros for a project that does not exist.
   */
  countProject(ref: ProjectRef, at: { now: EpochSeconds; seenSince: EpochSeconds }): Promise<ProjectCounts>;
  /**
   * Every signing key of the project without its key material, newest first
   * (among keys of one second: current first, then ES256 before RS256, then
   * by kid, so that the first current key of an algorithm is the one that
   * signs). Expired keys are answered until the purge deletes them.
   */
  listSigningKeyMetadata(ref: ProjectRef): Promise<SigningKeyMetadata[]>;
}

export interface MaintenanceStore {
  /** Deletes what has expired; answers how many rows of each kind went. */
  purgeExpired(now: EpochSeconds): Promise<Record<string, number>>;
}

export interface Store
  extends TenantStore,
    ClientStore,
    RegistrationStore,
    ClientMetadataDocumentRuleStore,
    UserStore,
    AccessStore,
    ResourceStore,
    SigningKeyStore,
    ProjectOverviewStore,
    AuthorizationRequestStore,
    PushedAuthorizationRequestStore,
    AuthorizationCodeStore,
    GrantStore,
    RefreshTokenStore,
    DpopProofStore,
    ConsentStore,
    SessionStore,
    LoginThrottleStore,
    FactorStore,
    AuditStore,
    MaintenanceStore {
  /**
   * Runs `fn` atomically: every write it makes through the store it is given
   * lands, or none does. Other callers wait until it ends.
   */
  transaction<T>(fn: (store: Store) => Promise<T>): Promise<T>;
  /** Whether the database can be written, as this process last saw it; told at each change (writability.ts). */
  readonly writability: Writability;
  close(): Promise<void>;
}
