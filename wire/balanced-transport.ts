import type { DescMessage, DescMethod, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ContextValues, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { createGrpcTransport, type GrpcTransportOptions } from "@connectrpc/connect-node";

/**
 * RPCs that only read, and so may be sent again to another replica when the
 * first one failed at the connection level, whether or not it received them.
 *
 * The .proto files declare no `idempotency_level`, so the list is explicit
 * (a method that declares NO_SIDE_EFFECTS or IDEMPOTENT later is repeatable
 * without being listed here). Each was read in core/ before it was listed:
 *
 * - TokenService VerifyToken, Introspect, UserInfo: look a token up (signature,
 *   grant, user) and answer its state; nothing is written. Introspect
 *   authenticates the calling client, which counts no failures and locks
 *   nothing (only metrics move, and those are per replica anyway).
 * - TokenService GetJwks, GetServerMetadata: a project's public keys and its
 *   discovery metadata; keys are read (and cached), never created here.
 * - grpc.health.v1.Health Check, List, Watch: the health protocol requires
 *   Check to be "idempotent and side effect free"; List and Watch only report.
 * - AdminService Get* / List*: read the store after authenticating a bearer
 *   token (verification only: no counters, no audit rows).
 *
 * Deliberately absent, because repeating a delivered call changes the outcome:
 * Token (an authorization code exchanged twice is a replay, which revokes the
 * grant; a refresh token presented twice is reuse, which revokes its family),
 * Revoke, Authorize (records a pending request), Login (counts failed
 * sign-ins, locks accounts), Consent (issues the code), every AdminService
 * write, and server reflection (not used through this transport).
 */
export const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  "iam.v1.TokenService/VerifyToken",
  "iam.v1.TokenService/Introspect",
  "iam.v1.TokenService/UserInfo",
  "iam.v1.TokenService/GetJwks",
  "iam.v1.TokenService/GetServerMetadata",
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/List",
  "grpc.health.v1.Health/Watch",
  "iam.v1.AdminService/GetOrganization",
  "iam.v1.AdminService/ListOrganizations",
  "iam.v1.AdminService/GetProject",
  "iam.v1.AdminService/ListProjects",
  "iam.v1.AdminService/GetClient",
  "iam.v1.AdminService/ListClients",
  "iam.v1.AdminService/GetUser",
  "iam.v1.AdminService/ListUsers",
  "iam.v1.AdminService/ListUserConsents",
  "iam.v1.AdminService/ListPermissions",
  "iam.v1.AdminService/ListRoles",
]);

/** Whether a call of `method` may be repeated after it may have been delivered. */
export function isRepeatable(method: DescMethod): boolean {
  return (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT ||
    READ_ONLY_METHODS.has(`${method.parent.typeName}/${method.name}`)
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
/** How many input messages of a stream are kept, to send them again to another replica. */
const REPLAY_LIMIT = 64;

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
 * - A stream is retried only until it has a response; the input messages it
 *   has sent by then (at most 64) are sent again.
 *
 * With one URL it is `createGrpcTransport` for that URL, and nothing else.
 */
export function createBalancedTransport(urls: readonly string[], options: BalancedTransportOptions = {}): BalancedTransport {
  if (urls.length === 0) throw new TypeError("createBalancedTransport: no core URL");
  const seen = new Set<string>();
  for (const url of urls) {
    const key = new URL(url).href.replace(/\/+$/, "");
    if (seen.has(key)) throw new TypeError(`createBalancedTransport: ${url} is listed twice`);
    seen.add(key);
  }
  const transportOf = (baseUrl: string) => createGrpcTransport({ ...options.transport, baseUrl });
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
   * Runs `attempt` on replicas by plan() and the rules above. `replayable`
   * says whether the call could be sent again at all (a stream whose input
   * outgrew the replay buffer cannot).
   */
  async function call<R>(
    method: DescMethod,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    attempt: (replica: Replica, timeoutMs: number | undefined) => Promise<R>,
    replayable: () => boolean = () => true,
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
        if (!replayable() || !(repeatable || provesNotDelivered(err))) {
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
      const replay = new ReplayableInput(input, REPLAY_LIMIT);
      let answered: Replica | undefined;
      let response: StreamResponse<I, O>;
      try {
        response = await call(
          method,
          signal,
          timeoutMs,
          async (replica, remaining) => {
            const input = replay.attempt();
            const res = await replica.transport.stream(method, signal, remaining, header, input, contextValues);
            replay.settle();
            answered = replica;
            return res;
          },
          () => replay.replayable,
        );
      } catch (err) {
        replay.abandon();
        throw err;
      }
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

/**
 * The input of a stream, readable once per attempt: each attempt first gets
 * the messages earlier attempts took, then the rest of the source. Only the
 * latest attempt reads; an abandoned one sees the end of its input. Connect
 * calls `throw` on the input of a call that failed: the source is only told
 * (`throw`, `return`) once no other attempt can follow.
 */
class ReplayableInput<T> {
  readonly #source: AsyncIterable<T>;
  readonly #limit: number;
  #iterator: AsyncIterator<T> | undefined;
  #buffer: T[] = [];
  #ended = false;
  #overflowed = false;
  /** The latest attempt is the last one: it has its response. */
  #final = false;
  #generation = 0;

  constructor(source: AsyncIterable<T>, limit: number) {
    this.#source = source;
    this.#limit = limit;
  }

  /** Whether every message taken so far can be sent again. */
  get replayable(): boolean {
    return !this.#overflowed;
  }

  /** The call has its response: no more attempts, nothing more to keep. */
  settle(): void {
    this.#final = true;
  }

  /** The call failed for good: the source is closed. */
  abandon(): void {
    this.#generation++;
    this.#iterator?.return?.().catch(() => {});
  }

  attempt(): AsyncIterable<T> {
    const generation = ++this.#generation;
    let position = 0;
    const self = this;
    const finished: IteratorReturnResult<undefined> = { done: true, value: undefined };
    /** This attempt's own end may be passed on to the source. */
    const owns = () => generation === self.#generation && self.#final;
    const iterator: AsyncIterator<T> = {
      async next(): Promise<IteratorResult<T>> {
        if (generation !== self.#generation) return finished;
        if (position < self.#buffer.length) return { done: false, value: self.#buffer[position++]! };
        if (self.#final && self.#buffer.length > 0) {
          // The last attempt has sent again all that was kept: nothing more is.
          self.#buffer = [];
          position = 0;
        }
        if (self.#ended) return finished;
        self.#iterator ??= self.#source[Symbol.asyncIterator]();
        const result = await self.#iterator.next();
        if (result.done === true) {
          self.#ended = true;
          return result;
        }
        if (!self.#final) {
          if (self.#buffer.length < self.#limit && !self.#overflowed) {
            self.#buffer.push(result.value);
            position++;
          } else {
            self.#overflowed = true;
          }
        }
        return result;
      },
      async throw(e?: unknown): Promise<IteratorResult<T>> {
        if (owns() && self.#iterator?.throw !== undefined) return self.#iterator.throw(e);
        return finished;
      },
      async return(value?: unknown): Promise<IteratorResult<T>> {
        if (owns() && self.#iterator?.return !== undefined) return self.#iterator.return(value);
        return finished;
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }
}
