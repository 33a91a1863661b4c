import type {
  AuthorizationCodeRecord,
  AuthorizationRequestRecord,
  CeremonyRecord,
  ClientMetadataDocumentRuleRecord,
  ClientRecord,
  ClientRegistrationRecord,
  ConsentRecord,
  FactorRecord,
  GrantRecord,
  InitialAccessTokenRecord,
  LogoutDeliveryRecord,
  MfaPolicyRecord,
  PushedAuthorizationRequestRecord,
  PushedParameters,
  OrganizationRecord,
  PermissionRecord,
  ResourceRecord,
  ProjectRecord,
  RefreshTokenRecord,
  RoleRecord,
  SessionRecord,
  SigningKeyMetadata,
  SigningKeyRecord,
  UserRecord,
} from "./types.js";
import type { KeySealer } from "./sealing.js";

/** A row as a driver answers it: column name to value. */
export type Row = Record<string, any>;

/** How a backend stores what SQL has no common type for: lists of strings, and booleans. */
export interface ColumnDecoders {
  list(value: unknown): string[];
  flag(value: unknown): boolean;
}

/** A signing key without its key material, from its row (the columns that hold keys need not be read). */
export const signingKeyMetadataOf = (r: Row): SigningKeyMetadata => ({
  organization: r.organization_id, project: r.project_id, kid: r.kid, alg: r.alg,
  createdAt: r.created_at, retiredAt: r.retired_at, expiresAt: r.expires_at,
});

/** Sessions newest first (by creation, then id), as listUserSessions answers them. */
export const newestFirst = (a: SessionRecord, b: SessionRecord): number =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** The records of the Store from the rows of either backend (same tables, same column names). */
export function rowMappers(d: ColumnDecoders, sealer: KeySealer) {
  const organization = (r: Row): OrganizationRecord => ({ id: r.id, name: r.name, createdAt: r.created_at });
  const project = (r: Row): ProjectRecord => ({
    organization: r.organization_id,
    project: r.id,
    name: r.name,
    audience: r.audience,
    accessTokenSigningAlg: r.access_token_signing_alg,
    requirePushedAuthorizationRequests: d.flag(r.require_pushed_authorization_requests),
    clientRegistration: r.client_registration,
    // Present only when set, as the record's optional field says (absent: false).
    ...(d.flag(r.client_id_metadata_documents) ? { clientIdMetadataDocuments: true } : {}),
    createdAt: r.created_at,
  });
  const client = (r: Row): ClientRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    name: r.name,
    type: r.type,
    secretHash: r.secret_hash,
    redirectUris: d.list(r.redirect_uris),
    grantTypes: d.list(r.grant_types),
    pkceRequired: d.flag(r.pkce_required),
    rememberConsent: d.flag(r.remember_consent),
    accessTokenTtl: r.access_token_ttl,
    refreshTokenTtl: r.refresh_token_ttl,
    postLogoutRedirectUris: d.list(r.post_logout_redirect_uris),
    backchannelLogoutUri: r.backchannel_logout_uri,
    idTokenSignedResponseAlg: r.id_token_signed_response_alg,
    webOrigins: d.list(r.web_origins),
    requirePushedAuthorizationRequests: d.flag(r.require_pushed_authorization_requests),
    tokenEndpointAuthMethod: r.token_endpoint_auth_method,
    jwks: r.jwks,
    jwksUri: r.jwks_uri,
    dpopBoundAccessTokens: d.flag(r.dpop_bound_access_tokens),
    securityProfile: r.security_profile,
    dynamicallyRegistered: d.flag(r.dynamically_registered),
    ...(d.flag(r.metadata_document) ? { metadataDocument: true } : {}),
    tokenExchangeSubjectClients: d.list(r.token_exchange_subject_clients),
    tokenExchangeResources: d.list(r.token_exchange_resources),
    tokenExchangeImpersonation: d.flag(r.token_exchange_impersonation),
    mayActClient: r.may_act_client,
    createdAt: r.created_at,
  });
  const clientRegistration = (r: Row): ClientRegistrationRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    clientId: r.client_id,
    tokenHash: r.token_hash,
    metadata: r.metadata,
  });
  const initialAccessToken = (r: Row): InitialAccessTokenRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    tokenHash: r.token_hash,
    description: r.description,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    usesLeft: r.uses_left === null ? null : Number(r.uses_left),
    maxUses: Number(r.max_uses),
  });
  const user = (r: Row): UserRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    name: r.name,
    email: r.email,
    emailVerified: d.flag(r.email_verified),
    givenName: r.given_name,
    familyName: r.family_name,
    passwordHash: r.password_hash,
    enabled: d.flag(r.enabled),
    createdAt: r.created_at,
  });
  const permission = (r: Row): PermissionRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    description: r.description,
  });
  const resource = (r: Row): ResourceRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    uri: r.uri,
    name: r.name,
    scopes: d.list(r.scopes),
    createdAt: r.created_at,
  });
  /** A role, with its permissions as each backend reads them. */
  const role = (r: Row, permissions: string[]): RoleRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    description: r.description,
    permissions,
  });
  const signingKey = (r: Row): SigningKeyRecord => ({
    ...signingKeyMetadataOf(r),
    privateJwk: sealer.open(r.kid, r.private_jwk),
    publicJwk: r.public_jwk,
  });
  const request = (r: Row): AuthorizationRequestRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    idHash: r.id_hash,
    clientId: r.client_id,
    redirectUri: r.redirect_uri,
    scopes: d.list(r.scopes),
    state: r.state,
    codeChallenge: r.code_challenge,
    codeChallengeMethod: r.code_challenge_method,
    nonce: r.nonce,
    browserBindingHash: r.browser_binding_hash,
    userId: r.user_id,
    authTime: r.auth_time,
    offeredScopes: r.offered_scopes === null ? null : d.list(r.offered_scopes),
    sessionId: r.session_id,
    acr: r.acr,
    amr: d.list(r.amr),
    claims: r.claims,
    forceConsent: d.flag(r.force_consent),
    mfaRequested: d.flag(r.mfa_requested),
    action: r.action,
    secondFactor:
      r.factor_user_id === null
        ? null
        : { userId: r.factor_user_id, stage: r.factor_stage, amr: d.list(r.factor_amr), sessionId: r.factor_session_id },
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    dpopJkt: r.dpop_jkt,
    resources: d.list(r.resources),
  });
  const pushed = (r: Row): PushedAuthorizationRequestRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    uriHash: r.uri_hash,
    clientId: r.client_id,
    parameters: JSON.parse(r.parameters as string) as PushedParameters,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
  });
  const factor = (r: Row): FactorRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    userId: r.user_id,
    kind: r.kind,
    name: r.name,
    // A TOTP secret is sealed bound to its factor, so it cannot be moved to another row.
    secret: r.kind === "totp" ? sealer.open(factorSealId(r.organization_id, r.project_id, r.id), r.secret) : r.secret,
    credentialId: r.credential_id,
    counter: Number(r.counter),
    transports: d.list(r.transports),
    deviceType: r.device_type,
    backedUp: d.flag(r.backed_up),
    confirmed: d.flag(r.confirmed),
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
  });
  const ceremony = (r: Row): CeremonyRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    challengeHash: r.challenge_hash,
    purpose: r.purpose,
    requestIdHash: r.request_id_hash,
    userId: r.user_id,
    expiresAt: r.expires_at,
  });
  const mfaPolicy = (r: Row): MfaPolicyRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    required: r.required,
    roles: d.list(r.roles),
    passwordless: d.flag(r.passwordless),
  });
  const code = (r: Row): AuthorizationCodeRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    codeHash: r.code_hash,
    clientId: r.client_id,
    userId: r.user_id,
    redirectUri: r.redirect_uri,
    scopes: d.list(r.scopes),
    codeChallenge: r.code_challenge,
    codeChallengeMethod: r.code_challenge_method,
    nonce: r.nonce,
    authTime: r.auth_time,
    sessionId: r.session_id,
    acr: r.acr,
    amr: d.list(r.amr),
    claims: r.claims,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    consumedAt: r.consumed_at,
    grantId: r.grant_id,
    dpopJkt: r.dpop_jkt,
    resources: d.list(r.resources),
  });
  const grant = (r: Row): GrantRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    clientId: r.client_id,
    kind: r.kind,
    userId: r.user_id,
    scopes: d.list(r.scopes),
    authTime: r.auth_time,
    sessionId: r.session_id,
    acr: r.acr,
    amr: d.list(r.amr),
    claims: r.claims,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    dpopJkt: r.dpop_jkt,
    resources: d.list(r.resources),
    parentGrantId: r.parent_grant_id,
  });
  const refresh = (r: Row): RefreshTokenRecord => ({
    tokenHash: r.token_hash,
    grantId: r.grant_id,
    clientId: r.client_id,
    scopes: d.list(r.scopes),
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    rotatedAt: r.rotated_at,
    parentHash: r.parent_hash,
  });
  const metadataDocumentRule = (r: Row): ClientMetadataDocumentRuleRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    url: r.url,
    action: r.action,
    document: r.document,
    createdAt: r.created_at,
  });
  const consent = (r: Row): ConsentRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    userId: r.user_id,
    clientId: r.client_id,
    scopes: d.list(r.scopes),
    grantedAt: r.granted_at,
  });
  const session = (r: Row): SessionRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    secretHash: r.secret_hash,
    userId: r.user_id,
    authTime: r.auth_time,
    amr: d.list(r.amr),
    acr: r.acr,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
    clientAddress: r.client_address,
    userAgent: r.user_agent,
    clients: d.list(r.clients),
    endedAt: r.ended_at,
  });
  const logoutDelivery = (r: Row): LogoutDeliveryRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    sessionId: r.session_id,
    clientId: r.client_id,
    uri: r.uri,
    status: r.status,
    outcome: r.outcome,
    attempts: r.attempts,
    error: r.error,
    at: r.at,
  });
  return {
    organization,
    project,
    client,
    clientRegistration,
    initialAccessToken,
    user,
    permission,
    resource,
    role,
    signingKey,
    request,
    pushed,
    factor,
    ceremony,
    mfaPolicy,
    code,
    grant,
    refresh,
    consent,
    metadataDocumentRule,
    session,
    logoutDelivery,
  };
}

/** What a TOTP secret is sealed bound to: its factor, wherever it is. */
export function factorSealId(organization: string, project: string, id: string): string {
  return `factor:${organization}/${project}/${id}`;
}

/** The policy of a project that never set one: a second factor for those who enrolled one, passwords required. */
export const DEFAULT_MFA_POLICY = { required: "optional", roles: [], passwordless: false } as const;
