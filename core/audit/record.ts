/**
 * Recording audit events. A change and its event are written in one
 * transaction (`audited`), so that an event exists if and only if its change
 * happened; a refusal changes nothing but its event (`recordRefusal`). Where
 * the request came from and its id are taken from the current request's
 * scope (wire/request-id.ts), which the gateway and the core's port fill.
 */
import type { AuditAction } from "../../gen/iam/v1/audit_pb.js";
import { currentRequest } from "../../wire/request-id.js";
import type { Clock } from "../lib/clock.js";
import type { Deps } from "../deps.js";
import type { AuditChange, AuditEventInput, AuditParty, ProjectRef, Store } from "../store/types.js";

/** An action's name in the store and the hash: the proto enum value's name without its prefix. */
export type AuditActionName = Exclude<keyof typeof AuditAction, "UNSPECIFIED">;

/** The chain of what belongs to no project: organizations, projects created or deleted. */
export const SERVER_CHAIN: ProjectRef = { organization: "", project: "" };

/** What a handler says of a decision; the rest comes from the request and the clock. */
export interface AuditNote {
  /** The chain: the project the decision concerns, or SERVER_CHAIN. */
  chain: ProjectRef;
  action: AuditActionName;
  actor: AuditParty | null;
  target: AuditParty | null;
  changes?: AuditChange[];
  /** For a token event, the request's grant type. */
  grantType?: string;
  /** The scopes approved or granted. */
  scopes?: readonly string[];
  /** For a refusal: an RFC error code or a short reason; never a secret. */
  reason?: string;
  /** Overrides of the request's scope: the address a Login request carries, say. */
  clientAddress?: string;
  userAgent?: string;
}

export const party = (kind: AuditParty["kind"], id: string, project = ""): AuditParty => ({ kind, id, project });

/** `organization/project`, as an actor's project is written. */
export const projectName = (ref: ProjectRef) => `${ref.organization}/${ref.project}`;

/** The event of `note`, at the clock's time, from the current request. */
export function auditEvent(clock: Clock, note: AuditNote, outcome: "success" | "failure"): AuditEventInput {
  const scope = currentRequest();
  return {
    organization: note.chain.organization,
    project: note.chain.project,
    timeMs: clock.now(),
    action: note.action,
    outcome,
    reason: note.reason ?? "",
    actor: note.actor,
    target: note.target,
    clientAddress: (note.clientAddress ?? scope?.clientAddress ?? "").slice(0, 64),
    userAgent: (note.userAgent ?? scope?.userAgent ?? "").slice(0, 256),
    requestId: scope?.requestId ?? "",
    changes: note.changes ?? [],
    grantType: note.grantType ?? "",
    scopes: [...(note.scopes ?? [])],
  };
}

/**
 * Runs `change` in a transaction and appends its event in the same one: both
 * land, or neither does. `note` may depend on what the change answered.
 */
export async function audited<T>(deps: Deps, change: (store: Store) => Promise<T>, note: (result: T) => AuditNote | undefined): Promise<T> {
  return deps.store.transaction(async (tx) => {
    const result = await change(tx);
    const said = note(result);
    if (said !== undefined) await tx.appendAuditEvent(auditEvent(deps.clock, said, "success"));
    return result;
  });
}

/** Records a decision that allowed something and changed nothing else (a sign-in, a token issued). */
export async function recordSuccess(deps: Deps, note: AuditNote, store: Store = deps.store): Promise<void> {
  await store.appendAuditEvent(auditEvent(deps.clock, note, "success"));
}

/** Records a refusal: nothing changed but this event. */
export async function recordRefusal(deps: Deps, note: AuditNote & { reason: string }, store: Store = deps.store): Promise<void> {
  await store.appendAuditEvent(auditEvent(deps.clock, note, "failure"));
}
