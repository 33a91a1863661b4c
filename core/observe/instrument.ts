import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { ERROR_KEY } from "../../wire/errors.js";
import type { Logger } from "./log.js";
import { IN_PROCESS_PROTOCOL } from "../../wire/in-process-transport.js";
import { currentRequest, inRequest, REQUEST_ID_HEADER, requestIdFrom, userAgentFrom, type RequestScope } from "../../wire/request-id.js";
import { PEER_ADDRESS } from "./context.js";
import type { Metrics } from "./metrics.js";

type Method = (request: unknown, context: HandlerContext) => unknown;

/** gRPC status names as they appear in logs and labels: `ok`, `invalid_argument`, … */
const CODE_NAMES = new Map<number, string>([
  [0, "ok"],
  ...Object.entries(Code)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([name, value]) => [value, name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase()] as [number, string]),
]);

/**
 * Wraps every method of a service implementation so that each RPC, whichever
 * transport brought it, runs under a request id (the caller's `x-request-id`
 * when acceptable, a new one otherwise; answered in the same header), is
 * counted and timed by method and status, and writes one log line when it ends.
 */
export function instrument<T extends object>(
  service: DescService,
  impl: T,
  observe: { logger: Logger; metrics: Metrics },
): T {
  const wrapped: Record<string, Method> = {};
  for (const method of service.methods) {
    const handler = (impl as Record<string, Method | undefined>)[method.localName];
    if (handler === undefined) continue;
    const name = `${service.typeName}/${method.name}`;
    const done = (scope: RequestScope, started: number, err: unknown, signal: AbortSignal) => {
      let connectError = err === undefined ? undefined : ConnectError.from(err);
      // A stream the caller hung up on ends with whatever error its last write met: it was cancelled.
      if (connectError?.code === Code.Unknown && signal.aborted) connectError = new ConnectError("cancelled", Code.Canceled);
      const code = CODE_NAMES.get(connectError?.code ?? 0) ?? "unknown";
      const seconds = (performance.now() - started) / 1000;
      observe.metrics.rpcs.inc({ method: name, code });
      observe.metrics.rpcSeconds.observe({ method: name, code }, seconds);
      const error = scope.refusal?.error ?? connectError?.metadata.get(ERROR_KEY) ?? undefined;
      inRequest(scope, () =>
        observe.logger.info("rpc", {
          rpc: name,
          status: code,
          ...(error === undefined ? {} : { error }),
          ...(scope.refusal === undefined ? {} : { detail: scope.refusal.detail }),
          ms: Math.round(seconds * 10_000) / 10,
        }),
      );
    };
    const begin = (context: HandlerContext): RequestScope => {
      if (context.protocolName === IN_PROCESS_PROTOCOL) {
        // Called by the gateway in this process: its request's id, and no
        // header to answer it in (the gateway answers it to its caller).
        const caller = currentRequest();
        if (caller !== undefined) return { requestId: caller.requestId, clientAddress: caller.clientAddress, userAgent: caller.userAgent };
      }
      const scope = {
        requestId: requestIdFrom(context.requestHeader.get(REQUEST_ID_HEADER)),
        clientAddress: context.values.get(PEER_ADDRESS),
        userAgent: userAgentFrom(context.requestHeader.get("user-agent")),
      };
      context.responseHeader.set(REQUEST_ID_HEADER, scope.requestId);
      return scope;
    };
    if (method.methodKind === "unary" || method.methodKind === "client_streaming") {
      wrapped[method.localName] = async (request, context) => {
        const started = performance.now();
        const scope = begin(context);
        try {
          const answer = await inRequest(scope, () => handler.call(impl, request, context));
          done(scope, started, undefined, context.signal);
          return answer;
        } catch (err) {
          done(scope, started, err, context.signal);
          throw err;
        }
      };
    } else {
      // Streams (health Watch, reflection): one line when the stream ends.
      wrapped[method.localName] = async function* (request, context) {
        const started = performance.now();
        const scope = begin(context);
        let failure: unknown;
        try {
          yield* inRequest(scope, () => handler.call(impl, request, context) as AsyncIterable<unknown>);
        } catch (err) {
          failure = err;
          throw err;
        } finally {
          done(scope, started, failure, context.signal);
        }
      };
    }
  }
  return wrapped as T;
}
