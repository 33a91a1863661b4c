import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createHandlerContext,
  type ConnectRouter,
  type Transport,
} from "@connectrpc/connect";

/**
 * The reason a finished call's signal is aborted with. Given explicitly, it
 * spares the DOMException (and its stack trace) AbortController makes for
 * each call otherwise.
 */
const CALL_ENDED = new ConnectError("the call has ended", Code.Canceled);

type UnaryHandler = (request: unknown, context: ReturnType<typeof createHandlerContext>) => unknown;

/**
 * A Transport that hands request messages straight to the service
 * implementations registered by `routes`: the same RPC contract as the
 * network, without HTTP or serialization. Used when core and gateway run in
 * one process. (Connect's createRouterTransport runs the whole protocol in
 * memory and costs several times more per call.)
 */
export function createInProcessTransport(routes: (router: ConnectRouter) => void): Transport {
  const handlers = new Map<string, { service: DescService; handler: UnaryHandler }>();
  const collector = {
    service(service: DescService, impl: Record<string, UnaryHandler>) {
      for (const method of service.methods) {
        const handler = impl[method.localName];
        if (method.methodKind === "unary" && handler !== undefined) {
          handlers.set(method.parent.typeName + "/" + method.name, { service, handler: handler.bind(impl) });
        }
      }
      return collector;
    },
  };
  routes(collector as unknown as ConnectRouter);

  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const entry = handlers.get(method.parent.typeName + "/" + method.name);
      if (entry === undefined) throw new ConnectError(`${method.name} is not implemented`, Code.Unimplemented);
      const context = createHandlerContext({
        service: entry.service,
        method: method as DescMethod,
        protocolName: "in-process",
        requestMethod: "POST",
        url: `in-process:/${method.parent.typeName}/${method.name}`,
        timeoutMs,
        requestSignal: signal,
        requestHeader: header,
        contextValues: contextValues ?? createContextValues(),
      });
      try {
        const output = await entry.handler(create(method.input, input), context);
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
        context.abort(CALL_ENDED);
      }
    },
    stream() {
      throw new ConnectError("streaming is not supported in process", Code.Unimplemented);
    },
  } as Transport;
}

