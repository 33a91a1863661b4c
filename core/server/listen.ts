import http from "node:http";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { createConnectRouter, createContextValues, type ConnectRouter } from "@connectrpc/connect";
import { PEER_ADDRESS } from "../observe/context.js";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { withParseErrorsAsInvalidArgument } from "./parse-errors.js";
import { recordUnaryMethods, serveGrpcUnary } from "./grpc-unary.js";
import { DEFAULT_HTTP2_LIMITS, Http2Connections, type Http2Limits } from "./http2-connections.js";

export interface RunningServer {
  port: number;
  /** Stops accepting, lets in-flight calls finish (for at most `graceMs`), then resolves. */
  close(graceMs?: number): Promise<void>;
}

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * What connectNodeAdapter does, with each RPC handler wrapped so that an
 * undecodable request body is INVALID_ARGUMENT (parse-errors.ts). No RPC
 * of the core takes more than a few KiB: large bodies are refused early.
 */
function nodeHandler(
  routes: (router: ConnectRouter) => void,
  fallback: (req: NodeRequest, res: NodeResponse) => void,
): { handler: (req: NodeRequest, res: NodeResponse) => void; unary: ReturnType<typeof recordUnaryMethods>["methods"] } {
  const { router, methods } = recordUnaryMethods(
    createConnectRouter({ readMaxBytes: READ_MAX_BYTES, acceptCompression: [compressionGzip, compressionBrotli] }),
  );
  routes(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, withParseErrorsAsInvalidArgument(h)]));
  const handler = (req: NodeRequest, res: NodeResponse) => {
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (handler === undefined) return fallback(req, res);
    if ("stream" in req) req.stream.once("wantTrailers", resetUnread);
    const values = createContextValues().set(PEER_ADDRESS, req.socket?.remoteAddress ?? "");
    handler(universalRequestFromNodeRequest(req, res, undefined, values))
      .then((answer) => universalResponseToNodeResponse(answer, res))
      .catch(() => {
        // The caller went away (or the stream broke): nothing is left to answer.
        if (!res.headersSent) res.destroy();
      });
  };
  return { handler, unary: methods };
}

/**
 * An HTTP/2 stream answered before its request has arrived whole (a body
 * refused as too large): the rest is not wanted, and the stream is reset with
 * NO_ERROR (RFC 9113 §8.1) rather than left open until the request timeout.
 * Run once Node's compatibility layer has sent the trailers (its listener
 * comes first), and on the next turn: Node writes them then, and nghttp2
 * would send a RST_STREAM submitted now ahead of them.
 */
function resetUnread(this: http2.ServerHttp2Stream): void {
  if (!this.state.remoteClose) setImmediate(() => this.close());
}

/** No RPC of the core takes more than a few KiB. */
const READ_MAX_BYTES = 64 * 1024;

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113 §3.4). */
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/**
 * Serves the core on one port: gRPC, gRPC-Web and Connect over HTTP/2
 * cleartext, and Connect and gRPC-Web over HTTP/1.1 (so that plain curl needs
 * no HTTP/2); the metrics are on the management listener (bin/management.ts),
 * not here. Each connection is handed to the
 * HTTP/2 or the HTTP/1.1 server by its first bytes. How long an HTTP/2
 * connection and its streams may hold on is bounded by `http2`
 * (http2-connections.ts).
 */
export async function startCoreServer(
  routes: (router: ConnectRouter) => void,
  host: string,
  port: number,
  options: { http2?: Partial<Http2Limits> } = {},
): Promise<RunningServer> {
  const limits: Http2Limits = { ...DEFAULT_HTTP2_LIMITS, ...options.http2 };
  const fallback = (_req: NodeRequest, res: NodeResponse) => {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "not_found", error_description: "no such endpoint" }));
  };
  const { handler, unary } = nodeHandler(routes, fallback);
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: limits.maxConcurrentStreams } }, handler);
  const connections = new Http2Connections(h2, limits);
  // Plain gRPC unary calls are answered off the stream (grpc-unary.ts); the
  // rest goes on to connect-node through Node's compatibility layer, whose
  // listener is the only one on 'stream' once a request handler is given.
  const compatibility = h2.listeners("stream") as ((...args: unknown[]) => void)[];
  if (compatibility.length !== 1) throw new Error("expected one 'stream' listener on the HTTP/2 server");
  h2.removeAllListeners("stream");
  h2.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => {
    if (!serveGrpcUnary(unary, stream, headers, READ_MAX_BYTES)) compatibility[0]!.call(h2, stream, headers, ...rest);
  });
  const h1 = http.createServer(handler);
  // This server never listens itself, so Node's per-request header and
  // request timers do not run for it: an idle or trickling connection is
  // closed after 30 s without a byte instead.
  h1.timeout = 30_000;
  // HTTP/1.1 connections by their requests in flight, to close idle ones at shutdown.
  const h1Sockets = new Map<net.Socket, number>();
  let closing = false;
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    h1Sockets.set(socket, (h1Sockets.get(socket) ?? 0) + 1);
    res.once("close", () => {
      const left = (h1Sockets.get(socket) ?? 1) - 1;
      h1Sockets.set(socket, left);
      if (closing && left === 0) socket.destroy();
    });
  });

  // Connections that have not yet said which protocol they speak.
  const unclassified = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    unclassified.add(socket);
    socket.once("close", () => unclassified.delete(socket));
    // Read until the first bytes tell HTTP/2's preface from an HTTP/1.1
    // request line, put them back, and hand the socket over.
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const prefix = seen.subarray(0, Math.min(seen.length, HTTP2_PREFACE.length));
      const http2Like = prefix.equals(HTTP2_PREFACE.subarray(0, prefix.length));
      if (http2Like && seen.length < HTTP2_PREFACE.length) return;
      unclassified.delete(socket);
      socket.off("data", onData);
      socket.off("timeout", silent);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(seen);
      if (http2Like) {
        connections.accept(socket);
      } else {
        h1Sockets.set(socket, 0);
        socket.once("close", () => h1Sockets.delete(socket));
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    // A connection that says nothing is not kept.
    const silent = () => socket.destroy();
    socket.setTimeout(15_000);
    socket.once("timeout", silent);
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        // A graceful close: GOAWAY, open streams finish, then the session
        // ends. A peer that keeps a stream open past the grace period (an
        // upload cut short by a refusal, a stuck client) is cut off.
        connections.close(graceMs);
        for (const [socket, inFlight] of h1Sockets) if (inFlight === 0) socket.destroy();
        for (const socket of unclassified) socket.destroy();
        setTimeout(() => {
          for (const socket of h1Sockets.keys()) socket.destroy();
        }, graceMs).unref();
      }),
  };
}
