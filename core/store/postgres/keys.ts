/** Signing keys, the longest token lifetime they must outlive, and the change epoch (SigningKeyStore). */
import type { ChangeFeed } from "../backend.js";
import type { KeySealer } from "../sealing.js";
import type { SigningKeyStore } from "../types.js";
import { insert, type Mappers, type Sql } from "./sql.js";

export function keys(sql: Sql, map: Mappers, sealer: KeySealer, changes: ChangeFeed): SigningKeyStore {
  const { run, rows, one, atomic } = sql;
  const { signingKey } = map;

  return {
    addSigningKey: (k) =>
      insert(`signing key ${k.kid}`, () =>
        run(
          `INSERT INTO signing_keys (kid, organization_id, project_id, alg, private_jwk, public_jwk, created_at, retired_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [k.kid, k.organization, k.project, k.alg, sealer.seal(k.kid, k.privateJwk), k.publicJwk, k.createdAt, k.retiredAt, k.expiresAt],
        ),
      ),
    listSigningKeys: async (ref) =>
      (
        await rows(
          `SELECT * FROM signing_keys WHERE organization_id = $1 AND project_id = $2
            ORDER BY retired_at IS NOT NULL, created_at DESC, kid`,
          [ref.organization, ref.project],
        )
      ).map(signingKey),
    // The project's row is held to the end of the caller's transaction (a
    // rotation: retire, then add): two rotations at once take turns, and the
    // second retires the first's new key, so one key is current.
    retireSigningKeys: (ref, at, expiresAt) =>
      atomic(async () => {
        await run("SELECT 1 FROM projects WHERE organization_id = $1 AND id = $2 FOR UPDATE", [ref.organization, ref.project]);
        return (
        await rows(
          `UPDATE signing_keys SET retired_at = $1, expires_at = $2
            WHERE organization_id = $3 AND project_id = $4 AND retired_at IS NULL RETURNING kid`,
          [at, expiresAt, ref.organization, ref.project],
        )
      )
        .map((r) => r.kid as string)
        .sort();
      }),
    expireSigningKeys: async (ref, at) =>
      (
        await rows(
          `UPDATE signing_keys SET expires_at = $1
            WHERE organization_id = $2 AND project_id = $3 AND retired_at IS NOT NULL AND expires_at > $1 RETURNING kid`,
          [at, ref.organization, ref.project],
        )
      )
        .map((r) => r.kid as string)
        .sort(),
    maxAccessTokenTtl: async (ref) =>
      (await one("SELECT coalesce(max(access_token_ttl), 0) AS ttl FROM clients WHERE organization_id = $1 AND project_id = $2", [
        ref.organization,
        ref.project,
      ]))!.ttl as number,
    getChangeEpoch: async () => changes.epoch(),
  };
}
