/**
 * gRPC unary calls served straight off HTTP/2 streams. connect-node serves
 * every protocol of the core's port, but each gRPC call goes through its
 * universal request, async iterables and envelope transforms: about a third
 * of what a @grpc/grpc-js server answers on the same machine. The calls
 * resource servers make (VerifyToken, Introspect) are unary and plain: one
 * uncompressed protobuf message in, one out. Those, and only those, are read
 * here, handed to the same service implementation (so the same logs,
 * metrics, request ids and errors), and answered with the trailers gRPC
 * defines, set by Connect's own `setTrailerStatus` so that errors read the
 * same as connect-node's. Everything else (Connect, gRPC-Web, streams,
 * compressed or JSON bodies) is left to connect-node on the same connection.
 */
import type http2 from "node:http2";
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethodUnary, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { PEER_ADDRESS } from "../observe/context.js";

type UnaryImpl = (request: unknown, context: HandlerContext) => unknown;

interface UnaryMethod {
  service: DescService;
  method: DescMethodUnary;
  impl: UnaryImpl;
}

/** gRPC over HTTP/2 with protobuf messages; `+json` and the web protocol are not taken here. */
const GRPC_PROTO = /^application\/grpc(\+proto)?$/i;
const RESPONSE_CONTENT_TYPE = "application/grpc+proto";
/** The longest grpc-timeout accepted, as connect-node is configured (its default: none). */
const MAX_TIMEOUT_MS = Number.MAX_SAFE_INTEGER;

/**
 * The unary methods `routes` registers, by request path, recorded as it
 * registers them on `router` (which still serves them over every protocol).
 */
export function recordUnaryMethods(router: ConnectRouter): { router: ConnectRouter; methods: Map<string, UnaryMethod> } {
  const methods = new Map<string, UnaryMethod>();
  const recording: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, impl, options) {
      for (const method of service.methods) {
        const fn = (impl as Record<string, UnaryImpl | undefined>)[method.localName];
        if (method.methodKind === "unary" && fn !== undefined) {
          methods.set(`/${service.typeName}/${method.name}`, { service, method: method as DescMethodUnary, impl: fn.bind(impl) });
        }
      }
      return router.service(service, impl, options);
    },
    rpc(method, impl, options) {
      if (method.methodKind === "unary") {
        methods.set(`/${method.parent.typeName}/${method.name}`, { service: method.parent, method: method as DescMethodUnary, impl: impl as UnaryImpl });
      }
      return router.rpc(method as never, impl as never, options);
    },
  };
  return { router: recording, methods };
}

/**
 * Answers the stream if it is a plain gRPC unary call of a known method and
 * returns true; returns false, having touched nothing, otherwise.
 */
export function serveGrpcUnary(
  methods: Map<string, UnaryMethod>,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  readMaxBytes: number,
): boolean {
  if (headers[":method"] !== "POST") return false;
  const contentType = headers["content-type"];
  if (contentType === undefined || !GRPC_PROTO.test(contentType)) return false;
  const encoding = headers["grpc-encoding"];
  if (encoding !== undefined && encoding !== "identity") return false;
  const path = headers[":path"] ?? "";
  const entry = methods.get(path);
  if (entry === undefined) return false;

  const timeout = parseTimeout(headerValue(headers["grpc-timeout"]), MAX_TIMEOUT_MS);
  const call = new Call(entry, headers, path, timeout.timeoutMs, peerOf(stream.session));
  stream.once("close", () => call.end(CANCELLED));
  stream.on("error", ignore);
  if (timeout.error !== undefined) {
    stream.resume();
    answerError(stream, call, timeout.error);
    return true;
  }
  // Past the caller's deadline the answer is DEADLINE_EXCEEDED, whatever the implementation does after.
  if (timeout.timeoutMs !== undefined) {
    call.onDeadline(timeout.timeoutMs, () => answerError(stream, call, new ConnectError("the operation timed out", Code.DeadlineExceeded)));
  }

  const chunks: Buffer[] = [];
  let received = 0;
  const onData = (chunk: Buffer) => {
    // The envelope's length is read as soon as it has come, as connect-node does.
    const declared = received === 0 && chunk.length >= 5 ? chunk.readUInt32BE(1) : 0;
    received += chunk.length;
    if (declared > readMaxBytes || received > readMaxBytes + 5) {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.resume();
      const size = declared > readMaxBytes ? `message size ${declared}` : "message size";
      // The caller may still be sending: once answered, the stream is reset
      // (NO_ERROR, RFC 9113 §8.1), and the rest is never read.
      answerError(stream, call, new ConnectError(`${size} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted), true);
      return;
    }
    chunks.push(chunk);
  };
  const onEnd = () => {
    let request: unknown;
    try {
      request = decodeRequest(entry.method.input, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received), readMaxBytes);
    } catch (err) {
      answerError(stream, call, ConnectError.from(err));
      return;
    }
    invoke(entry, request, call).then(
      (output) => answer(stream, call, output),
      (err: unknown) =>
        answerError(stream, call, err instanceof ConnectError ? err : new ConnectError("internal error", Code.Internal, undefined, undefined, err)),
    );
  };
  stream.on("data", onData);
  stream.once("end", onEnd);
  return true;
}

/** A stream's errors (a reset, a write after the caller left) end the call through 'close'. */
function ignore(): void {}

async function invoke(entry: UnaryMethod, request: unknown, call: Call): Promise<Uint8Array> {
  const answer = await entry.impl(request, call.context);
  const output = entry.method.output;
  const message = isMessage(answer, output) ? answer : create(output, answer as never);
  return toBinary(output, message);
}

/**
 * The one enveloped message of a unary call (gRPC over HTTP2, "Length-Prefixed-Message"):
 * a flag byte (0: not compressed), a 4-byte big-endian length, the bytes.
 * Errors say what connect-node's would (the core's INVALID_ARGUMENT for what it
 * cannot decode, parse-errors.ts), with the caller's input blamed.
 */
function decodeRequest(input: DescMessage, body: Buffer, readMaxBytes: number): unknown {
  if (body.length === 0) throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  let request: unknown;
  // A second message is read like the first (its faults come first), then refused.
  for (let offset = 0; offset < body.length; ) {
    const message = envelopedMessage(body, offset, readMaxBytes);
    let parsed: unknown;
    try {
      parsed = fromBinary(input, message);
    } catch (err) {
      throw new ConnectError(`parse binary: ${err instanceof Error ? err.message : String(err)}`, Code.InvalidArgument);
    }
    if (offset > 0) throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
    request = parsed;
    offset += 5 + message.length;
  }
  return request;
}

function envelopedMessage(body: Buffer, offset: number, readMaxBytes: number): Buffer {
  if (body.length < offset + 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  const length = body.readUInt32BE(offset + 1);
  if (length > readMaxBytes) throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
  if (body.length < offset + 5 + length) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if ((body[offset]! & 0x01) !== 0) throw new ConnectError("received compressed envelope, but do not know how to decompress", Code.InvalidArgument);
  return body.subarray(offset + 5, offset + 5 + length);
}

function answer(stream: http2.ServerHttp2Stream, call: Call, message: Uint8Array): void {
  if (call.over || stream.destroyed || stream.closed) return;
  const envelope = encodeEnvelope(0, message);
  const { responseHeader, responseTrailer } = call.context;
  stream.respond({ ":status": 200, ...headerObject(responseHeader) }, { waitForTrailers: true });
  stream.once("wantTrailers", () => stream.sendTrailers(headerObject(responseTrailer)));
  stream.end(envelope);
  call.end(COMPLETED);
}

/**
 * The response headers, no message, then the status in the trailers: what
 * connect-node answers. Not gRPC's "Trailers-Only" form (one HEADERS frame):
 * @grpc/grpc-js hands a caller the headers of that form as the error's
 * metadata, not as the call's, and the request id must be found in one place
 * whichever path served the call.
 */
function answerError(stream: http2.ServerHttp2Stream, call: Call, error: ConnectError, thenReset = false): void {
  if (call.over) return;
  call.end(error);
  if (stream.destroyed || stream.closed || stream.headersSent) {
    if (thenReset) stream.close();
    return;
  }
  const trailers = new Headers(call.context.responseTrailer);
  setTrailerStatus(trailers, error);
  stream.respond({ ":status": 200, ...headerObject(call.context.responseHeader) }, { waitForTrailers: true });
  stream.once("wantTrailers", () => {
    stream.sendTrailers(headerObject(trailers));
    // Node writes the trailers on its next turn, and a RST_STREAM submitted
    // now would go first (nghttp2 sends it ahead of everything else).
    if (thenReset) setImmediate(() => stream.close());
  });
  stream.end();
}

/** Each connection's peer address, read once (the session's socket is a proxy). */
const peers = new WeakMap<http2.Http2Session, string>();
function peerOf(session: http2.Http2Session | undefined): string {
  if (session === undefined) return "";
  let peer = peers.get(session);
  if (peer === undefined) peers.set(session, (peer = session.socket?.remoteAddress ?? ""));
  return peer;
}

const CANCELLED = new ConnectError("the call was cancelled", Code.Canceled);
/** The reason a completed call's signal gives (HandlerContext.signal aborts when the call is over). */
const COMPLETED = new ConnectError("the call is complete", Code.Canceled);

/**
 * One call's HandlerContext, as connect-node builds it (createHandlerContext)
 * but with one AbortController: its signal aborts when the caller goes away,
 * at the deadline, or when the call is over; a deadline's timer runs only
 * when the caller set one.
 */
class Call {
  readonly context: HandlerContext;
  readonly #controller = new AbortController();
  #timer: NodeJS.Timeout | undefined;

  constructor(entry: UnaryMethod, headers: http2.IncomingHttpHeaders, path: string, timeoutMs: number | undefined, peer: string) {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    this.context = {
      service: entry.service,
      method: entry.method,
      protocolName: "grpc",
      requestMethod: "POST",
      url: `http://${headers[":authority"] ?? "localhost"}${path}`,
      signal: this.#controller.signal,
      timeoutMs: () => (deadline === undefined ? undefined : deadline - Date.now()),
      requestHeader: requestHeaders(headers),
      responseHeader: new Headers({ "content-type": RESPONSE_CONTENT_TYPE }),
      responseTrailer: new Headers({ "grpc-status": "0" }),
      values: createContextValues().set(PEER_ADDRESS, peer),
    };
  }

  /** Whether the call is over (answered, failed, cancelled or past its deadline): nothing more is sent. */
  get over(): boolean {
    return this.#controller.signal.aborted;
  }

  onDeadline(timeoutMs: number, expired: () => void): void {
    this.#timer = setTimeout(expired, timeoutMs);
  }

  /** The call is over, or must stop: its signal aborts with `reason` (once), its timer is cleared. */
  end(reason: unknown): void {
    clearTimeout(this.#timer);
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }
}

function headerValue(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
}

function requestHeaders(headers: http2.IncomingHttpHeaders): Headers {
  const result = new Headers();
  for (const name in headers) {
    if (name.startsWith(":")) continue;
    const value = headers[name];
    if (Array.isArray(value)) for (const v of value) result.append(name, v);
    else if (value !== undefined) result.set(name, value);
  }
  return result;
}

function headerObject(headers: Headers): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of headers) result[name] = value;
  return result;
}
