/**
 * The transport of one process: the gateway calls the core's service
 * implementations directly, with the RPC contract of the network and none of
 * its cost. Transport, so it lives with the other wire code.
 *
 * Part of wire/: imported by core/ (the protocol name its instrumentation
 * reports), bin/ and tests; imports neither core/ nor gateway/.
 */
import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  type ConnectRouter,
  type ContextValues,
  type HandlerContext,
  type Transport,
} from "@connectrpc/connect";
import { IN_PROCESS } from "./request-id.js";

/** The protocolName of in-process calls (HandlerContext.protocolName). */
export const IN_PROCESS_PROTOCOL = "in-process";

type Handler = (request: unknown, context: HandlerContext) => unknown;

/** The signal of a call nobody can cancel (the caller passed none). */
const NEVER_ABORTED = new AbortController().signal;
const NO_DEADLINE = () => undefined;

/** A call's deadline: a signal aborted when it passes, a promise rejected then, and `clear` once the call is done. */
function deadlineOf(ms: number): { signal: AbortSignal; passed: Promise<never>; clear: () => void } {
  const controller = new AbortController();
  const reason = new ConnectError("the call's deadline passed", Code.DeadlineExceeded);
  let timer: NodeJS.Timeout | undefined;
  const passed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(reason);
      reject(reason);
    }, Math.max(0, ms));
  });
  passed.catch(() => {}); // a call that ends first never looks at it
  return { signal: controller.signal, passed, clear: () => clearTimeout(timer) };
}

/**
 * A Transport that hands request messages straight to the service
 * implementations registered by `routes`: the same RPC contract as the
 * network, without HTTP or serialization. Used when core and gateway run in
 * one process. (Connect's createRouterTransport runs the whole protocol in
 * memory and costs several times more per call.)
 *
 * The handler context is built lean: headers are made only when a handler
 * reads them, and no abort controller or deadline timer is set up for a
 * call that has neither. A call given `timeoutMs` ends with
 * DEADLINE_EXCEEDED when it passes, its handler's signal aborted. The call runs in the caller's async context, so
 * the request id (wire/request-id.ts) needs no header to travel.
 */
export function createInProcessTransport(routes: (router: ConnectRouter) => void): Transport {
  const handlers = new Map<string, { service: DescService; handler: Handler }>();
  const collector = {
    service(service: DescService, impl: Record<string, Handler>) {
      for (const method of service.methods) {
        const handler = impl[method.localName];
        if ((method.methodKind === "unary" || method.methodKind === "server_streaming") && handler !== undefined) {
          handlers.set(method.parent.typeName + "/" + method.name, { service, handler: handler.bind(impl) });
        }
      }
      return collector;
    },
  };
  routes(collector as unknown as ConnectRouter);

  /** The registered handler of `method` and the lean context of one call of it. */
  const callOf = (
    method: DescMethod,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: ConstructorParameters<typeof Headers>[0],
    contextValues: ContextValues | undefined,
  ) => {
    const entry = handlers.get(method.parent.typeName + "/" + method.name);
    if (entry === undefined) throw new ConnectError(`${method.name} is not implemented`, Code.Unimplemented);
    const deadline = timeoutMs === undefined || timeoutMs <= 0 ? undefined : Date.now() + timeoutMs;
    // A deadline aborts the call as the network's would: its handler's signal, and DEADLINE_EXCEEDED for the caller.
    const expiry = deadline === undefined ? undefined : deadlineOf(deadline - Date.now());
    const callSignal = expiry === undefined ? (signal ?? NEVER_ABORTED) : signal === undefined ? expiry.signal : AbortSignal.any([signal, expiry.signal]);
    let requestHeader: Headers | undefined;
    let responseHeader: Headers | undefined;
    let responseTrailer: Headers | undefined;
    const context: HandlerContext = {
      service: entry.service,
      method,
      protocolName: IN_PROCESS_PROTOCOL,
      requestMethod: "POST",
      url: `in-process:/${method.parent.typeName}/${method.name}`,
      signal: callSignal,
      timeoutMs: deadline === undefined ? NO_DEADLINE : () => deadline - Date.now(),
      get requestHeader() {
        return (requestHeader ??= new Headers(header));
      },
      get responseHeader() {
        return (responseHeader ??= new Headers());
      },
      get responseTrailer() {
        return (responseTrailer ??= new Headers());
      },
      values: contextValues ?? createContextValues(),
    };
    return { handler: entry.handler, context, expiry };
  };

  const transport = {
    [IN_PROCESS]: true,
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const { handler, context, expiry } = callOf(method as DescMethod, signal, timeoutMs, header, contextValues);
      try {
        const call = handler(create(method.input, input), context);
        const output = await (expiry === undefined ? call : Promise.race([call, expiry.passed]));
        return {
          stream: false as const,
          service: method.parent,
          method,
          header: context.responseHeader,
          trailer: context.responseTrailer,
          message: create(method.output, output as never),
        };
      } catch (err) {
        throw ConnectError.from(err);
      } finally {
        expiry?.clear();
      }
    },
    /**
     * A server stream (the audit trail's StreamEvents, for the console): its
     * one request message handed to the handler, whose messages are passed
     * on as it yields them. The caller's signal ends it. Client and
     * bidirectional streams have no use in process.
     */
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      if (method.methodKind !== "server_streaming") throw new ConnectError(`${method.name}: only server streams are supported in process`, Code.Unimplemented);
      const { handler, context, expiry } = callOf(method as DescMethod, signal, timeoutMs, header, contextValues);
      let request: unknown;
      for await (const message of input) {
        request = message;
        break;
      }
      const output = handler(create(method.input, request as never), context) as AsyncIterable<unknown>;
      async function* messages() {
        try {
          for await (const message of output) {
            if (expiry?.signal.aborted === true) break;
            yield create(method.output, message as never);
          }
          if (expiry?.signal.aborted === true) throw expiry.signal.reason;
        } catch (err) {
          throw ConnectError.from(err);
        } finally {
          expiry?.clear();
        }
      }
      return {
        stream: true as const,
        service: method.parent,
        method,
        header: context.responseHeader,
        trailer: context.responseTrailer,
        message: messages(),
      };
    },
  } as Transport & { [IN_PROCESS]: true };
  return transport;
}
