import { epochSeconds, type Clock } from "../lib/clock.js";
import type { Logger } from "../observe/log.js";
import type { MaintenanceStore } from "../store/types.js";

/**
 * Deletes expired pending requests, codes, refresh tokens, grants and the
 * rest (core/store/retention.ts says how long what has ended is kept) every
 * `intervalSeconds`, so that flows nobody finishes cannot grow the database
 * without bound, then audit events past their retention. Answers a function
 * that stops it.
 */
export function startPurge(
  store: MaintenanceStore,
  clock: Clock,
  logger: Logger,
  intervalSeconds: number,
  /** The audit trail's retention (core/audit/retention.ts): answers how many events went. */
  purgeAudit: () => Promise<number> = async () => 0,
): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const purged = await store.purgeExpired(epochSeconds(clock));
      if (Object.values(purged).some((n) => n > 0)) logger.debug("purged expired rows", purged);
      const events = await purgeAudit();
      if (events > 0) logger.info("purged audit events past their retention", { events });
    } catch (err) {
      logger.error("purge failed", { err });
    } finally {
      running = false;
    }
  }, intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
