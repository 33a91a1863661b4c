/** The audit trail's chains (AuditStore). */
import type Database from "better-sqlite3";
import { eventHash, GENESIS_HASH } from "../../lib/audit-chain.js";
import type { Synchronous } from "../backend.js";
import { AUDIT_EVENT_COLUMNS, auditCheckpointOf, auditEventOf, auditEventValues, auditRecord } from "../audit-rows.js";
import type { AuditEventInput, AuditEventRecord, AuditStore } from "../types.js";
import { atomically, maybe, type Row } from "./sql.js";

/**
 * Appends events to their chains in the transaction open on `db`, in order:
 * each chain's head is read once, under SQLite's write lock (no other
 * connection or process can take the same places), and each event takes
 * the next sequence and hashes its predecessor.
 */
export function auditAppender(db: Database.Database): (events: readonly AuditEventInput[]) => AuditEventRecord[] {
  const head = db.prepare("SELECT sequence, hash FROM audit_events WHERE organization_id = ? AND project_id = ? ORDER BY sequence DESC LIMIT 1");
  const insert = db.prepare(`INSERT INTO audit_events (${AUDIT_EVENT_COLUMNS.join(", ")}) VALUES (${AUDIT_EVENT_COLUMNS.map(() => "?").join(", ")})`);
  return (events) => {
    const heads = new Map<string, { sequence: number; hash: string }>();
    return events.map((event) => {
      const chain = `${event.organization}\u0000${event.project}`;
      let last = heads.get(chain);
      if (last === undefined) {
        const row = head.get(event.organization, event.project) as Row | undefined;
        last = row === undefined ? { sequence: 0, hash: GENESIS_HASH } : { sequence: row.sequence as number, hash: row.hash as string };
      }
      const stored = auditRecord(event, last.sequence + 1, last.hash, eventHash(last.hash, event, last.sequence + 1));
      insert.run(...auditEventValues(stored));
      heads.set(chain, stored);
      return stored;
    });
  };
}

export function audit(db: Database.Database): Synchronous<AuditStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    oldest: s("SELECT min(sequence) AS first, max(sequence) AS last FROM audit_events WHERE organization_id = ? AND project_id = ?"),
    firstRecent: s("SELECT min(sequence) AS n FROM audit_events WHERE organization_id = ? AND project_id = ? AND time_ms >= ?"),
    hashAt: s("SELECT hash FROM audit_events WHERE organization_id = ? AND project_id = ? AND sequence = ?").pluck(),
    purge: s("DELETE FROM audit_events WHERE organization_id = ? AND project_id = ? AND sequence <= ?"),
    putCheckpoint: s(`INSERT INTO audit_checkpoints (organization_id, project_id, sequence, hash, signature, created_at_ms)
      VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (organization_id, project_id) DO UPDATE SET sequence = excluded.sequence,
      hash = excluded.hash, signature = excluded.signature, created_at_ms = excluded.created_at_ms`),
    getCheckpoint: s("SELECT * FROM audit_checkpoints WHERE organization_id = ? AND project_id = ?"),
    chains: s("SELECT DISTINCT organization_id, project_id FROM audit_events ORDER BY organization_id, project_id"),
  };
  const tx = atomically(db);
  const append = auditAppender(db);

  return {
    // Called through the store, an append is batched in the group commit
    // (transactions.ts); this is the one-off form (at start, say).
    appendAuditEvent: (event) => tx(() => append([event])[0]),
    listAuditChains: () =>
      (q.chains.all() as Row[]).map((r) => ({ organization: r.organization_id as string, project: r.project_id as string })),
    auditPrefixBefore: (chain, beforeMs) => {
      const { first, last } = q.oldest.get(chain.organization, chain.project) as Row;
      if (first === null) return undefined;
      const recent = (q.firstRecent.get(chain.organization, chain.project, beforeMs) as Row).n as number | null;
      const through = Math.min(recent === null ? (last as number) : recent - 1, (last as number) - 1);
      if (through < (first as number)) return undefined;
      return { sequence: through, hash: q.hashAt.get(chain.organization, chain.project, through) as string };
    },
    purgeAuditEvents: (c) =>
      tx(() => {
        const gone = q.purge.run(c.organization, c.project, c.sequence).changes;
        q.putCheckpoint.run(c.organization, c.project, c.sequence, c.hash, c.signature, c.createdAtMs);
        return gone;
      }),
    getAuditCheckpoint: (chain) => maybe(q.getCheckpoint.get(chain.organization, chain.project), auditCheckpointOf),
    listAuditEvents: (chain, filter, page) => {
      const where = ["organization_id = ?", "project_id = ?", "sequence > ?"];
      const args: unknown[] = [chain.organization, chain.project, page.after];
      if (filter.sinceMs !== undefined) (where.push("time_ms >= ?"), args.push(filter.sinceMs));
      if (filter.untilMs !== undefined) (where.push("time_ms < ?"), args.push(filter.untilMs));
      if (filter.actions !== undefined && filter.actions.length > 0) {
        where.push(`action IN (${filter.actions.map(() => "?").join(", ")})`);
        args.push(...filter.actions);
      }
      if (filter.outcome !== undefined) (where.push("outcome = ?"), args.push(filter.outcome));
      if (filter.actorId !== undefined) (where.push("actor_id = ?"), args.push(filter.actorId));
      if (filter.targetId !== undefined) (where.push("target_id = ?"), args.push(filter.targetId));
      const rows = db
        .prepare(`SELECT * FROM audit_events WHERE ${where.join(" AND ")} ORDER BY sequence LIMIT ?`)
        .all(...args, page.limit) as Row[];
      return rows.map(auditEventOf);
    },
  };
}
