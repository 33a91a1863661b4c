import { AsyncLocalStorage } from "node:async_hooks";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { EpochSeconds, ProjectRef, RoleRecord, Store } from "../types.js";
import { AlreadyExists } from "../types.js";
import { rowMappers, type Row } from "../rows.js";
import type { Backend, BackendEvents, ChangeFeed, Synchronous } from "../backend.js";
import { cachedStore } from "../cached.js";
import { migrations } from "./migrations.js";
import { createKeySealer, type KeySealer } from "../sealing.js";


/** The synchronous operations under the async Store: each Store method but transaction and close. */
type StoreOps = Synchronous<Omit<Store, "transaction" | "close">>;

/**
 * The change epoch: triggers move it on every change to administration's
 * tables, by any connection or process (migration 3), so another process's
 * change is seen on the next read, for the cost of one indexed read. A
 * connection sees its own open transaction's changes in it.
 */
function changeEpoch(db: Database.Database): ChangeFeed {
  const epoch = db.prepare("SELECT n FROM change_epoch").pluck();
  return {
    epoch: () => epoch.get() as number,
    changed: () => {},
  };
}

const json = (value: unknown) => JSON.stringify(value);

/**
 * Opens (creating if needed) the SQLite database at `path`, applies pending
 * migrations and answers the Store over it. WAL, with synchronous=FULL by
 * default (a commit is on disk before it returns) and commits made in groups
 * (asyncStore).
 */
export interface StoreOptions {
  /** Called after each store operation (and each transaction) with the seconds it held the database. */
  onOperation?: (operation: string, seconds: number) => void;
  /** Encrypts private signing keys at rest (sealing.ts); without it they are stored as plain JWKs. */
  sealer?: KeySealer;
  /**
   * `full` (the default): a commit is on disk before it returns, so an
   * acknowledged write survives a power loss. `normal`: it survives a crash
   * of the process, not of the machine; commits are about ten times cheaper.
   */
  synchronous?: "full" | "normal";
}

export function openSqliteStore(path: string, options: StoreOptions = {}): Store {
  const db = openDatabase(path, options.synchronous);
  const sealer = options.sealer ?? createKeySealer();
  try {
    sealKeys(db, sealer);
  } catch (err) {
    db.close();
    throw err;
  }
  return cachedStore((events) => sqliteBackend(db, sealer, events), options.onOperation);
}

/** The operations over `db`, the way they enter it, its transactions and its change epoch. */
export function sqliteBackend(db: Database.Database, sealer: KeySealer, events: BackendEvents): Backend {
  const changes = changeEpoch(db);
  return { ops: createOps(db, sealer, changes), ...groupCommit(db, events), changes, cacheInTransaction: true };
}

/** The database at `path` (created if needed, owner only), migrated. */
export function openDatabase(path: string, synchronous: StoreOptions["synchronous"] = "full"): Database.Database {
  if (path !== ":memory:") {
    // The file holds every project's private signing keys: owner only. SQLite
    // gives the -wal and -shm files the database file's permissions.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, "a", 0o600));
  }
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`);
  db.pragma("foreign_keys = ON");
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(db);
  return db;
}

/**
 * Opens every private key once, so that a missing or wrong KEK stops the
 * start-up instead of a later sign-in; with a KEK, encrypts each key stored
 * in plaintext or under the previous KEK.
 */
function sealKeys(db: Database.Database, sealer: KeySealer): void {
  const rows = db.prepare("SELECT kid, private_jwk FROM signing_keys").all() as { kid: string; private_jwk: string }[];
  const update = db.prepare("UPDATE signing_keys SET private_jwk = ? WHERE kid = ?");
  db.transaction(() => {
    for (const row of rows) {
      const privateJwk = sealer.open(row.kid, row.private_jwk);
      if (sealer.stale(row.private_jwk)) update.run(sealer.seal(row.kid, privateJwk), row.kid);
    }
  })();
}

function migrate(db: Database.Database): void {
  // One migration per IMMEDIATE transaction, the version read inside it: of
  // processes that start at once on one file, one applies each migration and
  // the others see it applied.
  const step = db.transaction(() => {
    const applied = db.pragma("user_version", { simple: true }) as number;
    if (applied >= migrations.length) return false;
    db.exec(migrations[applied]!);
    db.pragma(`user_version = ${applied + 1}`);
    return true;
  });
  while (step.immediate()) {
    // applied one; look again
  }
}

function uniqueViolation(err: unknown): boolean {
  return err instanceof Database.SqliteError && /CONSTRAINT_(PRIMARYKEY|UNIQUE)/.test(err.code);
}

function insert(what: string, run: () => void): void {
  try {
    run();
  } catch (err) {
    if (uniqueViolation(err)) throw new AlreadyExists(what);
    throw err;
  }
}

function createOps(db: Database.Database, sealer: KeySealer, changes: ChangeFeed): StoreOps {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    countOrgs: s("SELECT count(*) AS n FROM organizations"),
    listOrgs: s("SELECT * FROM organizations WHERE id > ? ORDER BY id LIMIT ?"),
    updateOrg: s("UPDATE organizations SET name = ? WHERE id = ?"),
    deleteOrg: s("DELETE FROM organizations WHERE id = ?"),
    listProjects: s("SELECT * FROM projects WHERE organization_id = ? AND id > ? ORDER BY id LIMIT ?"),
    updateProject: s("UPDATE projects SET name = ?, audience = ? WHERE organization_id = ? AND id = ?"),
    deleteProject: s("DELETE FROM projects WHERE organization_id = ? AND id = ?"),
    // The flow's rows name their project without a foreign key (they outlive
    // nothing but must go with it): deleted explicitly.
    deleteOrgGrants: s("DELETE FROM grants WHERE organization_id = ?"),
    deleteOrgCodes: s("DELETE FROM authorization_codes WHERE organization_id = ?"),
    deleteOrgRequests: s("DELETE FROM authorization_requests WHERE organization_id = ?"),
    deleteProjectGrants: s("DELETE FROM grants WHERE organization_id = ? AND project_id = ?"),
    deleteProjectCodes: s("DELETE FROM authorization_codes WHERE organization_id = ? AND project_id = ?"),
    deleteProjectRequests: s("DELETE FROM authorization_requests WHERE organization_id = ? AND project_id = ?"),
    listClients: s("SELECT * FROM clients WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?"),
    updateClient: s(`UPDATE clients SET name = ?, redirect_uris = ?, grant_types = ?, pkce_required = ?,
      remember_consent = ?, access_token_ttl = ?, refresh_token_ttl = ? WHERE organization_id = ? AND project_id = ? AND id = ?`),
    setClientSecret: s("UPDATE clients SET secret_hash = ? WHERE organization_id = ? AND project_id = ? AND id = ?"),
    deleteClient: s("DELETE FROM clients WHERE organization_id = ? AND project_id = ? AND id = ?"),
    deleteClientGrants: s("DELETE FROM grants WHERE organization_id = ? AND project_id = ? AND client_id = ?"),
    deleteClientCodes: s("DELETE FROM authorization_codes WHERE organization_id = ? AND project_id = ? AND client_id = ?"),
    deleteClientRequests: s(
      "DELETE FROM authorization_requests WHERE organization_id = ? AND project_id = ? AND client_id = ?",
    ),
    listUsers: s("SELECT * FROM users WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?"),
    updateUser: s("UPDATE users SET name = ?, email = ?, enabled = ? WHERE organization_id = ? AND project_id = ? AND id = ?"),
    setUserPassword: s("UPDATE users SET password_hash = ? WHERE organization_id = ? AND project_id = ? AND id = ?"),
    deleteUser: s("DELETE FROM users WHERE organization_id = ? AND project_id = ? AND id = ?"),
    deleteUserGrants: s("DELETE FROM grants WHERE organization_id = ? AND project_id = ? AND user_id = ? AND kind = 'user'"),
    deleteUserCodes: s("DELETE FROM authorization_codes WHERE organization_id = ? AND project_id = ? AND user_id = ?"),
    deleteUserRequests: s("DELETE FROM authorization_requests WHERE organization_id = ? AND project_id = ? AND user_id = ?"),
    revokeUserGrants: s(
      "UPDATE grants SET revoked_at = coalesce(revoked_at, ?) WHERE organization_id = ? AND project_id = ? AND user_id = ? AND kind = 'user'",
    ),
    revokeUserRefresh: s(`UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, ?) WHERE grant_id IN
      (SELECT id FROM grants WHERE organization_id = ? AND project_id = ? AND user_id = ? AND kind = 'user')`),
    listPermissions: s(
      "SELECT * FROM permissions WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?",
    ),
    deletePermission: s("DELETE FROM permissions WHERE organization_id = ? AND project_id = ? AND id = ?"),
    getRole: s("SELECT * FROM roles WHERE organization_id = ? AND project_id = ? AND id = ?"),
    rolePermissions: s(
      "SELECT permission_id FROM role_permissions WHERE organization_id = ? AND project_id = ? AND role_id = ? ORDER BY permission_id",
    ),
    listRoles: s("SELECT * FROM roles WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?"),
    deleteRole: s("DELETE FROM roles WHERE organization_id = ? AND project_id = ? AND id = ?"),
    deleteUserRole: s(
      "DELETE FROM user_roles WHERE organization_id = ? AND project_id = ? AND user_id = ? AND role_id = ?",
    ),
    insertClientRole: s(
      "INSERT OR IGNORE INTO client_roles (organization_id, project_id, client_id, role_id) VALUES (?, ?, ?, ?)",
    ),
    deleteClientRole: s(
      "DELETE FROM client_roles WHERE organization_id = ? AND project_id = ? AND client_id = ? AND role_id = ?",
    ),
    userRoles: s("SELECT role_id FROM user_roles WHERE organization_id = ? AND project_id = ? AND user_id = ? ORDER BY role_id"),
    clientRoles: s(
      "SELECT role_id FROM client_roles WHERE organization_id = ? AND project_id = ? AND client_id = ? ORDER BY role_id",
    ),
    clientPermissions: s(`SELECT DISTINCT p.* FROM client_roles cr
      JOIN role_permissions rp ON rp.organization_id = cr.organization_id AND rp.project_id = cr.project_id AND rp.role_id = cr.role_id
      JOIN permissions p ON p.organization_id = rp.organization_id AND p.project_id = rp.project_id AND p.id = rp.permission_id
      WHERE cr.organization_id = ? AND cr.project_id = ? AND cr.client_id = ? ORDER BY p.id`),
    findClientGrant: s(`SELECT * FROM grants WHERE organization_id = ? AND project_id = ? AND client_id = ?
      AND kind = 'client' AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1`),
    insertOrg: s("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)"),
    getOrg: s("SELECT * FROM organizations WHERE id = ?"),
    insertProject: s(
      "INSERT INTO projects (organization_id, id, name, audience, created_at) VALUES (?, ?, ?, ?, ?)",
    ),
    getProject: s("SELECT * FROM projects WHERE organization_id = ? AND id = ?"),
    insertClient: s(`INSERT INTO clients (organization_id, project_id, id, name, type, secret_hash, redirect_uris,
      grant_types, pkce_required, remember_consent, access_token_ttl, refresh_token_ttl, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getConsent: s("SELECT * FROM consents WHERE organization_id = ? AND project_id = ? AND user_id = ? AND client_id = ?"),
    upsertConsent: s(`INSERT INTO consents (organization_id, project_id, user_id, client_id, scopes, granted_at)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, project_id, user_id, client_id)
      DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`),
    listConsents: s("SELECT * FROM consents WHERE organization_id = ? AND project_id = ? AND user_id = ? ORDER BY client_id"),
    deleteConsent: s("DELETE FROM consents WHERE organization_id = ? AND project_id = ? AND user_id = ? AND client_id = ?"),
    revokeUserClientGrants: s(`UPDATE grants SET revoked_at = ? WHERE organization_id = ? AND project_id = ? AND user_id = ?
      AND client_id = ? AND kind = 'user' AND revoked_at IS NULL`),
    revokeUserClientRefresh: s(`UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, ?) WHERE grant_id IN
      (SELECT id FROM grants WHERE organization_id = ? AND project_id = ? AND user_id = ? AND client_id = ? AND kind = 'user')`),
    getLoginFailures: s("SELECT * FROM login_failures WHERE key = ?"),
    putLoginFailures: s(`INSERT INTO login_failures (key, failures, window_ends_at, locked_until) VALUES (?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_ends_at = excluded.window_ends_at,
      locked_until = excluded.locked_until`),
    deleteLoginFailures: s("DELETE FROM login_failures WHERE key = ?"),
    purgeLoginFailures: s("DELETE FROM login_failures WHERE window_ends_at <= ? AND locked_until <= ?"),
    getClient: s("SELECT * FROM clients WHERE organization_id = ? AND project_id = ? AND id = ?"),
    insertUser: s(`INSERT INTO users (organization_id, project_id, id, name, email, password_hash, enabled, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    getUser: s("SELECT * FROM users WHERE organization_id = ? AND project_id = ? AND id = ?"),
    insertPermission: s(
      "INSERT INTO permissions (organization_id, project_id, id, description) VALUES (?, ?, ?, ?)",
    ),
    getPermission: s("SELECT * FROM permissions WHERE organization_id = ? AND project_id = ? AND id = ?"),
    insertRole: s("INSERT INTO roles (organization_id, project_id, id, description) VALUES (?, ?, ?, ?)"),
    insertRolePermission: s(
      "INSERT INTO role_permissions (organization_id, project_id, role_id, permission_id) VALUES (?, ?, ?, ?)",
    ),
    insertUserRole: s(
      "INSERT OR IGNORE INTO user_roles (organization_id, project_id, user_id, role_id) VALUES (?, ?, ?, ?)",
    ),
    userPermissions: s(`SELECT DISTINCT p.* FROM user_roles ur
      JOIN role_permissions rp ON rp.organization_id = ur.organization_id AND rp.project_id = ur.project_id AND rp.role_id = ur.role_id
      JOIN permissions p ON p.organization_id = rp.organization_id AND p.project_id = rp.project_id AND p.id = rp.permission_id
      WHERE ur.organization_id = ? AND ur.project_id = ? AND ur.user_id = ? ORDER BY p.id`),
    insertKey: s(`INSERT INTO signing_keys (kid, organization_id, project_id, alg, private_jwk, public_jwk, created_at,
      retired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    currentKeys: s("SELECT kid FROM signing_keys WHERE organization_id = ? AND project_id = ? AND retired_at IS NULL"),
    retireKeys: s(`UPDATE signing_keys SET retired_at = ?, expires_at = ?
      WHERE organization_id = ? AND project_id = ? AND retired_at IS NULL`),
    maxTtl: s("SELECT coalesce(max(access_token_ttl), 0) AS ttl FROM clients WHERE organization_id = ? AND project_id = ?"),
    purgeKeys: s("DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at < ?"),
    listKeys: s(`SELECT * FROM signing_keys WHERE organization_id = ? AND project_id = ?
      ORDER BY retired_at IS NOT NULL, created_at DESC, kid`),
    insertRequest: s(`INSERT INTO authorization_requests (id_hash, organization_id, project_id, client_id, redirect_uri,
      scopes, state, code_challenge, code_challenge_method, nonce, browser_binding_hash, user_id, auth_time,
      offered_scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getRequest: s("SELECT * FROM authorization_requests WHERE id_hash = ?"),
    authenticateRequest: s(
      "UPDATE authorization_requests SET user_id = ?, auth_time = ?, offered_scopes = ? WHERE id_hash = ?",
    ),
    deleteRequest: s("DELETE FROM authorization_requests WHERE id_hash = ?"),
    failedLogin: s(
      "UPDATE authorization_requests SET failed_logins = failed_logins + 1 WHERE id_hash = ? RETURNING failed_logins",
    ),
    insertCode: s(`INSERT INTO authorization_codes (code_hash, organization_id, project_id, client_id, user_id,
      redirect_uri, scopes, code_challenge, code_challenge_method, nonce, auth_time, created_at, expires_at,
      consumed_at, grant_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getCode: s("SELECT * FROM authorization_codes WHERE code_hash = ?"),
    consumeCode: s(
      "UPDATE authorization_codes SET consumed_at = ?, grant_id = ? WHERE code_hash = ? AND consumed_at IS NULL",
    ),
    insertGrant: s(`INSERT INTO grants (id, organization_id, project_id, client_id, kind, user_id, scopes, auth_time,
      created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getGrant: s("SELECT * FROM grants WHERE id = ?"),
    extendGrant: s("UPDATE grants SET expires_at = max(expires_at, ?) WHERE id = ?"),
    revokeGrant: s("UPDATE grants SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?"),
    revokeGrantTokens: s(
      "UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, ?) WHERE grant_id = ?",
    ),
    insertRefresh: s(`INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at, expires_at,
      rotated_at, parent_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    // Siblings are superseded, not exchanged: rotated_at 0 puts them outside
    // any grace window, so presenting one later is reuse.
    rotateSiblings: s(`UPDATE refresh_tokens SET rotated_at = 0 WHERE rotated_at IS NULL AND token_hash != ?
      AND parent_hash = (SELECT parent_hash FROM refresh_tokens WHERE token_hash = ?)`),
    getRefresh: s("SELECT * FROM refresh_tokens WHERE token_hash = ?"),
    rotateRefresh: s("UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL"),
    purgeRequests: s("DELETE FROM authorization_requests WHERE expires_at < ?"),
    purgeCodes: s("DELETE FROM authorization_codes WHERE expires_at < ?"),
    purgeRefresh: s("DELETE FROM refresh_tokens WHERE expires_at < ?"),
    purgeGrants: s("DELETE FROM grants WHERE expires_at < ?"),
  };

  const { organization, project, client, user, permission, signingKey, request, code, grant, refresh, consent } = rowMappers(
    { list: (text) => (text === null ? [] : (JSON.parse(text as string) as string[])), flag: (value) => value === 1 },
    sealer,
  );
  const maybe = <T>(row: unknown, map: (r: Row) => T): T | undefined =>
    row === undefined ? undefined : map(row as Row);
  const role = (r: Row): RoleRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    description: r.description,
    permissions: (q.rolePermissions.all(r.organization_id, r.project_id, r.id) as Row[]).map((p) => p.permission_id),
  });
  const tx = <T>(fn: () => T): T => db.transaction(fn)();

  return {
    isEmpty: () => (q.countOrgs.get() as Row).n === 0,
    createOrganization: (o) => insert(`organization ${o.id}`, () => q.insertOrg.run(o.id, o.name, o.createdAt)),
    getOrganization: (id) => maybe(q.getOrg.get(id), organization),
    createProject: (p) =>
      insert(`project ${p.organization}/${p.project} (or its audience)`, () =>
        q.insertProject.run(p.organization, p.project, p.name, p.audience, p.createdAt),
      ),
    getProject: (ref) => maybe(q.getProject.get(ref.organization, ref.project), project),
    listOrganizations: (page) => (q.listOrgs.all(page.after, page.limit) as Row[]).map(organization),
    updateOrganization: (id, change) => q.updateOrg.run(change.name, id).changes === 1,
    deleteOrganization: (id) =>
      tx(() => {
        q.deleteOrgGrants.run(id);
        q.deleteOrgCodes.run(id);
        q.deleteOrgRequests.run(id);
        return q.deleteOrg.run(id).changes === 1;
      }),
    listProjects: (org, page) => (q.listProjects.all(org, page.after, page.limit) as Row[]).map(project),
    updateProject: (ref, change) => {
      let changed = false;
      insert(`a project with audience ${change.audience}`, () => {
        changed = q.updateProject.run(change.name, change.audience, ref.organization, ref.project).changes === 1;
      });
      return changed;
    },
    deleteProject: (ref) =>
      tx(() => {
        q.deleteProjectGrants.run(ref.organization, ref.project);
        q.deleteProjectCodes.run(ref.organization, ref.project);
        q.deleteProjectRequests.run(ref.organization, ref.project);
        return q.deleteProject.run(ref.organization, ref.project).changes === 1;
      }),
    listClients: (ref, page) =>
      (q.listClients.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(client),
    updateClient: (c) =>
      q.updateClient.run(
        c.name,
        json(c.redirectUris),
        json(c.grantTypes),
        c.pkceRequired ? 1 : 0,
        c.rememberConsent ? 1 : 0,
        c.accessTokenTtl,
        c.refreshTokenTtl,
        c.organization,
        c.project,
        c.id,
      ).changes === 1,
    setClientSecret: (ref, id, hash) => q.setClientSecret.run(hash, ref.organization, ref.project, id).changes === 1,
    deleteClient: (ref, id) =>
      tx(() => {
        q.deleteClientGrants.run(ref.organization, ref.project, id);
        q.deleteClientCodes.run(ref.organization, ref.project, id);
        q.deleteClientRequests.run(ref.organization, ref.project, id);
        return q.deleteClient.run(ref.organization, ref.project, id).changes === 1;
      }),
    listUsers: (ref, page) => (q.listUsers.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(user),
    updateUser: (u) =>
      q.updateUser.run(u.name, u.email, u.enabled ? 1 : 0, u.organization, u.project, u.id).changes === 1,
    setUserPassword: (ref, id, hash) => q.setUserPassword.run(hash, ref.organization, ref.project, id).changes === 1,
    deleteUser: (ref, id) =>
      tx(() => {
        q.deleteUserGrants.run(ref.organization, ref.project, id);
        q.deleteUserCodes.run(ref.organization, ref.project, id);
        q.deleteUserRequests.run(ref.organization, ref.project, id);
        return q.deleteUser.run(ref.organization, ref.project, id).changes === 1;
      }),
    revokeUserGrants: (ref, userId, at) => {
      tx(() => {
        q.revokeUserRefresh.run(at, ref.organization, ref.project, userId);
        q.revokeUserGrants.run(at, ref.organization, ref.project, userId);
      });
    },
    listPermissions: (ref, page) =>
      (q.listPermissions.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(permission),
    deletePermission: (ref, id) => q.deletePermission.run(ref.organization, ref.project, id).changes === 1,
    getRole: (ref, id) => maybe(q.getRole.get(ref.organization, ref.project, id), role),
    listRoles: (ref, page) => (q.listRoles.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(role),
    deleteRole: (ref, id) => q.deleteRole.run(ref.organization, ref.project, id).changes === 1,
    assignRole: (ref, subject, roleId) => {
      if ("userId" in subject) q.insertUserRole.run(ref.organization, ref.project, subject.userId, roleId);
      else q.insertClientRole.run(ref.organization, ref.project, subject.clientId, roleId);
    },
    unassignRole: (ref, subject, roleId) =>
      ("userId" in subject
        ? q.deleteUserRole.run(ref.organization, ref.project, subject.userId, roleId)
        : q.deleteClientRole.run(ref.organization, ref.project, subject.clientId, roleId)
      ).changes === 1,
    getRolesOf: (ref, subject) =>
      (("userId" in subject
        ? q.userRoles.all(ref.organization, ref.project, subject.userId)
        : q.clientRoles.all(ref.organization, ref.project, subject.clientId)) as Row[]).map((r) => r.role_id),
    getClientPermissions: (ref, clientId) =>
      (q.clientPermissions.all(ref.organization, ref.project, clientId) as Row[]).map(permission),
    getChangeEpoch: () => changes.epoch(),
    findClientGrant: (ref, clientId) => maybe(q.findClientGrant.get(ref.organization, ref.project, clientId), grant),
    createClient: (c) =>
      insert(`client ${c.id}`, () =>
        q.insertClient.run(
          c.organization,
          c.project,
          c.id,
          c.name,
          c.type,
          c.secretHash,
          json(c.redirectUris),
          json(c.grantTypes),
          c.pkceRequired ? 1 : 0,
          c.rememberConsent ? 1 : 0,
          c.accessTokenTtl,
          c.refreshTokenTtl,
          c.createdAt,
        ),
      ),
    getClient: (ref, id) => maybe(q.getClient.get(ref.organization, ref.project, id), client),
    createUser: (u) =>
      insert(`user ${u.id}`, () =>
        q.insertUser.run(u.organization, u.project, u.id, u.name, u.email, u.passwordHash, u.enabled ? 1 : 0, u.createdAt),
      ),
    getUser: (ref, id) => maybe(q.getUser.get(ref.organization, ref.project, id), user),
    createPermission: (p) =>
      insert(`permission ${p.id}`, () => q.insertPermission.run(p.organization, p.project, p.id, p.description)),
    getPermissions: (ref, ids) =>
      ids.flatMap((id) => {
        const row = q.getPermission.get(ref.organization, ref.project, id);
        return row === undefined ? [] : [permission(row as Row)];
      }),
    createRole: (r: RoleRecord) =>
      insert(`role ${r.id}`, () =>
        db.transaction(() => {
          q.insertRole.run(r.organization, r.project, r.id, r.description);
          for (const p of r.permissions) q.insertRolePermission.run(r.organization, r.project, r.id, p);
        })(),
      ),
    getUserPermissions: (ref, userId) =>
      (q.userPermissions.all(ref.organization, ref.project, userId) as Row[]).map(permission),
    addSigningKey: (k) =>
      insert(`signing key ${k.kid}`, () =>
        q.insertKey.run(k.kid, k.organization, k.project, k.alg, sealer.seal(k.kid, k.privateJwk), k.publicJwk, k.createdAt, k.retiredAt, k.expiresAt),
      ),
    listSigningKeys: (ref: ProjectRef) =>
      (q.listKeys.all(ref.organization, ref.project) as Row[]).map(signingKey),
    retireSigningKeys: (ref, at, expiresAt) =>
      tx(() => {
        const kids = (q.currentKeys.all(ref.organization, ref.project) as Row[]).map((r) => r.kid as string);
        q.retireKeys.run(at, expiresAt, ref.organization, ref.project);
        return kids;
      }),
    maxAccessTokenTtl: (ref) => (q.maxTtl.get(ref.organization, ref.project) as Row).ttl as number,
    createAuthorizationRequest: (r) =>
      insert("authorization request", () =>
        q.insertRequest.run(
          r.idHash,
          r.organization,
          r.project,
          r.clientId,
          r.redirectUri,
          json(r.scopes),
          r.state,
          r.codeChallenge,
          r.codeChallengeMethod,
          r.nonce,
          r.browserBindingHash,
          r.userId,
          r.authTime,
          r.offeredScopes === null ? null : json(r.offeredScopes),
          r.createdAt,
          r.expiresAt,
        ),
      ),
    getAuthorizationRequest: (idHash) => maybe(q.getRequest.get(idHash), request),
    authenticateAuthorizationRequest: (idHash, login) => {
      q.authenticateRequest.run(login.userId, login.authTime, json(login.offeredScopes), idHash);
    },
    recordFailedLogin: (idHash) => ((q.failedLogin.get(idHash) as Row | undefined)?.failed_logins as number) ?? 0,
    consumeAuthorizationRequest: (idHash) => q.deleteRequest.run(idHash).changes === 1,
    createAuthorizationCode: (c) =>
      insert("authorization code", () =>
        q.insertCode.run(
          c.codeHash,
          c.organization,
          c.project,
          c.clientId,
          c.userId,
          c.redirectUri,
          json(c.scopes),
          c.codeChallenge,
          c.codeChallengeMethod,
          c.nonce,
          c.authTime,
          c.createdAt,
          c.expiresAt,
          c.consumedAt,
          c.grantId,
        ),
      ),
    getAuthorizationCode: (codeHash) => maybe(q.getCode.get(codeHash), code),
    consumeAuthorizationCode: (codeHash, grantId, at) => q.consumeCode.run(at, grantId, codeHash).changes === 1,
    createGrant: (g) =>
      insert("grant", () =>
        q.insertGrant.run(
          g.id,
          g.organization,
          g.project,
          g.clientId,
          g.kind,
          g.userId,
          json(g.scopes),
          g.authTime,
          g.createdAt,
          g.expiresAt,
          g.revokedAt,
        ),
      ),
    getGrant: (id) => maybe(q.getGrant.get(id), grant),
    extendGrant: (id, expiresAt) => {
      q.extendGrant.run(expiresAt, id);
    },
    revokeGrant: (id, at) => {
      db.transaction(() => {
        q.revokeGrant.run(at, id);
        q.revokeGrantTokens.run(at, id);
      })();
    },
    createRefreshToken: (t) =>
      insert("refresh token", () =>
        q.insertRefresh.run(t.tokenHash, t.grantId, t.clientId, json(t.scopes), t.createdAt, t.expiresAt, t.rotatedAt, t.parentHash),
      ),
    getRefreshToken: (tokenHash) => maybe(q.getRefresh.get(tokenHash), refresh),
    rotateRefreshToken: (tokenHash, at) =>
      tx(() => {
        if (q.rotateRefresh.run(at, tokenHash).changes !== 1) return false;
        q.rotateSiblings.run(tokenHash, tokenHash);
        return true;
      }),
    getConsent: (ref, userId, clientId) =>
      maybe(q.getConsent.get(ref.organization, ref.project, userId, clientId), consent),
    rememberConsent: (c) =>
      tx(() => {
        const known = maybe(q.getConsent.get(c.organization, c.project, c.userId, c.clientId), consent);
        const scopes = [...new Set([...(known?.scopes ?? []), ...c.scopes])].sort();
        q.upsertConsent.run(c.organization, c.project, c.userId, c.clientId, json(scopes), c.grantedAt);
      }),
    listConsents: (ref, userId) => (q.listConsents.all(ref.organization, ref.project, userId) as Row[]).map(consent),
    revokeConsent: (ref, userId, clientId, at) =>
      tx(() => {
        const args = [ref.organization, ref.project, userId, clientId] as const;
        const forgotten = q.deleteConsent.run(...args).changes;
        q.revokeUserClientRefresh.run(at, ...args);
        const revoked = q.revokeUserClientGrants.run(at, ...args).changes;
        return forgotten + revoked > 0;
      }),
    lockedUntil: (keys, now) =>
      keys.reduce((latest, key) => {
        const row = q.getLoginFailures.get(key) as Row | undefined;
        const until = row === undefined ? 0 : (row.locked_until as number);
        return until > now && until > latest ? until : latest;
      }, 0),
    recordLoginFailure: (key, now, policy) =>
      tx(() => {
        const row = q.getLoginFailures.get(key) as Row | undefined;
        // A new window starts once the last one ended (a lockout ends its window too).
        const fresh = row === undefined || (row.window_ends_at as number) <= now;
        const failures = fresh ? 1 : (row.failures as number) + 1;
        const windowEndsAt = fresh ? now + policy.windowSeconds : (row.window_ends_at as number);
        const lockedUntil = failures >= policy.maxFailures ? now + policy.lockoutSeconds : 0;
        q.putLoginFailures.run(key, failures, lockedUntil > 0 ? lockedUntil : windowEndsAt, lockedUntil);
        return { failures, lockedUntil };
      }),
    clearLoginFailures: (key) => {
      q.deleteLoginFailures.run(key);
    },
    purgeExpired: (now: EpochSeconds) =>
      db.transaction(() => ({
        authorization_requests: q.purgeRequests.run(now).changes,
        // A used code is kept for an hour past its expiry, so that a late
        // replay still revokes the tokens issued from it (RFC 6749 §4.1.2).
        authorization_codes: q.purgeCodes.run(now - 3600).changes,
        refresh_tokens: q.purgeRefresh.run(now).changes,
        grants: q.purgeGrants.run(now).changes,
        signing_keys: q.purgeKeys.run(now).changes,
        login_failures: q.purgeLoginFailures.run(now, now).changes,
      }))(),
  };
}

/** How long a transaction waits for another process's write to end before it fails with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * BEGIN IMMEDIATE (the write lock), waiting for another process that holds
 * it without blocking this one: SQLite's own busy handler sleeps on the
 * thread, which would stop every request of this process, so the lock is
 * tried without it and tried again on the next turns of the event loop.
 */
async function beginImmediate(db: Database.Database): Promise<void> {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  for (let attempt = 0; ; attempt++) {
    db.pragma("busy_timeout = 0");
    try {
      db.exec("BEGIN IMMEDIATE");
      return;
    } catch (err) {
      if (!(err instanceof Database.SqliteError && err.code === "SQLITE_BUSY") || performance.now() > deadline) throw err;
    } finally {
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
    // A few quick turns first (another process's group commits within one), then every millisecond.
    await new Promise((resolve) => (attempt < 4 ? setImmediate(resolve) : setTimeout(resolve, 1)));
  }
}

/**
 * How operations enter the connection, and its transactions. A transaction
 * holds the connection: calls from outside it wait until it ends, so that no
 * other caller's write can land inside it (and be rolled back with it).
 * Calls made from within the transaction's own async flow, even through the
 * root store (a key loaded on first use, say), join it instead of waiting on
 * themselves. A write outside any transaction joins the commit group like a
 * transaction of its own: it returns once it is on disk.
 */
function groupCommit(db: Database.Database, events: BackendEvents) {
  let current: Promise<void> | undefined;
  const flow = new AsyncLocalStorage<Promise<void>>();
  const joined = () => current !== undefined && flow.getStore() === current;
  const mustWait = () => current !== undefined && flow.getStore() !== current;
  const afterRunning = async (run: (args: unknown[]) => unknown, args: unknown[]) => {
    while (mustWait()) await current;
    return run(args);
  };

  /**
   * Group commit. Transactions that end close together share one COMMIT, so
   * one fsync (with synchronous=FULL) makes a whole group durable instead of
   * one each. A transaction runs as a SAVEPOINT inside the open group (BEGIN
   * IMMEDIATE) and is rolled back alone if it fails; its caller is answered
   * only once the group's COMMIT has returned, so nothing is acknowledged
   * before it is on disk. The group commits on the next turn of the event
   * loop (setImmediate), after the transactions of the current one. A COMMIT
   * that fails rolls the whole group back, and every transaction in it fails.
   * Reads outside transactions may see a released, not yet committed
   * transaction of the group; if that COMMIT fails, its writer is told so.
   */
  let group: { committed: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;
  const commitGroup = async () => {
    while (current !== undefined) await current;
    const closing = group;
    if (closing === undefined) return;
    group = undefined;
    const started = performance.now();
    try {
      db.exec("COMMIT");
      closing.resolve();
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      events.rolledBack();
      closing.reject(err);
    } finally {
      events.observe("commit", (performance.now() - started) / 1000);
    }
  };
  const openGroup = async () => {
    await beginImmediate(db);
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const committed = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // Nobody may be waiting yet; the rejection is delivered to those who are.
    committed.catch(() => {});
    group = { committed, resolve, reject };
    setImmediate(() => void commitGroup());
    return group;
  };

  const transaction = async <T>(fn: () => T | Promise<T>): Promise<T> => {
    if (joined()) return fn();
    while (current !== undefined) await current;
    let release!: () => void;
    const tx = new Promise<void>((resolve) => (release = resolve));
    current = tx;
    const started = performance.now();
    let joinedGroup: NonNullable<typeof group>;
    try {
      // Inside the try: a BEGIN that fails (SQLITE_BUSY from another
      // process) must still release the store.
      joinedGroup = group ?? (await openGroup());
      db.exec("SAVEPOINT tx");
      let result: T;
      try {
        result = await flow.run(tx, fn);
        db.exec("RELEASE tx");
      } catch (err) {
        db.exec("ROLLBACK TO tx");
        db.exec("RELEASE tx");
        // Reads inside it may have remembered what was just rolled back.
        events.rolledBack();
        throw err;
      }
      current = undefined;
      release();
      await joinedGroup.committed;
      return result;
    } finally {
      if (current === tx) {
        current = undefined;
        release();
      }
      events.observe("transaction", (performance.now() - started) / 1000);
    }
  };

  return {
    enter: (kind: "read" | "write", run: (args: unknown[]) => unknown) =>
      kind === "write"
        ? (args: unknown[]) => (joined() ? run(args) : transaction(() => run(args)))
        : (args: unknown[]) => (mustWait() ? afterRunning(run, args) : run(args)),
    transaction,
    inTransaction: joined,
    async close() {
      while (current !== undefined) await current;
      await commitGroup();
      if (db.open) db.close();
    },
  };
}
