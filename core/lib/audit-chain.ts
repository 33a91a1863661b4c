/**
 * The hash chain of audit events: each event's hash covers its predecessor's
 * hash and every field of its own, so that an event altered, removed or
 * reordered in the database no longer matches what follows it.
 *
 * hash = hex SHA-256 of `previousHash`, a newline, then the event in a
 * canonical form: the JSON array of its fields in the order below (arrays
 * keep their order, and JSON.stringify writes each string one way), with the
 * actor, target and changes as arrays too. docs/audit.md spells it out for
 * anyone verifying a chain with other tools.
 */
import { hash } from "node:crypto";
import type { AuditEventInput, AuditParty } from "../store/types.js";

/** The previous hash of a chain's first event. */
export const GENESIS_HASH = "0".repeat(64);

const party = (p: AuditParty | null) => (p === null ? null : [p.kind, p.id, p.project]);

/** The canonical form of an event at `sequence`, which its hash covers. */
export function canonicalEvent(event: AuditEventInput, sequence: number): string {
  return JSON.stringify([
    event.organization,
    event.project,
    sequence,
    event.timeMs,
    event.action,
    event.outcome,
    event.reason,
    party(event.actor),
    party(event.target),
    event.clientAddress,
    event.userAgent,
    event.requestId,
    event.changes.map((c) => [c.field, c.before, c.after]),
    event.grantType,
    event.scopes,
  ]);
}

export function eventHash(previousHash: string, event: AuditEventInput, sequence: number): string {
  return hash("sha256", `${previousHash}\n${canonicalEvent(event, sequence)}`, "hex");
}
