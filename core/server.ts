import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

export interface RunningServer {
  port: number;
  /** Stops accepting, lets in-flight calls finish (for at most `graceMs`), then resolves. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves the core on HTTP/2 cleartext: gRPC, gRPC-Web and Connect on one port.
 */
export async function startCoreServer(
  routes: (router: ConnectRouter) => void,
  host: string,
  port: number,
): Promise<RunningServer> {
  // No RPC of the core takes more than a few KiB; refuse large bodies early.
  const server = http2.createServer(connectNodeAdapter({ routes, readMaxBytes: 64 * 1024 }));
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A graceful close: GOAWAY, open streams finish, then the session
        // ends. A peer that keeps a stream open past the grace period (an
        // upload cut short by a refusal, a stuck client) is cut off.
        for (const session of sessions) session.close();
        setTimeout(() => {
          for (const session of sessions) session.destroy();
        }, graceMs).unref();
      }),
  };
}
