/**
 * The audit trail's retention: events older than IAM_AUDIT_RETENTION_DAYS are
 * deleted by the purge job, a chain at a time, and a checkpoint is kept in
 * their place: the last deleted event's sequence and hash, signed (a compact
 * JWS, ES256) with the chain's project's key, or iam-admins' for the server's
 * chain and for a project deleted since. Its private key is sealed with the
 * KEK at rest, so whoever can write the database but not read the KEK cannot
 * make a checkpoint of their own. The purge records itself in the chain
 * (AUDIT_EVENTS_PURGED, with the checkpoint), in the same transaction.
 */
import { compactVerify, decodeProtectedHeader } from "jose";
import { issuerOf, projectOfIssuer, type Deps } from "../deps.js";
import { DEFAULT_TENANT } from "../rpc/admin/default-tenant.js";
import type { AuditCheckpoint, ProjectRef } from "../store/types.js";
import { signJwt } from "../tokens/keys.js";
import { audited, party } from "./record.js";

/** The JWS `typ` of a checkpoint: never taken for a token. */
export const CHECKPOINT_TYPE = "iam-audit-checkpoint+jwt";

const DAY_MS = 86_400_000;

const chainName = (chain: ProjectRef) => `${chain.organization}/${chain.project}`;

/** The project whose key signs a chain's checkpoint. */
async function signerOf(deps: Deps, chain: ProjectRef): Promise<ProjectRef> {
  if (chain.organization !== "" && (await deps.store.getProject(chain)) !== undefined) return chain;
  return { organization: DEFAULT_TENANT.organization, project: DEFAULT_TENANT.project };
}

/** Signs the checkpoint of `chain` after its event `sequence` of hash `hash`. */
export async function signCheckpoint(deps: Deps, chain: ProjectRef, sequence: number, hash: string, nowMs: number): Promise<string> {
  const signer = await signerOf(deps, chain);
  const key = await deps.keys.signing(signer, "ES256");
  return signJwt(
    { alg: "ES256", kid: key.kid, typ: CHECKPOINT_TYPE },
    { iss: issuerOf(deps.config.baseUrl, signer), chain: chainName(chain), sequence, hash, iat: Math.floor(nowMs / 1000) },
    key.key,
  );
}

/**
 * Whether a checkpoint's signature holds: `valid`; `invalid` (altered, or
 * signed by a key that is not its project's); or `unknown key` when the key
 * that signed it has since expired and left the database, so that nothing
 * can be said of it.
 */
export async function checkCheckpoint(deps: Deps, checkpoint: AuditCheckpoint): Promise<"valid" | "invalid" | "unknown key"> {
  let kid: string | undefined;
  let issuer: unknown;
  try {
    const header = decodeProtectedHeader(checkpoint.signature);
    kid = header.kid;
    if (header.typ !== CHECKPOINT_TYPE || header.alg !== "ES256" || kid === undefined) return "invalid";
    issuer = (JSON.parse(Buffer.from(checkpoint.signature.split(".")[1] ?? "", "base64url").toString("utf8")) as { iss?: unknown }).iss;
  } catch {
    return "invalid";
  }
  const signer = typeof issuer === "string" ? projectOfIssuer(deps.config.baseUrl, issuer) : undefined;
  if (signer === undefined) return "invalid";
  const key = await deps.keys.verifying(signer, kid);
  if (key === undefined) return "unknown key";
  try {
    const { payload } = await compactVerify(checkpoint.signature, key.key, { algorithms: ["ES256"] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    const same = claims.chain === chainName(checkpoint) && claims.sequence === checkpoint.sequence && claims.hash === checkpoint.hash;
    return same ? "valid" : "invalid";
  } catch {
    return "invalid";
  }
}

/** Deletes every chain's events older than the retention, keeping a signed checkpoint; answers how many went. */
export async function purgeAuditTrail(deps: Deps, nowMs: number, retentionDays: number): Promise<number> {
  if (retentionDays === 0) return 0;
  const beforeMs = nowMs - retentionDays * DAY_MS;
  let purged = 0;
  for (const chain of await deps.store.listAuditChains()) {
    const prefix = await deps.store.auditPrefixBefore(chain, beforeMs);
    if (prefix === undefined) continue;
    const signature = await signCheckpoint(deps, chain, prefix.sequence, prefix.hash, nowMs);
    const checkpoint = { ...chain, ...prefix, signature, createdAtMs: nowMs };
    const changes = [
      { field: "purged_through", before: "", after: String(prefix.sequence) },
      { field: "checkpoint", before: "", after: JSON.stringify(signature) },
    ];
    // Another replica's purge of the same chain may have got there first: then nothing went, and nothing is recorded.
    purged += await audited(
      deps,
      (store) => store.purgeAuditEvents(checkpoint),
      (gone) => (gone === 0 ? undefined : { chain, action: "AUDIT_EVENTS_PURGED", actor: party("server", ""), target: null, changes }),
    );
  }
  return purged;
}
