/**
 * A Connect transport over several replicas of the core: round-robin over
 * those that are up, and failover for the calls that may be sent again. The
 * gateway uses it when given several core URLs (bin/serve.ts, IAM_CORE_URL),
 * and so do resource servers (client/index.ts). Which calls may be repeated
 * is read from the .proto declarations (`option idempotency_level`), not
 * from a list kept here.
 *
 * Part of wire/: imported by bin/, gateway/ and client/, imports neither
 * core/ nor gateway/.
 */
import type { DescMessage, DescMethod, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ContextValues, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { createGrpcTransport, type GrpcTransportOptions } from "@connectrpc/connect-node";

/**
 * The gRPC health protocol, vendored as published (proto/grpc/health/v1/
 * health.proto), declares no idempotency_level; its specification requires
 * Check to be "idempotent and side effect free", and List and Watch only
 * report, so all three may be repeated. The option is not added to the
 * vendored file: it would change what the core serves for it (reflection
 * would describe another file, and the Connect protocol would accept GET
 * for Check), and the file would no longer be the one gRPC publishes.
 */
const HEALTH_SERVICE = "grpc.health.v1.Health";

/**
 * Whether a call of `method` may be repeated after it may have been
 * delivered: the .proto declares it without side effects or idempotent
 * (`option idempotency_level`). A method that declares neither is sent again
 * only when the replica provably never received it (provesNotDelivered).
 */
export function isRepeatable(method: DescMethod): boolean {
  return (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ||
    method.parent.typeName === HEALTH_SERVICE
  );
}

export interface BalancedTransportOptions {
  /** Options of every replica's `createGrpcTransport`, but its `baseUrl`. */
  transport?: Omit<GrpcTransportOptions, "baseUrl">;
  /** How long a replica stays out of the rotation after its first failure, ms (default 1000). */
  backoffMs?: number;
  /** Longest such back-off, ms (default 30000); it doubles with each failure in a row up to it. */
  maxBackoffMs?: number;
  /** Told when a replica is taken out of the rotation, and when it answers again. */
  onReplicaChange?: (change: ReplicaChange) => void;
  /**
   * HTTP/2 connections to each replica (default 1), taken in turn by its
   * calls. A core with several workers gives each connection to one of
   * them: a single connection keeps one worker busy and leaves the others
   * idle however many calls it carries.
   */
  connections?: number;
}

export type ReplicaChange =
  | { url: string; up: false; backoffMs: number; error: ConnectError }
  | { url: string; up: true };

export interface ReplicaState {
  url: string;
  /** In the rotation: never failed, answered since, or its back-off is over. */
  up: boolean;
  /** The current back-off, ms; 0 when the replica has answered since its last failure. */
  backoffMs: number;
}

/** A Transport over several replicas of the core; `replicas()` shows their state. */
export interface BalancedTransport extends Transport {
  replicas(): ReplicaState[];
}

/** What a Transport takes as request headers (the DOM's HeadersInit). */
type HeaderInit = ConstructorParameters<typeof Headers>[0];

/** Node error codes met before any byte of the request could be sent: nothing was delivered. */
const NOT_CONNECTED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN"]);
/** Node error codes of a connection that failed or broke. */
const CONNECTION_ERRORS = new Set([
  ...NOT_CONNECTED,
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_INVALID_SESSION",
]);

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e instanceof Error && !chain.includes(e); e = e.cause) chain.push(e);
  return chain;
}
const nodeCode = (e: unknown): string | undefined =>
  e instanceof Error && "code" in e && typeof e.code === "string" ? e.code : undefined;

/**
 * The call failed because its replica could not serve it, rather than with an
 * answer of the core: the connection was refused, reset or closed (GOAWAY,
 * socket gone: Connect reports the stream CANCELED or ABORTED then), or the
 * replica is UNAVAILABLE (said by Connect: unreachable, PING timeout, HTTP
 * 502-504; or on the wire by the replica or a proxy in front of it). Any
 * other error the replica sent (`isWireError`) is an answer: it is up. A call
 * the caller cancelled proves nothing.
 */
export function isReplicaFailure(err: ConnectError, signal?: AbortSignal): boolean {
  if (signal?.aborted === true) return false;
  if (err.code === Code.Unavailable) return true;
  if (err.isWireError) return false;
  if (err.code === Code.Canceled || err.code === Code.Aborted) return true;
  return causes(err).some((e) => CONNECTION_ERRORS.has(nodeCode(e) ?? "")) || refusedStream(err);
}

/**
 * The error proves that the replica never saw the request, so it may be sent
 * to another one whatever it does: the connection was refused (or the name
 * did not resolve) before anything was written, or the replica refused the
 * HTTP/2 stream (REFUSED_STREAM: "closed prior to any processing", RFC 9113
 * §8.7). A reset, closed or timed-out connection proves nothing.
 */
export function provesNotDelivered(err: ConnectError): boolean {
  if (err.isWireError) return false;
  return causes(err).some((e) => NOT_CONNECTED.has(nodeCode(e) ?? "")) || refusedStream(err);
}

function refusedStream(err: ConnectError): boolean {
  // Node reports it as ERR_HTTP2_STREAM_ERROR "... NGHTTP2_REFUSED_STREAM";
  // Connect, when it sees the reset code first, as "... REFUSED_STREAM (0x7)".
  return causes(err).some(
    (e) => e instanceof Error && !(e instanceof ConnectError && e.isWireError) && /\bREFUSED_STREAM\b/.test(e.message),
  );
}

class Replica {
  readonly url: string;
  readonly transport: Transport;
  /** performance.now() until which the replica is out of the rotation. */
  downUntil = 0;
  /** When it was last taken out; answers to calls started before prove nothing. */
  downSince = -Infinity;
  backoffMs = 0;

  constructor(url: string, transport: Transport) {
    this.url = url;
    this.transport = transport;
  }

  isUp(now: number): boolean {
    return now >= this.downUntil;
  }
}

/**
 * A Connect Transport over several replicas of the core, each reached with
 * its own `createGrpcTransport` (HTTP/2 session):
 *
 * - Calls go round-robin to the replicas that are up.
 * - A call that fails at the connection level, or UNAVAILABLE (isReplicaFailure),
 *   takes its replica out of the rotation for a back-off (1 s, doubling with
 *   each failure in a row up to 30 s); once it is over the replica gets
 *   calls again, and the first answer makes it up for good.
 * - Such a call is sent to the next replica that is up only when repeating
 *   it is harmless: the method is read-only (isRepeatable), or the error
 *   proves the replica never got it (provesNotDelivered). Anything else, a
 *   token exchange above all, fails with the error as it came: sent twice,
 *   an authorization code is a replay and revokes the grant.
 * - When no replica is up, each is tried once more (soonest back-off end
 *   first, under the same rule), so that the core is reached again as soon
 *   as one replica is back; if none answers the call fails UNAVAILABLE,
 *   naming how many replicas it tried.
 * - The caller's timeout covers the whole call, every attempt included;
 *   a call the caller cancels is not retried.
 * - A server stream is retried as a unary call is, until it has its response:
 *   its one request message is kept and sent again. A client or bidi stream
 *   (no RPC of the core has one) is sent once and never repeated, even to a
 *   replica that refused it: its input is read as it is sent, and nothing
 *   of it is kept to send again.
 *
 * With one URL it is `createGrpcTransport` for that URL, and nothing else.
 */
/** One Transport over several (each its own HTTP/2 connection), each call taking the next. */
function inTurn(transports: Transport[]): Transport {
  if (transports.length === 1) return transports[0]!;
  let next = 0;
  const take = () => transports[next++ % transports.length]!;
  return {
    unary: (...args) => take().unary(...args),
    stream: (...args) => take().stream(...args),
  };
}

export function createBalancedTransport(urls: readonly string[], options: BalancedTransportOptions = {}): BalancedTransport {
  if (urls.length === 0) throw new TypeError("createBalancedTransport: no core URL");
  const seen = new Set<string>();
  for (const url of urls) {
    const key = new URL(url).href.replace(/\/+$/, "");
    if (seen.has(key)) throw new TypeError(`createBalancedTransport: ${url} is listed twice`);
    seen.add(key);
  }
  const connections = options.connections ?? 1;
  if (!Number.isInteger(connections) || connections < 1) throw new TypeError("createBalancedTransport: connections must be a positive integer");
  const transportOf = (baseUrl: string) =>
    inTurn(Array.from({ length: connections }, () => createGrpcTransport({ ...options.transport, baseUrl })));
  if (urls.length === 1) {
    const url = urls[0]!;
    const only = transportOf(url);
    return {
      unary: (...args) => only.unary(...args),
      stream: (...args) => only.stream(...args),
      replicas: () => [{ url, up: true, backoffMs: 0 }],
    };
  }

  const firstBackoff = options.backoffMs ?? 1000;
  const maxBackoff = Math.max(options.maxBackoffMs ?? 30_000, firstBackoff);
  const replicas = urls.map((url) => new Replica(url, transportOf(url)));
  let turn = 0;

  const markDown = (replica: Replica, error: ConnectError) => {
    const now = performance.now();
    // Concurrent calls failing on one outage take the replica out once.
    if (!replica.isUp(now)) return;
    replica.backoffMs = replica.backoffMs === 0 ? firstBackoff : Math.min(replica.backoffMs * 2, maxBackoff);
    replica.downUntil = now + replica.backoffMs;
    replica.downSince = now;
    options.onReplicaChange?.({ url: replica.url, up: false, backoffMs: replica.backoffMs, error });
  };
  const markUp = (replica: Replica, startedAt: number) => {
    if (replica.backoffMs === 0 || startedAt < replica.downSince) return;
    replica.backoffMs = 0;
    replica.downUntil = 0;
    options.onReplicaChange?.({ url: replica.url, up: true });
  };

  /** The replicas to try, in order: from the next turn of those up; or all, soonest back in first. */
  const plan = (): Replica[] => {
    const now = performance.now();
    const up = replicas.filter((r) => r.isUp(now));
    if (up.length === 0) return [...replicas].sort((a, b) => a.downUntil - b.downUntil);
    const first = turn++ % up.length;
    if (turn >= Number.MAX_SAFE_INTEGER) turn = 0;
    return [...up.slice(first), ...up.slice(0, first)];
  };

  /**
   * Runs `attempt` on replicas by plan() and the rules above. `resendable`
   * says whether the call could be sent again at all (a client stream's
   * input cannot).
   */
  async function call<R>(
    method: DescMethod,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    attempt: (replica: Replica, timeoutMs: number | undefined) => Promise<R>,
    resendable = true,
  ): Promise<R> {
    // As Connect reads it: no timeout given is the transport's default, and 0 or less is none.
    const budget = timeoutMs ?? options.transport?.defaultTimeoutMs;
    const deadline = budget !== undefined && budget > 0 ? performance.now() + budget : undefined;
    const repeatable = isRepeatable(method);
    const order = plan();
    let last: ConnectError | undefined;
    let tried = 0;
    for (const replica of order) {
      let remaining = timeoutMs;
      if (last !== undefined) {
        if (signal?.aborted === true) throw ConnectError.from(signal.reason, Code.Canceled);
        if (deadline !== undefined) {
          remaining = Math.ceil(deadline - performance.now());
          if (remaining <= 0) throw new ConnectError("the operation timed out", Code.DeadlineExceeded, undefined, undefined, last);
        }
      }
      tried++;
      const startedAt = performance.now();
      try {
        const answer = await attempt(replica, remaining);
        markUp(replica, startedAt);
        return answer;
      } catch (e) {
        const err = ConnectError.from(e);
        if (!isReplicaFailure(err, signal)) {
          if (err.isWireError) markUp(replica, startedAt);
          throw err;
        }
        markDown(replica, err);
        if (!resendable || !(repeatable || provesNotDelivered(err))) {
          // A replica's own answer (UNAVAILABLE on the wire) goes as it came.
          if (err.isWireError || err.code === Code.Unavailable) throw err;
          // Not repeated: it may have been carried out. A connection that died
          // under it is said as what it is, the core being unavailable (the
          // gateway answers 503 temporarily_unavailable), not as a cancellation
          // nobody asked for; the connection's error is its cause.
          throw new ConnectError(
            `the core replica ${replica.url} failed during the call, which may have been carried out; not repeated`,
            Code.Unavailable,
            undefined,
            undefined,
            err,
          );
        }
        last = err;
      }
    }
    const skipped = replicas.length - order.length;
    throw new ConnectError(
      `no replica of the core answered: tried ${tried} of ${replicas.length}` +
        (skipped > 0 ? ` (${skipped} skipped, being down)` : "") +
        (last === undefined ? "" : `; last: ${last.message}`),
      Code.Unavailable,
      undefined,
      undefined,
      last,
    );
  }

  return {
    replicas() {
      const now = performance.now();
      return replicas.map((r) => ({ url: r.url, up: r.isUp(now), backoffMs: r.backoffMs }));
    },

    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeaderInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      return call(method, signal, timeoutMs, (replica, remaining) =>
        replica.transport.unary(method, signal, remaining, header, input, contextValues),
      );
    },

    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeaderInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      // A server stream's input is its one request message: kept, it can be
      // sent again as a whole. Any other stream's input is passed on as it is.
      const request = method.methodKind === "server_streaming" ? await collect(input) : undefined;
      let answered: Replica | undefined;
      const response = await call(
        method,
        signal,
        timeoutMs,
        async (replica, remaining) => {
          const sent = request === undefined ? input : createAsyncIterable(request);
          const res = await replica.transport.stream(method, signal, remaining, header, sent, contextValues);
          answered = replica;
          return res;
        },
        request !== undefined,
      );
      // Past its response a stream is not retried, but a connection that breaks
      // under it still takes its replica out of the rotation.
      const replica = answered!;
      const messages = response.message;
      return {
        ...response,
        message: (async function* () {
          try {
            yield* messages;
          } catch (e) {
            const err = ConnectError.from(e);
            if (isReplicaFailure(err, signal)) markDown(replica, err);
            throw e;
          }
        })(),
      };
    },
  };
}

async function collect<T>(messages: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const message of messages) all.push(message);
  return all;
}
