/** The audit trail's chains (AuditStore). */
import { eventHash, GENESIS_HASH } from "../../lib/audit-chain.js";
import { AUDIT_EVENT_COLUMNS, auditCheckpointOf, auditEventOf, auditEventValues, auditRecord } from "../audit-rows.js";
import type { AuditEventInput, AuditEventRecord, AuditStore, ProjectRef } from "../types.js";
import { AUDIT_CHAIN_LOCK } from "./connection.js";
import type { Row, Sql } from "./sql.js";

/**
 * Appends events to their chains in the caller's transaction. Replicas
 * append to a chain one at a time: a transaction-scoped advisory lock on the
 * chain, held until its commit, before its head is read; its sequence
 * numbers then follow commit order, without gaps. The chains are locked in
 * one order (by name), so two transactions writing the same chains cannot
 * wait on each other. A chain's events go in one INSERT.
 */
export function auditAppender(sql: Sql): (events: readonly AuditEventInput[]) => Promise<AuditEventRecord[]> {
  const { run, one } = sql;
  return async (events) => {
    const chains = new Map<string, { ref: ProjectRef; at: number[] }>();
    events.forEach((e, i) => {
      const key = `${e.organization}\u0000${e.project}`;
      const chain = chains.get(key) ?? { ref: { organization: e.organization, project: e.project }, at: [] };
      chain.at.push(i);
      chains.set(key, chain);
    });
    const stored: AuditEventRecord[] = new Array(events.length);
    for (const key of [...chains.keys()].sort()) {
      const { ref, at } = chains.get(key)!;
      await run("SELECT pg_advisory_xact_lock($1::int, hashtext($2 || '/' || $3))", [AUDIT_CHAIN_LOCK, ref.organization, ref.project]);
      const head = await one(
        "SELECT sequence, hash FROM audit_events WHERE organization_id = $1 AND project_id = $2 ORDER BY sequence DESC LIMIT 1",
        [ref.organization, ref.project],
      );
      let sequence = head === undefined ? 0 : (head.sequence as number);
      let previousHash = head === undefined ? GENESIS_HASH : (head.hash as string);
      const values: unknown[] = [];
      for (const i of at) {
        sequence += 1;
        const record = auditRecord(events[i]!, sequence, previousHash, eventHash(previousHash, events[i]!, sequence));
        values.push(...auditEventValues(record));
        stored[i] = record;
        previousHash = record.hash;
      }
      const width = AUDIT_EVENT_COLUMNS.length;
      const rows = at.map((_, r) => `(${AUDIT_EVENT_COLUMNS.map((__, c) => `$${r * width + c + 1}`).join(", ")})`);
      await run(`INSERT INTO audit_events (${AUDIT_EVENT_COLUMNS.join(", ")}) VALUES ${rows.join(", ")}`, values);
    }
    return stored;
  };
}

export function audit(sql: Sql): AuditStore {
  const { run, one, rows, count, atomic } = sql;
  const append = auditAppender(sql);

  return {
    // Called through the store within a transaction, an event is written at
    // its commit (transactions.ts); this is the form of one on its own.
    appendAuditEvent: (event) => atomic(async () => (await append([event]))[0]),
    listAuditChains: async () =>
      (await rows("SELECT DISTINCT organization_id, project_id FROM audit_events ORDER BY organization_id, project_id")).map((r) => ({
        organization: r.organization_id as string,
        project: r.project_id as string,
      })),
    auditPrefixBefore: async (chain, beforeMs) => {
      const row = (await one(
        `SELECT min(sequence) AS first, max(sequence) AS last,
          (SELECT min(sequence) FROM audit_events WHERE organization_id = $1 AND project_id = $2 AND time_ms >= $3) AS recent
          FROM audit_events WHERE organization_id = $1 AND project_id = $2`,
        [chain.organization, chain.project, beforeMs],
      ))!;
      if (row.first === null) return undefined;
      const last = row.last as number;
      const through = Math.min(row.recent === null ? last : (row.recent as number) - 1, last - 1);
      if (through < (row.first as number)) return undefined;
      const at = await one("SELECT hash FROM audit_events WHERE organization_id = $1 AND project_id = $2 AND sequence = $3", [
        chain.organization,
        chain.project,
        through,
      ]);
      return { sequence: through, hash: at!.hash as string };
    },
    purgeAuditEvents: (c) =>
      atomic(async () => {
        const gone = await count("DELETE FROM audit_events WHERE organization_id = $1 AND project_id = $2 AND sequence <= $3", [
          c.organization,
          c.project,
          c.sequence,
        ]);
        await run(
          `INSERT INTO audit_checkpoints (organization_id, project_id, sequence, hash, signature, created_at_ms)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id, project_id) DO UPDATE SET sequence = excluded.sequence,
            hash = excluded.hash, signature = excluded.signature, created_at_ms = excluded.created_at_ms`,
          [c.organization, c.project, c.sequence, c.hash, c.signature, c.createdAtMs],
        );
        return gone;
      }),
    getAuditCheckpoint: async (chain) => {
      const row = await one("SELECT * FROM audit_checkpoints WHERE organization_id = $1 AND project_id = $2", [chain.organization, chain.project]);
      return row === undefined ? undefined : auditCheckpointOf(row);
    },
    listAuditEvents: async (chain, filter, page) => {
      const where = ["organization_id = $1", "project_id = $2", "sequence > $3"];
      const args: unknown[] = [chain.organization, chain.project, page.after];
      const arg = (value: unknown) => (args.push(value), `$${args.length}`);
      if (filter.sinceMs !== undefined) where.push(`time_ms >= ${arg(filter.sinceMs)}`);
      if (filter.untilMs !== undefined) where.push(`time_ms < ${arg(filter.untilMs)}`);
      if (filter.actions !== undefined && filter.actions.length > 0) where.push(`action = ANY(${arg(filter.actions)}::text[])`);
      if (filter.outcome !== undefined) where.push(`outcome = ${arg(filter.outcome)}`);
      if (filter.actorId !== undefined) where.push(`actor_id = ${arg(filter.actorId)}`);
      if (filter.targetId !== undefined) where.push(`target_id = ${arg(filter.targetId)}`);
      const found = await rows(`SELECT * FROM audit_events WHERE ${where.join(" AND ")} ORDER BY sequence LIMIT ${arg(page.limit)}`, args);
      return found.map(auditEventOf);
    },
  };
}
