/** Grants and their refresh tokens (GrantStore, RefreshTokenStore). */
import type { DpopProofStore, GrantStore, RefreshTokenStore } from "../types.js";
import { insert, type Mappers, maybe, type Sql } from "./sql.js";

export function grants(sql: Sql, map: Mappers): GrantStore & RefreshTokenStore & DpopProofStore {
  const { run, one, count, atomic } = sql;
  const { grant, refresh } = map;

  return {
    createGrant: (g) =>
      insert("grant", () => atomic(async () => {
        // The client's and the user's rows are held (FOR SHARE, to the end of
        // the caller's transaction): a replica deleting or disabling one at
        // this moment waits for this grant to be committed, and then deletes
        // or revokes it too; or this waits for it, and the caller's re-read of
        // the user (inside its transaction) finds it gone or disabled.
        await run("SELECT 1 FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR SHARE", [g.organization, g.project, g.clientId]);
        if (g.kind === "user") {
          await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR SHARE", [g.organization, g.project, g.userId]);
        }
        // Then its sign-in session's row (FOR SHARE, after the user's, as
        // endSession takes them): an end at this moment waits for this grant
        // to be committed and then revokes it; or this waits for the end and
        // writes the grant revoked, as it does when the session is gone.
        let revokedAt = g.revokedAt;
        if (g.sessionId !== "") {
          const held = await one("SELECT ended_at FROM sessions WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR SHARE", [
            g.organization,
            g.project,
            g.sessionId,
          ]);
          revokedAt ??= held === undefined ? g.createdAt : (held.ended_at as number | null);
        }
        await run(
          `INSERT INTO grants (id, organization_id, project_id, client_id, kind, user_id, scopes, auth_time, session_id, acr, amr, claims,
            created_at, expires_at, revoked_at, dpop_jkt, resources, parent_grant_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
          [
            g.id,
            g.organization,
            g.project,
            g.clientId,
            g.kind,
            g.userId,
            g.scopes,
            g.authTime,
            g.sessionId,
            g.acr,
            g.amr,
            g.claims,
            g.createdAt,
            g.expiresAt,
            revokedAt,
            g.dpopJkt,
            g.resources,
            g.parentGrantId ?? "",
          ],
        );
      })),
    getGrant: async (id) => maybe(await one("SELECT * FROM grants WHERE id = $1", [id]), grant),
    findClientGrant: async (ref, clientId) =>
      maybe(
        await one(
          `SELECT * FROM grants WHERE organization_id = $1 AND project_id = $2 AND client_id = $3
            AND kind = 'client' AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1`,
          [ref.organization, ref.project, clientId],
        ),
        grant,
      ),
    extendGrant: async (id, expiresAt) => {
      await run("UPDATE grants SET expires_at = greatest(expires_at, $1::bigint) WHERE id = $2", [expiresAt, id]);
    },
    revokeGrant: (id, at) =>
      atomic(async () => {
        // At READ COMMITTED, a transaction that revoked it first is waited
        // for, and the row then read again: this one revokes nothing.
        const revoked = await run("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [at, id]);
        await run("UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, $1) WHERE grant_id = $2", [at, id]);
        return revoked.rowCount === 1;
      }),
    createRefreshToken: (t) =>
      insert("refresh token", () =>
        run(
          `INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at, expires_at, rotated_at, parent_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [t.tokenHash, t.grantId, t.clientId, t.scopes, t.createdAt, t.expiresAt, t.rotatedAt, t.parentHash],
        ),
      ),
    getRefreshToken: async (tokenHash) => maybe(await one("SELECT * FROM refresh_tokens WHERE token_hash = $1", [tokenHash]), refresh),
    // One conditional insert: of two replicas given one proof at once, the second finds the first's row.
    recordSingleUse: async (proofHash, expiresAt) =>
      (await sql.count("INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES ($1, $2) ON CONFLICT (proof_hash) DO NOTHING", [proofHash, expiresAt])) === 1,
    rotateRefreshToken: (tokenHash, at) =>
      atomic(async () => {
        // The grant's row first, held to the end of the caller's transaction:
        // refreshes of one family (rotations, grace-window siblings) and its
        // revocation take turns, so no sibling is inserted unseen by a
        // concurrent rotation and no two rotations deadlock on each other's rows.
        await run("SELECT 1 FROM grants WHERE id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = $1) FOR UPDATE", [tokenHash]);
        if ((await count("UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL", [at, tokenHash])) !== 1) {
          return false;
        }
        // Siblings are superseded, not exchanged: rotated_at 0 puts them outside any grace window.
        await run(
          `UPDATE refresh_tokens SET rotated_at = 0 WHERE rotated_at IS NULL AND token_hash != $1
            AND parent_hash = (SELECT parent_hash FROM refresh_tokens WHERE token_hash = $1)`,
          [tokenHash],
        );
        return true;
      }),
  };
}
