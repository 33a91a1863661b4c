/**
 * The contract of the Store (core/store/types.ts), as tests that any backend
 * must pass: `storeContract({ name, revocationsMoveEpoch, open })` registers them, titled
 * `${name}: ...`. `open` answers a fresh, empty, migrated store for each test
 * and registers its own teardown. Each test seeds what it needs.
 *
 * The expected values are those of the SQLite store, the reference backend.
 * Listings are ordered by the ids' bytes (as SQLite's BINARY collation
 * orders them), which a locale collation would not give.
 */
import test, { type ExecutionContext } from "ava";
import { eventHash, GENESIS_HASH } from "../../core/lib/audit-chain.js";
import {
  AlreadyExists,
  type AuditEventInput,
  type AuditEventRecord,
  type AuditFilter,
  type AuthorizationCodeRecord,
  type AuthorizationRequestRecord,
  type ClientRecord,
  type ConsentRecord,
  type GrantRecord,
  type LoginFailurePolicy,
  type LogoutDeliveryRecord,
  type OrganizationRecord,
  type Page,
  type PermissionRecord,
  type ProjectRecord,
  type ProjectRef,
  type RefreshTokenRecord,
  type RoleRecord,
  type SessionRecord,
  type SigningKeyRecord,
  type Store,
  CLIENT_AUTH_DEFAULTS,
  type UserRecord,
} from "../../core/store/types.js";

export interface StoreBackend {
  name: string;
  /**
   * Whether revoking or deleting a grant, and creating or extending a client
   * grant, moves the change epoch (grants are then kept in memory): the
   * reference backend's triggers do; PostgreSQL reads grants at every use.
   */
  revocationsMoveEpoch: boolean;
  /** A fresh, empty, migrated store; the teardown that closes it is registered on `t`. */
  open: (t: ExecutionContext) => Promise<Store>;
}

/**
 * The `it` of a contract beside this one: registers a test titled
 * `${backend.name}: ${title}`, run on a fresh store of `backend` in which
 * `seed` has made what every test of the contract needs.
 */
export const contractTests =
  (backend: StoreBackend, seed: (store: Store) => Promise<void>) =>
  (title: string, body: (t: ExecutionContext, store: Store) => Promise<void>): void =>
    test(`${backend.name}: ${title}`, async (t) => {
      const store = await backend.open(t);
      await seed(store);
      await body(t, store);
    });

// ---------------------------------------------------------------- fixtures

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** Another project of the same organization. */
const A2: ProjectRef = { organization: "org-a", project: "proj-a2" };
/** A project of another organization, with the same project id as A. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };

const READ = "docs.files.read";
const WRITE = "docs.files.write";
const ADMIN = "docs.admin.manage";

const orgRecord = (id: string, over: Partial<OrganizationRecord> = {}): OrganizationRecord => ({
  id,
  name: `Organization ${id}`,
  createdAt: 1_700_000_000,
  ...over,
});

const projectRecord = (ref: ProjectRef, over: Partial<ProjectRecord> = {}): ProjectRecord => ({
  ...ref,
  name: `Project ${ref.project}`,
  audience: `https://api.example/${ref.organization}/${ref.project}`,
  accessTokenSigningAlg: "ES256",
  requirePushedAuthorizationRequests: false,
  clientRegistration: "",
  createdAt: 1_700_000_100,
  ...over,
});

export const clientRecord = (ref: ProjectRef, id: string, over: Partial<ClientRecord> = {}): ClientRecord => ({
  ...ref,
  id,
  name: `Client ${id}`,
  type: "confidential",
  secretHash: `$argon2id$v=19$m=64,t=1,p=1$salt$hash-of-${id}`,
  redirectUris: ["https://app.example/callback", "https://app.example/other"],
  grantTypes: ["authorization_code", "refresh_token"],
  pkceRequired: true,
  rememberConsent: false,
  accessTokenTtl: 300,
  refreshTokenTtl: 86_400,
  postLogoutRedirectUris: [],
  backchannelLogoutUri: "",
  idTokenSignedResponseAlg: "RS256",
  webOrigins: [],
  requirePushedAuthorizationRequests: false,
  ...CLIENT_AUTH_DEFAULTS,
  createdAt: 1_700_000_200,
  ...over,
});

export const userRecord = (ref: ProjectRef, id: string, over: Partial<UserRecord> = {}): UserRecord => ({
  ...ref,
  id,
  name: `User ${id}`,
  email: `${id}@example.com`,
  emailVerified: false,
  givenName: "",
  familyName: "",
  passwordHash: `$argon2id$v=19$m=64,t=1,p=1$salt$password-of-${id}`,
  enabled: true,
  createdAt: 1_700_000_300,
  ...over,
});

export const permissionRecord = (ref: ProjectRef, id: string): PermissionRecord => ({
  ...ref,
  id,
  description: `May ${id}`,
});

export const roleRecord = (ref: ProjectRef, id: string, permissions: string[]): RoleRecord => ({
  ...ref,
  id,
  description: `Role ${id}`,
  permissions,
});

export const keyRecord = (ref: ProjectRef, kid: string, over: Partial<SigningKeyRecord> = {}): SigningKeyRecord => ({
  ...ref,
  kid,
  alg: "ES256",
  privateJwk: JSON.stringify({ kty: "EC", crv: "P-256", x: `x-${kid}`, y: `y-${kid}`, d: `d-${kid}`, kid }),
  publicJwk: JSON.stringify({ kty: "EC", crv: "P-256", x: `x-${kid}`, y: `y-${kid}`, kid }),
  createdAt: 1_700_000_400,
  retiredAt: null,
  expiresAt: null,
  ...over,
});

/** A pending authorization request of `ref`, before sign-in; overrides win. */
export const requestRecord = (
  ref: ProjectRef,
  idHash: string,
  over: Partial<AuthorizationRequestRecord> = {},
): AuthorizationRequestRecord => ({
  ...ref,
  idHash,
  clientId: "web",
  redirectUri: "https://app.example/callback",
  scopes: ["openid", READ],
  state: `state-${idHash}`,
  codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  codeChallengeMethod: "S256",
  nonce: `nonce-${idHash}`,
  browserBindingHash: `binding-${idHash}`,
  userId: null,
  authTime: null,
  offeredScopes: null,
  sessionId: "",
  acr: "",
  amr: [],
  claims: "",
  forceConsent: false,
  mfaRequested: false,
  action: "",
  secondFactor: null,
  createdAt: 1_000,
  expiresAt: 1_600,
  dpopJkt: "",
  resources: [],
  ...over,
});

export const codeRecord = (ref: ProjectRef, codeHash: string, over: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord => ({
  ...ref,
  codeHash,
  clientId: "web",
  userId: "alice",
  redirectUri: "https://app.example/callback",
  scopes: ["openid", READ],
  codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  codeChallengeMethod: "S256",
  nonce: `nonce-${codeHash}`,
  authTime: 990,
  sessionId: "",
  acr: "",
  amr: [],
  claims: "",
  createdAt: 1_000,
  expiresAt: 1_060,
  consumedAt: null,
  grantId: null,
  dpopJkt: "",
  resources: [],
  ...over,
});

export const grantRecord = (ref: ProjectRef, id: string, over: Partial<GrantRecord> = {}): GrantRecord => ({
  ...ref,
  id,
  clientId: "web",
  kind: "user",
  userId: "alice",
  scopes: ["openid", READ],
  authTime: 990,
  sessionId: "",
  acr: "",
  amr: [],
  claims: "",
  createdAt: 1_000,
  expiresAt: 100_000,
  revokedAt: null,
  dpopJkt: "",
  resources: [],
  parentGrantId: "",
  ...over,
});

const clientGrantRecord = (ref: ProjectRef, id: string, over: Partial<GrantRecord> = {}): GrantRecord =>
  grantRecord(ref, id, { clientId: "svc", kind: "client", userId: "", scopes: [READ], ...over });

const refreshRecord = (tokenHash: string, grantId: string, over: Partial<RefreshTokenRecord> = {}): RefreshTokenRecord => ({
  tokenHash,
  grantId,
  clientId: "web",
  scopes: ["openid", READ],
  createdAt: 1_000,
  expiresAt: 100_000,
  rotatedAt: null,
  parentHash: null,
  ...over,
});

const consentRecord = (ref: ProjectRef, userId: string, clientId: string, scopes: string[], grantedAt = 1_000): ConsentRecord => ({
  ...ref,
  userId,
  clientId,
  scopes,
  grantedAt,
});

export const sessionRecord = (ref: ProjectRef, id: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
  ...ref,
  id,
  secretHash: `secret-of-${ref.organization}.${ref.project}.${id}`,
  userId: "alice",
  authTime: 1_000,
  amr: ["pwd"],
  acr: "",
  createdAt: 1_000,
  lastSeenAt: 1_000,
  expiresAt: 50_000,
  clientAddress: "203.0.113.7",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64)",
  clients: [],
  endedAt: null,
  ...over,
});

const deliveryRecord = (ref: ProjectRef, sessionId: string, over: Partial<LogoutDeliveryRecord> = {}): LogoutDeliveryRecord => ({
  ...ref,
  sessionId,
  clientId: "web",
  uri: "https://app.example/backchannel-logout",
  status: 200,
  outcome: "delivered",
  attempts: 1,
  error: "",
  at: 2_000,
  ...over,
});

export const ALL: Page = { after: "", limit: 1000 };

/** Creates the project (and its organization when missing). */
export async function seedProject(store: Store, ref: ProjectRef): Promise<ProjectRecord> {
  if ((await store.getOrganization(ref.organization)) === undefined) await store.createOrganization(orgRecord(ref.organization));
  const project = projectRecord(ref);
  await store.createProject(project);
  return project;
}

/** Everything a project can hold, from its administration to its token state. */
interface Tenant {
  ref: ProjectRef;
  project: ProjectRecord;
  web: ClientRecord;
  svc: ClientRecord;
  alice: UserRecord;
  permissions: PermissionRecord[];
  role: RoleRecord;
  key: SigningKeyRecord;
  grant: GrantRecord;
  clientGrant: GrantRecord;
  refresh: RefreshTokenRecord;
  clientRefresh: RefreshTokenRecord;
  code: AuthorizationCodeRecord;
  request: AuthorizationRequestRecord;
  consent: ConsentRecord;
  session: SessionRecord;
  delivery: LogoutDeliveryRecord;
}

async function seedTenant(store: Store, ref: ProjectRef): Promise<Tenant> {
  const tag = `${ref.organization}.${ref.project}`;
  const project = await seedProject(store, ref);
  const web = clientRecord(ref, "web", { rememberConsent: true });
  const svc = clientRecord(ref, "svc", { grantTypes: ["client_credentials"], redirectUris: [], pkceRequired: false });
  const alice = userRecord(ref, "alice");
  const permissions = [permissionRecord(ref, READ), permissionRecord(ref, WRITE)];
  const role = roleRecord(ref, "editor", [READ, WRITE]);
  const key = keyRecord(ref, `kid-${tag}`);
  const grant = grantRecord(ref, `grant-${tag}`);
  const clientGrant = clientGrantRecord(ref, `client-grant-${tag}`);
  const refresh = refreshRecord(`refresh-${tag}`, grant.id);
  const clientRefresh = refreshRecord(`client-refresh-${tag}`, clientGrant.id, { clientId: "svc" });
  const code = codeRecord(ref, `code-${tag}`, { grantId: null });
  const request = requestRecord(ref, `request-${tag}`, { userId: "alice", authTime: 990, offeredScopes: [READ], sessionId: "", acr: "", amr: [] });
  const consent = consentRecord(ref, "alice", "web", [READ]);
  const session = sessionRecord(ref, "sid-1", { clients: ["web"] });
  const delivery = deliveryRecord(ref, "sid-0");
  await store.createClient(web);
  await store.createClient(svc);
  await store.createUser(alice);
  for (const p of permissions) await store.createPermission(p);
  await store.createRole(role);
  await store.assignRole(ref, { userId: "alice" }, "editor");
  await store.assignRole(ref, { clientId: "svc" }, "editor");
  await store.addSigningKey(key);
  await store.createGrant(grant);
  await store.createGrant(clientGrant);
  await store.createRefreshToken(refresh);
  await store.createRefreshToken(clientRefresh);
  await store.createAuthorizationCode(code);
  await store.createAuthorizationRequest(request);
  await store.rememberConsent(consent);
  await store.createSession(session);
  await store.recordLogoutDelivery(delivery);
  return { ref, project, web, svc, alice, permissions, role, key, grant, clientGrant, refresh, clientRefresh, code, request, consent, session, delivery };
}

/** What the store answers about everything a tenant seeded. */
async function tenantState(store: Store, x: Tenant) {
  const { ref } = x;
  return {
    project: await store.getProject(ref),
    clients: await store.listClients(ref, ALL),
    web: await store.getClient(ref, "web"),
    users: await store.listUsers(ref, ALL),
    alice: await store.getUser(ref, "alice"),
    permissions: await store.listPermissions(ref, ALL),
    roles: await store.listRoles(ref, ALL),
    aliceRoles: await store.getRolesOf(ref, { userId: "alice" }),
    svcPermissions: await store.getClientPermissions(ref, "svc"),
    keys: await store.listSigningKeys(ref),
    grant: await store.getGrant(x.grant.id),
    clientGrant: await store.getGrant(x.clientGrant.id),
    refresh: await store.getRefreshToken(x.refresh.tokenHash),
    clientRefresh: await store.getRefreshToken(x.clientRefresh.tokenHash),
    code: await store.getAuthorizationCode(x.code.codeHash),
    request: await store.getAuthorizationRequest(x.request.idHash),
    consent: await store.getConsent(ref, "alice", "web"),
    session: await store.getSession(ref, x.session.id),
    sessionBySecret: await store.findSessionBySecret(x.session.secretHash),
    sessions: await store.listUserSessions(ref, "alice"),
    deliveries: await store.listLogoutDeliveries(ref, x.delivery.sessionId),
  };
}

/** tenantState of a tenant as seeded. */
function seededState(x: Tenant): Awaited<ReturnType<typeof tenantState>> {
  return {
    project: x.project,
    clients: [x.svc, x.web],
    web: x.web,
    users: [x.alice],
    alice: x.alice,
    permissions: x.permissions,
    roles: [x.role],
    aliceRoles: ["editor"],
    svcPermissions: x.permissions,
    keys: [x.key],
    grant: x.grant,
    clientGrant: x.clientGrant,
    refresh: x.refresh,
    clientRefresh: x.clientRefresh,
    code: x.code,
    request: x.request,
    consent: x.consent,
    session: x.session,
    sessionBySecret: x.session,
    sessions: [x.session],
    deliveries: [x.delivery],
  };
}

/** tenantState of a tenant whose project is gone. */
const GONE: Awaited<ReturnType<typeof tenantState>> = {
  project: undefined,
  clients: [],
  web: undefined,
  users: [],
  alice: undefined,
  permissions: [],
  roles: [],
  aliceRoles: [],
  svcPermissions: [],
  keys: [],
  grant: undefined,
  clientGrant: undefined,
  refresh: undefined,
  clientRefresh: undefined,
  code: undefined,
  request: undefined,
  consent: undefined,
  session: undefined,
  sessionBySecret: undefined,
  sessions: [],
  deliveries: [],
};

/** Walks a listing page by page (`limit` rows each) and answers the ids of each page. */
export async function pages<T>(list: (page: Page) => Promise<T[]>, id: (row: T) => string, limit: number): Promise<string[][]> {
  const out: string[][] = [];
  let after = "";
  for (let i = 0; i < 100; i++) {
    const rows = await list({ after, limit });
    out.push(rows.map(id));
    if (rows.length === 0) return out;
    after = id(rows[rows.length - 1]!);
  }
  throw new Error("the listing does not end");
}

/** Fails (instead of hanging the run) when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms (deadlock?)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const exists = { instanceOf: AlreadyExists };

// ------------------------------------------------------------------- tests

export function storeContract(backend: StoreBackend): void {
  const it = (title: string, body: (t: ExecutionContext, store: Store) => Promise<void>) =>
    test(`${backend.name}: ${title}`, async (t) => {
      const store = await backend.open(t);
      await body(t, store);
    });
  /**
   * A test of many writers contending for one chain's lock, run before the
   * file's other tests rather than among them: on a loaded machine, waits
   * behind dozens of other tests' work could pass the store's 5 s lock
   * timeout, which says nothing of what the test checks.
   */
  const contended = (title: string, body: (t: ExecutionContext, store: Store) => Promise<void>) =>
    test.serial(`${backend.name}: ${title}`, async (t) => {
      const store = await backend.open(t);
      await body(t, store);
    });

  // ------------------------------------------------------------ tenants

  it("an organization round-trips; unknown ids answer undefined; isEmpty until the first", async (t, store) => {
    t.is(await store.isEmpty(), true);
    t.is(await store.getOrganization("org-a"), undefined);
    const org = orgRecord("org-a", { name: "Acme", createdAt: 1_712_345_678 });
    await store.createOrganization(org);
    t.deepEqual(await store.getOrganization("org-a"), org);
    t.is(await store.getOrganization("org-z"), undefined);
    t.is(await store.isEmpty(), false);
  });

  it("a duplicate organization is AlreadyExists and leaves the first as it was", async (t, store) => {
    const org = orgRecord("org-a");
    await store.createOrganization(org);
    await t.throwsAsync(store.createOrganization(orgRecord("org-a", { name: "Other" })), exists);
    t.deepEqual(await store.getOrganization("org-a"), org);
  });

  it("updateOrganization renames and answers false for a missing one; deleteOrganization false when missing", async (t, store) => {
    const org = orgRecord("org-a");
    await store.createOrganization(org);
    t.is(await store.updateOrganization("org-a", { name: "Renamed" }), true);
    t.deepEqual(await store.getOrganization("org-a"), { ...org, name: "Renamed" });
    t.is(await store.updateOrganization("org-z", { name: "Nobody" }), false);
    t.is(await store.getOrganization("org-z"), undefined);
    t.is(await store.deleteOrganization("org-z"), false);
    t.is(await store.deleteOrganization("org-a"), true);
    t.is(await store.getOrganization("org-a"), undefined);
    t.is(await store.deleteOrganization("org-a"), false);
    t.is(await store.isEmpty(), true);
  });

  it("a project round-trips; unknown ones answer undefined", async (t, store) => {
    await store.createOrganization(orgRecord("org-a"));
    const project = projectRecord(A, { name: "Docs", audience: "https://docs.example", createdAt: 1_712_000_000 });
    await store.createProject(project);
    t.deepEqual(await store.getProject(A), project);
    t.is(await store.getProject({ organization: "org-a", project: "nope" }), undefined);
    t.is(await store.getProject({ organization: "org-z", project: "proj-a" }), undefined);
  });

  it("a duplicate project, or a taken audience, is AlreadyExists; the same project id in another organization is not", async (t, store) => {
    const project = await seedProject(store, A);
    await t.throwsAsync(store.createProject(projectRecord(A, { audience: "https://elsewhere.example" })), exists);
    await t.throwsAsync(store.createProject(projectRecord(A2, { audience: project.audience })), exists);
    t.deepEqual(await store.getProject(A), project);
    t.is(await store.getProject(A2), undefined);
    await store.createOrganization(orgRecord("org-b"));
    const other = projectRecord(B);
    await store.createProject(other);
    t.deepEqual(await store.getProject(B), other);
    t.deepEqual(await store.getProject(A), project);
  });

  it("a project needs an existing organization", async (t, store) => {
    await t.throwsAsync(store.createProject(projectRecord(A)), { any: true });
    t.is(await store.getProject(A), undefined);
    t.deepEqual(await store.listProjects("org-a", ALL), []);
  });

  it("updateProject writes name and audience, refuses a taken audience, answers false when missing", async (t, store) => {
    const project = await seedProject(store, A);
    const other = await seedProject(store, A2);
    t.is(await store.updateProject(A, { name: "Renamed", audience: "https://renamed.example" }), true);
    t.deepEqual(await store.getProject(A), { ...project, name: "Renamed", audience: "https://renamed.example" });
    await t.throwsAsync(store.updateProject(A, { name: "Thief", audience: other.audience }), exists);
    t.deepEqual(await store.getProject(A), { ...project, name: "Renamed", audience: "https://renamed.example" });
    t.is(await store.updateProject({ organization: "org-a", project: "nope" }, { name: "x", audience: "https://x.example" }), false);
    t.is(await store.getProject({ organization: "org-a", project: "nope" }), undefined);
    t.is(await store.deleteProject({ organization: "org-a", project: "nope" }), false);
  });

  // ------------------------------------------------------------ clients

  it("a client round-trips: arrays, booleans, a null secret; unknown ids answer undefined", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const confidential = clientRecord(A, "web", { pkceRequired: true, rememberConsent: true, accessTokenTtl: 600 });
    const pub = clientRecord(A, "spa", {
      type: "public",
      secretHash: null,
      redirectUris: ["http://127.0.0.1/cb"],
      grantTypes: ["authorization_code"],
      pkceRequired: false,
      rememberConsent: false,
      accessTokenTtl: 120,
      refreshTokenTtl: 0,
    });
    const bare = clientRecord(A, "bare", { redirectUris: [], grantTypes: [] });
    await store.createClient(confidential);
    await store.createClient(pub);
    await store.createClient(bare);
    t.deepEqual(await store.getClient(A, "web"), confidential);
    t.deepEqual(await store.getClient(A, "spa"), pub);
    t.deepEqual(await store.getClient(A, "bare"), bare);
    t.is(await store.getClient(A, "nope"), undefined);
    t.is(await store.getClient(A2, "web"), undefined);
  });

  it("a duplicate client is AlreadyExists; the same id in another project is not", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const web = clientRecord(A, "web");
    await store.createClient(web);
    await t.throwsAsync(store.createClient(clientRecord(A, "web", { name: "Again" })), exists);
    t.deepEqual(await store.getClient(A, "web"), web);
    const other = clientRecord(A2, "web", { name: "Other project's" });
    await store.createClient(other);
    t.deepEqual(await store.getClient(A2, "web"), other);
  });

  it("updateClient writes the mutable fields but not the secret; setClientSecret; false when missing", async (t, store) => {
    await seedProject(store, A);
    const web = clientRecord(A, "web");
    await store.createClient(web);
    t.deepEqual(await store.getClient(A, "web"), web, "read once (a cache may keep it)");
    const changed: ClientRecord = {
      ...web,
      name: "Renamed",
      redirectUris: ["https://new.example/cb"],
      grantTypes: ["authorization_code"],
      pkceRequired: false,
      rememberConsent: true,
      accessTokenTtl: 900,
      refreshTokenTtl: 3_600,
      secretHash: "not-written-by-update",
    };
    t.is(await store.updateClient(changed), true);
    t.deepEqual(await store.getClient(A, "web"), { ...changed, secretHash: web.secretHash });
    t.is(await store.setClientSecret(A, "web", "new-secret-hash"), true);
    t.deepEqual(await store.getClient(A, "web"), { ...changed, secretHash: "new-secret-hash" });
    t.is(await store.updateClient(clientRecord(A, "nope")), false);
    t.is(await store.setClientSecret(A, "nope", "x"), false);
    t.is(await store.getClient(A, "nope"), undefined);
    t.is(await store.deleteClient(A, "nope"), false);
  });

  // -------------------------------------------------------------- users

  it("a user round-trips, enabled or not; unknown ids answer undefined; a duplicate is AlreadyExists", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const alice = userRecord(A, "alice", { enabled: true });
    const bob = userRecord(A, "bob", { enabled: false, name: "Bob B.", email: "bob@example.org" });
    await store.createUser(alice);
    await store.createUser(bob);
    t.deepEqual(await store.getUser(A, "alice"), alice);
    t.deepEqual(await store.getUser(A, "bob"), bob);
    t.is(await store.getUser(A, "carol"), undefined);
    t.is(await store.getUser(A2, "alice"), undefined);
    await t.throwsAsync(store.createUser(userRecord(A, "alice", { name: "Again" })), exists);
    t.deepEqual(await store.getUser(A, "alice"), alice);
  });

  it("updateUser writes name, email and enabled but not the password; setUserPassword; false when missing", async (t, store) => {
    await seedProject(store, A);
    const alice = userRecord(A, "alice");
    await store.createUser(alice);
    t.deepEqual(await store.getUser(A, "alice"), alice, "read once (a cache may keep it)");
    const changed = { ...alice, name: "Alice A.", email: "a@example.org", enabled: false, passwordHash: "not-written" };
    t.is(await store.updateUser(changed), true);
    t.deepEqual(await store.getUser(A, "alice"), { ...changed, passwordHash: alice.passwordHash });
    t.is(await store.setUserPassword(A, "alice", "new-password-hash"), true);
    t.deepEqual(await store.getUser(A, "alice"), { ...changed, passwordHash: "new-password-hash" });
    t.is(await store.updateUser(userRecord(A, "nope")), false);
    t.is(await store.setUserPassword(A, "nope", "x"), false);
    t.is(await store.getUser(A, "nope"), undefined);
    t.is(await store.deleteUser(A, "nope"), false);
  });

  // --------------------------------------------- permissions and roles

  it("a permission round-trips; a duplicate is AlreadyExists; deletePermission answers whether it was there", async (t, store) => {
    await seedProject(store, A);
    const read = permissionRecord(A, READ);
    await store.createPermission(read);
    t.deepEqual(await store.getPermissions(A, [READ]), [read]);
    t.deepEqual(await store.getPermissions(A, ["docs.nothing.here"]), []);
    await t.throwsAsync(store.createPermission({ ...read, description: "again" }), exists);
    t.deepEqual(await store.listPermissions(A, ALL), [read]);
    t.is(await store.deletePermission(A, READ), true);
    t.deepEqual(await store.getPermissions(A, [READ]), []);
    t.is(await store.deletePermission(A, READ), false);
  });

  it("a role round-trips with its permissions (ordered by id); a duplicate is AlreadyExists; deleting a permission takes it from the role", async (t, store) => {
    await seedProject(store, A);
    for (const id of [WRITE, READ, ADMIN]) await store.createPermission(permissionRecord(A, id));
    const editor = roleRecord(A, "editor", [WRITE, READ]);
    const empty = roleRecord(A, "nobody", []);
    await store.createRole(editor);
    await store.createRole(empty);
    t.deepEqual(await store.getRole(A, "editor"), { ...editor, permissions: [READ, WRITE] });
    t.deepEqual(await store.getRole(A, "nobody"), empty);
    t.is(await store.getRole(A, "nope"), undefined);
    await t.throwsAsync(store.createRole(roleRecord(A, "editor", [ADMIN])), exists);
    t.deepEqual(await store.getRole(A, "editor"), { ...editor, permissions: [READ, WRITE] });
    t.is(await store.deletePermission(A, WRITE), true);
    t.deepEqual(await store.getRole(A, "editor"), { ...editor, permissions: [READ] });
    t.is(await store.deleteRole(A, "editor"), true);
    t.is(await store.getRole(A, "editor"), undefined);
    t.is(await store.deleteRole(A, "editor"), false);
  });

  // -------------------------------------------------------- signing keys

  it("a signing key round-trips, current or retired; a duplicate kid is AlreadyExists", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const current = keyRecord(A, "kid-current", { createdAt: 2_000 });
    const retired = keyRecord(A, "kid-retired", { createdAt: 1_000, retiredAt: 2_000, expiresAt: 2_900 });
    await store.addSigningKey(current);
    await store.addSigningKey(retired);
    t.deepEqual(await store.listSigningKeys(A), [current, retired]);
    await t.throwsAsync(store.addSigningKey(keyRecord(A2, "kid-current")), exists);
    t.deepEqual(await store.listSigningKeys(A2), []);
    t.deepEqual(await store.listSigningKeys({ organization: "org-z", project: "nope" }), []);
  });

  // --------------------------------------------- authorization requests

  it("what a client sends as inert data is kept exactly, U+0000 and U+FFFF included; an id holding them matches nothing else", async (t, store) => {
    await seedProject(store, A);
    const odd = requestRecord(A, "req-odd", {
      state: "a\u0000b\uFFFF0c\uFFFF\uFFFF\u0000",
      nonce: "\u0000",
      scopes: ["x\u0000y"],
    });
    await store.createAuthorizationRequest(odd);
    t.deepEqual(await store.getAuthorizationRequest("req-odd"), odd);
    t.is(await store.getUser(A, "alice\u0000"), undefined);
    t.is(await store.getClient(A, "\u0000"), undefined);
    const failures = await store.recordLoginFailure("user:\u0000", 100, { maxFailures: 5, windowSeconds: 60, lockoutSeconds: 60 });
    t.is(failures.failures, 1);
    t.is((await store.recordLoginFailure("user:\u0000", 101, { maxFailures: 5, windowSeconds: 60, lockoutSeconds: 60 })).failures, 2);
    t.is((await store.recordLoginFailure("user:\uFFFF0", 101, { maxFailures: 5, windowSeconds: 60, lockoutSeconds: 60 })).failures, 1, "a distinct key");
  });

  it("an authorization request round-trips, with a null user and offered scopes or with them; a duplicate is AlreadyExists", async (t, store) => {
    const fresh = requestRecord(A, "req-fresh", { scopes: [] , codeChallengeMethod: "", codeChallenge: "", browserBindingHash: "" });
    const logged = requestRecord(A, "req-logged", {
      userId: "alice",
      authTime: 1_010,
      offeredScopes: ["openid", WRITE, READ],
      codeChallengeMethod: "plain",
    });
    await store.createAuthorizationRequest(fresh);
    await store.createAuthorizationRequest(logged);
    t.deepEqual(await store.getAuthorizationRequest("req-fresh"), fresh);
    t.deepEqual(await store.getAuthorizationRequest("req-logged"), logged);
    t.is(await store.getAuthorizationRequest("req-unknown"), undefined);
    await t.throwsAsync(store.createAuthorizationRequest(requestRecord(A, "req-fresh", { state: "other" })), exists);
    t.deepEqual(await store.getAuthorizationRequest("req-fresh"), fresh);
  });

  it("authenticateAuthorizationRequest records the login; recordFailedLogin counts 1, 2, 3; consume answers true once", async (t, store) => {
    const request = requestRecord(A, "req-1");
    const other = requestRecord(A, "req-2");
    await store.createAuthorizationRequest(request);
    await store.createAuthorizationRequest(other);
    t.is(await store.recordFailedLogin("req-1"), 1);
    t.is(await store.recordFailedLogin("req-1"), 2);
    t.is(await store.recordFailedLogin("req-1"), 3);
    t.is(await store.recordFailedLogin("req-2"), 1, "counted per request");
    t.is(await store.recordFailedLogin("req-unknown"), 0);
    const login = { userId: "alice", authTime: 1_050, offeredScopes: [READ, "openid"], sessionId: "sid-1", acr: "urn:acr:pwd", amr: ["pwd", "mfa"] };
    await store.authenticateAuthorizationRequest("req-1", login);
    t.deepEqual(await store.getAuthorizationRequest("req-1"), { ...request, ...login });
    t.deepEqual(await store.getAuthorizationRequest("req-2"), other);
    await t.notThrowsAsync(store.authenticateAuthorizationRequest("req-unknown", { userId: "x", authTime: 1, offeredScopes: [], sessionId: "", acr: "", amr: [] }));
    t.is(await store.getAuthorizationRequest("req-unknown"), undefined);
    t.is(await store.consumeAuthorizationRequest("req-1"), true);
    t.is(await store.getAuthorizationRequest("req-1"), undefined);
    t.is(await store.consumeAuthorizationRequest("req-1"), false);
    t.is(await store.recordFailedLogin("req-1"), 0);
    t.is(await store.consumeAuthorizationRequest("req-unknown"), false);
    t.deepEqual(await store.getAuthorizationRequest("req-2"), other);
  });

  // ------------------------------------------------ authorization codes

  it("an authorization code round-trips; a duplicate is AlreadyExists; consume answers true once and records the grant", async (t, store) => {
    const code = codeRecord(A, "code-1");
    await store.createAuthorizationCode(code);
    t.deepEqual(await store.getAuthorizationCode("code-1"), code);
    t.is(await store.getAuthorizationCode("code-unknown"), undefined);
    await t.throwsAsync(store.createAuthorizationCode(codeRecord(A, "code-1", { userId: "bob" })), exists);
    t.deepEqual(await store.getAuthorizationCode("code-1"), code);
    t.is(await store.consumeAuthorizationCode("code-1", "grant-first", 1_030), true);
    t.deepEqual(await store.getAuthorizationCode("code-1"), { ...code, consumedAt: 1_030, grantId: "grant-first" });
    t.is(await store.consumeAuthorizationCode("code-1", "grant-second", 1_040), false);
    t.deepEqual(await store.getAuthorizationCode("code-1"), { ...code, consumedAt: 1_030, grantId: "grant-first" });
    t.is(await store.consumeAuthorizationCode("code-unknown", "grant-x", 1_040), false);
    t.is(await store.getAuthorizationCode("code-unknown"), undefined);
  });

  it("10 concurrent consumptions of one code: exactly one wins, and its grant is recorded", async (t, store) => {
    await store.createAuthorizationCode(codeRecord(A, "code-race"));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.consumeAuthorizationCode("code-race", `grant-${i}`, 1_000 + i)),
    );
    t.is(results.filter((won) => won).length, 1);
    const winner = results.indexOf(true);
    const stored = await store.getAuthorizationCode("code-race");
    t.is(stored?.grantId, `grant-${winner}`);
    t.is(stored?.consumedAt, 1_000 + winner);
  });

  // -------------------------------------------------------------- grants

  it("a grant round-trips, user or client; a duplicate is AlreadyExists; unknown ids answer undefined", async (t, store) => {
    const user = grantRecord(A, "grant-user", { scopes: [READ, "openid"], revokedAt: null });
    const client = clientGrantRecord(A, "grant-client", { authTime: 0 });
    const revoked = grantRecord(A, "grant-revoked", { revokedAt: 1_500 });
    for (const g of [user, client, revoked]) await store.createGrant(g);
    t.deepEqual(await store.getGrant("grant-user"), user);
    t.deepEqual(await store.getGrant("grant-client"), client);
    t.deepEqual(await store.getGrant("grant-revoked"), revoked);
    t.is(await store.getGrant("grant-unknown"), undefined);
    await t.throwsAsync(store.createGrant(grantRecord(A, "grant-user", { userId: "bob" })), exists);
    t.deepEqual(await store.getGrant("grant-user"), user);
  });

  it("findClientGrant answers the live client grant of the client (the latest), not a revoked, user or other project's one", async (t, store) => {
    await store.createGrant(clientGrantRecord(A, "cg-revoked", { createdAt: 100, revokedAt: 500 }));
    t.is(await store.findClientGrant(A, "svc"), undefined, "only a revoked one");
    const live = clientGrantRecord(A, "cg-live", { createdAt: 200 });
    await store.createGrant(live);
    await store.createGrant(grantRecord(A, "ug-svc", { clientId: "svc", createdAt: 300 }));
    await store.createGrant(clientGrantRecord(A2, "cg-other-project", { createdAt: 400 }));
    await store.createGrant(clientGrantRecord(A, "cg-other-client", { clientId: "svc2", createdAt: 400 }));
    t.deepEqual(await store.findClientGrant(A, "svc"), live);
    t.is(await store.findClientGrant(A, "web"), undefined);
    const later = clientGrantRecord(A, "cg-later", { createdAt: 250 });
    await store.createGrant(later);
    t.deepEqual(await store.findClientGrant(A, "svc"), later);
    await store.revokeGrant("cg-later", 600);
    t.deepEqual(await store.findClientGrant(A, "svc"), live);
    await store.revokeGrant("cg-live", 600);
    t.is(await store.findClientGrant(A, "svc"), undefined);
  });

  it("extendGrant only pushes the expiry out", async (t, store) => {
    const grant = grantRecord(A, "grant-1", { expiresAt: 5_000 });
    await store.createGrant(grant);
    await store.extendGrant("grant-1", 6_000);
    t.deepEqual(await store.getGrant("grant-1"), { ...grant, expiresAt: 6_000 });
    await store.extendGrant("grant-1", 5_500);
    t.deepEqual(await store.getGrant("grant-1"), { ...grant, expiresAt: 6_000 });
    await store.extendGrant("grant-1", 6_000);
    t.deepEqual(await store.getGrant("grant-1"), { ...grant, expiresAt: 6_000 });
    await t.notThrowsAsync(store.extendGrant("grant-unknown", 9_000));
    t.is(await store.getGrant("grant-unknown"), undefined);
  });

  it("revokeGrant revokes the grant and rotates all its refresh tokens, keeping earlier times; other grants untouched", async (t, store) => {
    const grant = grantRecord(A, "grant-1");
    const other = grantRecord(A, "grant-2");
    await store.createGrant(grant);
    await store.createGrant(other);
    const t1 = refreshRecord("rt-1", "grant-1");
    const t2 = refreshRecord("rt-2", "grant-1", { rotatedAt: 700, parentHash: "rt-0" });
    const t3 = refreshRecord("rt-3", "grant-2");
    for (const r of [t1, t2, t3]) await store.createRefreshToken(r);
    t.true(await store.revokeGrant("grant-1", 1_000));
    t.deepEqual(await store.getGrant("grant-1"), { ...grant, revokedAt: 1_000 });
    t.deepEqual(await store.getRefreshToken("rt-1"), { ...t1, rotatedAt: 1_000 });
    t.deepEqual(await store.getRefreshToken("rt-2"), { ...t2, rotatedAt: 700 });
    t.deepEqual(await store.getGrant("grant-2"), other);
    t.deepEqual(await store.getRefreshToken("rt-3"), t3);
    t.false(await store.revokeGrant("grant-1", 2_000), "an already revoked grant is not revoked again");
    t.deepEqual(await store.getGrant("grant-1"), { ...grant, revokedAt: 1_000 }, "the first revocation stands");
    t.deepEqual(await store.getRefreshToken("rt-1"), { ...t1, rotatedAt: 1_000 });
    t.is(await store.rotateRefreshToken("rt-1", 2_100), false);
    t.false(await store.revokeGrant("grant-unknown", 2_000));
  });

  it("10 concurrent revocations of one grant, each in its own transaction: exactly one revokes it", async (t, store) => {
    await store.createGrant(grantRecord(A, "grant-1"));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.transaction((tx) => tx.revokeGrant("grant-1", 1_000 + i))));
    t.is(results.filter((revoked) => revoked).length, 1);
    t.is((await store.getGrant("grant-1"))!.revokedAt, 1_000 + results.indexOf(true));
  });

  // ------------------------------------------------------ refresh tokens

  it("a refresh token round-trips; a duplicate is AlreadyExists; rotation answers true once", async (t, store) => {
    await store.createGrant(grantRecord(A, "grant-1"));
    const first = refreshRecord("rt-first", "grant-1");
    const child = refreshRecord("rt-child", "grant-1", { parentHash: "rt-first", scopes: [READ], createdAt: 1_100, expiresAt: 90_000 });
    await store.createRefreshToken(first);
    await store.createRefreshToken(child);
    t.deepEqual(await store.getRefreshToken("rt-first"), first);
    t.deepEqual(await store.getRefreshToken("rt-child"), child);
    t.is(await store.getRefreshToken("rt-unknown"), undefined);
    await t.throwsAsync(store.createRefreshToken(refreshRecord("rt-first", "grant-1", { clientId: "other" })), exists);
    t.deepEqual(await store.getRefreshToken("rt-first"), first);
    t.is(await store.rotateRefreshToken("rt-child", 1_200), true);
    t.deepEqual(await store.getRefreshToken("rt-child"), { ...child, rotatedAt: 1_200 });
    t.is(await store.rotateRefreshToken("rt-child", 1_300), false);
    t.deepEqual(await store.getRefreshToken("rt-child"), { ...child, rotatedAt: 1_200 });
    t.deepEqual(await store.getRefreshToken("rt-first"), first, "the parent is not touched");
    t.is(await store.rotateRefreshToken("rt-unknown", 1_300), false);
    t.is(await store.getRefreshToken("rt-unknown"), undefined);
  });

  it("rotating a token marks its unrotated siblings (same parent) rotated at 0, and nothing else", async (t, store) => {
    await store.createGrant(grantRecord(A, "grant-1"));
    const c1 = refreshRecord("rt-c1", "grant-1", { parentHash: "rt-p" });
    const c2 = refreshRecord("rt-c2", "grant-1", { parentHash: "rt-p" });
    const c3 = refreshRecord("rt-c3", "grant-1", { parentHash: "rt-p", rotatedAt: 50 });
    const cousin = refreshRecord("rt-cousin", "grant-1", { parentHash: "rt-q" });
    const root1 = refreshRecord("rt-root1", "grant-1");
    const root2 = refreshRecord("rt-root2", "grant-1");
    for (const r of [c1, c2, c3, cousin, root1, root2]) await store.createRefreshToken(r);
    t.is(await store.rotateRefreshToken("rt-c1", 100), true);
    t.deepEqual(await store.getRefreshToken("rt-c1"), { ...c1, rotatedAt: 100 });
    t.deepEqual(await store.getRefreshToken("rt-c2"), { ...c2, rotatedAt: 0 });
    t.deepEqual(await store.getRefreshToken("rt-c3"), { ...c3, rotatedAt: 50 });
    t.deepEqual(await store.getRefreshToken("rt-cousin"), cousin);
    t.is(await store.rotateRefreshToken("rt-c2", 110), false, "a superseded sibling cannot be rotated");
    t.deepEqual(await store.getRefreshToken("rt-c2"), { ...c2, rotatedAt: 0 });
    // The first tokens of families (no parent) are not one another's siblings.
    t.is(await store.rotateRefreshToken("rt-root1", 120), true);
    t.deepEqual(await store.getRefreshToken("rt-root1"), { ...root1, rotatedAt: 120 });
    t.deepEqual(await store.getRefreshToken("rt-root2"), root2);
  });

  it("10 concurrent rotations of one refresh token: exactly one wins", async (t, store) => {
    await store.createGrant(grantRecord(A, "grant-1"));
    const token = refreshRecord("rt-race", "grant-1", { parentHash: "rt-p" });
    const sibling = refreshRecord("rt-race-sibling", "grant-1", { parentHash: "rt-p" });
    await store.createRefreshToken(token);
    await store.createRefreshToken(sibling);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.rotateRefreshToken("rt-race", 1_000 + i)));
    t.is(results.filter((won) => won).length, 1);
    const winner = results.indexOf(true);
    t.deepEqual(await store.getRefreshToken("rt-race"), { ...token, rotatedAt: 1_000 + winner });
    t.deepEqual(await store.getRefreshToken("rt-race-sibling"), { ...sibling, rotatedAt: 0 });
  });

  // ------------------------------------------------------------ listings

  it("organizations are listed by id, page by page", async (t, store) => {
    const ids = ["org-c", "org-a", "org-e", "org-b", "org-d"];
    for (const id of ids) await store.createOrganization(orgRecord(id, { name: `Name ${id}` }));
    const sorted = ["org-a", "org-b", "org-c", "org-d", "org-e"];
    t.deepEqual(await store.listOrganizations(ALL), sorted.map((id) => orgRecord(id, { name: `Name ${id}` })));
    t.deepEqual(await pages((p) => store.listOrganizations(p), (o) => o.id, 2), [["org-a", "org-b"], ["org-c", "org-d"], ["org-e"], []]);
    t.deepEqual((await store.listOrganizations({ after: "org-bb", limit: 10 })).map((o) => o.id), ["org-c", "org-d", "org-e"]);
    t.deepEqual((await store.listOrganizations({ after: "org-a", limit: 1 })).map((o) => o.id), ["org-b"]);
  });

  it("projects are listed by id (bytewise), page by page, within their organization", async (t, store) => {
    await store.createOrganization(orgRecord("org-a"));
    await store.createOrganization(orgRecord("org-b"));
    for (const id of ["q", "p1", "p-2", "p-1"]) await store.createProject(projectRecord({ organization: "org-a", project: id }));
    await store.createProject(projectRecord({ organization: "org-b", project: "p-0" }));
    const sorted = ["p-1", "p-2", "p1", "q"];
    t.deepEqual(
      await store.listProjects("org-a", ALL),
      sorted.map((id) => projectRecord({ organization: "org-a", project: id })),
    );
    t.deepEqual(await pages((p) => store.listProjects("org-a", p), (r) => r.project, 3), [["p-1", "p-2", "p1"], ["q"], []]);
    t.deepEqual(await store.listProjects("org-z", ALL), []);
  });

  it("clients are listed by id (bytewise), page by page, within their project", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    for (const id of ["web", "a.b", "Web", "~z", "api", "_x", "a-b", "Z"]) await store.createClient(clientRecord(A, id));
    await store.createClient(clientRecord(A2, "0-other"));
    const sorted = ["Web", "Z", "_x", "a-b", "a.b", "api", "web", "~z"];
    t.deepEqual(await store.listClients(A, ALL), sorted.map((id) => clientRecord(A, id)));
    t.deepEqual(await pages((p) => store.listClients(A, p), (c) => c.id, 3), [["Web", "Z", "_x"], ["a-b", "a.b", "api"], ["web", "~z"], []]);
    t.deepEqual(await store.listClients(A2, ALL), [clientRecord(A2, "0-other")]);
  });

  it("users are listed by id (bytewise), page by page, within their project", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, B);
    for (const id of ["carol+1", "alice@example.com", "Bob", "carol", "0day"]) await store.createUser(userRecord(A, id));
    await store.createUser(userRecord(B, "alice"));
    const sorted = ["0day", "Bob", "alice@example.com", "carol", "carol+1"];
    t.deepEqual(await store.listUsers(A, ALL), sorted.map((id) => userRecord(A, id)));
    t.deepEqual(await pages((p) => store.listUsers(A, p), (u) => u.id, 2), [["0day", "Bob"], ["alice@example.com", "carol"], ["carol+1"], []]);
    t.deepEqual(await store.listUsers(B, ALL), [userRecord(B, "alice")]);
  });

  it("permissions and roles are listed by id (bytewise), page by page, within their project", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const permissionIds = [WRITE, READ, "docs.file-x.read", "admin.users.read"];
    for (const id of permissionIds) await store.createPermission(permissionRecord(A, id));
    await store.createPermission(permissionRecord(A2, "aaa.bbb.ccc"));
    const sortedPermissions = ["admin.users.read", "docs.file-x.read", READ, WRITE];
    t.deepEqual(await store.listPermissions(A, ALL), sortedPermissions.map((id) => permissionRecord(A, id)));
    t.deepEqual(await pages((p) => store.listPermissions(A, p), (r) => r.id, 2), [sortedPermissions.slice(0, 2), sortedPermissions.slice(2), []]);

    for (const id of ["editor.x", "admin", "Reader", "editor-2", "editor"]) await store.createRole(roleRecord(A, id, id === "admin" ? [WRITE, READ] : []));
    await store.createRole(roleRecord(A2, "aaa", []));
    const sortedRoles = ["Reader", "admin", "editor", "editor-2", "editor.x"];
    t.deepEqual(
      await store.listRoles(A, ALL),
      sortedRoles.map((id) => roleRecord(A, id, id === "admin" ? [READ, WRITE] : [])),
    );
    t.deepEqual(await pages((p) => store.listRoles(A, p), (r) => r.id, 2), [["Reader", "admin"], ["editor", "editor-2"], ["editor.x"], []]);
    t.deepEqual(await store.listRoles(A2, ALL), [roleRecord(A2, "aaa", [])]);
  });

  // ------------------------------------------------------------ cascades

  it("deleteOrganization removes its projects and everything in them; other organizations keep theirs", async (t, store) => {
    const a = await seedTenant(store, A);
    const a2 = await seedTenant(store, A2);
    const b = await seedTenant(store, B);
    t.deepEqual(await tenantState(store, a), seededState(a), "seeded");
    t.is(await store.deleteOrganization("org-a"), true);
    t.is(await store.getOrganization("org-a"), undefined);
    t.deepEqual(await store.listProjects("org-a", ALL), []);
    t.deepEqual(await tenantState(store, a), GONE);
    t.deepEqual(await tenantState(store, a2), GONE);
    t.deepEqual(await store.getOrganization("org-b"), orgRecord("org-b"));
    t.deepEqual(await tenantState(store, b), seededState(b));
    t.is(await store.deleteOrganization("org-a"), false);
    // Nothing is left behind under the same names.
    await seedProject(store, A);
    t.deepEqual(await tenantState(store, a), { ...GONE, project: projectRecord(A) });
  });

  it("deleteProject removes everything in it, tokens included; its sibling projects keep theirs", async (t, store) => {
    const a = await seedTenant(store, A);
    const a2 = await seedTenant(store, A2);
    const b = await seedTenant(store, B);
    t.is(await store.deleteProject(A), true);
    t.deepEqual(await tenantState(store, a), GONE);
    t.deepEqual(await store.getOrganization("org-a"), orgRecord("org-a"));
    t.deepEqual(await store.listProjects("org-a", ALL), [a2.project]);
    t.deepEqual(await tenantState(store, a2), seededState(a2));
    t.deepEqual(await tenantState(store, b), seededState(b));
    t.is(await store.deleteProject(A), false);
    await seedProject(store, A);
    t.deepEqual(await tenantState(store, a), { ...GONE, project: projectRecord(A) });
  });

  it("deleteClient removes the client with its grants, their refresh tokens, codes, pending requests and consents", async (t, store) => {
    const a = await seedTenant(store, A);
    const b = await seedTenant(store, B);
    const api = clientRecord(A, "api");
    await store.createClient(api);
    const apiGrant = grantRecord(A, "grant-api", { clientId: "api" });
    const apiRefresh = refreshRecord("refresh-api", "grant-api", { clientId: "api" });
    const apiCode = codeRecord(A, "code-api", { clientId: "api" });
    const apiRequest = requestRecord(A, "request-api", { clientId: "api" });
    const apiConsent = consentRecord(A, "alice", "api", [READ]);
    await store.createGrant(apiGrant);
    await store.createRefreshToken(apiRefresh);
    await store.createAuthorizationCode(apiCode);
    await store.createAuthorizationRequest(apiRequest);
    await store.rememberConsent(apiConsent);
    await store.assignRole(A, { clientId: "web" }, "editor");

    t.is(await store.deleteClient(A, "web"), true);
    t.is(await store.getClient(A, "web"), undefined);
    t.deepEqual(await store.listClients(A, ALL), [api, a.svc]);
    t.is(await store.getGrant(a.grant.id), undefined);
    t.is(await store.getRefreshToken(a.refresh.tokenHash), undefined);
    t.is(await store.getAuthorizationCode(a.code.codeHash), undefined);
    t.is(await store.getAuthorizationRequest(a.request.idHash), undefined);
    t.is(await store.getConsent(A, "alice", "web"), undefined);
    t.deepEqual(await store.getRolesOf(A, { clientId: "web" }), []);
    // The other clients' rows, the user, and the other organization's client of the same id stay.
    t.deepEqual(await store.getGrant("grant-api"), apiGrant);
    t.deepEqual(await store.getRefreshToken("refresh-api"), apiRefresh);
    t.deepEqual(await store.getAuthorizationCode("code-api"), apiCode);
    t.deepEqual(await store.getAuthorizationRequest("request-api"), apiRequest);
    t.deepEqual(await store.listConsents(A, "alice"), [apiConsent]);
    t.deepEqual(await store.getGrant(a.clientGrant.id), a.clientGrant);
    t.deepEqual(await store.getRefreshToken(a.clientRefresh.tokenHash), a.clientRefresh);
    t.deepEqual(await store.getUser(A, "alice"), a.alice);
    t.deepEqual(await tenantState(store, b), seededState(b));
    t.is(await store.deleteClient(A, "web"), false);
  });

  it("deleteUser removes the user with their grants, refresh tokens, codes, pending requests, roles and consents", async (t, store) => {
    const a = await seedTenant(store, A);
    const b = await seedTenant(store, B);
    const bob = userRecord(A, "bob");
    await store.createUser(bob);
    const bobGrant = grantRecord(A, "grant-bob", { userId: "bob" });
    const bobRefresh = refreshRecord("refresh-bob", "grant-bob");
    const bobCode = codeRecord(A, "code-bob", { userId: "bob" });
    const bobRequest = requestRecord(A, "request-bob", { userId: "bob", authTime: 995, offeredScopes: [READ], sessionId: "", acr: "", amr: [] });
    const bobConsent = consentRecord(A, "bob", "web", [READ]);
    const bobSession = sessionRecord(A, "sid-bob", { userId: "bob" });
    await store.createSession(bobSession);
    await store.createGrant(bobGrant);
    await store.createRefreshToken(bobRefresh);
    await store.createAuthorizationCode(bobCode);
    await store.createAuthorizationRequest(bobRequest);
    await store.rememberConsent(bobConsent);
    t.deepEqual(await store.getUserPermissions(A, "alice"), a.permissions, "read once (a cache may keep it)");

    t.is(await store.deleteUser(A, "alice"), true);
    t.is(await store.getUser(A, "alice"), undefined);
    t.deepEqual(await store.listUsers(A, ALL), [bob]);
    t.is(await store.getGrant(a.grant.id), undefined);
    t.is(await store.getRefreshToken(a.refresh.tokenHash), undefined);
    t.is(await store.getAuthorizationCode(a.code.codeHash), undefined);
    // Beyond types.ts ("grants and codes"): the SQLite store also deletes the requests the user signed in on.
    t.is(await store.getAuthorizationRequest(a.request.idHash), undefined);
    t.is(await store.getConsent(A, "alice", "web"), undefined);
    t.deepEqual(await store.getRolesOf(A, { userId: "alice" }), []);
    t.deepEqual(await store.getUserPermissions(A, "alice"), []);
    t.is(await store.getSession(A, a.session.id), undefined, "the user's sessions go with them");
    t.is(await store.findSessionBySecret(a.session.secretHash), undefined);
    t.deepEqual(await store.listLogoutDeliveries(A, a.delivery.sessionId), [a.delivery], "what was told of past logouts stays");
    t.deepEqual(await store.getSession(A, "sid-bob"), bobSession);
    // The client grant (userId ""), the other user's rows and the other organization's alice stay.
    t.deepEqual(await store.getGrant(a.clientGrant.id), a.clientGrant);
    t.deepEqual(await store.getRefreshToken(a.clientRefresh.tokenHash), a.clientRefresh);
    t.deepEqual(await store.getGrant("grant-bob"), bobGrant);
    t.deepEqual(await store.getRefreshToken("refresh-bob"), bobRefresh);
    t.deepEqual(await store.getAuthorizationCode("code-bob"), bobCode);
    t.deepEqual(await store.getAuthorizationRequest("request-bob"), bobRequest);
    t.deepEqual(await store.getConsent(A, "bob", "web"), bobConsent);
    t.deepEqual(await store.getClient(A, "web"), a.web);
    t.deepEqual(await tenantState(store, b), seededState(b));
    t.is(await store.deleteUser(A, "alice"), false);
  });

  it("revokeUserGrants revokes the user's grants and rotates their refresh tokens, keeping earlier times", async (t, store) => {
    const a = await seedTenant(store, A);
    const b = await seedTenant(store, B);
    const old = grantRecord(A, "grant-old", { clientId: "svc", revokedAt: 400 });
    const oldRefresh = refreshRecord("refresh-old", "grant-old", { rotatedAt: 300 });
    const second = grantRecord(A, "grant-second", { clientId: "svc" });
    const secondRefresh = refreshRecord("refresh-second", "grant-second", { parentHash: "refresh-x" });
    const bobGrant = grantRecord(A, "grant-bob", { userId: "bob" });
    for (const g of [old, second, bobGrant]) await store.createGrant(g);
    await store.createRefreshToken(oldRefresh);
    await store.createRefreshToken(secondRefresh);

    await store.revokeUserGrants(A, "alice", 1_000);
    t.deepEqual(await store.getGrant(a.grant.id), { ...a.grant, revokedAt: 1_000 });
    t.deepEqual(await store.getRefreshToken(a.refresh.tokenHash), { ...a.refresh, rotatedAt: 1_000 });
    t.deepEqual(await store.getGrant("grant-second"), { ...second, revokedAt: 1_000 });
    t.deepEqual(await store.getRefreshToken("refresh-second"), { ...secondRefresh, rotatedAt: 1_000 });
    t.deepEqual(await store.getGrant("grant-old"), old);
    t.deepEqual(await store.getRefreshToken("refresh-old"), oldRefresh);
    // Not the client grant, not another user's, not another project's alice.
    t.deepEqual(await store.getGrant(a.clientGrant.id), a.clientGrant);
    t.deepEqual(await store.getRefreshToken(a.clientRefresh.tokenHash), a.clientRefresh);
    t.deepEqual(await store.getGrant("grant-bob"), bobGrant);
    t.deepEqual(await tenantState(store, b), seededState(b));
    // The user is kept.
    t.deepEqual(await store.getUser(A, "alice"), a.alice);
  });

  // ----------------------------------------------------- role assignment

  it("assignRole is idempotent, unassignRole answers whether it was held, getRolesOf is ordered; users and clients apart", async (t, store) => {
    await seedProject(store, A);
    await store.createUser(userRecord(A, "x"));
    await store.createClient(clientRecord(A, "x"));
    for (const id of ["writer", "Admin", "reader"]) await store.createRole(roleRecord(A, id, []));
    await store.assignRole(A, { userId: "x" }, "writer");
    await store.assignRole(A, { userId: "x" }, "reader");
    await store.assignRole(A, { userId: "x" }, "Admin");
    await store.assignRole(A, { userId: "x" }, "reader");
    t.deepEqual(await store.getRolesOf(A, { userId: "x" }), ["Admin", "reader", "writer"]);
    t.deepEqual(await store.getRolesOf(A, { clientId: "x" }), []);
    await store.assignRole(A, { clientId: "x" }, "writer");
    await store.assignRole(A, { clientId: "x" }, "writer");
    t.deepEqual(await store.getRolesOf(A, { clientId: "x" }), ["writer"]);
    t.is(await store.unassignRole(A, { userId: "x" }, "reader"), true);
    t.is(await store.unassignRole(A, { userId: "x" }, "reader"), false);
    t.deepEqual(await store.getRolesOf(A, { userId: "x" }), ["Admin", "writer"]);
    t.is(await store.unassignRole(A, { clientId: "x" }, "reader"), false);
    t.deepEqual(await store.getRolesOf(A, { clientId: "x" }), ["writer"]);
    t.is(await store.deleteRole(A, "writer"), true);
    t.deepEqual(await store.getRolesOf(A, { userId: "x" }), ["Admin"]);
    t.deepEqual(await store.getRolesOf(A, { clientId: "x" }), []);
    t.deepEqual(await store.getRolesOf(A, { userId: "nobody" }), []);
  });

  it("getUserPermissions and getClientPermissions are distinct and ordered by id, each through its own roles", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    await store.createUser(userRecord(A, "alice"));
    await store.createClient(clientRecord(A, "svc"));
    const perms = [WRITE, ADMIN, READ].map((id) => permissionRecord(A, id));
    for (const p of perms) await store.createPermission(p);
    await store.createRole(roleRecord(A, "writer", [WRITE, READ]));
    await store.createRole(roleRecord(A, "reader", [READ]));
    await store.createRole(roleRecord(A, "admin", [ADMIN]));
    t.deepEqual(await store.getUserPermissions(A, "alice"), []);
    t.deepEqual(await store.getClientPermissions(A, "svc"), []);
    await store.assignRole(A, { userId: "alice" }, "writer");
    await store.assignRole(A, { userId: "alice" }, "reader");
    await store.assignRole(A, { clientId: "svc" }, "admin");
    await store.assignRole(A, { clientId: "svc" }, "reader");
    t.deepEqual(await store.getUserPermissions(A, "alice"), [permissionRecord(A, READ), permissionRecord(A, WRITE)]);
    t.deepEqual(await store.getClientPermissions(A, "svc"), [permissionRecord(A, ADMIN), permissionRecord(A, READ)]);
    t.deepEqual(await store.getUserPermissions(A, "svc"), [], "a client's roles are not a user's");
    t.deepEqual(await store.getClientPermissions(A, "alice"), []);
    t.deepEqual(await store.getUserPermissions(A2, "alice"), []);
    // Changes show at once.
    t.is(await store.unassignRole(A, { userId: "alice" }, "writer"), true);
    t.deepEqual(await store.getUserPermissions(A, "alice"), [permissionRecord(A, READ)]);
    t.is(await store.deletePermission(A, ADMIN), true);
    t.deepEqual(await store.getClientPermissions(A, "svc"), [permissionRecord(A, READ)]);
  });

  it("getPermissions answers the project's permissions among the ids, in the order asked", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    for (const id of [READ, WRITE, ADMIN]) await store.createPermission(permissionRecord(A, id));
    await store.createPermission(permissionRecord(A2, "other.only.here"));
    t.deepEqual(await store.getPermissions(A, [WRITE, "docs.unknown.x", ADMIN, READ, "other.only.here"]), [
      permissionRecord(A, WRITE),
      permissionRecord(A, ADMIN),
      permissionRecord(A, READ),
    ]);
    t.deepEqual(await store.getPermissions(A, [READ, WRITE]), [permissionRecord(A, READ), permissionRecord(A, WRITE)]);
    t.deepEqual(await store.getPermissions(A, []), []);
  });

  // ------------------------------------------------- signing keys, ttls

  it("listSigningKeys answers the current key first, then the retired ones newest first", async (t, store) => {
    await seedProject(store, A);
    const current = keyRecord(A, "k-current", { createdAt: 50 });
    const older = keyRecord(A, "k-older", { createdAt: 100, retiredAt: 200, expiresAt: 900 });
    const newer = keyRecord(A, "k-newer", { createdAt: 200, retiredAt: 300, expiresAt: 1_000 });
    const twinB = keyRecord(A, "k-twin-b", { createdAt: 150, retiredAt: 250, expiresAt: 950 });
    const twinA = keyRecord(A, "k-twin-a", { createdAt: 150, retiredAt: 260, expiresAt: 960 });
    for (const k of [older, twinB, current, newer, twinA]) await store.addSigningKey(k);
    t.deepEqual((await store.listSigningKeys(A)).map((k) => k.kid), ["k-current", "k-newer", "k-twin-a", "k-twin-b", "k-older"]);
    t.deepEqual(await store.listSigningKeys(A), [current, newer, twinA, twinB, older]);
  });

  it("retireSigningKeys retires the current keys of the project only and answers their kids", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const retired = keyRecord(A, "k-0", { createdAt: 10, retiredAt: 50, expiresAt: 500 });
    const current = keyRecord(A, "k-1", { createdAt: 100 });
    const other = keyRecord(A2, "k-other", { createdAt: 100 });
    for (const k of [retired, current, other]) await store.addSigningKey(k);
    t.deepEqual(await store.retireSigningKeys(A, 1_000, 2_000), ["k-1"]);
    t.deepEqual(await store.listSigningKeys(A), [{ ...current, retiredAt: 1_000, expiresAt: 2_000 }, retired]);
    t.deepEqual(await store.listSigningKeys(A2), [other]);
    t.deepEqual(await store.retireSigningKeys(A, 1_100, 2_100), []);
    t.deepEqual(await store.listSigningKeys(A), [{ ...current, retiredAt: 1_000, expiresAt: 2_000 }, retired]);
    const k2 = keyRecord(A, "k-2", { createdAt: 1_200 });
    const k3 = keyRecord(A, "k-3", { createdAt: 1_300 });
    await store.addSigningKey(k2);
    await store.addSigningKey(k3);
    t.deepEqual((await store.retireSigningKeys(A, 1_400, 2_400)).sort(), ["k-2", "k-3"]);
    t.deepEqual(await store.listSigningKeys(A), [
      { ...k3, retiredAt: 1_400, expiresAt: 2_400 },
      { ...k2, retiredAt: 1_400, expiresAt: 2_400 },
      { ...current, retiredAt: 1_000, expiresAt: 2_000 },
      retired,
    ]);
  });

  it("expireSigningKeys ends now the verification of the project's retired keys still verifying, and of no other key", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const expired = keyRecord(A, "k-expired", { createdAt: 10, retiredAt: 20, expiresAt: 900 });
    const verifying = keyRecord(A, "k-verifying", { createdAt: 30, retiredAt: 40, expiresAt: 2_000 });
    const alsoVerifying = keyRecord(A, "k-also", { createdAt: 50, retiredAt: 60, expiresAt: 1_500 });
    const current = keyRecord(A, "k-current", { createdAt: 100 });
    const other = keyRecord(A2, "k-other", { createdAt: 30, retiredAt: 40, expiresAt: 2_000 });
    for (const k of [expired, verifying, alsoVerifying, current, other]) await store.addSigningKey(k);
    const epoch = await store.getChangeEpoch();
    t.deepEqual(await store.expireSigningKeys(A, 1_000), ["k-also", "k-verifying"]);
    t.not(await store.getChangeEpoch(), epoch, "every process reads the keys again");
    t.deepEqual(await store.listSigningKeys(A), [current, { ...alsoVerifying, expiresAt: 1_000 }, { ...verifying, expiresAt: 1_000 }, expired]);
    t.deepEqual(await store.listSigningKeys(A2), [other]);
    t.deepEqual(await store.expireSigningKeys(A, 1_100), [], "nothing left verifying");
  });

  it("maxAccessTokenTtl is the longest access token lifetime of the project's clients, 0 without clients", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    t.is(await store.maxAccessTokenTtl(A), 0);
    await store.createClient(clientRecord(A, "short", { accessTokenTtl: 60 }));
    t.is(await store.maxAccessTokenTtl(A), 60);
    await store.createClient(clientRecord(A, "long", { accessTokenTtl: 3_600 }));
    await store.createClient(clientRecord(A, "mid", { accessTokenTtl: 900 }));
    await store.createClient(clientRecord(A2, "longer", { accessTokenTtl: 7_200 }));
    t.is(await store.maxAccessTokenTtl(A), 3_600);
    t.is(await store.maxAccessTokenTtl(A2), 7_200);
    t.is(await store.deleteClient(A, "long"), true);
    t.is(await store.maxAccessTokenTtl(A), 900);
    t.is(await store.maxAccessTokenTtl({ organization: "org-z", project: "nope" }), 0);
  });

  // --------------------------------------------------------- change epoch

  it("getChangeEpoch moves after every change to organizations, projects, keys, clients, users, roles and permissions", async (t, store) => {
    const steps: [string, () => Promise<unknown>][] = [
      ["createOrganization", () => store.createOrganization(orgRecord("org-a"))],
      ["updateOrganization", () => store.updateOrganization("org-a", { name: "Renamed" })],
      ["createProject", () => store.createProject(projectRecord(A))],
      ["updateProject", () => store.updateProject(A, { name: "Renamed", audience: "https://renamed.example" })],
      ["addSigningKey", () => store.addSigningKey(keyRecord(A, "k-1"))],
      ["retireSigningKeys", () => store.retireSigningKeys(A, 100, 200)],
      ["createClient", () => store.createClient(clientRecord(A, "web"))],
      ["updateClient", () => store.updateClient(clientRecord(A, "web", { name: "Renamed" }))],
      ["setClientSecret", () => store.setClientSecret(A, "web", "new-hash")],
      ["createUser", () => store.createUser(userRecord(A, "alice"))],
      ["updateUser", () => store.updateUser(userRecord(A, "alice", { enabled: false }))],
      ["setUserPassword", () => store.setUserPassword(A, "alice", "new-hash")],
      ["createPermission", () => store.createPermission(permissionRecord(A, READ))],
      ["createRole", () => store.createRole(roleRecord(A, "reader", [READ]))],
      ["assignRole (user)", () => store.assignRole(A, { userId: "alice" }, "reader")],
      ["assignRole (client)", () => store.assignRole(A, { clientId: "web" }, "reader")],
      ["unassignRole (user)", () => store.unassignRole(A, { userId: "alice" }, "reader")],
      ["unassignRole (client)", () => store.unassignRole(A, { clientId: "web" }, "reader")],
      ["deletePermission", () => store.deletePermission(A, READ)],
      ["deleteRole", () => store.deleteRole(A, "reader")],
      ["deleteUser", () => store.deleteUser(A, "alice")],
      ["deleteClient", () => store.deleteClient(A, "web")],
      ["deleteProject", () => store.deleteProject(A)],
      ["deleteOrganization", () => store.deleteOrganization("org-a")],
    ];
    let epoch = await store.getChangeEpoch();
    t.is(typeof epoch, "number");
    for (const [label, step] of steps) {
      await step();
      const next = await store.getChangeEpoch();
      t.is(typeof next, "number", label);
      t.not(next, epoch, `${label} moves the change epoch`);
      epoch = next;
    }
  });

  it("getChangeEpoch does not move after writes of token state, but for grants' revocations where grants are kept in memory", async (t, store) => {
    await seedProject(store, A);
    await store.createClient(clientRecord(A, "web", { rememberConsent: true }));
    await store.createUser(userRecord(A, "alice"));
    // [label, step, whether it moves the epoch where revocations do]
    const steps: [string, () => Promise<unknown>, boolean][] = [
      ["createAuthorizationRequest", () => store.createAuthorizationRequest(requestRecord(A, "req-1")), false],
      ["recordFailedLogin", () => store.recordFailedLogin("req-1"), false],
      ["authenticateAuthorizationRequest", () => store.authenticateAuthorizationRequest("req-1", { userId: "alice", authTime: 1, offeredScopes: [READ], sessionId: "", acr: "", amr: [] }), false],
      ["consumeAuthorizationRequest", () => store.consumeAuthorizationRequest("req-1"), false],
      ["createAuthorizationCode", () => store.createAuthorizationCode(codeRecord(A, "code-1")), false],
      ["createGrant (a user's)", () => store.createGrant(grantRecord(A, "grant-1")), false],
      ["consumeAuthorizationCode", () => store.consumeAuthorizationCode("code-1", "grant-1", 1_010), false],
      ["extendGrant (a user's)", () => store.extendGrant("grant-1", 200_000), false],
      ["createRefreshToken", () => store.createRefreshToken(refreshRecord("rt-1", "grant-1")), false],
      ["rotateRefreshToken", () => store.rotateRefreshToken("rt-1", 1_020), false],
      ["rememberConsent", () => store.rememberConsent(consentRecord(A, "alice", "web", [READ])), false],
      ["revokeConsent (revokes grant-1)", () => store.revokeConsent(A, "alice", "web", 1_030), true],
      ["revokeGrant (already revoked)", () => store.revokeGrant("grant-1", 1_040), false],
      ["createGrant (another user's)", () => store.createGrant(grantRecord(A, "grant-2")), false],
      ["revokeGrant", () => store.revokeGrant("grant-2", 1_040), true],
      ["createGrant (a third)", () => store.createGrant(grantRecord(A, "grant-3")), false],
      ["revokeUserGrants", () => store.revokeUserGrants(A, "alice", 1_050), true],
      ["createGrant (a client's)", () => store.createGrant(clientGrantRecord(A, "grant-c", { clientId: "web" })), true],
      ["extendGrant (a client's)", () => store.extendGrant("grant-c", 300_000), true],
      ["extendGrant (a client's, not further)", () => store.extendGrant("grant-c", 250_000), false],
      ["recordLoginFailure", () => store.recordLoginFailure("user:alice", 1_060, { maxFailures: 1, windowSeconds: 60, lockoutSeconds: 60 }), false],
      ["clearLoginFailures", () => store.clearLoginFailures("user:alice"), false],
      ["createSession", () => store.createSession(sessionRecord(A, "sid-1")), false],
      ["touchSession", () => store.touchSession(A, "sid-1", 1_070, "web"), false],
      ["reauthenticateSession", () => store.reauthenticateSession(A, "sid-1", { secretHash: "s2", authTime: 1_080, amr: ["pwd"], acr: "", lastSeenAt: 1_080, expiresAt: 9_000 }), false],
      ["endSession (no grant of it)", () => store.endSession(A, "sid-1", 1_090), false],
      ["createSession", () => store.createSession(sessionRecord(A, "sid-2")), false],
      ["endUserSessions (no grant of them)", () => store.endUserSessions(A, "alice", 1_100), false],
      ["recordLogoutDelivery", () => store.recordLogoutDelivery(deliveryRecord(A, "sid-1")), false],
      ["purgeExpired (token state only, grants among it)", () => store.purgeExpired(1_000_000), true],
    ];
    let epoch = await store.getChangeEpoch();
    for (const [label, step, revokes] of steps) {
      await step();
      const next = await store.getChangeEpoch();
      if (revokes && backend.revocationsMoveEpoch) t.true(next > epoch, `${label} moves the change epoch`);
      else t.is(next, epoch, `${label} leaves the change epoch`);
      epoch = next;
    }
    t.is(await store.getGrant("grant-1"), undefined, "purgeExpired did purge token state");
  });

  // ------------------------------------------------------------ memory

  it("the store under test is the caching layer: what administration holds is answered from memory until it changes", async (t, store) => {
    t.is(typeof (store as unknown as { cachedReads?: unknown }).cachedReads, "number", "the store exposes what it keeps");
    await seedProject(store, A);
    await store.createClient(clientRecord(A, "web"));
    const first = await store.getClient(A, "web");
    t.is(await store.getClient(A, "web"), first, "the same frozen record: answered from memory");
    t.true(Object.isFrozen(first) && Object.isFrozen(first!.redirectUris));
    await store.createGrant(grantRecord(A, "grant-1"));
    t.is(await store.getClient(A, "web"), first, "token state leaves it");
    await store.updateClient(clientRecord(A, "web", { name: "Renamed" }));
    t.is((await store.getClient(A, "web"))!.name, "Renamed", "administration drops it");
  });

  // ------------------------------------------------------------ consents

  it("rememberConsent merges the scopes (union, sorted) and keeps the latest time; listConsents is ordered by client id", async (t, store) => {
    await seedProject(store, A);
    for (const id of ["web", "api", "Zeta"]) await store.createClient(clientRecord(A, id));
    await store.createUser(userRecord(A, "alice"));
    await store.createUser(userRecord(A, "bob"));
    t.is(await store.getConsent(A, "alice", "web"), undefined);
    await store.rememberConsent(consentRecord(A, "alice", "web", ["openid", READ], 100));
    t.deepEqual(await store.getConsent(A, "alice", "web"), consentRecord(A, "alice", "web", [READ, "openid"], 100));
    await store.rememberConsent(consentRecord(A, "alice", "web", ["profile", READ], 200));
    t.deepEqual(await store.getConsent(A, "alice", "web"), consentRecord(A, "alice", "web", [READ, "openid", "profile"], 200));
    await store.rememberConsent(consentRecord(A, "alice", "api", [WRITE], 300));
    await store.rememberConsent(consentRecord(A, "alice", "Zeta", [], 400));
    await store.rememberConsent(consentRecord(A, "bob", "web", [READ], 500));
    t.deepEqual(await store.listConsents(A, "alice"), [
      consentRecord(A, "alice", "Zeta", [], 400),
      consentRecord(A, "alice", "api", [WRITE], 300),
      consentRecord(A, "alice", "web", [READ, "openid", "profile"], 200),
    ]);
    t.deepEqual(await store.listConsents(A, "bob"), [consentRecord(A, "bob", "web", [READ], 500)]);
    t.deepEqual(await store.listConsents(A, "carol"), []);
    t.is(await store.getConsent(A, "bob", "api"), undefined);
  });

  it("revokeConsent forgets the consent and revokes the user's grants to the client; false when there was none of either", async (t, store) => {
    await seedProject(store, A);
    for (const id of ["web", "api"]) await store.createClient(clientRecord(A, id));
    for (const id of ["alice", "bob", "carol"]) await store.createUser(userRecord(A, id));
    await store.rememberConsent(consentRecord(A, "alice", "web", [READ]));
    await store.rememberConsent(consentRecord(A, "alice", "api", [READ]));
    const live = grantRecord(A, "g-alice-web");
    const liveRefresh = refreshRecord("rt-alice-web", "g-alice-web");
    const revoked = grantRecord(A, "g-alice-web-old", { revokedAt: 100 });
    const api = grantRecord(A, "g-alice-api", { clientId: "api" });
    const bob = grantRecord(A, "g-bob-web", { userId: "bob" });
    for (const g of [live, revoked, api, bob]) await store.createGrant(g);
    await store.createRefreshToken(liveRefresh);

    t.is(await store.revokeConsent(A, "alice", "web", 500), true);
    t.is(await store.getConsent(A, "alice", "web"), undefined);
    t.deepEqual(await store.getGrant("g-alice-web"), { ...live, revokedAt: 500 });
    t.deepEqual(await store.getRefreshToken("rt-alice-web"), { ...liveRefresh, rotatedAt: 500 });
    t.deepEqual(await store.getGrant("g-alice-web-old"), revoked);
    t.deepEqual(await store.getGrant("g-alice-api"), api);
    t.deepEqual(await store.getGrant("g-bob-web"), bob);
    t.deepEqual(await store.listConsents(A, "alice"), [consentRecord(A, "alice", "api", [READ])]);

    t.is(await store.revokeConsent(A, "alice", "web", 600), false, "nothing left: consent gone, grants revoked");
    t.deepEqual(await store.getGrant("g-alice-web"), { ...live, revokedAt: 500 });
    t.is(await store.revokeConsent(A, "bob", "web", 700), true, "a live grant without consent");
    t.deepEqual(await store.getGrant("g-bob-web"), { ...bob, revokedAt: 700 });
    t.is(await store.revokeConsent(A, "carol", "web", 800), false);
  });

  // ------------------------------------------------------- login throttle

  it("recordLoginFailure counts within the window, locks at maxFailures, and starts a new window once it ends", async (t, store) => {
    const policy: LoginFailurePolicy = { maxFailures: 3, windowSeconds: 60, lockoutSeconds: 300 };
    t.deepEqual(await store.recordLoginFailure("user:a", 1_000, policy), { failures: 1, lockedUntil: 0 });
    t.deepEqual(await store.recordLoginFailure("user:a", 1_010, policy), { failures: 2, lockedUntil: 0 });
    t.is(await store.lockedUntil(["user:a"], 1_010), 0);
    t.deepEqual(await store.recordLoginFailure("user:a", 1_020, policy), { failures: 3, lockedUntil: 1_320 });
    t.is(await store.lockedUntil(["user:a"], 1_020), 1_320);
    t.is(await store.lockedUntil(["user:a"], 1_319), 1_320);
    t.is(await store.lockedUntil(["user:a"], 1_320), 0, "a lock ends at lockedUntil");
    // A failure while locked counts on and extends the lock.
    t.deepEqual(await store.recordLoginFailure("user:a", 1_100, policy), { failures: 4, lockedUntil: 1_400 });
    t.is(await store.lockedUntil(["user:a"], 1_100), 1_400);
    // The lock ends its window: the next failure after it starts afresh.
    t.deepEqual(await store.recordLoginFailure("user:a", 1_400, policy), { failures: 1, lockedUntil: 0 });
    t.is(await store.lockedUntil(["user:a"], 1_400), 0);

    // Without a lock, the window ends windowSeconds after its first failure.
    t.deepEqual(await store.recordLoginFailure("user:b", 1_000, policy), { failures: 1, lockedUntil: 0 });
    t.deepEqual(await store.recordLoginFailure("user:b", 1_059, policy), { failures: 2, lockedUntil: 0 });
    t.deepEqual(await store.recordLoginFailure("user:b", 1_060, policy), { failures: 1, lockedUntil: 0 });
    t.deepEqual(await store.recordLoginFailure("user:b", 1_100, policy), { failures: 2, lockedUntil: 0 });
    t.deepEqual(await store.recordLoginFailure("user:b", 1_119, policy), { failures: 3, lockedUntil: 1_419 });
    t.is(await store.lockedUntil(["user:b"], 1_119), 1_419);
  });

  it("lockedUntil answers the latest future lock among the keys; clearLoginFailures forgets a key", async (t, store) => {
    const lockAtOnce: LoginFailurePolicy = { maxFailures: 1, windowSeconds: 60, lockoutSeconds: 300 };
    await store.recordLoginFailure("k-a", 1_000, lockAtOnce); // until 1300
    await store.recordLoginFailure("k-b", 1_200, lockAtOnce); // until 1500
    await store.recordLoginFailure("k-c", 500, lockAtOnce); // until 800: past
    await store.recordLoginFailure("k-d", 1_000, { maxFailures: 5, windowSeconds: 60, lockoutSeconds: 300 }); // not locked
    t.is(await store.lockedUntil(["k-a", "k-b", "k-c", "k-d", "k-unknown"], 1_100), 1_500);
    t.is(await store.lockedUntil(["k-b", "k-a"], 1_100), 1_500);
    t.is(await store.lockedUntil(["k-a"], 1_100), 1_300);
    t.is(await store.lockedUntil(["k-a", "k-c"], 1_300), 0);
    t.is(await store.lockedUntil(["k-a", "k-b"], 1_300), 1_500);
    t.is(await store.lockedUntil(["k-c", "k-d", "k-unknown"], 1_100), 0);
    t.is(await store.lockedUntil([], 1_100), 0);
    await store.clearLoginFailures("k-b");
    t.is(await store.lockedUntil(["k-a", "k-b"], 1_100), 1_300);
    t.deepEqual(await store.recordLoginFailure("k-b", 1_210, { maxFailures: 2, windowSeconds: 60, lockoutSeconds: 300 }), {
      failures: 1,
      lockedUntil: 0,
    });
    await t.notThrowsAsync(store.clearLoginFailures("k-unknown"));
  });

  it("10 concurrent login failures of one key: none is lost", async (t, store) => {
    const policy: LoginFailurePolicy = { maxFailures: 10, windowSeconds: 600, lockoutSeconds: 900 };
    const results = await Promise.all(Array.from({ length: 10 }, () => store.recordLoginFailure("user:race", 5_000, policy)));
    t.deepEqual(
      results.map((r) => r.failures).sort((x, y) => x - y),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    t.deepEqual(results.find((r) => r.failures === 10), { failures: 10, lockedUntil: 5_900 });
    t.is(results.filter((r) => r.lockedUntil !== 0).length, 1);
    t.is(await store.lockedUntil(["user:race"], 5_000), 5_900);
    t.deepEqual(await store.recordLoginFailure("user:race", 5_001, policy), { failures: 11, lockedUntil: 5_901 });
  });

  // --------------------------------------------------------- transactions

  it("a transaction whose fn throws leaves nothing it wrote, and the error propagates", async (t, store) => {
    await seedProject(store, A);
    const boom = new Error("boom");
    const thrown = await t.throwsAsync(
      store.transaction(async (tx) => {
        await tx.createOrganization(orgRecord("org-tx"));
        await tx.createClient(clientRecord(A, "web"));
        await tx.createGrant(grantRecord(A, "grant-tx"));
        t.deepEqual(await tx.getClient(A, "web"), clientRecord(A, "web"), "seen inside");
        throw boom;
      }),
    );
    t.is(thrown, boom);
    t.is(await store.getOrganization("org-tx"), undefined);
    t.is(await store.getClient(A, "web"), undefined);
    t.deepEqual(await store.listClients(A, ALL), []);
    t.is(await store.getGrant("grant-tx"), undefined);
    // Nothing half-done is left: the same rows can be written now.
    await store.createOrganization(orgRecord("org-tx"));
    await store.createClient(clientRecord(A, "web"));
    t.deepEqual(await store.getOrganization("org-tx"), orgRecord("org-tx"));
    t.deepEqual(await store.getClient(A, "web"), clientRecord(A, "web"));
  });

  it("a transaction that ends keeps every write and answers fn's result", async (t, store) => {
    await seedProject(store, A);
    const result = await store.transaction(async (tx) => {
      await tx.createClient(clientRecord(A, "web"));
      await tx.createUser(userRecord(A, "alice"));
      await tx.createGrant(grantRecord(A, "grant-tx"));
      t.is(await tx.rotateRefreshToken("rt-none", 1), false);
      return { answer: 42 };
    });
    t.deepEqual(result, { answer: 42 });
    t.deepEqual(await store.getClient(A, "web"), clientRecord(A, "web"));
    t.deepEqual(await store.getUser(A, "alice"), userRecord(A, "alice"));
    t.deepEqual(await store.getGrant("grant-tx"), grantRecord(A, "grant-tx"));
  });

  it("calls through the root store inside a transaction's flow join it instead of deadlocking", async (t, store) => {
    await seedProject(store, A);
    const result = await within(
      store.transaction(async (tx) => {
        await tx.createClient(clientRecord(A, "web"));
        // Through the root store, and through a nested transaction, in this flow.
        t.deepEqual(await store.getClient(A, "web"), clientRecord(A, "web"));
        await store.createUser(userRecord(A, "alice"));
        const nested = await store.transaction(async (inner) => {
          await inner.createGrant(grantRecord(A, "grant-nested"));
          return "nested";
        });
        await Promise.all([store.getUser(A, "alice"), tx.getGrant("grant-nested"), store.getOrganization("org-a")]);
        return nested;
      }),
      "transaction with nested root-store calls",
    );
    t.is(result, "nested");
    t.deepEqual(await store.getClient(A, "web"), clientRecord(A, "web"));
    t.deepEqual(await store.getUser(A, "alice"), userRecord(A, "alice"));
    t.deepEqual(await store.getGrant("grant-nested"), grantRecord(A, "grant-nested"));
  });

  it("writes through the root store inside a transaction's flow roll back with it", async (t, store) => {
    await seedProject(store, A);
    const boom = new Error("boom");
    const thrown = await t.throwsAsync(
      within(
        store.transaction(async (tx) => {
          await tx.createClient(clientRecord(A, "web"));
          await store.createUser(userRecord(A, "alice"));
          await store.transaction(async (inner) => inner.createGrant(grantRecord(A, "grant-nested")));
          throw boom;
        }),
        "transaction with nested root-store writes",
      ),
    );
    t.is(thrown, boom);
    t.is(await store.getClient(A, "web"), undefined);
    t.is(await store.getUser(A, "alice"), undefined);
    t.is(await store.getGrant("grant-nested"), undefined);
  });

  it("a caller outside a transaction never sees what it wrote and then rolled back", async (t, store) => {
    const written = deferred();
    const gate = deferred();
    const tx = store.transaction(async (s) => {
      await s.createOrganization(orgRecord("org-tx"));
      written.resolve();
      await gate.promise;
      throw new Error("rolled back");
    });
    await written.promise;
    const outside = store.getOrganization("org-tx");
    gate.resolve();
    await t.throwsAsync(tx, { message: "rolled back" });
    t.is(await within(outside, "a read outside the transaction"), undefined);
    t.is(await store.getOrganization("org-tx"), undefined);
    t.is(await store.isEmpty(), true);
  });

  // ------------------------------------------------------------ purge

  it("purgeExpired removes what has expired, keeps what lives, and counts per table", async (t, store) => {
    const now = 10_000;
    await seedProject(store, A);
    // Authorization requests: gone once past their expiry.
    const requests = {
      old: requestRecord(A, "req-old", { expiresAt: now - 1 }),
      edge: requestRecord(A, "req-edge", { expiresAt: now }),
      live: requestRecord(A, "req-live", { expiresAt: now + 500 }),
    };
    for (const r of Object.values(requests)) await store.createAuthorizationRequest(r);
    // Codes: kept an hour past their expiry (a late replay still revokes).
    const codes = {
      old: codeRecord(A, "code-old", { expiresAt: now - 3_601 }),
      oldUsed: codeRecord(A, "code-old-used", { expiresAt: now - 4_000, consumedAt: now - 4_030, grantId: "grant-x" }),
      edge: codeRecord(A, "code-edge", { expiresAt: now - 3_600 }),
      recent: codeRecord(A, "code-recent", { expiresAt: now - 1_000, consumedAt: now - 1_030, grantId: "grant-y" }),
      live: codeRecord(A, "code-live", { expiresAt: now + 60 }),
    };
    for (const c of Object.values(codes)) await store.createAuthorizationCode(c);
    // Grants and refresh tokens.
    const grants = {
      old: grantRecord(A, "grant-old", { expiresAt: now - 1_000 }),
      edge: grantRecord(A, "grant-edge", { expiresAt: now }),
      live: grantRecord(A, "grant-live", { expiresAt: now + 5_000 }),
    };
    for (const g of Object.values(grants)) await store.createGrant(g);
    const tokens = {
      ofOldGrant: refreshRecord("rt-of-old-grant", "grant-old", { expiresAt: now - 1_000 }),
      old: refreshRecord("rt-old", "grant-live", { expiresAt: now - 1 }),
      edge: refreshRecord("rt-edge", "grant-live", { expiresAt: now }),
      live: refreshRecord("rt-live", "grant-live", { expiresAt: now + 5_000 }),
    };
    for (const r of Object.values(tokens)) await store.createRefreshToken(r);
    // Signing keys: a retired key goes past its expiresAt; the current one stays.
    const keys = {
      current: keyRecord(A, "k-current", { createdAt: 5_000 }),
      live: keyRecord(A, "k-live", { createdAt: 4_000, retiredAt: 5_000, expiresAt: now + 1 }),
      edge: keyRecord(A, "k-edge", { createdAt: 3_000, retiredAt: 4_000, expiresAt: now }),
      old: keyRecord(A, "k-old", { createdAt: 2_000, retiredAt: 3_000, expiresAt: now - 1 }),
    };
    for (const k of Object.values(keys)) await store.addSigningKey(k);
    // Login failures: gone once both the window and any lock have ended.
    const policy: LoginFailurePolicy = { maxFailures: 3, windowSeconds: 60, lockoutSeconds: 100 };
    await store.recordLoginFailure("lf-stale", now - 100, policy); // window ended at now - 40
    await store.recordLoginFailure("lf-edge", now - 60, policy); // window ends at now
    await store.recordLoginFailure("lf-window", now - 10, policy); // window ends at now + 50
    for (const at of [now - 50, now - 50, now - 50]) await store.recordLoginFailure("lf-locked", at, policy); // locked until now + 50
    for (const at of [now - 200, now - 200, now - 200]) await store.recordLoginFailure("lf-lock-over", at, policy); // locked until now - 100

    t.deepEqual(await store.purgeExpired(now), {
      authorization_requests: 1,
      // Pushed requests: their own contract (par-contract.ts).
      pushed_authorization_requests: 0,
      authorization_codes: 2,
      refresh_tokens: 2,
      grants: 1,
      signing_keys: 1,
      login_failures: 3,
      sessions: 0,
      logout_deliveries: 0,
      ceremonies: 0,
      dpop_proofs: 0,
      initial_access_tokens: 0,
      metadata_document_clients: 0,
    });

    t.is(await store.getAuthorizationRequest("req-old"), undefined);
    t.deepEqual(await store.getAuthorizationRequest("req-edge"), requests.edge);
    t.deepEqual(await store.getAuthorizationRequest("req-live"), requests.live);
    t.is(await store.getAuthorizationCode("code-old"), undefined);
    t.is(await store.getAuthorizationCode("code-old-used"), undefined);
    t.deepEqual(await store.getAuthorizationCode("code-edge"), codes.edge);
    t.deepEqual(await store.getAuthorizationCode("code-recent"), codes.recent);
    t.deepEqual(await store.getAuthorizationCode("code-live"), codes.live);
    t.is(await store.getGrant("grant-old"), undefined);
    t.deepEqual(await store.getGrant("grant-edge"), grants.edge);
    t.deepEqual(await store.getGrant("grant-live"), grants.live);
    t.is(await store.getRefreshToken("rt-of-old-grant"), undefined);
    t.is(await store.getRefreshToken("rt-old"), undefined);
    t.deepEqual(await store.getRefreshToken("rt-edge"), tokens.edge);
    t.deepEqual(await store.getRefreshToken("rt-live"), tokens.live);
    t.deepEqual(await store.listSigningKeys(A), [keys.current, keys.live, keys.edge]);
    // Survivors of login_failures keep counting; purged keys start over.
    t.is(await store.lockedUntil(["lf-locked"], now), now + 50);
    t.deepEqual(await store.recordLoginFailure("lf-window", now + 1, policy), { failures: 2, lockedUntil: 0 });

    t.deepEqual(await store.purgeExpired(now), {
      authorization_requests: 0,
      pushed_authorization_requests: 0,
      authorization_codes: 0,
      refresh_tokens: 0,
      grants: 0,
      signing_keys: 0,
      login_failures: 0,
      sessions: 0,
      logout_deliveries: 0,
      ceremonies: 0,
      dpop_proofs: 0,
      initial_access_tokens: 0,
      metadata_document_clients: 0,
    });
    // Later, the survivors expire in turn; a code once its hour is over.
    t.deepEqual(await store.purgeExpired(now + 3_000), {
      authorization_requests: 2,
      pushed_authorization_requests: 0,
      authorization_codes: 2,
      refresh_tokens: 1,
      grants: 1,
      signing_keys: 2,
      login_failures: 2,
      sessions: 0,
      logout_deliveries: 0,
      ceremonies: 0,
      dpop_proofs: 0,
      initial_access_tokens: 0,
      metadata_document_clients: 0,
    });
    t.is(await store.getAuthorizationCode("code-recent"), undefined);
    t.deepEqual(await store.getAuthorizationCode("code-live"), codes.live);
    t.deepEqual(await store.getRefreshToken("rt-live"), tokens.live);
    t.deepEqual(await store.listSigningKeys(A), [keys.current]);
  });

  sessionContract(it);
  auditContract(it, contended);
}

type It = (title: string, body: (t: ExecutionContext, store: Store) => Promise<void>) => void;

/** Sign-in sessions, their logout deliveries, and the OpenID fields of the other records. */
function sessionContract(it: It): void {
  /** A project with the web client and alice. */
  const seed = async (store: Store, ref: ProjectRef = A) => {
    await seedProject(store, ref);
    await store.createClient(clientRecord(ref, "web"));
    await store.createUser(userRecord(ref, "alice"));
  };
  const change = (secretHash: string, at: number) => ({ secretHash, authTime: at, amr: ["pwd", "otp"], acr: "urn:iam:mfa", lastSeenAt: at, expiresAt: at + 40_000 });

  // ------------------------------------------------------------ OpenID fields

  it("a project's access token algorithm round-trips; updateProject changes it only when given", async (t, store) => {
    await store.createOrganization(orgRecord("org-a"));
    const project = projectRecord(A, { accessTokenSigningAlg: "RS256" });
    await store.createProject(project);
    t.deepEqual(await store.getProject(A), project);
    t.is(await store.updateProject(A, { name: "Renamed", audience: project.audience }), true);
    t.deepEqual(await store.getProject(A), { ...project, name: "Renamed" }, "kept when not given");
    t.is(await store.updateProject(A, { name: "Renamed", audience: project.audience, accessTokenSigningAlg: "ES256" }), true);
    t.deepEqual(await store.getProject(A), { ...project, name: "Renamed", accessTokenSigningAlg: "ES256" });
    t.deepEqual(await store.listProjects("org-a", ALL), [{ ...project, name: "Renamed", accessTokenSigningAlg: "ES256" }]);
  });

  it("a client's logout, ID token and CORS settings round-trip, and updateClient writes each of them", async (t, store) => {
    await seedProject(store, A);
    const client = clientRecord(A, "spa", {
      type: "public",
      secretHash: null,
      postLogoutRedirectUris: ["https://app.example/bye", "https://app.example/bye?lang=fr"],
      backchannelLogoutUri: "https://app.example/backchannel",
      idTokenSignedResponseAlg: "ES256",
      webOrigins: ["https://app.example", "http://127.0.0.1:5173"],
    });
    await store.createClient(client);
    t.deepEqual(await store.getClient(A, "spa"), client);
    const changed: ClientRecord = {
      ...client,
      postLogoutRedirectUris: [],
      backchannelLogoutUri: "",
      idTokenSignedResponseAlg: "RS256",
      webOrigins: ["https://other.example"],
    };
    t.is(await store.updateClient(changed), true);
    t.deepEqual(await store.getClient(A, "spa"), changed);
    t.deepEqual(await store.listClients(A, ALL), [changed]);
  });

  it("a user's email_verified, given and family names round-trip, and updateUser writes them", async (t, store) => {
    await seedProject(store, A);
    const user = userRecord(A, "alice", { emailVerified: true, givenName: "Alice", familyName: "Liddell" });
    await store.createUser(user);
    t.deepEqual(await store.getUser(A, "alice"), user);
    const changed = { ...user, name: "Alice L.", email: "al@example.com", emailVerified: false, givenName: "Ally", familyName: "", enabled: false };
    t.is(await store.updateUser(changed), true);
    t.deepEqual(await store.getUser(A, "alice"), changed);
    t.deepEqual(await store.listUsers(A, ALL), [changed]);
  });

  it("requests, codes and grants carry their session, acr, amr and claims (and a request its forced consent)", async (t, store) => {
    await seed(store);
    await store.createSession(sessionRecord(A, "sid-1"));
    const claims = JSON.stringify({ id_token: { email: { essential: true } }, userinfo: { given_name: null } });
    const oidc = { sessionId: "sid-1", acr: "urn:iam:mfa", amr: ["pwd", "otp"], claims };
    const request = requestRecord(A, "req-1", { ...oidc, forceConsent: true, userId: "alice", authTime: 990, offeredScopes: [READ] });
    await store.createAuthorizationRequest(request);
    t.deepEqual(await store.getAuthorizationRequest("req-1"), request);
    const code = codeRecord(A, "code-1", oidc);
    await store.createAuthorizationCode(code);
    t.deepEqual(await store.getAuthorizationCode("code-1"), code);
    const grant = grantRecord(A, "grant-1", oidc);
    await store.createGrant(grant);
    t.deepEqual(await store.getGrant("grant-1"), grant);
    t.is(await store.consumeAuthorizationCode("code-1", "grant-1", 1_010), true);
    t.deepEqual(await store.getAuthorizationCode("code-1"), { ...code, consumedAt: 1_010, grantId: "grant-1" });
  });

  // ------------------------------------------------------------ sessions

  it("a session round-trips, found by its secret and by its id in its own project only", async (t, store) => {
    await seed(store);
    await seed(store, B);
    const session = sessionRecord(A, "sid-1", { amr: ["pwd", "otp"], acr: "urn:iam:mfa", clients: ["web"], userAgent: "curl/8 \u00e9" });
    await store.createSession(session);
    t.deepEqual(await store.getSession(A, "sid-1"), session);
    t.deepEqual(await store.findSessionBySecret(session.secretHash), session);
    t.is(await store.getSession(B, "sid-1"), undefined, "another organization's project of the same id");
    t.is(await store.getSession(A, "sid-2"), undefined);
    t.is(await store.findSessionBySecret("secret-of-nobody"), undefined);
    t.is(await store.findSessionBySecret(""), undefined);
  });

  it("a session of a taken id or secret is AlreadyExists; the same id in another project is not; an unknown user is refused", async (t, store) => {
    await seed(store);
    await seed(store, B);
    const session = sessionRecord(A, "sid-1");
    await store.createSession(session);
    await t.throwsAsync(store.createSession(sessionRecord(A, "sid-1", { secretHash: "other" })), exists);
    await t.throwsAsync(store.createSession(sessionRecord(A, "sid-2", { secretHash: session.secretHash })), exists);
    t.deepEqual(await store.getSession(A, "sid-1"), session);
    t.is(await store.getSession(A, "sid-2"), undefined);
    const other = sessionRecord(B, "sid-1");
    await store.createSession(other);
    t.deepEqual(await store.getSession(B, "sid-1"), other);
    await t.throwsAsync(store.createSession(sessionRecord(A, "sid-3", { userId: "nobody" })), { any: true });
    t.is(await store.getSession(A, "sid-3"), undefined);
  });

  it("listUserSessions answers the user's live sessions newest first, none of another user or project", async (t, store) => {
    await seed(store);
    await seed(store, A2);
    await store.createUser(userRecord(A, "bob"));
    const older = sessionRecord(A, "sid-b", { createdAt: 1_000 });
    const newer = sessionRecord(A, "sid-a", { createdAt: 2_000 });
    const tieLow = sessionRecord(A, "sid-c", { createdAt: 1_500 });
    const tieHigh = sessionRecord(A, "sid-d", { createdAt: 1_500 });
    for (const x of [older, newer, tieLow, tieHigh]) await store.createSession(x);
    await store.createSession(sessionRecord(A, "sid-bob", { userId: "bob", createdAt: 3_000 }));
    await store.createSession(sessionRecord(A2, "sid-elsewhere", { createdAt: 3_000 }));
    t.deepEqual(await store.listUserSessions(A, "alice"), [newer, tieHigh, tieLow, older]);
    t.deepEqual(await store.endSession(A, "sid-a", 2_500), newer);
    t.deepEqual(await store.listUserSessions(A, "alice"), [tieHigh, tieLow, older], "an ended session is not listed");
    t.deepEqual(await store.listUserSessions(A, "nobody"), []);
  });

  it("touchSession moves lastSeenAt (never back) and adds a client once, in the order of first sign-in", async (t, store) => {
    await seed(store);
    const session = sessionRecord(A, "sid-1");
    await store.createSession(session);
    t.is(await store.touchSession(A, "sid-1", 1_100, "web"), true);
    t.is(await store.touchSession(A, "sid-1", 1_200, "app"), true);
    t.is(await store.touchSession(A, "sid-1", 1_300, "web"), true);
    t.is(await store.touchSession(A, "sid-1", 1_150, null), true);
    t.deepEqual(await store.getSession(A, "sid-1"), { ...session, lastSeenAt: 1_300, clients: ["web", "app"] });
    t.is(await store.touchSession(A, "sid-2", 1_400, "web"), false, "unknown");
    t.is(await store.touchSession(B, "sid-1", 1_400, "web"), false, "another project's");
    t.deepEqual(await store.getSession(A, "sid-1"), { ...session, lastSeenAt: 1_300, clients: ["web", "app"] });
  });

  it("concurrent touches of one session each add their client: none lost, none twice", async (t, store) => {
    await seed(store);
    await store.createSession(sessionRecord(A, "sid-1"));
    const clients = Array.from({ length: 12 }, (_, i) => `client-${String(i).padStart(2, "0")}`);
    const touches = [...clients, ...clients].map((c, i) => store.touchSession(A, "sid-1", 1_000 + i, c));
    t.true((await within(Promise.all(touches), "concurrent touches")).every(Boolean));
    const after = (await store.getSession(A, "sid-1"))!;
    t.deepEqual([...after.clients].sort(), clients);
    t.is(after.lastSeenAt, 1_000 + touches.length - 1);
  });

  it("reauthenticateSession gives a live session a new secret, auth time, amr and acr; the old secret finds nothing", async (t, store) => {
    await seed(store);
    const session = sessionRecord(A, "sid-1", { clients: ["web"] });
    await store.createSession(session);
    t.is(await store.reauthenticateSession(A, "sid-1", change("secret-new", 5_000)), true);
    const renewed = { ...session, ...change("secret-new", 5_000) };
    t.deepEqual(await store.findSessionBySecret("secret-new"), renewed);
    t.deepEqual(await store.getSession(A, "sid-1"), renewed, "the sid stays, and its clients");
    t.is(await store.findSessionBySecret(session.secretHash), undefined, "no fixation: the old secret is gone");
    t.is(await store.reauthenticateSession(A, "sid-2", change("secret-x", 5_000)), false, "unknown");
    t.is(await store.findSessionBySecret("secret-x"), undefined);
  });

  it("reauthenticateSession to a secret another session holds is AlreadyExists and changes nothing", async (t, store) => {
    await seed(store);
    const one = sessionRecord(A, "sid-1");
    const two = sessionRecord(A, "sid-2");
    await store.createSession(one);
    await store.createSession(two);
    await t.throwsAsync(store.reauthenticateSession(A, "sid-1", change(two.secretHash, 5_000)), exists);
    t.deepEqual(await store.getSession(A, "sid-1"), one);
    t.deepEqual(await store.findSessionBySecret(two.secretHash), two);
  });

  it("endSession ends it, revokes the grants made in it with their refresh tokens, and leaves every other grant", async (t, store) => {
    await seed(store);
    await store.createUser(userRecord(A, "bob"));
    await store.createClient(clientRecord(A, "svc"));
    const session = sessionRecord(A, "sid-1", { clients: ["web", "app"] });
    const sibling = sessionRecord(A, "sid-2");
    await store.createSession(session);
    await store.createSession(sibling);
    const inIt = grantRecord(A, "grant-in", { sessionId: "sid-1" });
    const inItToo = grantRecord(A, "grant-in-2", { sessionId: "sid-1", clientId: "svc" });
    const alreadyRevoked = grantRecord(A, "grant-revoked", { sessionId: "sid-1", revokedAt: 1_500 });
    const inSibling = grantRecord(A, "grant-sibling", { sessionId: "sid-2" });
    const noSession = grantRecord(A, "grant-none");
    const client = clientGrantRecord(A, "grant-client");
    for (const g of [inIt, inItToo, alreadyRevoked, inSibling, noSession, client]) await store.createGrant(g);
    const tokens = {
      inIt: refreshRecord("rt-in", "grant-in"),
      rotated: refreshRecord("rt-rotated", "grant-in", { rotatedAt: 1_700 }),
      inItToo: refreshRecord("rt-in-2", "grant-in-2"),
      inSibling: refreshRecord("rt-sibling", "grant-sibling"),
      noSession: refreshRecord("rt-none", "grant-none"),
    };
    for (const r of Object.values(tokens)) await store.createRefreshToken(r);

    t.deepEqual(await store.endSession(A, "sid-1", 2_000), session, "answers the session as it was");
    t.deepEqual(await store.getSession(A, "sid-1"), { ...session, endedAt: 2_000 });
    t.deepEqual(await store.findSessionBySecret(session.secretHash), { ...session, endedAt: 2_000 }, "still found by its secret, ended");
    t.deepEqual(await store.getGrant("grant-in"), { ...inIt, revokedAt: 2_000 });
    t.deepEqual(await store.getGrant("grant-in-2"), { ...inItToo, revokedAt: 2_000 });
    t.deepEqual(await store.getGrant("grant-revoked"), alreadyRevoked, "an earlier revocation keeps its time");
    t.deepEqual(await store.getRefreshToken("rt-in"), { ...tokens.inIt, rotatedAt: 2_000 });
    t.deepEqual(await store.getRefreshToken("rt-rotated"), tokens.rotated);
    t.deepEqual(await store.getRefreshToken("rt-in-2"), { ...tokens.inItToo, rotatedAt: 2_000 });
    // Another session's grants, grants made in none, the client grant: untouched.
    t.deepEqual(await store.getGrant("grant-sibling"), inSibling);
    t.deepEqual(await store.getGrant("grant-none"), noSession);
    t.deepEqual(await store.getGrant("grant-client"), client);
    t.deepEqual(await store.getRefreshToken("rt-sibling"), tokens.inSibling);
    t.deepEqual(await store.getRefreshToken("rt-none"), tokens.noSession);
    t.deepEqual(await store.getSession(A, "sid-2"), sibling);

    t.is(await store.endSession(A, "sid-1", 3_000), undefined, "ending twice answers undefined");
    t.deepEqual(await store.getSession(A, "sid-1"), { ...session, endedAt: 2_000 }, "and keeps the first end");
    t.is(await store.endSession(A, "sid-unknown", 3_000), undefined);
    t.is(await store.endSession(B, "sid-2", 3_000), undefined, "another project's id");
    t.deepEqual(await store.listUserSessions(A, "alice"), [sibling]);
  });

  it("an ended session can be neither touched nor reauthenticated", async (t, store) => {
    await seed(store);
    const session = sessionRecord(A, "sid-1", { clients: ["web"] });
    await store.createSession(session);
    await store.endSession(A, "sid-1", 2_000);
    t.is(await store.touchSession(A, "sid-1", 2_100, "app"), false);
    t.is(await store.reauthenticateSession(A, "sid-1", change("secret-new", 2_200)), false);
    t.deepEqual(await store.getSession(A, "sid-1"), { ...session, endedAt: 2_000 });
    t.is(await store.findSessionBySecret("secret-new"), undefined);
  });

  it("of two ends of one session at once, exactly one answers it; touches racing the end never revive it", async (t, store) => {
    await seed(store);
    const session = sessionRecord(A, "sid-1");
    await store.createSession(session);
    await store.createGrant(grantRecord(A, "grant-1", { sessionId: "sid-1" }));
    const touches = Array.from({ length: 6 }, (_, i) => store.touchSession(A, "sid-1", 1_500 + i, `c${i}`));
    const ends = [store.endSession(A, "sid-1", 2_000), store.endSession(A, "sid-1", 2_000)];
    const [endings] = await within(Promise.all([Promise.all(ends), Promise.all(touches)]), "ends and touches");
    t.is(endings.filter((e) => e !== undefined).length, 1);
    const after = (await store.getSession(A, "sid-1"))!;
    t.is(after.endedAt, 2_000);
    t.is((await store.getGrant("grant-1"))!.revokedAt, 2_000);
    t.is(await store.touchSession(A, "sid-1", 3_000, "late"), false);
  });

  it("a grant written in an ended or unknown session is written revoked; in a live one, live", async (t, store) => {
    await seed(store);
    await store.createSession(sessionRecord(A, "sid-live"));
    await store.createSession(sessionRecord(A, "sid-ended"));
    await store.endSession(A, "sid-ended", 1_500);
    const live = grantRecord(A, "grant-live", { sessionId: "sid-live" });
    const late = grantRecord(A, "grant-late", { sessionId: "sid-ended" });
    const lost = grantRecord(A, "grant-lost", { sessionId: "sid-unknown" });
    const revoked = grantRecord(A, "grant-revoked", { sessionId: "sid-ended", revokedAt: 1_200 });
    for (const g of [live, late, lost, revoked]) await store.createGrant(g);
    t.deepEqual(await store.getGrant("grant-live"), live);
    t.deepEqual(await store.getGrant("grant-late"), { ...late, revokedAt: 1_500 }, "revoked when its session ended");
    t.deepEqual(await store.getGrant("grant-lost"), { ...lost, revokedAt: lost.createdAt }, "revoked as it is written");
    t.deepEqual(await store.getGrant("grant-revoked"), revoked, "a revocation given is kept");
  });

  it("endUserSessions ends every live session of the user with their grants, newest first; others' stay", async (t, store) => {
    await seed(store);
    await seed(store, A2);
    await store.createUser(userRecord(A, "bob"));
    const first = sessionRecord(A, "sid-1", { createdAt: 1_000, clients: ["web"] });
    const second = sessionRecord(A, "sid-2", { createdAt: 1_100 });
    const ended = sessionRecord(A, "sid-0", { createdAt: 900 });
    const bobs = sessionRecord(A, "sid-bob", { userId: "bob" });
    const elsewhere = sessionRecord(A2, "sid-1");
    for (const x of [first, second, ended, bobs, elsewhere]) await store.createSession(x);
    await store.endSession(A, "sid-0", 1_200);
    const grants = {
      first: grantRecord(A, "grant-1", { sessionId: "sid-1" }),
      second: grantRecord(A, "grant-2", { sessionId: "sid-2" }),
      bob: grantRecord(A, "grant-bob", { userId: "bob", sessionId: "sid-bob" }),
      elsewhere: grantRecord(A2, "grant-elsewhere", { sessionId: "sid-1" }),
      none: grantRecord(A, "grant-none"),
    };
    for (const g of Object.values(grants)) await store.createGrant(g);
    await store.createRefreshToken(refreshRecord("rt-2", "grant-2"));

    t.deepEqual(await store.endUserSessions(A, "alice", 2_000), [second, first]);
    t.deepEqual(await store.listUserSessions(A, "alice"), []);
    t.deepEqual(await store.getSession(A, "sid-0"), { ...ended, endedAt: 1_200 }, "an earlier end keeps its time");
    t.deepEqual(await store.getGrant("grant-1"), { ...grants.first, revokedAt: 2_000 });
    t.deepEqual(await store.getGrant("grant-2"), { ...grants.second, revokedAt: 2_000 });
    t.is((await store.getRefreshToken("rt-2"))!.rotatedAt, 2_000);
    t.deepEqual(await store.getGrant("grant-bob"), grants.bob);
    t.deepEqual(await store.getGrant("grant-elsewhere"), grants.elsewhere, "the same sid in another project");
    t.deepEqual(await store.getGrant("grant-none"), grants.none);
    t.deepEqual(await store.listUserSessions(A, "bob"), [bobs]);
    t.deepEqual(await store.listUserSessions(A2, "alice"), [elsewhere]);
    t.deepEqual(await store.endUserSessions(A, "alice", 3_000), [], "nothing left to end");
    t.deepEqual(await store.endUserSessions(A, "nobody", 3_000), []);
  });

  it("ending a session inside a transaction that fails ends nothing and revokes nothing", async (t, store) => {
    await seed(store);
    const session = sessionRecord(A, "sid-1");
    await store.createSession(session);
    const grant = grantRecord(A, "grant-1", { sessionId: "sid-1" });
    await store.createGrant(grant);
    await t.throwsAsync(
      store.transaction(async (s) => {
        await s.endSession(A, "sid-1", 2_000);
        throw new Error("abort");
      }),
      { message: "abort" },
    );
    t.deepEqual(await store.getSession(A, "sid-1"), session);
    t.deepEqual(await store.getGrant("grant-1"), grant);
  });

  // ------------------------------------------------------------ logout deliveries

  it("logout deliveries are recorded and listed oldest first, per session of a project", async (t, store) => {
    await seed(store);
    await seed(store, B);
    const deliveries = [
      deliveryRecord(A, "sid-1", { at: 2_000 }),
      deliveryRecord(A, "sid-1", { clientId: "app", uri: "https://app2.example/bcl", status: 0, outcome: "failed", attempts: 3, error: "timeout after 5 s", at: 2_010 }),
      deliveryRecord(A, "sid-1", { clientId: "api", status: 503, outcome: "failed", attempts: 2, error: "HTTP 503", at: 2_010 }),
    ];
    for (const d of deliveries) await store.recordLogoutDelivery(d);
    await store.recordLogoutDelivery(deliveryRecord(A, "sid-2"));
    await store.recordLogoutDelivery(deliveryRecord(B, "sid-1", { at: 1_000 }));
    t.deepEqual(await store.listLogoutDeliveries(A, "sid-1"), deliveries, "by time, then in the order recorded");
    t.deepEqual(await store.listLogoutDeliveries(B, "sid-1"), [deliveryRecord(B, "sid-1", { at: 1_000 })]);
    t.deepEqual(await store.listLogoutDeliveries(A, "sid-unknown"), []);
    await t.throwsAsync(store.recordLogoutDelivery(deliveryRecord(A, "sid-1", { outcome: "lost" as "failed" })), { any: true });
  });

  // ------------------------------------------------------------ purge

  it("purgeExpired deletes sessions past their end or ended over a day ago, and deliveries older than 30 days", async (t, store) => {
    await seed(store);
    const now = 10_000_000;
    const day = 86_400;
    const sessions = {
      expired: sessionRecord(A, "sid-expired", { expiresAt: now - 1 }),
      edge: sessionRecord(A, "sid-edge", { expiresAt: now }),
      live: sessionRecord(A, "sid-live", { expiresAt: now + 1_000 }),
      endedLongAgo: sessionRecord(A, "sid-ended-long", { expiresAt: now + 1_000 }),
      endedADay: sessionRecord(A, "sid-ended-day", { expiresAt: now + 1_000 }),
      endedRecently: sessionRecord(A, "sid-ended-recent", { expiresAt: now + 1_000 }),
    };
    for (const x of Object.values(sessions)) await store.createSession(x);
    await store.endSession(A, "sid-ended-long", now - day - 1);
    await store.endSession(A, "sid-ended-day", now - day);
    await store.endSession(A, "sid-ended-recent", now - 60);
    const deliveries = {
      old: deliveryRecord(A, "sid-old", { at: now - 30 * day - 1 }),
      edge: deliveryRecord(A, "sid-edge", { at: now - 30 * day }),
      recent: deliveryRecord(A, "sid-recent", { at: now - day }),
    };
    for (const d of Object.values(deliveries)) await store.recordLogoutDelivery(d);

    const purged = await store.purgeExpired(now);
    t.is(purged.sessions, 2);
    t.is(purged.logout_deliveries, 1);
    t.is(await store.getSession(A, "sid-expired"), undefined);
    t.is(await store.findSessionBySecret(sessions.expired.secretHash), undefined);
    t.is(await store.getSession(A, "sid-ended-long"), undefined);
    t.deepEqual(await store.getSession(A, "sid-edge"), sessions.edge);
    t.deepEqual(await store.getSession(A, "sid-live"), sessions.live);
    t.deepEqual(await store.getSession(A, "sid-ended-day"), { ...sessions.endedADay, endedAt: now - day });
    t.deepEqual(await store.getSession(A, "sid-ended-recent"), { ...sessions.endedRecently, endedAt: now - 60 });
    t.deepEqual(await store.listLogoutDeliveries(A, "sid-old"), []);
    t.deepEqual(await store.listLogoutDeliveries(A, "sid-edge"), [deliveries.edge]);
    t.deepEqual(await store.listLogoutDeliveries(A, "sid-recent"), [deliveries.recent]);

    const later = await store.purgeExpired(now + day);
    t.is(later.sessions, 4, "a day on, every one is past its absolute end");
    t.is(later.logout_deliveries, 1);
    t.deepEqual(await store.listUserSessions(A, "alice"), []);
  });
}

/** The audit trail: chains numbered without gaps, hashed, atomic with the caller's transaction. */
function auditContract(it: It, contended: It): void {
  const event = (ref: ProjectRef, over: Partial<AuditEventInput> = {}): AuditEventInput => ({
    organization: ref.organization,
    project: ref.project,
    timeMs: 1_712_345_678_000,
    action: "CLIENT_CREATED",
    outcome: "success",
    reason: "",
    actor: { kind: "user", id: "alice", project: "iam-admins/iam-admins" },
    target: { kind: "client", id: "web", project: "" },
    clientAddress: "192.0.2.7",
    userAgent: "curl/8.5.0",
    requestId: "req-1",
    changes: [{ field: "redirect_uris", before: "", after: '["https://app.example/cb"]' }],
    grantType: "",
    scopes: [],
    ...over,
  });
  /** Outside a transaction, an append answers the event as stored. */
  const standalone = async (store: Store, e: AuditEventInput): Promise<AuditEventRecord> => {
    const stored = await store.appendAuditEvent(e);
    if (stored === undefined) throw new Error("an append outside a transaction answered no event");
    return stored;
  };

  it("events of a chain are numbered 1, 2, 3, each hashing its predecessor; chains are apart", async (t, store) => {
    const first = await standalone(store, event(A));
    const second = await standalone(store, event(A, { action: "CLIENT_UPDATED", actor: null, target: null, changes: [] }));
    const other = await standalone(store, event(B));
    const server = await standalone(store, event({ organization: "", project: "" }, { action: "ORGANIZATION_CREATED" }));
    t.deepEqual([first.sequence, second.sequence, other.sequence, server.sequence], [1, 2, 1, 1]);
    t.is(first.previousHash, GENESIS_HASH);
    t.is(first.hash, eventHash(GENESIS_HASH, event(A), 1));
    t.is(second.previousHash, first.hash);
    t.is(other.previousHash, GENESIS_HASH);
    t.not(other.hash, first.hash, "the chain's name is part of the hash");
    t.deepEqual(await store.listAuditEvents(A, {}, { after: 0, limit: 10 }), [first, second]);
    t.deepEqual(await store.listAuditEvents({ organization: "", project: "" }, {}, { after: 0, limit: 10 }), [server]);
    t.deepEqual(await store.listAuditChains(), [{ organization: "", project: "" }, A, B]);
  });

  it("an event appended in a transaction that fails is not kept, and its place in the chain is taken by the next", async (t, store) => {
    await standalone(store, event(A));
    await t.throwsAsync(
      store.transaction(async (tx) => {
        await tx.appendAuditEvent(event(A, { requestId: "rolled-back" }));
        throw new Error("refused");
      }),
      { message: "refused" },
    );
    const next = await standalone(store, event(A, { requestId: "req-2" }));
    t.is(next.sequence, 2);
    t.deepEqual((await store.listAuditEvents(A, {}, { after: 0, limit: 10 })).map((e) => e.requestId), ["req-1", "req-2"]);
  });

  contended("appends from many callers at once take distinct places without gaps", async (t, store) => {
    const appended = await Promise.all(Array.from({ length: 20 }, (_, i) => standalone(store, event(A, { requestId: `r${i}` }))));
    t.deepEqual(appended.map((e) => e.sequence).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    const listed = await store.listAuditEvents(A, {}, { after: 0, limit: 100 });
    for (let i = 1; i < listed.length; i++) t.is(listed[i]!.previousHash, listed[i - 1]!.hash);
  });

  contended("transactions appending to two chains in opposite orders at once all commit, each chain numbered without gaps", async (t, store) => {
    const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.transaction(async (tx) => {
          const [first, second] = i % 2 === 0 ? [A, B] : [B, A];
          await tx.appendAuditEvent(event(first, { requestId: `t${i}-1` }));
          await pause();
          await tx.appendAuditEvent(event(second, { requestId: `t${i}-2` }));
        }),
      ),
    );
    for (const chain of [A, B]) {
      const listed = await store.listAuditEvents(chain, {}, { after: 0, limit: 100 });
      t.deepEqual(listed.map((e) => e.sequence), Array.from({ length: 8 }, (_, i) => i + 1));
      for (let i = 1; i < listed.length; i++) t.is(listed[i]!.previousHash, listed[i - 1]!.hash);
    }
  });

  it("listAuditEvents filters by time, actions, outcome, actor and target, after a sequence, at most a page", async (t, store) => {
    await standalone(store, event(A, { timeMs: 1_000, action: "SIGN_IN", outcome: "failure", reason: "wrong password", actor: null, target: { kind: "user", id: "bob", project: "" } }));
    await standalone(store, event(A, { timeMs: 2_000, action: "SIGN_IN", actor: { kind: "user", id: "bob", project: "" }, target: { kind: "user", id: "bob", project: "" } }));
    await standalone(store, event(A, { timeMs: 3_000 }));
    await standalone(store, event(A, { timeMs: 4_000, action: "CLIENT_DELETED" }));
    const seq = async (filter: AuditFilter, after = 0, limit = 10) => (await store.listAuditEvents(A, filter, { after, limit })).map((e) => e.sequence);
    t.deepEqual(await seq({ sinceMs: 2_000, untilMs: 4_000 }), [2, 3]);
    t.deepEqual(await seq({ actions: ["SIGN_IN", "CLIENT_DELETED"] }), [1, 2, 4]);
    t.deepEqual(await seq({ outcome: "failure" }), [1]);
    t.deepEqual(await seq({ actorId: "alice" }), [3, 4]);
    t.deepEqual(await seq({ targetId: "bob" }), [1, 2]);
    t.deepEqual(await seq({}, 2), [3, 4]);
    t.deepEqual(await seq({}, 0, 3), [1, 2, 3]);
    t.deepEqual(await seq({ actorId: "nobody" }), []);
    t.deepEqual(await store.listAuditEvents(B, {}, { after: 0, limit: 10 }), []);
  });

  it("the prefix older than a time is found, never the last event; purging it keeps its checkpoint and the chain goes on", async (t, store) => {
    for (const timeMs of [1_000, 2_000, 3_000, 4_000]) await standalone(store, event(A, { timeMs }));
    t.is(await store.auditPrefixBefore(B, 10_000), undefined, "an empty chain");
    t.is(await store.auditPrefixBefore(A, 1_000), undefined, "nothing older");
    const events = await store.listAuditEvents(A, {}, { after: 0, limit: 10 });
    t.deepEqual(await store.auditPrefixBefore(A, 2_500), { sequence: 2, hash: events[1]!.hash });
    t.deepEqual(await store.auditPrefixBefore(A, 99_000), { sequence: 3, hash: events[2]!.hash }, "all older: all but the last");
    t.is(await store.getAuditCheckpoint(A), undefined);
    const checkpoint = { ...A, sequence: 2, hash: events[1]!.hash, signature: "header.payload.signature", createdAtMs: 5_000 };
    t.is(await store.purgeAuditEvents(checkpoint), 2);
    t.deepEqual(await store.getAuditCheckpoint(A), checkpoint);
    t.deepEqual((await store.listAuditEvents(A, {}, { after: 0, limit: 10 })).map((e) => e.sequence), [3, 4]);
    t.deepEqual(await store.auditPrefixBefore(A, 99_000), { sequence: 3, hash: events[2]!.hash }, "from the first remaining");
    const next = await standalone(store, event(A, { timeMs: 6_000 }));
    t.deepEqual([next.sequence, next.previousHash], [5, events[3]!.hash]);
    const later = { ...checkpoint, sequence: 3, hash: events[2]!.hash, createdAtMs: 7_000 };
    t.is(await store.purgeAuditEvents(later), 1);
    t.deepEqual(await store.getAuditCheckpoint(A), later, "one checkpoint per chain, the latest");
  });

  it("an event's strings round-trip exactly, U+0000 and all", async (t, store) => {
    const odd = event(A, { userAgent: "agent\u0000with nul \uffff", reason: "naïve ✓", grantType: "refresh_token", scopes: ["openid", "docs.files.read"], changes: [{ field: "name", before: '"a"', after: '"b\\u0000"' }] });
    const stored = await standalone(store, odd);
    t.deepEqual(await store.listAuditEvents(A, {}, { after: 0, limit: 1 }), [stored]);
    t.is(stored.hash, eventHash(GENESIS_HASH, odd, 1));
  });
}
