import http from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningServer } from "../core/server.js";

/**
 * Serves the gateway on HTTP/1.1. Closing stops accepting, lets in-flight
 * requests finish for at most `graceMs`, then cuts what remains.
 */
export async function startGatewayServer(listener: http.RequestListener, host: string, port: number): Promise<RunningServer> {
  const server = http.createServer(listener);
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
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
