/** Users (UserStore). */
import { prefixRange } from "../../lib/prefix.js";
import { LONGEST_USER_FIELD, type UserStore } from "../types.js";
import { insert, type Mappers, maybe, type Sql } from "./sql.js";

export function users(sql: Sql, map: Mappers): UserStore {
  const { run, rows, one, count, atomic } = sql;
  const { user } = map;

  return {
    createUser: (u) =>
      insert(`user ${u.id}`, () =>
        run(
          `INSERT INTO users (organization_id, project_id, id, name, email, email_verified, given_name, family_name, password_hash,
            enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [u.organization, u.project, u.id, u.name, u.email, u.emailVerified, u.givenName, u.familyName, u.passwordHash, u.enabled, u.createdAt],
        ),
      ),
    getUser: async (ref, id) =>
      maybe(await one("SELECT * FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id]), user),
    listUsers: async (ref, page, prefix) => {
      if (prefix === undefined || prefix === "") {
        return (
          await rows("SELECT * FROM users WHERE organization_id = $1 AND project_id = $2 AND id > $3 ORDER BY id LIMIT $4", [
            ref.organization,
            ref.project,
            page.after,
            page.limit,
          ])
        ).map(user);
      }
      const { from, to } = prefixRange(prefix, LONGEST_USER_FIELD);
      // As SQLite's (sqlite/users.ts): the ids in the prefix's range from the
      // page's start (the primary key) and the emails in it (users_email,
      // migration 5, in byte order), each cut to the page, then merged. Each
      // part is planned alone (MATERIALIZED), and the page's rows are read by
      // primary key one each (LATERAL … LIMIT 1): a plan that stays cheap
      // before the table has statistics too (after a bulk import), when the
      // planner would otherwise run a part once per user of the project.
      const start = Buffer.compare(Buffer.from(page.after), Buffer.from(from)) > 0 ? page.after : from;
      return (
        await rows(
          `WITH by_email AS MATERIALIZED (
              SELECT id FROM users WHERE organization_id = $1 AND project_id = $2
                AND email COLLATE "C" >= $5 AND email COLLATE "C" < $6 AND id > $3
            ), matches AS MATERIALIZED (
              (SELECT id FROM users WHERE organization_id = $1 AND project_id = $2
                AND id >= $4 AND id <> $3 AND id < $6 ORDER BY id LIMIT $7)
              UNION
              (SELECT id FROM by_email ORDER BY id LIMIT $7)
            )
            SELECT u.* FROM (SELECT id FROM matches ORDER BY id LIMIT $7) AS page
              CROSS JOIN LATERAL (SELECT * FROM users WHERE organization_id = $1 AND project_id = $2 AND id = page.id LIMIT 1) AS u
            ORDER BY u.id`,
          [ref.organization, ref.project, page.after, start, from, to, page.limit],
        )
      ).map(user);
    },
    updateUser: async (u) =>
      (await count(
        `UPDATE users SET name = $1, email = $2, email_verified = $3, given_name = $4, family_name = $5, enabled = $6
          WHERE organization_id = $7 AND project_id = $8 AND id = $9`,
        [u.name, u.email, u.emailVerified, u.givenName, u.familyName, u.enabled, u.organization, u.project, u.id],
      )) === 1,
    setUserPassword: async (ref, id, hash) =>
      (await count("UPDATE users SET password_hash = $1 WHERE organization_id = $2 AND project_id = $3 AND id = $4", [
        hash,
        ref.organization,
        ref.project,
        id,
      ])) === 1,
    deleteUser: (ref, id) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, id];
        // In the order of a code exchange, as deleteClient.
        await run("DELETE FROM authorization_codes WHERE organization_id = $1 AND project_id = $2 AND user_id = $3", args);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1 AND project_id = $2 AND user_id = $3", args);
        await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR UPDATE", args);
        await run("DELETE FROM grants WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND kind = 'user'", args);
        return (await count("DELETE FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3", args)) === 1;
      }),
    revokeUserGrants: (ref, userId, at) =>
      atomic(async () => {
        const args = [at, ref.organization, ref.project, userId];
        await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR UPDATE", [ref.organization, ref.project, userId]);
        // Grants before their refresh tokens, as everywhere: one lock order.
        await run(
          "UPDATE grants SET revoked_at = coalesce(revoked_at, $1) WHERE organization_id = $2 AND project_id = $3 AND user_id = $4 AND kind = 'user'",
          args,
        );
        await run(
          `UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, $1) WHERE grant_id IN
            (SELECT id FROM grants WHERE organization_id = $2 AND project_id = $3 AND user_id = $4 AND kind = 'user')`,
          args,
        );
      }),
  };
}
