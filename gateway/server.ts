import http from "node:http";
import type { AddressInfo } from "node:net";

/** A listening gateway: its port, and how to stop it. */
export interface GatewayServer {
  port: number;
  /** Stops accepting, lets in-flight requests finish (for at most `graceMs`), then resolves. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves the gateway on HTTP/1.1. Closing stops accepting, lets in-flight
 * requests finish for at most `graceMs`, then cuts what remains.
 */
export async function startGatewayServer(
  listener: http.RequestListener,
  host: string,
  port: number,
  timeouts: { headersSeconds?: number; requestSeconds?: number } = {},
): Promise<GatewayServer> {
  // Slow clients (slowloris): headers and the whole request must arrive in
  // time; Node checks every second here instead of its default 30.
  const server = http.createServer({ connectionsCheckingInterval: 1000 }, listener);
  server.headersTimeout = (timeouts.headersSeconds ?? 15) * 1000;
  server.requestTimeout = (timeouts.requestSeconds ?? 30) * 1000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), graceMs).unref();
      }),
  };
}
