/** Second factors, recovery codes, WebAuthn ceremonies and multi-factor policies (FactorStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import { DEFAULT_MFA_POLICY, factorSealId } from "../rows.js";
import type { KeySealer } from "../sealing.js";
import type { FactorStore } from "../types.js";
import { atomically, insert, json, type Mappers, maybe, type Row } from "./sql.js";

export function factors(db: Database.Database, map: Mappers, sealer: KeySealer): Synchronous<FactorStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertFactor: s(`INSERT INTO factors (organization_id, project_id, id, user_id, kind, name, secret, credential_id,
      counter, transports, device_type, backed_up, confirmed, created_at, last_used_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    listFactors: s("SELECT * FROM factors WHERE organization_id = ? AND project_id = ? AND user_id = ? ORDER BY created_at, id"),
    findPasskey: s("SELECT * FROM factors WHERE organization_id = ? AND project_id = ? AND credential_id = ? AND kind = 'passkey'"),
    // A greater counter, or a passkey that keeps none (0 before and after);
    // an unconfirmed factor only with `confirm` (its first code).
    useFactor: s(`UPDATE factors SET counter = @counter, last_used_at = @at, confirmed = 1, backed_up = coalesce(@backedUp, backed_up)
      WHERE organization_id = @organization AND project_id = @project AND id = @id AND (confirmed = 1 OR @confirm = 1)
      AND (counter < @counter OR (kind = 'passkey' AND counter = 0 AND @counter = 0))`),
    getFactor: s("SELECT * FROM factors WHERE organization_id = ? AND project_id = ? AND user_id = ? AND id = ?"),
    deleteFactor: s("DELETE FROM factors WHERE organization_id = ? AND project_id = ? AND user_id = ? AND id = ?"),
    deleteUserFactors: s("DELETE FROM factors WHERE organization_id = ? AND project_id = ? AND user_id = ? RETURNING *"),
    deleteRecoveryCodes: s("DELETE FROM recovery_codes WHERE organization_id = ? AND project_id = ? AND user_id = ?"),
    insertRecoveryCode: s(`INSERT INTO recovery_codes (organization_id, project_id, user_id, code_hash, issued_at, used_at)
      VALUES (?, ?, ?, ?, ?, NULL)`),
    useRecoveryCode: s(`UPDATE recovery_codes SET used_at = ? WHERE organization_id = ? AND project_id = ? AND user_id = ?
      AND code_hash = ? AND used_at IS NULL`),
    countRecoveryCodes: s(`SELECT count(*) AS total, count(*) - count(used_at) AS left, max(issued_at) AS issued_at
      FROM recovery_codes WHERE organization_id = ? AND project_id = ? AND user_id = ?`),
    insertCeremony: s(`INSERT INTO ceremonies (challenge_hash, organization_id, project_id, purpose, request_id_hash, user_id,
      expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    takeCeremony: s("DELETE FROM ceremonies WHERE challenge_hash = ? RETURNING *"),
    getPolicy: s("SELECT * FROM mfa_policies WHERE organization_id = ? AND project_id = ?"),
    putPolicy: s(`INSERT INTO mfa_policies (organization_id, project_id, required, roles, passwordless) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (organization_id, project_id) DO UPDATE SET required = excluded.required, roles = excluded.roles,
      passwordless = excluded.passwordless`),
  };
  const { factor, ceremony, mfaPolicy } = map;
  const tx = atomically(db);

  return {
    createFactor: (f) =>
      insert("factor", () =>
        q.insertFactor.run(
          f.organization,
          f.project,
          f.id,
          f.userId,
          f.kind,
          f.name,
          f.kind === "totp" ? sealer.seal(factorSealId(f.organization, f.project, f.id), f.secret) : f.secret,
          f.credentialId,
          f.counter,
          json(f.transports),
          f.deviceType,
          f.backedUp ? 1 : 0,
          f.confirmed ? 1 : 0,
          f.createdAt,
          f.lastUsedAt,
        ),
      ),
    listFactors: (ref, userId) => (q.listFactors.all(ref.organization, ref.project, userId) as Row[]).map(factor),
    findPasskey: (ref, credentialId) => maybe(q.findPasskey.get(ref.organization, ref.project, credentialId), factor),
    useFactor: (ref, id, counter, at, change) => {
      const backedUp = change?.backedUp === undefined ? null : change.backedUp ? 1 : 0;
      const confirm = change?.confirm ? 1 : 0;
      return q.useFactor.run({ counter, at, backedUp, organization: ref.organization, project: ref.project, id, confirm }).changes === 1;
    },
    deleteFactor: (ref, userId, id) =>
      tx(() => {
        const found = maybe(q.getFactor.get(ref.organization, ref.project, userId, id), factor);
        if (found !== undefined) q.deleteFactor.run(ref.organization, ref.project, userId, id);
        return found;
      }),
    deleteUserFactors: (ref, userId) =>
      tx(() => {
        q.deleteRecoveryCodes.run(ref.organization, ref.project, userId);
        return (q.deleteUserFactors.all(ref.organization, ref.project, userId) as Row[]).map(factor);
      }),
    setRecoveryCodes: (ref, userId, hashes, at) =>
      tx(() => {
        q.deleteRecoveryCodes.run(ref.organization, ref.project, userId);
        for (const hash of hashes) q.insertRecoveryCode.run(ref.organization, ref.project, userId, hash, at);
      }),
    useRecoveryCode: (ref, userId, hash, at) =>
      q.useRecoveryCode.run(at, ref.organization, ref.project, userId, hash).changes === 1,
    countRecoveryCodes: (ref, userId) => {
      const row = q.countRecoveryCodes.get(ref.organization, ref.project, userId) as Row;
      return { total: row.total as number, left: row.left as number, issuedAt: (row.issued_at as number | null) ?? null };
    },
    createCeremony: (c) =>
      insert("ceremony", () =>
        q.insertCeremony.run(c.challengeHash, c.organization, c.project, c.purpose, c.requestIdHash, c.userId, c.expiresAt),
      ),
    takeCeremony: (challengeHash) => maybe(q.takeCeremony.get(challengeHash), ceremony),
    getMfaPolicy: (ref) =>
      maybe(q.getPolicy.get(ref.organization, ref.project), mfaPolicy) ?? { ...ref, ...DEFAULT_MFA_POLICY, roles: [] },
    setMfaPolicy: (p) => {
      q.putPolicy.run(p.organization, p.project, p.required, json(p.roles), p.passwordless ? 1 : 0);
    },
  };
}
