/** Grants and their refresh tokens (GrantStore, RefreshTokenStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { DpopProofStore, EpochSeconds, GrantRecord, GrantStore, RefreshTokenStore } from "../types.js";
import { atomically, insert, json, type Mappers, maybe, type Row } from "./sql.js";

export function grants(db: Database.Database, map: Mappers): Synchronous<GrantStore & RefreshTokenStore & DpopProofStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertGrant: s(`INSERT INTO grants (id, organization_id, project_id, client_id, kind, user_id, scopes, auth_time,
      session_id, acr, amr, claims, created_at, expires_at, revoked_at, dpop_jkt, resources, parent_grant_id)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    sessionEnd: s("SELECT ended_at FROM sessions WHERE organization_id = ? AND project_id = ? AND id = ?"),
    getGrant: s("SELECT * FROM grants WHERE id = ?"),
    findClientGrant: s(`SELECT * FROM grants WHERE organization_id = ? AND project_id = ? AND client_id = ?
      AND kind = 'client' AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1`),
    extendGrant: s("UPDATE grants SET expires_at = max(expires_at, ?) WHERE id = ?"),
    revokeGrant: s("UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
    revokeGrantTokens: s(
      "UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, ?) WHERE grant_id = ?",
    ),
    insertRefresh: s(`INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at, expires_at,
      rotated_at, parent_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    getRefresh: s("SELECT * FROM refresh_tokens WHERE token_hash = ?"),
    recordSingleUse: s("INSERT INTO dpop_proofs (proof_hash, expires_at) VALUES (?, ?) ON CONFLICT (proof_hash) DO NOTHING"),
    rotateRefresh: s("UPDATE refresh_tokens SET rotated_at = ? WHERE token_hash = ? AND rotated_at IS NULL"),
    // Siblings are superseded, not exchanged: rotated_at 0 puts them outside
    // any grace window, so presenting one later is reuse.
    rotateSiblings: s(`UPDATE refresh_tokens SET rotated_at = 0 WHERE rotated_at IS NULL AND token_hash != ?
      AND parent_hash = (SELECT parent_hash FROM refresh_tokens WHERE token_hash = ?)`),
  };
  const { grant, refresh } = map;
  const tx = atomically(db);
  /** When the grant's sign-in session ended (its creation time when the session is gone); null while it is live or for none. */
  const sessionEndedAt = (g: GrantRecord): EpochSeconds | null => {
    if (g.sessionId === "") return null;
    const row = q.sessionEnd.get(g.organization, g.project, g.sessionId) as Row | undefined;
    return row === undefined ? g.createdAt : (row.ended_at as EpochSeconds | null);
  };

  return {
    createGrant: (g) =>
      insert("grant", () =>
        tx(() =>
          q.insertGrant.run(
          g.id,
          g.organization,
          g.project,
          g.clientId,
          g.kind,
          g.userId,
          json(g.scopes),
          g.authTime,
          g.sessionId,
          g.acr,
          json(g.amr),
          g.claims,
          g.createdAt,
          g.expiresAt,
          g.revokedAt ?? sessionEndedAt(g),
          g.dpopJkt,
          json(g.resources),
          g.parentGrantId ?? "",
          ),
        ),
      ),
    getGrant: (id) => maybe(q.getGrant.get(id), grant),
    findClientGrant: (ref, clientId) => maybe(q.findClientGrant.get(ref.organization, ref.project, clientId), grant),
    extendGrant: (id, expiresAt) => {
      q.extendGrant.run(expiresAt, id);
    },
    revokeGrant: (id, at) =>
      tx(() => {
        const revoked = q.revokeGrant.run(at, id).changes === 1;
        q.revokeGrantTokens.run(at, id);
        return revoked;
      }),
    createRefreshToken: (t) =>
      insert("refresh token", () =>
        q.insertRefresh.run(t.tokenHash, t.grantId, t.clientId, json(t.scopes), t.createdAt, t.expiresAt, t.rotatedAt, t.parentHash),
      ),
    getRefreshToken: (tokenHash) => maybe(q.getRefresh.get(tokenHash), refresh),
    recordSingleUse: (proofHash, expiresAt) => q.recordSingleUse.run(proofHash, expiresAt).changes === 1,
    rotateRefreshToken: (tokenHash, at) =>
      tx(() => {
        if (q.rotateRefresh.run(at, tokenHash).changes !== 1) return false;
        q.rotateSiblings.run(tokenHash, tokenHash);
        return true;
      }),
  };
}
