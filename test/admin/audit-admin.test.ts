/**
 * The audit trail of the AdminService: every change, made through the
 * service with a real token, records one event in the same transaction as
 * the change, in the right chain (the server's for organizations and for
 * projects created or deleted, the project's for everything inside it), with
 * the actor of the token, the target, and the fields it set, changed or
 * removed; a refused change records only its refusal. No secret, password,
 * hash, token or private key the run used appears in any event, and every
 * chain's hashes hold. Also the pure diff of core/audit/changes.ts.
 */
import type { CallOptions } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { create } from "@bufbuild/protobuf";
import { ClientType, CreateOrganizationRequestSchema, SetUserPasswordRequestSchema } from "../../gen/iam/v1/admin_pb.js";
import { ADMIN_METHODS } from "../../core/rpc/admin/service.js";
import { OPERATOR } from "../../core/rpc/admin/principal.js";
import { created, deleted, fieldSet, SECRET, secretChanged, updated } from "../../core/audit/changes.js";
import { SERVER_CHAIN } from "../../core/audit/record.js";
import { eventHash, GENESIS_HASH } from "../../core/lib/audit-chain.js";
import type { AuditChange, AuditEventRecord, AuditParty, ProjectRef } from "../../core/store/types.js";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT, queryOf } from "../helpers.js";
import { ACME, clientToken, expectCode, issuerOf, READ, REDIRECT, startAdmin, type AdminTest, type App } from "./rpc-support.js";

// --- what no event may hold ------------------------------------------------------

/** Every secret, password, hash, token and private key this file used or was given. */
const SECRETS = new Set<string>([ADMIN_CLIENT_SECRET, ADMIN_PASSWORD]);
const secret = (value: string): string => {
  if (value !== "") SECRETS.add(value);
  return value;
};

/** What the store holds of a project that must stay out of events: secret and password hashes, private keys. */
async function storedSecrets(c: AdminTest, ref: ProjectRef): Promise<void> {
  const store = c.core.deps.store;
  for (const client of await store.listClients(ref, { after: "", limit: 1000 })) secret(client.secretHash ?? "");
  for (const user of await store.listUsers(ref, { after: "", limit: 1000 })) secret(user.passwordHash);
  for (const key of await store.listSigningKeys(ref)) {
    const jwk = JSON.parse(key.privateJwk) as Record<string, string>;
    for (const part of ["d", "p", "q", "dp", "dq", "qi"]) secret(jwk[part] ?? "");
  }
}

// --- reading the trail -------------------------------------------------------------

const eventsOf = (c: AdminTest, chain: ProjectRef): Promise<AuditEventRecord[]> =>
  c.core.deps.store.listAuditEvents(chain, {}, { after: 0, limit: 100_000 });

/** What an event says, without its time, request and hashes (checked on their own). */
const said = (e: AuditEventRecord) => ({
  organization: e.organization,
  project: e.project,
  sequence: e.sequence,
  action: e.action,
  outcome: e.outcome,
  reason: e.reason,
  actor: e.actor,
  target: e.target,
  changes: e.changes,
});

/** Each event's predecessor is the one before it, its sequence the next, and its hash its own. */
async function chainHolds(t: ExecutionContext, c: AdminTest, chain: ProjectRef): Promise<number> {
  const events = await eventsOf(c, chain);
  let previous = GENESIS_HASH;
  for (const [i, e] of events.entries()) {
    t.is(e.sequence, i + 1, `${chain.organization}/${chain.project}: sequence without gaps`);
    t.is(e.previousHash, previous, `${chain.organization}/${chain.project} #${e.sequence}: previous hash`);
    t.is(eventHash(e.previousHash, e, e.sequence), e.hash, `${chain.organization}/${chain.project} #${e.sequence}: hash`);
    previous = e.hash;
  }
  return events.length;
}

/** The end of every test: no secret in any event of any chain it wrote, and every chain holds. */
async function trailIsClean(t: ExecutionContext, c: AdminTest, chains: ProjectRef[]): Promise<void> {
  const all: AuditEventRecord[] = [];
  for (const chain of chains) {
    await chainHolds(t, c, chain);
    all.push(...(await eventsOf(c, chain)));
  }
  t.true(all.length > 0);
  const text = JSON.stringify(all);
  const leaked = [...SECRETS].filter((value) => text.includes(value));
  // Counted, not shown: a failing run does not print them either.
  t.is(leaked.length, 0, `${leaked.length} of ${SECRETS.size} secrets appear in an event`);
}

// --- the expected changes, spelled out ----------------------------------------------

const set = (field: string, after: unknown): AuditChange => ({ field, before: "", after: JSON.stringify(after) });
const gone = (field: string, before: unknown): AuditChange => ({ field, before: JSON.stringify(before), after: "" });
const changed = (field: string, before: unknown, after: unknown): AuditChange => ({
  field,
  before: JSON.stringify(before),
  after: JSON.stringify(after),
});
const SECRET_TEXT = JSON.stringify("(secret)");

const party = (kind: AuditParty["kind"], id: string): AuditParty => ({ kind, id, project: "" });
/** The global administrator of the harness: admin-client's client_credentials token of iam-admins. */
const GLOBAL_ADMIN: AuditParty = { kind: "client", id: "admin-client", project: "iam-admins/iam-admins" };

interface Expected {
  action: string;
  target: AuditParty;
  changes: AuditChange[];
}

/** A running core, who acts, and the chains watched for events that should not be there. */
interface Walk {
  c: AdminTest;
  as: CallOptions;
  actor: AuditParty;
  chains: ProjectRef[];
}

const sameChain = (a: ProjectRef, b: ProjectRef) => a.organization === b.organization && a.project === b.project;

/**
 * Makes the change and answers its result, having checked that it added
 * exactly one event, the next of `chain`, a success by the walk's actor as
 * `expected` says (given the result), and nothing to the other chains.
 */
async function records<T>(t: ExecutionContext, w: Walk, chain: ProjectRef, change: () => Promise<T>, expected: (result: T) => Expected): Promise<T> {
  const before = await Promise.all(w.chains.map((ch) => eventsOf(w.c, ch)));
  const result = await change();
  const after = await Promise.all(w.chains.map((ch) => eventsOf(w.c, ch)));
  for (const [i, ch] of w.chains.entries()) {
    const added = after[i]!.slice(before[i]!.length);
    if (!sameChain(ch, chain)) {
      t.deepEqual(added, [], `no event in ${ch.organization}/${ch.project}`);
      continue;
    }
    const want = expected(result);
    if (!t.is(added.length, 1, `${want.action}: one event`)) continue;
    const event = added[0]!;
    t.deepEqual(said(event), {
      organization: chain.organization,
      project: chain.project,
      sequence: before[i]!.length + 1,
      action: want.action,
      outcome: "success",
      reason: "",
      actor: w.actor,
      target: want.target,
      changes: want.changes,
    });
    t.is(event.timeMs, w.c.clock.now(), `${want.action}: time`);
    t.is(event.requestId, requestIdOf(w.as), `${want.action}: the request's id`);
    t.is(event.userAgent, "audit-test/1.0", `${want.action}: the request's User-Agent`);
  }
  return result;
}

/** Makes a change that must be refused with `code`, and checks that only its refusal was recorded, in `chain`. */
async function refused(
  t: ExecutionContext,
  w: Walk,
  chain: ProjectRef,
  change: () => Promise<unknown>,
  code: Code,
  expected: { action: string; target: AuditParty; reason: string },
): Promise<void> {
  const before = await Promise.all(w.chains.map((ch) => eventsOf(w.c, ch)));
  await expectCode(t, change(), code, expected.action);
  const after = await Promise.all(w.chains.map((ch) => eventsOf(w.c, ch)));
  for (const [i, ch] of w.chains.entries()) {
    const added = after[i]!.slice(before[i]!.length).map(said);
    if (!sameChain(ch, chain)) {
      t.deepEqual(added, [], `no event in ${ch.organization}/${ch.project}`);
      continue;
    }
    t.deepEqual(added, [
      {
        organization: chain.organization,
        project: chain.project,
        sequence: before[i]!.length + 1,
        action: expected.action,
        outcome: "failure",
        reason: expected.reason,
        actor: w.actor,
        target: expected.target,
        changes: [],
      },
    ]);
  }
}

const requestIdOf = (options: CallOptions) => new Headers(options.headers).get("x-request-id") ?? "";

/** Call options of a bearer token, with a request id and User-Agent that the events must carry. */
const callsWith = (token: string, requestId: string): CallOptions => ({
  headers: { authorization: `Bearer ${secret(token)}`, "x-request-id": requestId, "user-agent": "audit-test/1.0" },
});

const OTHER: ProjectRef = { organization: "acme", project: "other" };
const user = (value: string) => ({ case: "userId" as const, value });
const client = (value: string) => ({ case: "clientId" as const, value });

/**
 * The code flow in a fresh browser (no session cookie): a new sign-in
 * session, the user's consent to every scope offered (unless remembered), the tokens. Every
 * secret it meets (request id, cookie, code, tokens) is kept in SECRETS.
 */
async function signIn(c: AdminTest, app: App, who: { id: string; password: string }) {
  const auth = await c.authorization.authorize({ ...app.ref, responseType: "code", clientId: app.id, redirectUri: app.redirectUri, state: "st" });
  secret(auth.requestId);
  const login = await c.authorization.login({ ...app.ref, requestId: auth.requestId, username: who.id, password: who.password });
  secret(login.session?.value ?? "");
  // A client that remembers consent goes straight on to the code once it has it.
  const redirectTo =
    login.redirectTo || (await c.authorization.consent({ ...app.ref, requestId: auth.requestId, scopes: login.scopes.map((s) => s.name) })).redirectTo;
  const code = secret(queryOf(redirectTo).get("code") ?? "");
  const tokens = await c.tokens.token({
    ...app.ref,
    grantType: "authorization_code",
    code,
    redirectUri: app.redirectUri,
    basic: { clientId: app.id, clientSecret: app.secret },
  });
  for (const token of [tokens.accessToken, tokens.refreshToken, tokens.idToken]) secret(token);
  return tokens;
}

// --- the diff ------------------------------------------------------------------------

test("changes: a creation lists every field from nothing, a deletion every field to nothing, as JSON", (t) => {
  t.deepEqual(created({ id: "web", redirect_uris: ["https://a/cb"], pkce_required: false, access_token_ttl: 600 }), [
    { field: "id", before: "", after: '"web"' },
    { field: "redirect_uris", before: "", after: '["https://a/cb"]' },
    { field: "pkce_required", before: "", after: "false" },
    { field: "access_token_ttl", before: "", after: "600" },
  ]);
  t.deepEqual(deleted({ id: "reader", permissions: [] }), [
    { field: "id", before: '"reader"', after: "" },
    { field: "permissions", before: "[]", after: "" },
  ]);
});

test("changes: an update lists only the fields whose value differs, lists compared whole", (t) => {
  const before = { name: "Web", redirect_uris: ["https://a/cb"], enabled: true, access_token_ttl: 600 };
  t.deepEqual(updated(before, { ...before }), []);
  t.deepEqual(updated(before, { ...before, redirect_uris: ["https://a/cb", "https://b/cb"], enabled: false }), [
    { field: "redirect_uris", before: '["https://a/cb"]', after: '["https://a/cb","https://b/cb"]' },
    { field: "enabled", before: "true", after: "false" },
  ]);
  t.deepEqual(updated(before, { ...before, redirect_uris: ["https://a/cb"] }), [], "an equal list is no change");
  t.deepEqual(updated({ a: 1 }, { b: 2 }), [
    { field: "b", before: "", after: "2" },
    { field: "a", before: "1", after: "" },
  ]);
});

test("changes: a field named for a secret, a password or a private key never shows its value", (t) => {
  t.is(SECRET, SECRET_TEXT);
  t.deepEqual(created({ id: "web", secret: "s3cr3t-value-0001" }), [
    { field: "id", before: "", after: '"web"' },
    { field: "secret", before: "", after: SECRET_TEXT },
  ]);
  t.deepEqual(deleted({ password_hash: "$argon2id$v=19$x" }), [{ field: "password_hash", before: SECRET_TEXT, after: "" }]);
  t.deepEqual(updated({ client_secret: "old-old-old-old1" }, { client_secret: "new-new-new-new1" }), [
    { field: "client_secret", before: SECRET_TEXT, after: SECRET_TEXT },
  ]);
  t.deepEqual(updated({ password: "same-same" }, { password: "same-same" }), []);
  t.deepEqual(updated({ private_jwk: "{}" }, {}), [{ field: "private_jwk", before: SECRET_TEXT, after: "" }]);
  t.deepEqual(secretChanged("password"), { field: "password", before: SECRET_TEXT, after: SECRET_TEXT });
  t.deepEqual(fieldSet("role_id", undefined, "reader"), { field: "role_id", before: "", after: '"reader"' });
  t.deepEqual(fieldSet("client_id", "web", undefined), { field: "client_id", before: '"web"', after: "" });
  t.deepEqual(fieldSet("secret", "shown?", undefined), { field: "secret", before: SECRET_TEXT, after: "" });
});

// --- every change, as a global administrator ---------------------------------------------

test("every AdminService change records its exact event, in the server's chain or its project's, with the fields it set", async (t) => {
  const c = await startAdmin(t);
  const w: Walk = { c, as: callsWith(c.adminToken, "audit-walk"), actor: GLOBAL_ADMIN, chains: [SERVER_CHAIN, ACME, DEFAULT] };
  const admin = c.admin;
  const as = w.as;
  const now = Math.floor(c.clock.now() / 1000);

  // Organizations and projects created: the server's chain.
  await records(t, w, SERVER_CHAIN, () => admin.createOrganization({ id: "acme", name: "Acme" }, as), () => ({
    action: "ORGANIZATION_CREATED",
    target: party("organization", "acme"),
    changes: [set("id", "acme"), set("name", "Acme"), set("created_at", now)],
  }));
  await records(t, w, SERVER_CHAIN, () => admin.updateOrganization({ id: "acme", name: "Acme Corp" }, as), () => ({
    action: "ORGANIZATION_UPDATED",
    target: party("organization", "acme"),
    changes: [changed("name", "Acme", "Acme Corp")],
  }));
  await records(t, w, SERVER_CHAIN, () => admin.createProject({ organization: "acme", id: "shop", name: "Shop" }, as), () => ({
    action: "PROJECT_CREATED",
    target: party("project", "acme/shop"),
    changes: [
      set("organization", "acme"),
      set("id", "shop"),
      set("name", "Shop"),
      set("audience", issuerOf(ACME)),
      set("issuer", issuerOf(ACME)),
      set("access_token_signing_alg", "ES256"),
      set("require_pushed_authorization_requests", false),
      set("client_registration", ""),
      set("client_id_metadata_documents", false),
      set("created_at", now),
    ],
  }));

  // Inside the project: its own chain.
  await records(t, w, ACME, () => admin.updateProject({ ...ACME, name: "The shop", audience: "", updateMask: { paths: ["name"] } }, as), () => ({
    action: "PROJECT_UPDATED",
    target: party("project", "acme/shop"),
    changes: [changed("name", "Shop", "The shop")],
  }));

  const webSecret = secret("web-secret-0123456789-abcdef");
  const web = await records(
    t,
    w,
    ACME,
    () =>
      admin.createClient(
        {
          ...ACME,
          clientId: "web",
          type: ClientType.CONFIDENTIAL,
          secret: webSecret,
          redirectUris: [REDIRECT],
          grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
          rememberConsent: true,
        },
        as,
      ),
    () => ({
      action: "CLIENT_CREATED",
      target: party("client", "web"),
      changes: [
        set("id", "web"),
        set("name", "web"),
        set("type", "CLIENT_TYPE_CONFIDENTIAL"),
        set("redirect_uris", [REDIRECT]),
        set("grant_types", ["authorization_code", "refresh_token", "client_credentials"]),
        set("pkce_required", false),
        set("remember_consent", true),
        set("access_token_ttl", 600),
        set("refresh_token_ttl", 2_592_000),
        set("post_logout_redirect_uris", []),
        set("backchannel_logout_uri", ""),
        set("id_token_signed_response_alg", "RS256"),
        set("web_origins", []),
        set("require_pushed_authorization_requests", false),
        set("token_endpoint_auth_method", ""),
        set("jwks", ""),
        set("jwks_uri", ""),
        set("dpop_bound_access_tokens", false),
        set("security_profile", ""),
        set("token_exchange_subject_clients", []),
        set("token_exchange_resources", []),
        set("token_exchange_impersonation", false),
        set("may_act_client", ""),
        set("created_at", now),
        { field: "secret", before: "", after: SECRET_TEXT },
      ],
    }),
  );
  t.is(web.secret, webSecret);
  const spa = await records(
    t,
    w,
    ACME,
    () => admin.createClient({ ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: ["https://spa.example/cb"] }, as),
    () => ({
      action: "CLIENT_CREATED",
      target: party("client", "spa"),
      changes: [
        set("id", "spa"),
        set("name", "spa"),
        set("type", "CLIENT_TYPE_PUBLIC"),
        set("redirect_uris", ["https://spa.example/cb"]),
        set("grant_types", ["authorization_code", "refresh_token"]),
        set("pkce_required", true),
        set("remember_consent", false),
        set("access_token_ttl", 600),
        set("refresh_token_ttl", 2_592_000),
        set("post_logout_redirect_uris", []),
        set("backchannel_logout_uri", ""),
        set("id_token_signed_response_alg", "RS256"),
        set("web_origins", []),
        set("require_pushed_authorization_requests", false),
        set("token_endpoint_auth_method", ""),
        set("jwks", ""),
        set("jwks_uri", ""),
        set("dpop_bound_access_tokens", false),
        set("security_profile", ""),
        set("token_exchange_subject_clients", []),
        set("token_exchange_resources", []),
        set("token_exchange_impersonation", false),
        set("may_act_client", ""),
        set("created_at", now),
      ],
    }),
  );
  t.is(spa.secret, "", "a public client has no secret, and its event none");

  const REDIRECT_2 = "https://web.example/other-cb";
  await records(
    t,
    w,
    ACME,
    () =>
      admin.updateClient(
        {
          ...ACME,
          clientId: "web",
          name: "web",
          redirectUris: [REDIRECT, REDIRECT_2],
          accessTokenTtl: 900n,
          updateMask: { paths: ["name", "redirect_uris", "access_token_ttl"] },
        },
        as,
      ),
    () => ({
      action: "CLIENT_UPDATED",
      target: party("client", "web"),
      // The name was in the mask but kept its value: not a change.
      changes: [changed("redirect_uris", [REDIRECT], [REDIRECT, REDIRECT_2]), changed("access_token_ttl", 600, 900)],
    }),
  );
  const rotatedSecret = secret("web-secret-rotated-9876543210");
  await records(t, w, ACME, () => admin.rotateClientSecret({ ...ACME, clientId: "web", secret: rotatedSecret }, as), () => ({
    action: "CLIENT_SECRET_ROTATED",
    target: party("client", "web"),
    changes: [{ field: "secret", before: SECRET_TEXT, after: SECRET_TEXT }],
  }));
  const generated = await records(t, w, ACME, () => admin.rotateClientSecret({ ...ACME, clientId: "web" }, as), () => ({
    action: "CLIENT_SECRET_ROTATED",
    target: party("client", "web"),
    changes: [{ field: "secret", before: SECRET_TEXT, after: SECRET_TEXT }],
  }));
  const app: App = { ref: ACME, id: "web", secret: secret(generated.secret), redirectUri: REDIRECT };

  await records(t, w, ACME, () => admin.createPermission({ ...ACME, permissionId: READ, description: "Read orders" }, as), () => ({
    action: "PERMISSION_CREATED",
    target: party("permission", READ),
    changes: [set("id", READ), set("description", "Read orders")],
  }));
  await records(t, w, ACME, () => admin.createRole({ ...ACME, roleId: "reader", permissions: [READ, READ] }, as), () => ({
    action: "ROLE_CREATED",
    target: party("role", "reader"),
    changes: [set("id", "reader"), set("description", ""), set("permissions", [READ])],
  }));

  const firstPassword = secret("alice-first-password");
  await records(
    t,
    w,
    ACME,
    () => admin.createUser({ ...ACME, userId: "alice", password: firstPassword, email: "alice@shop.example", familyName: "Liddell" }, as),
    () => ({
      action: "USER_CREATED",
      target: party("user", "alice"),
      changes: [
        set("id", "alice"),
        set("name", "alice"),
        set("email", "alice@shop.example"),
        set("email_verified", false),
        set("given_name", ""),
        set("family_name", "Liddell"),
        set("enabled", true),
        set("created_at", now),
        { field: "password", before: "", after: SECRET_TEXT },
      ],
    }),
  );
  await records(
    t,
    w,
    ACME,
    () => admin.updateUser({ ...ACME, userId: "alice", givenName: "Alice", email: "alice@shop.example", updateMask: { paths: ["given_name", "email"] } }, as),
    () => ({ action: "USER_UPDATED", target: party("user", "alice"), changes: [changed("given_name", "", "Alice")] }),
  );
  const password = secret("alice-second-password");
  await records(t, w, ACME, () => admin.setUserPassword({ ...ACME, userId: "alice", password }, as), () => ({
    action: "USER_PASSWORD_SET",
    target: party("user", "alice"),
    changes: [{ field: "password", before: SECRET_TEXT, after: SECRET_TEXT }],
  }));

  await records(t, w, ACME, () => admin.assignRole({ ...ACME, roleId: "reader", subject: user("alice") }, as), () => ({
    action: "ROLE_ASSIGNED",
    target: party("user", "alice"),
    changes: [set("role_id", "reader")],
  }));
  await records(t, w, ACME, () => admin.assignRole({ ...ACME, roleId: "reader", subject: user("alice") }, as), () => ({
    action: "ROLE_ASSIGNED",
    target: party("user", "alice"),
    // Already held: the event still names the role, unchanged.
    changes: [changed("role_id", "reader", "reader")],
  }));
  await records(t, w, ACME, () => admin.assignRole({ ...ACME, roleId: "reader", subject: client("web") }, as), () => ({
    action: "ROLE_ASSIGNED",
    target: party("client", "web"),
    changes: [set("role_id", "reader")],
  }));
  await records(t, w, ACME, () => admin.unassignRole({ ...ACME, roleId: "reader", subject: client("web") }, as), () => ({
    action: "ROLE_UNASSIGNED",
    target: party("client", "web"),
    changes: [gone("role_id", "reader")],
  }));

  // Alice signs in twice (two sessions) and consents to web, which remembers it.
  await signIn(c, app, { id: "alice", password });
  await signIn(c, app, { id: "alice", password });
  const consents = await admin.listUserConsents({ ...ACME, userId: "alice" }, as);
  t.deepEqual(
    consents.consents.map((x) => [x.clientId, x.scopes]),
    [["web", [READ]]],
  );
  await records(t, w, ACME, () => admin.revokeUserConsent({ ...ACME, userId: "alice", clientId: "web" }, as), () => ({
    action: "USER_CONSENT_REVOKED",
    target: party("user", "alice"),
    changes: [gone("client_id", "web"), gone("scopes", [READ])],
  }));
  const sessions = (await admin.listUserSessions({ ...ACME, userId: "alice" }, as)).sessions.map((s) => s.id);
  t.is(sessions.length, 2);
  await records(t, w, ACME, () => admin.revokeUserSession({ ...ACME, userId: "alice", sessionId: sessions[0]! }, as), () => ({
    action: "USER_SESSIONS_REVOKED",
    target: party("user", "alice"),
    changes: [gone("session_id", sessions[0])],
  }));
  await records(t, w, ACME, () => admin.revokeUserSessions({ ...ACME, userId: "alice" }, as), (r) => ({
    action: "USER_SESSIONS_REVOKED",
    target: party("user", "alice"),
    changes: [gone("session_ids", r.sessionIds)],
  }));
  await records(t, w, ACME, () => admin.unassignRole({ ...ACME, roleId: "reader", subject: user("alice") }, as), () => ({
    action: "ROLE_UNASSIGNED",
    target: party("user", "alice"),
    changes: [gone("role_id", "reader")],
  }));

  const rotated = await records(t, w, ACME, () => admin.rotateSigningKey(ACME, as), (r) => ({
    action: "SIGNING_KEY_ROTATED",
    target: party("project", "acme/shop"),
    changes: [
      changed("kid", { alg: "ES256", kid: r.retiredKids[0] }, { alg: "ES256", kid: r.kids[0] }),
      changed("kid", { alg: "RS256", kid: r.retiredKids[1] }, { alg: "RS256", kid: r.kids[1] }),
    ],
  }));
  t.is(rotated.retiredKids.length, 2);
  t.deepEqual([rotated.kid], rotated.kids.slice(0, 1));

  // Everything the store holds of the project that must never reach an event, before it goes.
  await storedSecrets(c, ACME);
  await storedSecrets(c, DEFAULT);

  await records(t, w, ACME, () => admin.deleteRole({ ...ACME, roleId: "reader" }, as), () => ({
    action: "ROLE_DELETED",
    target: party("role", "reader"),
    changes: [gone("id", "reader"), gone("description", ""), gone("permissions", [READ])],
  }));
  await records(t, w, ACME, () => admin.deletePermission({ ...ACME, permissionId: READ }, as), () => ({
    action: "PERMISSION_DELETED",
    target: party("permission", READ),
    changes: [gone("id", READ), gone("description", "Read orders")],
  }));
  await records(t, w, ACME, () => admin.deleteUser({ ...ACME, userId: "alice" }, as), () => ({
    action: "USER_DELETED",
    target: party("user", "alice"),
    changes: [
      gone("id", "alice"),
      gone("name", "alice"),
      gone("email", "alice@shop.example"),
      gone("email_verified", false),
      gone("given_name", "Alice"),
      gone("family_name", "Liddell"),
      gone("enabled", true),
      gone("created_at", now),
    ],
  }));
  await records(t, w, ACME, () => admin.deleteClient({ ...ACME, clientId: "web" }, as), () => ({
    action: "CLIENT_DELETED",
    target: party("client", "web"),
    changes: [
      gone("id", "web"),
      gone("name", "web"),
      gone("type", "CLIENT_TYPE_CONFIDENTIAL"),
      gone("redirect_uris", [REDIRECT, REDIRECT_2]),
      gone("grant_types", ["authorization_code", "refresh_token", "client_credentials"]),
      gone("pkce_required", false),
      gone("remember_consent", true),
      gone("access_token_ttl", 900),
      gone("refresh_token_ttl", 2_592_000),
      gone("post_logout_redirect_uris", []),
      gone("backchannel_logout_uri", ""),
      gone("id_token_signed_response_alg", "RS256"),
      gone("web_origins", []),
      gone("require_pushed_authorization_requests", false),
      gone("token_endpoint_auth_method", ""),
      gone("jwks", ""),
      gone("jwks_uri", ""),
      gone("dpop_bound_access_tokens", false),
      gone("security_profile", ""),
      gone("token_exchange_subject_clients", []),
      gone("token_exchange_resources", []),
      gone("token_exchange_impersonation", false),
      gone("may_act_client", ""),
      gone("created_at", now),
    ],
  }));

  // The project and its organization deleted: the server's chain again.
  await records(t, w, SERVER_CHAIN, () => admin.deleteProject(ACME, as), () => ({
    action: "PROJECT_DELETED",
    target: party("project", "acme/shop"),
    changes: [
      gone("organization", "acme"),
      gone("id", "shop"),
      gone("name", "The shop"),
      gone("audience", issuerOf(ACME)),
      gone("issuer", issuerOf(ACME)),
      gone("access_token_signing_alg", "ES256"),
      gone("require_pushed_authorization_requests", false),
      gone("client_registration", ""),
      gone("client_id_metadata_documents", false),
      gone("created_at", now),
    ],
  }));
  await records(t, w, SERVER_CHAIN, () => admin.deleteOrganization({ id: "acme" }, as), () => ({
    action: "ORGANIZATION_DELETED",
    target: party("organization", "acme"),
    changes: [gone("id", "acme"), gone("name", "Acme Corp"), gone("created_at", now)],
  }));

  // A deleted project's chain stays, whole, for whoever audits it later.
  t.true((await chainHolds(t, c, ACME)) >= 24);
  await trailIsClean(t, c, [SERVER_CHAIN, ACME, DEFAULT]);
});

// --- a refused change writes its refusal only -------------------------------------------

test("a refused change writes only its refusal: a duplicate client is ALREADY_EXISTS, a bad update changes nothing", async (t) => {
  const c = await startAdmin(t);
  const w: Walk = { c, as: callsWith(c.adminToken, "audit-refusals"), actor: GLOBAL_ADMIN, chains: [SERVER_CHAIN, ACME, OTHER] };
  await c.admin.createOrganization({ id: "acme" }, w.as);
  await c.admin.createProject({ organization: "acme", id: "shop", name: "Shop" }, w.as);
  await c.admin.createProject({ organization: "acme", id: "other" }, w.as);
  const first = await c.admin.createClient({ ...ACME, clientId: "web", type: ClientType.CONFIDENTIAL, redirectUris: [REDIRECT] }, w.as);
  secret(first.secret);

  const duplicate = secret("a-second-secret-for-web-0001");
  await refused(
    t,
    w,
    ACME,
    () => c.admin.createClient({ ...ACME, clientId: "web", type: ClientType.CONFIDENTIAL, secret: duplicate, redirectUris: ["https://else.example/cb"] }, w.as),
    Code.AlreadyExists,
    { action: "CLIENT_CREATED", target: party("client", "web"), reason: "already_exists" },
  );
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: "web" }, w.as)).client?.redirectUris, [REDIRECT], "the first client stands");

  // Refused inside the transaction, after the project was read: the name is not written either.
  await refused(
    t,
    w,
    ACME,
    () => c.admin.updateProject({ ...ACME, name: "Renamed", audience: issuerOf(OTHER), updateMask: { paths: ["name", "audience"] } }, w.as),
    Code.InvalidArgument,
    { action: "PROJECT_UPDATED", target: party("project", "acme/shop"), reason: "invalid_argument" },
  );
  t.is((await c.admin.getProject(ACME, w.as)).project?.name, "Shop");

  await refused(t, w, ACME, () => c.admin.deleteUser({ ...ACME, userId: "nobody" }, w.as), Code.NotFound, {
    action: "USER_DELETED",
    target: party("user", "nobody"),
    reason: "not_found",
  });
  await refused(t, w, ACME, () => c.admin.unassignRole({ ...ACME, roleId: "project-admin", subject: client("web") }, w.as), Code.NotFound, {
    action: "ROLE_UNASSIGNED",
    target: party("client", "web"),
    reason: "not_found",
  });
  await refused(t, w, SERVER_CHAIN, () => c.admin.deleteOrganization({ id: "iam-admins" }, w.as), Code.FailedPrecondition, {
    action: "ORGANIZATION_DELETED",
    target: party("organization", "iam-admins"),
    reason: "failed_precondition",
  });
  await storedSecrets(c, ACME);
  await trailIsClean(t, c, [SERVER_CHAIN, ACME, OTHER, DEFAULT]);
});

// --- the actor is the token's user or client -----------------------------------------------

test("a project admin's changes name them and their project; their change on another project is PERMISSION_DENIED, recorded in that project's chain", async (t) => {
  const c = await startAdmin(t);
  const global = callsWith(c.adminToken, "audit-setup");
  await c.admin.createOrganization({ id: "acme" }, global);
  await c.admin.createProject({ organization: "acme", id: "shop" }, global);
  await c.admin.createProject({ organization: "acme", id: "other" }, global);
  const made = await c.admin.createClient(
    { ...ACME, clientId: "web", type: ClientType.CONFIDENTIAL, redirectUris: [REDIRECT], grantTypes: ["authorization_code", "client_credentials"] },
    global,
  );
  const app: App = { ref: ACME, id: "web", secret: secret(made.secret), redirectUri: REDIRECT };
  const boss = { id: "boss", password: secret("boss-password-1234") };
  await c.admin.createUser({ ...ACME, userId: boss.id, password: boss.password }, global);
  await c.admin.assignRole({ ...ACME, roleId: "project-admin", subject: user(boss.id) }, global);
  await c.admin.assignRole({ ...ACME, roleId: "project-admin", subject: client("web") }, global);

  const asBoss: Walk = {
    c,
    as: callsWith((await signIn(c, app, boss)).accessToken, "audit-boss"),
    actor: { kind: "user", id: "boss", project: "acme/shop" },
    chains: [SERVER_CHAIN, ACME, OTHER],
  };
  await records(t, asBoss, ACME, () => c.admin.createPermission({ ...ACME, permissionId: "shop.orders.read" }, asBoss.as), () => ({
    action: "PERMISSION_CREATED",
    target: party("permission", "shop.orders.read"),
    changes: [set("id", "shop.orders.read"), set("description", "")],
  }));
  const intruder = secret("intruder-secret-0123456789");
  await refused(
    t,
    asBoss,
    OTHER,
    () => c.admin.createClient({ ...OTHER, clientId: "planted", type: ClientType.CONFIDENTIAL, secret: intruder, redirectUris: [REDIRECT] }, asBoss.as),
    Code.PermissionDenied,
    { action: "CLIENT_CREATED", target: party("client", "planted"), reason: "permission_denied" },
  );
  t.is(await c.core.deps.store.getClient(OTHER, "planted"), undefined, "nothing was created");
  await refused(t, asBoss, SERVER_CHAIN, () => c.admin.deleteProject(OTHER, asBoss.as), Code.PermissionDenied, {
    action: "PROJECT_DELETED",
    target: party("project", "acme/other"),
    reason: "permission_denied",
  });

  const clientTokens = await clientToken(c, ACME, "web", app.secret, "iam.project.admin");
  const asClient: Walk = {
    c,
    as: callsWith(clientTokens.accessToken, "audit-client"),
    actor: { kind: "client", id: "web", project: "acme/shop" },
    chains: [SERVER_CHAIN, ACME, OTHER],
  };
  await records(t, asClient, ACME, () => c.admin.deletePermission({ ...ACME, permissionId: "shop.orders.read" }, asClient.as), () => ({
    action: "PERMISSION_DELETED",
    target: party("permission", "shop.orders.read"),
    changes: [gone("id", "shop.orders.read"), gone("description", "")],
  }));
  await storedSecrets(c, ACME);
  await trailIsClean(t, c, [SERVER_CHAIN, ACME, OTHER, DEFAULT]);
});

// --- the machine's operator -------------------------------------------------------------

test("the iam command's changes (the same handlers, run as the operator) record the operator as their actor", async (t) => {
  const c = await startAdmin(t);
  const deps = c.core.deps;
  const serverBefore = (await eventsOf(c, SERVER_CHAIN)).length;
  await ADMIN_METHODS.createOrganization.handler(deps, create(CreateOrganizationRequestSchema, { id: "acme", name: "Acme" }), OPERATOR.actor);
  const password = secret("operator-set-password");
  await ADMIN_METHODS.setUserPassword.handler(
    deps,
    create(SetUserPasswordRequestSchema, { ...DEFAULT, userId: "admin", password }),
    OPERATOR.actor,
  );
  const [organization] = (await eventsOf(c, SERVER_CHAIN)).slice(serverBefore);
  t.like(organization, {
    sequence: serverBefore + 1,
    action: "ORGANIZATION_CREATED",
    outcome: "success",
    actor: { kind: "operator", id: "", project: "" },
    target: party("organization", "acme"),
    // No request: no address, User-Agent or request id.
    clientAddress: "",
    userAgent: "",
    requestId: "",
  });
  const adminChain = await eventsOf(c, DEFAULT);
  t.like(adminChain.at(-1), {
    action: "USER_PASSWORD_SET",
    actor: { kind: "operator", id: "", project: "" },
    target: party("user", "admin"),
    changes: [{ field: "password", before: SECRET_TEXT, after: SECRET_TEXT }],
  });
  await storedSecrets(c, DEFAULT);
  await trailIsClean(t, c, [SERVER_CHAIN, DEFAULT]);
});
