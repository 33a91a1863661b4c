/** Users (UserStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import { prefixRange } from "../../lib/prefix.js";
import { LONGEST_USER_FIELD, type UserStore } from "../types.js";
import { atomically, insert, type Mappers, maybe, type Row } from "./sql.js";

export function users(db: Database.Database, map: Mappers): Synchronous<UserStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertUser: s(`INSERT INTO users (organization_id, project_id, id, name, email, email_verified, given_name, family_name,
      password_hash, enabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getUser: s("SELECT * FROM users WHERE organization_id = ? AND project_id = ? AND id = ?"),
    listUsers: s("SELECT * FROM users WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?"),
    // The page of each prefix, by id: the ids in the prefix's range (the
    // primary key, from the page's start), and the emails in it (users_email,
    // migration 8), each cut to the page, then merged. The id range starts
    // at the later of the prefix and the page's start, `<> @after` making
    // the latter exclusive: one lower bound, which the planner uses.
    listUsersByPrefix: s(`SELECT * FROM users WHERE organization_id = @organization AND project_id = @project AND id IN (
        SELECT id FROM (SELECT id FROM users WHERE organization_id = @organization AND project_id = @project
          AND id >= @start AND id <> @after AND id < @to ORDER BY id LIMIT @limit)
        UNION ALL
        SELECT id FROM (SELECT id FROM users INDEXED BY users_email WHERE organization_id = @organization AND project_id = @project
          AND email >= @from AND email < @to AND id > @after ORDER BY id LIMIT @limit))
      ORDER BY id LIMIT @limit`),
    updateUser: s(`UPDATE users SET name = ?, email = ?, email_verified = ?, given_name = ?, family_name = ?, enabled = ?
      WHERE organization_id = ? AND project_id = ? AND id = ?`),
    setUserPassword: s("UPDATE users SET password_hash = ? WHERE organization_id = ? AND project_id = ? AND id = ?"),
    deleteUserGrants: s("DELETE FROM grants WHERE organization_id = ? AND project_id = ? AND user_id = ? AND kind = 'user'"),
    deleteUserCodes: s("DELETE FROM authorization_codes WHERE organization_id = ? AND project_id = ? AND user_id = ?"),
    deleteUserRequests: s("DELETE FROM authorization_requests WHERE organization_id = ? AND project_id = ? AND user_id = ?"),
    deleteUser: s("DELETE FROM users WHERE organization_id = ? AND project_id = ? AND id = ?"),
    revokeUserRefresh: s(`UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, ?) WHERE grant_id IN
      (SELECT id FROM grants WHERE organization_id = ? AND project_id = ? AND user_id = ? AND kind = 'user')`),
    revokeUserGrants: s(
      "UPDATE grants SET revoked_at = coalesce(revoked_at, ?) WHERE organization_id = ? AND project_id = ? AND user_id = ? AND kind = 'user'",
    ),
  };
  const { user } = map;
  const tx = atomically(db);

  return {
    createUser: (u) =>
      insert(`user ${u.id}`, () =>
        q.insertUser.run(
          u.organization,
          u.project,
          u.id,
          u.name,
          u.email,
          u.emailVerified ? 1 : 0,
          u.givenName,
          u.familyName,
          u.passwordHash,
          u.enabled ? 1 : 0,
          u.createdAt,
        ),
      ),
    getUser: (ref, id) => maybe(q.getUser.get(ref.organization, ref.project, id), user),
    listUsers: (ref, page, prefix) => {
      if (prefix === undefined || prefix === "") {
        return (q.listUsers.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(user);
      }
      const { from, to } = prefixRange(prefix, LONGEST_USER_FIELD);
      // Compared as SQLite does: by their UTF-8 bytes.
      const start = Buffer.compare(Buffer.from(page.after), Buffer.from(from)) > 0 ? page.after : from;
      const args = { organization: ref.organization, project: ref.project, after: page.after, start, from, to, limit: page.limit };
      return (q.listUsersByPrefix.all(args) as Row[]).map(user);
    },
    updateUser: (u) =>
      q.updateUser.run(
        u.name,
        u.email,
        u.emailVerified ? 1 : 0,
        u.givenName,
        u.familyName,
        u.enabled ? 1 : 0,
        u.organization,
        u.project,
        u.id,
      ).changes === 1,
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
  };
}
