import { createRouterTransport, type Transport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import { createManagementApp, type ManagementOptions } from "../gateway/management.js";
import { startGatewayServer, type GatewayServer } from "../gateway/server.js";

/** A listening management listener (gateway/management.ts). */
export interface Management extends GatewayServer {
  /** From now on, readiness is what this transport's health service says (until then: not serving). */
  healthFrom(transport: Transport): void;
  /** Shutdown has begun: not ready from now on, whatever serves says. */
  drain(): void;
}

/** Readiness before the core is open (migrations, the first worker) and once draining. */
const NOT_SERVING = createRouterTransport((router) => router.service(Health, { check: () => ({ status: Status.NOT_SERVING }) }));

/**
 * Starts the management listener on IAM_MANAGEMENT_HOST:IAM_MANAGEMENT_PORT,
 * first of all: liveness answers from the start, readiness once `healthFrom`
 * names what serves, and a port that cannot be had stops the start before
 * the database is touched. That failure names the two variables and keeps
 * the error's code (EADDRINUSE), so a taken port reads as one.
 */
export async function startManagement(
  at: { host: string; port: number },
  options: Omit<ManagementOptions, "transport"> & { transport?: Transport },
): Promise<Management> {
  let health = options.transport ?? NOT_SERVING;
  const transport: Transport = {
    unary: (...call) => health.unary(...call),
    stream: (...call) => health.stream(...call),
  };
  let server: GatewayServer;
  try {
    // Probes and scrapes are small GETs: short timeouts suit them.
    server = await startGatewayServer(createManagementApp({ ...options, transport }).callback(), at.host, at.port, { headersSeconds: 10, requestSeconds: 10 });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw Object.assign(new Error(`the management listener cannot listen on ${at.host}:${at.port} (IAM_MANAGEMENT_HOST, IAM_MANAGEMENT_PORT): ${reason}`), {
      code: (err as { code?: unknown } | null)?.code,
    });
  }
  options.logger.info("management listening", {
    url: `http://${at.host.includes(":") ? `[${at.host}]` : at.host}:${server.port}`,
    endpoints: options.metrics === undefined ? "/healthz, /readyz" : "/healthz, /readyz, /metrics",
  });
  let draining = false;
  return {
    ...server,
    healthFrom: (t) => void (health = draining ? NOT_SERVING : t),
    drain: () => {
      draining = true;
      health = NOT_SERVING;
    },
  };
}
