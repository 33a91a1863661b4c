/** Signing keys, the longest token lifetime they must outlive, and the change epoch (SigningKeyStore). */
import type Database from "better-sqlite3";
import type { ChangeFeed, Synchronous } from "../backend.js";
import type { KeySealer } from "../sealing.js";
import type { ProjectRef, SigningKeyStore } from "../types.js";
import { atomically, insert, type Mappers, type Row } from "./sql.js";

export function keys(db: Database.Database, map: Mappers, sealer: KeySealer, changes: ChangeFeed): Synchronous<SigningKeyStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertKey: s(`INSERT INTO signing_keys (kid, organization_id, project_id, alg, private_jwk, public_jwk, created_at,
      retired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    listKeys: s(`SELECT * FROM signing_keys WHERE organization_id = ? AND project_id = ?
      ORDER BY retired_at IS NOT NULL, created_at DESC, kid`),
    currentKeys: s("SELECT kid FROM signing_keys WHERE organization_id = ? AND project_id = ? AND retired_at IS NULL"),
    retireKeys: s(`UPDATE signing_keys SET retired_at = ?, expires_at = ?
      WHERE organization_id = ? AND project_id = ? AND retired_at IS NULL`),
    expiringKeys: s(`SELECT kid FROM signing_keys WHERE organization_id = ? AND project_id = ? AND retired_at IS NOT NULL AND expires_at > ?
      ORDER BY kid`),
    expireKeys: s(`UPDATE signing_keys SET expires_at = ?
      WHERE organization_id = ? AND project_id = ? AND retired_at IS NOT NULL AND expires_at > ?`),
    maxTtl: s("SELECT coalesce(max(access_token_ttl), 0) AS ttl FROM clients WHERE organization_id = ? AND project_id = ?"),
  };
  const { signingKey } = map;
  const tx = atomically(db);

  return {
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
    expireSigningKeys: (ref, at) =>
      tx(() => {
        const kids = (q.expiringKeys.all(ref.organization, ref.project, at) as Row[]).map((r) => r.kid as string);
        q.expireKeys.run(at, ref.organization, ref.project, at);
        return kids;
      }),
    maxAccessTokenTtl: (ref) => (q.maxTtl.get(ref.organization, ref.project) as Row).ttl as number,
    getChangeEpoch: () => changes.epoch(),
  };
}
