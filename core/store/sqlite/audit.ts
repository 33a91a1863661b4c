/** The audit trail's chains (AuditStore). */
import type Database from "better-sqlite3";
import { eventHash, GENESIS_HASH } from "../../lib/audit-chain.js";
import type { Synchronous } from "../backend.js";
import { AUDIT_EVENT_COLUMNS, auditCheckpointOf, auditEventOf, auditEventValues } from "../rows.js";
import type { AuditStore } from "../types.js";
import { atomically, maybe, type Row } from "./sql.js";

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
    head: s("SELECT sequence, hash FROM audit_events WHERE organization_id = ? AND project_id = ? ORDER BY sequence DESC LIMIT 1"),
    insert: s(`INSERT INTO audit_events (${AUDIT_EVENT_COLUMNS.join(", ")}) VALUES (${AUDIT_EVENT_COLUMNS.map(() => "?").join(", ")})`),
  };
  const tx = atomically(db);

  return {
    // The chain's head is read and the event written under SQLite's write
    // lock (a transaction of its own, or the caller's): no other connection
    // or process can take the same place in the chain.
    appendAuditEvent: (event) =>
      tx(() => {
        const head = q.head.get(event.organization, event.project) as Row | undefined;
        const sequence = head === undefined ? 1 : (head.sequence as number) + 1;
        const previousHash = head === undefined ? GENESIS_HASH : (head.hash as string);
        const hash = eventHash(previousHash, event, sequence);
        const stored = { ...event, sequence, previousHash, hash };
        q.insert.run(...auditEventValues(stored));
        return stored;
      }),
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
