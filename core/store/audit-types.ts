/**
 * The storage contract of the audit trail (see types.ts, which re-exports
 * it): events in hash-chained chains, one per project and the server's, and
 * the checkpoints retention leaves. docs/audit.md describes the chains.
 */
import type { ProjectRef } from "./types.js";

/** Who or what an audit event's actor or target is (proto AuditPartyKind, lower case). */
export type AuditPartyKind = "user" | "client" | "operator" | "organization" | "project" | "permission" | "role" | "server" | "resource";

/** An actor or a target of an audit event. */
export interface AuditParty {
  kind: AuditPartyKind;
  id: string;
  /** For an actor, the project of the token it acted with (`organization/project`); "" otherwise. */
  project: string;
}

/** One field an administration change set; values as JSON, "" where the object did not (or no longer) exist. */
export interface AuditChange {
  field: string;
  before: string;
  after: string;
}

/**
 * An audit event as recorded, before its chain places it. `organization` and
 * `project` name the chain: a project's, or both "" for the server's.
 */
export interface AuditEventInput extends ProjectRef {
  /** Milliseconds since the Unix epoch. */
  timeMs: number;
  /** The proto AuditAction's name without its prefix (`SIGN_IN`, `CLIENT_CREATED`). */
  action: string;
  outcome: "success" | "failure";
  reason: string;
  actor: AuditParty | null;
  target: AuditParty | null;
  clientAddress: string;
  userAgent: string;
  requestId: string;
  changes: AuditChange[];
  /** For a token event, the request's grant type; "" otherwise. */
  grantType: string;
  /** The scopes approved or granted; [] when none. */
  scopes: string[];
}

/** An audit event in its chain. */
export interface AuditEventRecord extends AuditEventInput {
  sequence: number;
  /** Hex SHA-256 of the previous event of the chain (64 zeros for the first), and of this one. */
  previousHash: string;
  hash: string;
}

/** What of a chain to answer; every bound optional. */
export interface AuditFilter {
  sinceMs?: number;
  untilMs?: number;
  actions?: string[];
  outcome?: "success" | "failure";
  actorId?: string;
  targetId?: string;
}

/**
 * Where a chain's remaining events begin once older ones were purged: the
 * last purged event's sequence and hash, signed (a JWS) by the server.
 */
export interface AuditCheckpoint extends ProjectRef {
  sequence: number;
  hash: string;
  /** Compact JWS (ES256) over the chain, sequence and hash (core/audit/retention.ts). */
  signature: string;
  createdAtMs: number;
}

export interface AuditStore {
  /**
   * Appends the event to its chain: the next sequence number, and the hash
   * of the chain's last event as `previousHash`. Within a transaction, the
   * event lands if and only if the transaction commits. Answers the event as
   * stored; or, within a transaction whose events a backend writes at its
   * commit (SQLite, batched in the group commit), undefined.
   */
  appendAuditEvent(event: AuditEventInput): Promise<AuditEventRecord | undefined>;
  /** A chain's events after `page.after` (a sequence number) that pass the filter, in order, at most `page.limit`. */
  listAuditEvents(chain: ProjectRef, filter: AuditFilter, page: { after: number; limit: number }): Promise<AuditEventRecord[]>;
  /** Every chain that has an event, the server's first (its names are ""), then by organization and project. */
  listAuditChains(): Promise<ProjectRef[]>;
  /**
   * The last event of the chain's longest run from its first remaining event
   * whose events are all older than `beforeMs`, never its last event (the
   * chain goes on from it); undefined when there is none.
   */
  auditPrefixBefore(chain: ProjectRef, beforeMs: number): Promise<{ sequence: number; hash: string } | undefined>;
  /** Deletes the chain's events up to the checkpoint's sequence and keeps the checkpoint in place of the last; answers how many went. */
  purgeAuditEvents(checkpoint: AuditCheckpoint): Promise<number>;
  getAuditCheckpoint(chain: ProjectRef): Promise<AuditCheckpoint | undefined>;
}
