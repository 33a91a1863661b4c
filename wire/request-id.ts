/**
 * The request id, from a gateway request to the RPCs it makes and back: the
 * header that carries it, which ids a caller may choose, the async scope that
 * holds the current request (every log line written inside it carries its id,
 * on either side), and the transport wrapper that sends the id with each call.
 * Core and gateway share one scope, so that in one process the core's log
 * lines of an in-process call carry the id of the gateway request behind it.
 *
 * Part of wire/: imported by core/ and gateway/, imports neither.
 */
import { randomUUID } from "node:crypto";
import { AsyncLocalStorage } from "node:async_hooks";
import type { Transport } from "@connectrpc/connect";

/** The header that carries a request id from the gateway to the core, and back to callers. */
export const REQUEST_ID_HEADER = "x-request-id";

/** Marks a transport whose calls run in the caller's own async context (wire/in-process-transport.ts). */
export const IN_PROCESS = Symbol("in-process transport");

/** What one request or RPC has gathered for its log line. */
export interface RequestScope {
  readonly requestId: string;
  /**
   * Where the request came from, as the server that received it saw it: the
   * gateway's client address (X-Forwarded-For when it trusts a proxy), or the
   * core port's TCP peer; and its User-Agent, at most 256 characters. For the
   * audit trail; "" when unknown.
   */
  readonly clientAddress?: string;
  readonly userAgent?: string;
  /** The RFC error code of a refusal, and its internal reason (which never names a secret). */
  refusal?: { error: string; detail: unknown };
}

type HeaderInit = ConstructorParameters<typeof Headers>[0];

const scopes = new AsyncLocalStorage<RequestScope>();

/**
 * A caller's request id is kept when it is a plain token of at most 64
 * characters (a UUID, a trace id); anything else is replaced, so no caller can
 * write markup, newlines or a megabyte into the log through it.
 */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** What of a User-Agent header is kept: at most 256 characters. */
export function userAgentFrom(header: string | null | undefined): string {
  return (header ?? "").slice(0, 256);
}

export function requestIdFrom(header: string | null | undefined): string {
  return header !== null && header !== undefined && ACCEPTABLE_ID.test(header) ? header : randomUUID();
}

/** Runs `fn` with `scope` as the current request: every log line written inside it carries its id. */
export function inRequest<T>(scope: RequestScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

export function currentRequest(): RequestScope | undefined {
  return scopes.getStore();
}

/**
 * A transport that sends the current request's id with every call, so that
 * the core's log line of an RPC carries the id of the gateway request that
 * made it.
 */
export function propagateRequestId(transport: Transport): Transport {
  // In-process calls run inside the current request's scope already.
  if ((transport as { [IN_PROCESS]?: true })[IN_PROCESS] === true) return transport;
  const withId = (header: HeaderInit | undefined): HeaderInit | undefined => {
    const scope = scopes.getStore();
    if (scope === undefined) return header;
    const headers = new Headers(header);
    headers.set(REQUEST_ID_HEADER, scope.requestId);
    return headers;
  };
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.unary(method, signal, timeoutMs, withId(header), input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, timeoutMs, withId(header), input, contextValues),
  };
}
