/** Deletes what has expired (MaintenanceStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import { DELIVERIES_KEPT, INITIAL_ACCESS_TOKENS_KEPT_EXPIRED, METADATA_DOCUMENT_CLIENTS_KEPT_IDLE, SESSION_KEPT_ENDED } from "../retention.js";
import type { EpochSeconds, MaintenanceStore } from "../types.js";

export function purge(db: Database.Database): Synchronous<MaintenanceStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    purgeRequests: s("DELETE FROM authorization_requests WHERE expires_at < ?"),
    purgePushed: s("DELETE FROM pushed_authorization_requests WHERE expires_at < ?"),
    purgeCodes: s("DELETE FROM authorization_codes WHERE expires_at < ?"),
    purgeRefresh: s("DELETE FROM refresh_tokens WHERE expires_at < ?"),
    purgeGrants: s("DELETE FROM grants WHERE expires_at < ?"),
    purgeKeys: s("DELETE FROM signing_keys WHERE expires_at IS NOT NULL AND expires_at < ?"),
    purgeLoginFailures: s("DELETE FROM login_failures WHERE window_ends_at <= ? AND locked_until <= ?"),
    purgeExpiredSessions: s("DELETE FROM sessions WHERE expires_at < ?"),
    purgeEndedSessions: s("DELETE FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ?"),
    purgeDeliveries: s("DELETE FROM logout_deliveries WHERE at < ?"),
    purgeCeremonies: s("DELETE FROM ceremonies WHERE expires_at < ?"),
    purgeDpopProofs: s("DELETE FROM dpop_proofs WHERE expires_at < ?"),
    purgeInitialAccessTokens: s("DELETE FROM initial_access_tokens WHERE expires_at < ?"),
    // After the rows that refer to clients: a document's client that held the last of them goes in the same run.
    purgeIdleDocumentClients: s(`DELETE FROM clients WHERE metadata_document = 1 AND created_at < ?
      AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.organization_id = clients.organization_id AND g.project_id = clients.project_id AND g.client_id = clients.id)
      AND NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.organization_id = clients.organization_id AND c.project_id = clients.project_id AND c.client_id = clients.id)
      AND NOT EXISTS (SELECT 1 FROM authorization_requests r WHERE r.organization_id = clients.organization_id AND r.project_id = clients.project_id AND r.client_id = clients.id)
      AND NOT EXISTS (SELECT 1 FROM pushed_authorization_requests p WHERE p.organization_id = clients.organization_id AND p.project_id = clients.project_id AND p.client_id = clients.id)`),
  };

  return {
    purgeExpired: (now: EpochSeconds) =>
      db.transaction(() => ({
        authorization_requests: q.purgeRequests.run(now).changes,
        pushed_authorization_requests: q.purgePushed.run(now).changes,
        // A used code is kept for an hour past its expiry, so that a late
        // replay still revokes the tokens issued from it (RFC 6749 §4.1.2).
        authorization_codes: q.purgeCodes.run(now - 3600).changes,
        refresh_tokens: q.purgeRefresh.run(now).changes,
        grants: q.purgeGrants.run(now).changes,
        signing_keys: q.purgeKeys.run(now).changes,
        login_failures: q.purgeLoginFailures.run(now, now).changes,
        // A session past its absolute end, or ended more than a day ago: an
        // ended one is kept a day so that its cookie, presented again, is
        // still known as ended, and its logout as it went.
        sessions: q.purgeExpiredSessions.run(now).changes + q.purgeEndedSessions.run(now - SESSION_KEPT_ENDED).changes,
        logout_deliveries: q.purgeDeliveries.run(now - DELIVERIES_KEPT).changes,
        ceremonies: q.purgeCeremonies.run(now).changes,
        dpop_proofs: q.purgeDpopProofs.run(now).changes,
        initial_access_tokens: q.purgeInitialAccessTokens.run(now - INITIAL_ACCESS_TOKENS_KEPT_EXPIRED).changes,
        metadata_document_clients: q.purgeIdleDocumentClients.run(now - METADATA_DOCUMENT_CLIENTS_KEPT_IDLE).changes,
      }))(),
  };
}
