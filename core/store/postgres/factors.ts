/** Second factors, recovery codes, WebAuthn ceremonies and multi-factor policies (FactorStore). */
import { DEFAULT_MFA_POLICY, factorSealId } from "../rows.js";
import type { KeySealer } from "../sealing.js";
import type { FactorStore, ProjectRef } from "../types.js";
import { insert, type Mappers, maybe, type Sql } from "./sql.js";

export function factors(sql: Sql, map: Mappers, sealer: KeySealer): FactorStore {
  const { run, rows, one, count, atomic } = sql;
  const { factor, ceremony, mfaPolicy } = map;

  /**
   * Holds the user's row until the caller's transaction ends, so that two
   * changes to one user's codes (a regeneration, a reset) run one after the
   * other: each DELETE sees only the codes committed when it began, and two
   * regenerations at once would otherwise both keep their codes. The lock
   * (NO KEY UPDATE) leaves the inserts that merely name the user free.
   */
  const lockUser = (ref: ProjectRef, userId: string) =>
    run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR NO KEY UPDATE", [
      ref.organization,
      ref.project,
      userId,
    ]);
  const deleteRecoveryCodes = (ref: ProjectRef, userId: string) =>
    run("DELETE FROM recovery_codes WHERE organization_id = $1 AND project_id = $2 AND user_id = $3", [ref.organization, ref.project, userId]);

  return {
    createFactor: (f) =>
      insert("factor", () =>
        run(
          `INSERT INTO factors (organization_id, project_id, id, user_id, kind, name, secret, credential_id, counter, transports,
            device_type, backed_up, confirmed, created_at, last_used_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
          [
            f.organization,
            f.project,
            f.id,
            f.userId,
            f.kind,
            f.name,
            // Bound to its factor, as rows.ts opens it: a sealed secret cannot be moved to another row.
            f.kind === "totp" ? sealer.seal(factorSealId(f.organization, f.project, f.id), f.secret) : f.secret,
            f.credentialId,
            f.counter,
            f.transports,
            f.deviceType,
            f.backedUp,
            f.confirmed,
            f.createdAt,
            f.lastUsedAt,
          ],
        ),
      ),
    listFactors: async (ref, userId) =>
      (
        await rows("SELECT * FROM factors WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 ORDER BY created_at, id", [
          ref.organization,
          ref.project,
          userId,
        ])
      ).map(factor),
    findPasskey: async (ref, credentialId) =>
      maybe(
        await one("SELECT * FROM factors WHERE organization_id = $1 AND project_id = $2 AND credential_id = $3 AND kind = 'passkey'", [
          ref.organization,
          ref.project,
          credentialId,
        ]),
        factor,
      ),
    // One conditional UPDATE: of two replicas accepting one TOTP code (or one
    // passkey assertion) at once, the second waits for the first's row lock,
    // then finds the counter already there and changes nothing. A greater
    // counter, or a passkey that keeps none (0 before and after); an
    // unconfirmed factor only with `confirm` (its first code).
    useFactor: async (ref, id, counter, at, change) =>
      (await count(
        `UPDATE factors SET counter = $1::bigint, last_used_at = $2::bigint, confirmed = true, backed_up = coalesce($3::boolean, backed_up)
          WHERE organization_id = $4 AND project_id = $5 AND id = $6 AND (confirmed OR $7::boolean)
          AND (counter < $1::bigint OR (kind = 'passkey' AND counter = 0 AND $1::bigint = 0))`,
        [counter, at, change?.backedUp ?? null, ref.organization, ref.project, id, change?.confirm === true],
      )) === 1,
    deleteFactor: async (ref, userId, id) =>
      maybe(
        await one("DELETE FROM factors WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND id = $4 RETURNING *", [
          ref.organization,
          ref.project,
          userId,
          id,
        ]),
        factor,
      ),
    deleteUserFactors: (ref, userId) =>
      atomic(async () => {
        await lockUser(ref, userId);
        await deleteRecoveryCodes(ref, userId);
        return (
          await rows(
            `WITH deleted AS (DELETE FROM factors WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 RETURNING *)
              SELECT * FROM deleted ORDER BY created_at, id`,
            [ref.organization, ref.project, userId],
          )
        ).map(factor);
      }),
    setRecoveryCodes: (ref, userId, hashes, at) =>
      atomic(async () => {
        await lockUser(ref, userId);
        await deleteRecoveryCodes(ref, userId);
        await run(
          `INSERT INTO recovery_codes (organization_id, project_id, user_id, code_hash, issued_at, used_at)
            SELECT $1, $2, $3, hash, $5, NULL FROM unnest($4::text[]) AS hash`,
          [ref.organization, ref.project, userId, [...hashes], at],
        );
      }),
    // One conditional UPDATE, as useFactor: a code spent by two replicas at once counts once.
    useRecoveryCode: async (ref, userId, hash, at) =>
      (await count(
        `UPDATE recovery_codes SET used_at = $1 WHERE organization_id = $2 AND project_id = $3 AND user_id = $4
          AND code_hash = $5 AND used_at IS NULL`,
        [at, ref.organization, ref.project, userId, hash],
      )) === 1,
    countRecoveryCodes: async (ref, userId) => {
      const row = (await one(
        `SELECT count(*) AS total, count(*) - count(used_at) AS remaining, max(issued_at) AS issued_at
          FROM recovery_codes WHERE organization_id = $1 AND project_id = $2 AND user_id = $3`,
        [ref.organization, ref.project, userId],
      ))!;
      return { total: row.total as number, left: row.remaining as number, issuedAt: (row.issued_at as number | null) ?? null };
    },
    createCeremony: (c) =>
      insert("ceremony", () =>
        run(
          `INSERT INTO ceremonies (challenge_hash, organization_id, project_id, purpose, request_id_hash, user_id, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [c.challengeHash, c.organization, c.project, c.purpose, c.requestIdHash, c.userId, c.expiresAt],
        ),
      ),
    // Answered once: of two answers to one challenge at once, the second finds it gone.
    takeCeremony: async (challengeHash) =>
      maybe(await one("DELETE FROM ceremonies WHERE challenge_hash = $1 RETURNING *", [challengeHash]), ceremony),
    getMfaPolicy: async (ref) =>
      maybe(await one("SELECT * FROM mfa_policies WHERE organization_id = $1 AND project_id = $2", [ref.organization, ref.project]), mfaPolicy) ?? {
        ...ref,
        ...DEFAULT_MFA_POLICY,
        roles: [],
      },
    setMfaPolicy: async (p) => {
      await run(
        `INSERT INTO mfa_policies (organization_id, project_id, required, roles, passwordless) VALUES ($1, $2, $3, $4, $5)
          ON CONFLICT (organization_id, project_id) DO UPDATE SET required = excluded.required, roles = excluded.roles,
          passwordless = excluded.passwordless`,
        [p.organization, p.project, p.required, p.roles, p.passwordless],
      );
    },
  };
}
