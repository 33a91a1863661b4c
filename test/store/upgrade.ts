/**
 * A database made by the previous iam-core (the schema before sign-in
 * sessions: SQLite's migrations 1 to 3, PostgreSQL's 1) upgrades in place:
 * each backend's test file builds one with `PREVIOUS_ROWS` in it, opens the
 * store on it, and `checkUpgraded` asserts what the store then answers.
 * Not a test file itself.
 */
import type { ExecutionContext } from "ava";
import type { Store } from "../../core/store/types.js";

const A = { organization: "org-a", project: "proj-a" };

/** The rows the previous schema held, with lists and booleans written as the backend stores them. */
export function previousRows(list: (values: string[]) => string, flag: (value: boolean) => string): string {
  const scopes = list(["openid", "profile"]);
  return `
    INSERT INTO organizations (id, name, created_at) VALUES ('org-a', 'Acme', 1);
    INSERT INTO projects (organization_id, id, name, audience, created_at) VALUES ('org-a', 'proj-a', 'Docs', 'https://api.example', 2);
    INSERT INTO clients (organization_id, project_id, id, name, type, secret_hash, redirect_uris, grant_types, pkce_required,
      remember_consent, access_token_ttl, refresh_token_ttl, created_at)
      VALUES ('org-a', 'proj-a', 'web', 'Web', 'public', NULL, ${list(["https://app.example/cb"])},
        ${list(["authorization_code", "refresh_token"])}, ${flag(true)}, ${flag(true)}, 300, 3600, 3);
    INSERT INTO users (organization_id, project_id, id, name, email, password_hash, enabled, created_at)
      VALUES ('org-a', 'proj-a', 'alice', 'Alice', 'alice@example.com', 'argon2-hash', ${flag(true)}, 4);
    INSERT INTO authorization_requests (id_hash, organization_id, project_id, client_id, redirect_uri, scopes, state, code_challenge,
      code_challenge_method, nonce, browser_binding_hash, user_id, auth_time, offered_scopes, created_at, expires_at)
      VALUES ('request-hash', 'org-a', 'proj-a', 'web', 'https://app.example/cb', ${scopes}, 'st', 'challenge', 'S256', 'n', 'binding',
        'alice', 5, ${scopes}, 5, 605);
    INSERT INTO authorization_codes (code_hash, organization_id, project_id, client_id, user_id, redirect_uri, scopes, code_challenge,
      code_challenge_method, nonce, auth_time, created_at, expires_at, consumed_at, grant_id)
      VALUES ('code-hash', 'org-a', 'proj-a', 'web', 'alice', 'https://app.example/cb', ${scopes}, 'challenge', 'S256', 'n', 5, 6, 66, 7, 'grant-1');
    INSERT INTO grants (id, organization_id, project_id, client_id, kind, user_id, scopes, auth_time, created_at, expires_at, revoked_at)
      VALUES ('grant-1', 'org-a', 'proj-a', 'web', 'user', 'alice', ${scopes}, 5, 7, 9000, NULL);
  `;
}

/** The previous rows read through the upgraded store: every new field at its default; sessions work. */
export async function checkUpgraded(t: ExecutionContext, store: Store): Promise<void> {
  const none = { sessionId: "", acr: "", amr: [], claims: "" };
  t.deepEqual(await store.getProject(A), {
    ...A,
    name: "Docs",
    audience: "https://api.example",
    accessTokenSigningAlg: "ES256",
    requirePushedAuthorizationRequests: false,
    // Dynamic Client Registration stays off until an administrator turns it on.
    clientRegistration: "",
    createdAt: 2,
  });
  t.deepEqual(await store.getClient(A, "web"), {
    ...A,
    id: "web",
    name: "Web",
    type: "public",
    secretHash: null,
    redirectUris: ["https://app.example/cb"],
    grantTypes: ["authorization_code", "refresh_token"],
    pkceRequired: true,
    rememberConsent: true,
    accessTokenTtl: 300,
    refreshTokenTtl: 3600,
    postLogoutRedirectUris: [],
    backchannelLogoutUri: "",
    // OpenID Connect's default for a client that registered no algorithm, existing clients included.
    idTokenSignedResponseAlg: "RS256",
    webOrigins: [],
    requirePushedAuthorizationRequests: false,
    // An existing client authenticates as before: by its type, no keys, no DPoP requirement, no profile.
    tokenEndpointAuthMethod: "",
    jwks: "",
    jwksUri: "",
    dpopBoundAccessTokens: false,
    securityProfile: "",
    dynamicallyRegistered: false,
    // Nor any token exchange: no subjects, no resources, no impersonation, no may_act.
    tokenExchangeSubjectClients: [],
    tokenExchangeResources: [],
    tokenExchangeImpersonation: false,
    mayActClient: "",
    createdAt: 3,
  });
  t.deepEqual(await store.getUser(A, "alice"), {
    ...A,
    id: "alice",
    name: "Alice",
    email: "alice@example.com",
    emailVerified: false,
    givenName: "",
    familyName: "",
    passwordHash: "argon2-hash",
    enabled: true,
    createdAt: 4,
  });
  t.like(await store.getAuthorizationRequest("request-hash"), {
    ...none,
    forceConsent: false,
    mfaRequested: false,
    secondFactor: null,
    userId: "alice",
    scopes: ["openid", "profile"],
  });
  t.like(await store.getAuthorizationCode("code-hash"), { ...none, grantId: "grant-1", consumedAt: 7 });
  const grant = await store.getGrant("grant-1");
  t.like(grant, { ...none, revokedAt: null, expiresAt: 9000 });

  // The new tables work beside the old rows; ending a session leaves the grants made before sessions existed.
  await store.createSession({
    ...A,
    id: "sid-1",
    secretHash: "secret-hash",
    userId: "alice",
    authTime: 10,
    amr: ["pwd"],
    acr: "",
    createdAt: 10,
    lastSeenAt: 10,
    expiresAt: 10_000,
    clientAddress: "127.0.0.1",
    userAgent: "test",
    clients: [],
    endedAt: null,
  });
  t.true(await store.touchSession(A, "sid-1", 11, "web"));
  t.like(await store.endSession(A, "sid-1", 12), { id: "sid-1", clients: ["web"] });
  t.deepEqual(await store.getGrant("grant-1"), grant);
  await store.recordLogoutDelivery({ ...A, sessionId: "sid-1", clientId: "web", uri: "https://app.example/bcl", status: 200, outcome: "delivered", attempts: 1, error: "", at: 12 });
  t.is((await store.listLogoutDeliveries(A, "sid-1")).length, 1);

  // Multi-factor sign-in: a project without a policy has the default; an existing user enrols and steps up.
  t.deepEqual(await store.getMfaPolicy(A), { ...A, required: "optional", roles: [], passwordless: false });
  await store.createFactor({
    ...A,
    id: "factor-1",
    userId: "alice",
    kind: "totp",
    name: "Authenticator app",
    secret: "JBSWY3DPEHPK3PXP",
    credentialId: "",
    counter: 0,
    transports: [],
    deviceType: "",
    backedUp: false,
    confirmed: false,
    createdAt: 13,
    lastUsedAt: null,
  });
  t.true(await store.useFactor(A, "factor-1", 100, 14, { confirm: true }));
  t.like((await store.listFactors(A, "alice"))[0], { confirmed: true, counter: 100, secret: "JBSWY3DPEHPK3PXP" });
  const stage = { userId: "alice", stage: "verify" as const, amr: ["pwd"], sessionId: "" };
  await store.awaitSecondFactor("request-hash", stage);
  t.like(await store.getAuthorizationRequest("request-hash"), { secondFactor: stage, mfaRequested: false });

  // Pushed authorization requests: an existing client pushes one, taken once.
  const pushed = { ...A, uriHash: "uri-hash", clientId: "web", parameters: { response_type: "code" }, createdAt: 15, expiresAt: 75 };
  await store.createPushedAuthorizationRequest(pushed);
  t.deepEqual(await store.takePushedAuthorizationRequest(A, "uri-hash"), pushed);
}
