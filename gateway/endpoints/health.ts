import type { Context } from "koa";
import { HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import type { Endpoint } from "../endpoint.js";
import { json } from "../respond.js";

/** Liveness: the process answers. */
export async function healthz(ctx: Context): Promise<void> {
  json(ctx, 200, { status: "ok" });
}

/**
 * Readiness: the core answers SERVING, which it does once its database is
 * open, while the database can be written (core/server/health.ts: not from a
 * storage fault until a probe write succeeds) and until it drains.
 */
export const readyz: Endpoint = (deps) => async (ctx) => {
  try {
    const { status } = await deps.services.health.check({ service: "" });
    const ready = status === HealthCheckResponse_ServingStatus.SERVING;
    json(ctx, ready ? 200 : 503, { status: ready ? "ready" : "not serving" });
  } catch {
    json(ctx, 503, { status: "core unreachable" });
  }
};
