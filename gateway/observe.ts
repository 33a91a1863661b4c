import type { Context, Next } from "koa";
import { inRequest, REQUEST_ID_HEADER, requestIdFrom, userAgentFrom } from "../wire/request-id.js";
import type { HttpMetrics, Logger } from "../wire/observe.js";

/**
 * Every request in its own scope (its id, the caller's when acceptable, is
 * answered and carried to the core), counted, timed and logged once.
 */
export function observeRequests(logger: Logger, metrics: HttpMetrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = performance.now();
    const scope = { requestId: requestIdFrom(ctx.get(REQUEST_ID_HEADER)), clientAddress: ctx.ip, userAgent: userAgentFrom(ctx.get("user-agent")) };
    ctx.set("X-Request-Id", scope.requestId);
    try {
      await inRequest(scope, next);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      // Routes are patterns (…/:organization/:project/token): few series, no identifiers.
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? "unmatched";
      const labels = { method: ctx.method, route: String(route), status: String(ctx.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpSeconds.observe(labels, seconds);
      // The path only: query strings and bodies carry codes, states and secrets.
      inRequest(scope, () =>
        logger.info("http", {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(seconds * 10_000) / 10,
        }),
      );
    }
  };
}
