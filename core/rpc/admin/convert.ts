import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ClientType,
  MfaRequirement,
  type ClientSchema,
  type FactorSchema,
  type MfaPolicySchema,
  type OrganizationSchema,
  type PermissionSchema,
  type ResourceSchema,
  type ProjectSchema,
  type RecoveryCodesSchema,
  type RoleSchema,
  type SessionSchema,
  type UserSchema,
} from "../../../gen/iam/v1/admin_pb.js";
import { issuerOf } from "../../deps.js";
import { invalid } from "./validate.js";
import type {
  ClientRecord,
  FactorRecord,
  MfaPolicyRecord,
  OrganizationRecord,
  PermissionRecord,
  ProjectRecord,
  RecoveryCodeCount,
  ResourceRecord,
  RoleRecord,
  SessionRecord,
  UserRecord,
} from "../../store/types.js";

/** Records of the store as the messages of admin.proto. */
export const toOrganization = (o: OrganizationRecord): MessageInitShape<typeof OrganizationSchema> => ({
  id: o.id,
  name: o.name,
  createdAt: BigInt(o.createdAt),
});

export const toProject = (baseUrl: string, p: ProjectRecord): MessageInitShape<typeof ProjectSchema> => ({
  organization: p.organization,
  id: p.project,
  name: p.name,
  audience: p.audience,
  issuer: issuerOf(baseUrl, p),
  accessTokenSigningAlg: p.accessTokenSigningAlg,
  requirePushedAuthorizationRequests: p.requirePushedAuthorizationRequests,
  clientRegistration: p.clientRegistration,
  clientIdMetadataDocuments: p.clientIdMetadataDocuments === true,
  createdAt: BigInt(p.createdAt),
});

export const toClient = (c: ClientRecord, roles: string[]): MessageInitShape<typeof ClientSchema> => ({
  organization: c.organization,
  project: c.project,
  id: c.id,
  name: c.name,
  type: c.type === "public" ? ClientType.PUBLIC : ClientType.CONFIDENTIAL,
  redirectUris: c.redirectUris,
  grantTypes: c.grantTypes,
  pkceRequired: c.pkceRequired,
  rememberConsent: c.rememberConsent,
  accessTokenTtl: BigInt(c.accessTokenTtl),
  refreshTokenTtl: BigInt(c.refreshTokenTtl),
  postLogoutRedirectUris: c.postLogoutRedirectUris,
  backchannelLogoutUri: c.backchannelLogoutUri,
  idTokenSignedResponseAlg: c.idTokenSignedResponseAlg,
  webOrigins: c.webOrigins,
  requirePushedAuthorizationRequests: c.requirePushedAuthorizationRequests,
  tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
  jwks: c.jwks,
  jwksUri: c.jwksUri,
  dpopBoundAccessTokens: c.dpopBoundAccessTokens,
  securityProfile: c.securityProfile,
  dynamicallyRegistered: c.dynamicallyRegistered,
  metadataDocument: c.metadataDocument === true,
  tokenExchangeSubjectClients: c.tokenExchangeSubjectClients,
  tokenExchangeResources: c.tokenExchangeResources,
  tokenExchangeImpersonation: c.tokenExchangeImpersonation,
  mayActClient: c.mayActClient,
  roles,
  createdAt: BigInt(c.createdAt),
});

export const toUser = (u: UserRecord, roles: string[]): MessageInitShape<typeof UserSchema> => ({
  organization: u.organization,
  project: u.project,
  id: u.id,
  name: u.name,
  email: u.email,
  emailVerified: u.emailVerified,
  givenName: u.givenName,
  familyName: u.familyName,
  enabled: u.enabled,
  roles,
  createdAt: BigInt(u.createdAt),
});

export const toPermission = (p: PermissionRecord): MessageInitShape<typeof PermissionSchema> => ({
  organization: p.organization,
  project: p.project,
  id: p.id,
  description: p.description,
});

export const toResource = (r: ResourceRecord): MessageInitShape<typeof ResourceSchema> => ({
  organization: r.organization,
  project: r.project,
  uri: r.uri,
  name: r.name,
  scopes: r.scopes,
  createdAt: BigInt(r.createdAt),
});

export const toRole = (r: RoleRecord): MessageInitShape<typeof RoleSchema> => ({
  organization: r.organization,
  project: r.project,
  id: r.id,
  description: r.description,
  permissions: r.permissions,
});

/** A live session; it ends at the earlier of its idle end (`idle` seconds after its last use) and its absolute end. */
export const toSession = (s: SessionRecord, idle: number): MessageInitShape<typeof SessionSchema> => ({
  id: s.id,
  userId: s.userId,
  authTime: BigInt(s.authTime),
  amr: s.amr,
  acr: s.acr,
  createdAt: BigInt(s.createdAt),
  lastSeenAt: BigInt(s.lastSeenAt),
  expiresAt: BigInt(Math.min(s.expiresAt, s.lastSeenAt + idle)),
  clientAddress: s.clientAddress,
  userAgent: s.userAgent,
  clientIds: s.clients,
});

/** Characters of a passkey's credential id answered: enough to tell a user's passkeys apart, not to name the credential. */
export const CREDENTIAL_ID_PREFIX = 8;

/** A factor, without what proves it: no TOTP secret, no public key, a few characters of the credential id. */
export const toFactor = (f: FactorRecord): MessageInitShape<typeof FactorSchema> => ({
  id: f.id,
  kind: f.kind,
  name: f.name,
  createdAt: BigInt(f.createdAt),
  lastUsedAt: BigInt(f.lastUsedAt ?? 0),
  confirmed: f.confirmed,
  deviceType: f.deviceType,
  backedUp: f.backedUp,
  transports: f.transports,
  credentialIdPrefix: f.credentialId.slice(0, CREDENTIAL_ID_PREFIX),
});

export const toRecoveryCodes = (c: RecoveryCodeCount): MessageInitShape<typeof RecoveryCodesSchema> => ({
  total: c.total,
  left: c.left,
  issuedAt: BigInt(c.issuedAt ?? 0),
});

/** A policy's requirement in the store and in admin.proto. */
export const MFA_REQUIREMENTS = {
  optional: MfaRequirement.OPTIONAL,
  everyone: MfaRequirement.EVERYONE,
  roles: MfaRequirement.ROLES,
} as const satisfies Record<MfaPolicyRecord["required"], MfaRequirement>;

export const toMfaPolicy = (p: MfaPolicyRecord): MessageInitShape<typeof MfaPolicySchema> => ({
  organization: p.organization,
  project: p.project,
  required: MFA_REQUIREMENTS[p.required],
  roles: p.roles,
  passwordless: p.passwordless,
});

export function notFound(what: string): ConnectError {
  return new ConnectError(`${what} not found`, Code.NotFound);
}

/** The value, or NOT_FOUND naming what was looked for. */
export function found<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw notFound(what);
  return value;
}

/** What an admin handler answers: the init shape of its response message. */
export type Out<S extends DescMessage> = Promise<MessageInitShape<S>>;

/** The paths of an update mask, each one of `allowed`; an empty mask is refused. */
export function maskOf(paths: string[] | undefined, allowed: readonly string[]): Set<string> {
  if (paths === undefined || paths.length === 0) throw invalid(`update_mask must name the fields to change: ${allowed.join(", ")}`);
  for (const path of paths) {
    if (!allowed.includes(path)) throw invalid(`update_mask: ${path} cannot be changed; use ${allowed.join(", ")}`);
  }
  return new Set(paths);
}
