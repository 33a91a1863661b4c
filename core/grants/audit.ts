/**
 * The audit events of the token endpoint's grants. The client that asked is
 * the actor, in the chain of the project it asked in; a grant's success is
 * recorded in the transaction that issues its tokens, a refusal on its own
 * once nothing else was written (the RFC 6749 error as its reason), and a
 * refusal that revokes tokens in the transaction that revokes them.
 */
import { created } from "../audit/changes.js";
import { party, recordRefusal, type AuditActionName, type AuditNote } from "../audit/record.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import type { AuditParty, ClientRecord, EpochSeconds, ProjectRef } from "../store/types.js";

/** A grant's event, but for its action: who asked, in which chain, for whom, by which grant type. */
export type GrantEvent = Omit<AuditNote, "action">;

export function grantEvent(project: ProjectRef, client: ClientRecord, grantType: string, target: AuditParty): GrantEvent {
  return {
    chain: { organization: project.organization, project: project.project },
    actor: party("client", client.id),
    target,
    grantType,
  };
}

/**
 * What a token event says of the resources its access token is for (RFC
 * 8707), as TOKEN_EXCHANGED does: a `resources` change; nothing for a token
 * of the project's audience.
 */
export const resourcesNoted = (resources: readonly string[]): Pick<AuditNote, "changes"> =>
  resources.length === 0 ? {} : { changes: created({ resources: [...resources] }) };

/**
 * A refusal that revokes what was issued (a code replayed, a refresh token
 * reused): decided by a grant, carried out by `revokeRefused`.
 */
export interface Revocation {
  /** The grant to revoke; null when nothing was issued yet. */
  grantId: string | null;
  action: AuditActionName;
  /** For the logs (OAuthError.detail); the caller sees invalid_grant. */
  detail: string;
}

/**
 * Runs a grant's decision; an OAuthError it throws is recorded first as a
 * refusal of `action`, with the error's RFC code as reason. Other errors (a
 * database failure) decide nothing and record nothing.
 */
export async function refusalsRecorded<T>(deps: Deps, event: GrantEvent, action: AuditActionName, decide: () => Promise<T>): Promise<T> {
  try {
    return await decide();
  } catch (err) {
    if (err instanceof OAuthError) await recordRefusal(deps, { ...event, action, reason: err.error });
    throw err;
  }
}

/**
 * A grant's decision that may revoke (a code's exchange, a refresh): a
 * refusal it throws is recorded as with `refusalsRecorded`; a Revocation it
 * answers is carried out with its refusal (`revokeRefused`), then refused to
 * the caller as `refusal(detail)`.
 */
export async function decidedWithRevocation<T extends object>(
  deps: Deps,
  event: GrantEvent,
  action: AuditActionName,
  at: EpochSeconds,
  refusal: (detail: string) => OAuthError,
  decide: () => Promise<T | Revocation>,
): Promise<T> {
  const decided = await refusalsRecorded(deps, event, action, decide);
  if ("action" in decided && "grantId" in decided) {
    await revokeRefused(deps, event, decided, at);
    throw refusal(decided.detail);
  }
  return decided as T;
}

/** Revokes the grant of `revocation` and records its refusal (invalid_grant) in the same transaction. */
async function revokeRefused(deps: Deps, event: GrantEvent, revocation: Revocation, at: EpochSeconds): Promise<void> {
  await deps.store.transaction(async (store) => {
    if (revocation.grantId !== null) await store.revokeGrant(revocation.grantId, at);
    await recordRefusal(deps, { ...event, action: revocation.action, reason: "invalid_grant" }, store);
  });
}
