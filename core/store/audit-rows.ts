/**
 * The audit trail's rows, the same in every backend: an event's columns in
 * order, a row read back as an event or a checkpoint, and an event as
 * stored once its place in its chain is known.
 */
import type { AuditCheckpoint, AuditEventInput, AuditEventRecord, AuditParty } from "./types.js";
import type { Row } from "./rows.js";

const partyOf = (kind: unknown, id: unknown, project: unknown): AuditParty | null =>
  kind === "" ? null : ({ kind, id, project } as AuditParty);


/** An audit event from its row; the same columns on either backend (changes as JSON text). */
export function auditEventOf(r: Row): AuditEventRecord {
  return {
    organization: r.organization_id as string,
    project: r.project_id as string,
    sequence: r.sequence as number,
    timeMs: r.time_ms as number,
    action: r.action as string,
    outcome: r.outcome as "success" | "failure",
    reason: r.reason as string,
    actor: partyOf(r.actor_kind, r.actor_id, r.actor_project),
    target: partyOf(r.target_kind, r.target_id, ""),
    clientAddress: r.client_address as string,
    userAgent: r.user_agent as string,
    requestId: r.request_id as string,
    changes: JSON.parse(r.changes as string) as AuditEventRecord["changes"],
    grantType: r.grant_type as string,
    scopes: JSON.parse(r.scopes as string) as string[],
    previousHash: r.previous_hash as string,
    hash: r.hash as string,
  };
}

/** The columns of an audit event's row, in the order of `auditEventValues`. */
export const AUDIT_EVENT_COLUMNS = [
  "organization_id",
  "project_id",
  "sequence",
  "time_ms",
  "action",
  "outcome",
  "reason",
  "actor_kind",
  "actor_id",
  "actor_project",
  "target_kind",
  "target_id",
  "client_address",
  "user_agent",
  "request_id",
  "changes",
  "grant_type",
  "scopes",
  "previous_hash",
  "hash",
] as const;

/**
 * The event as stored at `sequence`. Written out field by field: an object
 * spread of an event costs microseconds, and every event is copied so.
 */
export function auditRecord(e: AuditEventInput, sequence: number, previousHash: string, hash: string): AuditEventRecord {
  return {
    organization: e.organization,
    project: e.project,
    sequence,
    timeMs: e.timeMs,
    action: e.action,
    outcome: e.outcome,
    reason: e.reason,
    actor: e.actor,
    target: e.target,
    clientAddress: e.clientAddress,
    userAgent: e.userAgent,
    requestId: e.requestId,
    changes: e.changes,
    grantType: e.grantType,
    scopes: e.scopes,
    previousHash,
    hash,
  };
}

/** An audit event's row, the same on either backend (changes and scopes as JSON text). */
export function auditEventValues(e: AuditEventRecord): unknown[] {
  return [
    e.organization,
    e.project,
    e.sequence,
    e.timeMs,
    e.action,
    e.outcome,
    e.reason,
    e.actor?.kind ?? "",
    e.actor?.id ?? "",
    e.actor?.project ?? "",
    e.target?.kind ?? "",
    e.target?.id ?? "",
    e.clientAddress,
    e.userAgent,
    e.requestId,
    JSON.stringify(e.changes),
    e.grantType,
    JSON.stringify(e.scopes),
    e.previousHash,
    e.hash,
  ];
}

/** A chain's checkpoint from its row. */
export function auditCheckpointOf(r: Row): AuditCheckpoint {
  return {
    organization: r.organization_id as string,
    project: r.project_id as string,
    sequence: r.sequence as number,
    hash: r.hash as string,
    signature: r.signature as string,
    createdAtMs: r.created_at_ms as number,
  };
}
