/** Deletes what has expired (MaintenanceStore). */
import type pg from "pg";
import { DELIVERIES_KEPT, INITIAL_ACCESS_TOKENS_KEPT_EXPIRED, METADATA_DOCUMENT_CLIENTS_KEPT_IDLE, SESSION_KEPT_ENDED } from "../retention.js";
import type { EpochSeconds, MaintenanceStore } from "../types.js";
import { checkout, LOCKS } from "./connection.js";
import type { ChangeListener } from "./listener.js";
import type { Sql } from "./sql.js";


/** A client ID metadata document's client row nothing refers to, admitted before $1 (METADATA_DOCUMENT_CLIENTS_KEPT_IDLE). */
const IDLE_DOCUMENT_CLIENT = `metadata_document AND created_at < $1
      AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.organization_id = clients.organization_id AND g.project_id = clients.project_id AND g.client_id = clients.id)
      AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.organization_id = clients.organization_id AND c.project_id = clients.project_id AND c.client_id = clients.id)
      AND NOT EXISTS (SELECT 1 FROM authorization_requests r WHERE r.organization_id = clients.organization_id AND r.project_id = clients.project_id AND r.client_id = clients.id)
      AND NOT EXISTS (SELECT 1 FROM pushed_authorization_requests p WHERE p.organization_id = clients.organization_id AND p.project_id = clients.project_id AND p.client_id = clients.id)`;

/** Rows a purge deletes per table in one short transaction; it goes on while batches come back full. */
export const PURGE_BATCH = 5000;
/** Batches of one table a single purge run deletes at most, so that one run is bounded in time. */
const PURGE_MAX_BATCHES = 200;

export function purge(sql: Sql, pool: pg.Pool, changes: ChangeListener): MaintenanceStore {
  const { one, count } = sql;
  const purgeBatches = async (table: string, condition: string, values: unknown[]): Promise<number> => {
    let total = 0;
    for (let batch = 0; batch < PURGE_MAX_BATCHES; batch++) {
      const deleted = await count(
        `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${condition} LIMIT ${PURGE_BATCH})`,
        values,
      );
      total += deleted;
      if (deleted < PURGE_BATCH) break;
    }
    return total;
  };

  return {
    /**
     * Deletes in batches of PURGE_BATCH rows, each its own short transaction,
     * under a session advisory lock: while one replica purges, another's run
     * finds the lock taken and deletes nothing (its counts are all 0).
     */
    purgeExpired: async (now: EpochSeconds) => {
      const purged = {
        authorization_requests: 0,
        pushed_authorization_requests: 0,
        authorization_codes: 0,
        refresh_tokens: 0,
        grants: 0,
        signing_keys: 0,
        login_failures: 0,
        sessions: 0,
        logout_deliveries: 0,
        ceremonies: 0,
        dpop_proofs: 0,
        initial_access_tokens: 0,
        metadata_document_clients: 0,
      };
      const { client: connection, release } = await checkout(pool);
      let locked = false;
      let unlockFailed: Error | undefined;
      try {
        locked = (await connection.query("SELECT pg_try_advisory_lock($1) AS locked", [LOCKS.purge])).rows[0]!.locked as boolean;
        if (!locked) return purged;
        await sql.on(connection, async () => {
          purged.authorization_requests = await purgeBatches("authorization_requests", "expires_at < $1", [now]);
          purged.pushed_authorization_requests = await purgeBatches("pushed_authorization_requests", "expires_at < $1", [now]);
          // A used code is kept for an hour past its expiry, so that a late
          // replay still revokes the tokens issued from it (RFC 6749 §4.1.2).
          purged.authorization_codes = await purgeBatches("authorization_codes", "expires_at < $1", [now - 3600]);
          purged.refresh_tokens = await purgeBatches("refresh_tokens", "expires_at < $1", [now]);
          purged.grants = await purgeBatches("grants", "expires_at < $1", [now]);
          // Only when one has expired: the statement would announce a change to every replica.
          if (await one("SELECT 1 FROM signing_keys WHERE expires_at < $1 LIMIT 1", [now])) {
            purged.signing_keys = await purgeBatches("signing_keys", "expires_at IS NOT NULL AND expires_at < $1", [now]);
            changes.bump();
          }
          purged.login_failures = await purgeBatches("login_failures", "window_ends_at <= $1 AND locked_until <= $1", [now]);
          // A session past its absolute end, or ended more than a day ago: an
          // ended one is kept a day so that its cookie, presented again, is
          // still known as ended, and its logout as it went.
          purged.sessions =
            (await purgeBatches("sessions", "expires_at < $1", [now])) +
            (await purgeBatches("sessions", "ended_at IS NOT NULL AND ended_at < $1", [now - SESSION_KEPT_ENDED]));
          purged.logout_deliveries = await purgeBatches("logout_deliveries", "at < $1", [now - DELIVERIES_KEPT]);
          purged.ceremonies = await purgeBatches("ceremonies", "expires_at < $1", [now]);
          purged.dpop_proofs = await purgeBatches("dpop_proofs", "expires_at < $1", [now]);
          purged.initial_access_tokens = await purgeBatches("initial_access_tokens", "expires_at < $1", [now - INITIAL_ACCESS_TOKENS_KEPT_EXPIRED]);
          // After the rows that refer to clients: a document's client that held the last of them goes in the same run.
          // A client is administration's row, which replicas keep in memory: a deletion announces a change to them.
          purged.metadata_document_clients = await purgeBatches("clients", IDLE_DOCUMENT_CLIENT, [now - METADATA_DOCUMENT_CLIENTS_KEPT_IDLE]);
          if (purged.metadata_document_clients > 0) changes.bump();
        });
        return purged;
      } finally {
        // A session lock that could not be given back goes with its connection (closed, not pooled).
        if (locked) await connection.query("SELECT pg_advisory_unlock($1)", [LOCKS.purge]).catch((err: Error) => (unlockFailed = err));
        release(unlockFailed);
      }
    },
  };
}
