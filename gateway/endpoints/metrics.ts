import type { Context } from "koa";
import type { HttpMetrics } from "../../wire/observe.js";
import { text } from "../respond.js";

/** GET /metrics on the management listener: the Prometheus text of this process, or of every worker of it. */
export function metricsEndpoint(metrics: Pick<HttpMetrics, "render">) {
  return async (ctx: Context): Promise<void> => {
    try {
      const { body, contentType } = await metrics.render();
      text(ctx, 200, contentType, body);
    } catch (err) {
      // Several workers: the primary could not collect them all.
      text(ctx, 503, "text/plain", `${err instanceof Error ? err.message : String(err)}\n`);
    }
  };
}
