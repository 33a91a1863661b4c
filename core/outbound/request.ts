import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import tls from "node:tls";
import { describeKind, nonPublicHost, nonPublicKind } from "../lib/network-address.js";

/**
 * Requests iam-core makes to URIs a project administrator registered (a
 * client's back-channel logout URI, its jwks_uri). They leave from inside
 * the operator's network, so unless the operator allows private networks
 * (an option each use names), only https to a public host is contacted: a
 * URI naming `localhost` or a non-public IP literal is refused before any
 * connection (`hostRefusal`), and a name is refused as the connection is made
 * when any address it resolves to is not public (`addressCheckingLookup`):
 * the address checked is the address connected to, so a name that resolved
 * to a public address at registration and to 127.0.0.1 now (DNS rebinding)
 * is refused too. Each request has a connection of its own, and no redirect
 * is followed (node:http follows none).
 */

/** How names are resolved: every address of `hostname`, as dns.lookup with `all` answers them. */
export type ResolveHost = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/** The system's resolver. */
export const systemResolve: ResolveHost = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

/** A name that resolved to an address the request may not reach; its message says which, and what allows it. */
export class AddressRefused extends Error {}

/**
 * Why `url` may not be contacted while private networks are not allowed
 * ("localhost is a loopback name, and IAM_… is not set"); undefined when it
 * may, as far as the URL alone tells. `option` is the variable that allows them.
 */
export function hostRefusal(url: URL, option: string): string | undefined {
  const host = nonPublicHost(url.hostname);
  if (host !== undefined) return `${host}, and ${option} is not set`;
  if (url.protocol === "http:") return `plain http, and ${option} is not set`;
  return undefined;
}

/**
 * The `lookup` of an outbound connection: the resolver's answer, refused
 * whole (AddressRefused) when any of its addresses is not public, unless
 * private networks are allowed: the connection could take any of them.
 */
export function addressCheckingLookup(resolve: ResolveHost, privateNetworks: boolean, option: string): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, (err, answers) => {
      if (err !== null) return callback(err, "", 0);
      if (!privateNetworks) {
        for (const { address } of answers) {
          const kind = nonPublicKind(address);
          if (kind !== undefined) return callback(new AddressRefused(`${hostname} resolves to ${address}, ${describeKind(kind)}, and ${option} is not set`), "", 0);
        }
      }
      const family = options.family === 4 || options.family === "IPv4" ? 4 : options.family === 6 || options.family === "IPv6" ? 6 : 0;
      const usable = family === 0 ? answers : answers.filter((a) => a.family === family);
      if (usable.length === 0) {
        const none: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        none.code = "ENOTFOUND";
        return callback(none, "", 0);
      }
      if (options.all === true) return callback(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}

/** What an outbound request is sent with. */
export interface OutboundRequest {
  method: "GET" | "POST";
  headers: OutgoingHttpHeaders;
  /** Aborting it destroys the connection, the answer's body included. */
  signal: AbortSignal;
  /** addressCheckingLookup, for the option that governs this request. */
  lookup: LookupFunction;
  /** Certificates trusted for https besides the system's (PEM); absent: the system's only. */
  ca?: string | undefined;
}

/**
 * Opens an http(s) request on a connection of its own: no pooled connection
 * outlives it (Connection: close). The caller listens for `error` and ends it.
 */
export function openRequest(url: URL, request: OutboundRequest, onResponse: (res: IncomingMessage) => void): ClientRequest {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const trust = request.ca === undefined ? {} : { ca: [...tls.rootCertificates, request.ca] };
  return send(url, { method: request.method, headers: request.headers, signal: request.signal, lookup: request.lookup, agent: false, ...trust }, onResponse);
}

/** A failed bounded GET: its message is for the operator's log. */
export class OutboundError extends Error {}

/** A bounded GET's answer: the status, and for a 200 the whole body. */
export interface BoundedAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body of a 200 answer; empty for any other status, whose body is not read. */
  body: Buffer;
}

/**
 * GETs `url` within `timeoutMs` for the whole exchange (resolving the name,
 * connecting, the headers and the body) and reads at most `maxBytes` of a 200
 * answer's body: past it, or past the time, the connection is destroyed and
 * the promise rejects with an OutboundError (AddressRefused for a refused
 * address). Any other status resolves without its body, the connection
 * closed; a redirect is such a status, not followed.
 */
export function boundedGet(
  url: URL,
  options: { headers: OutgoingHttpHeaders; timeoutMs: number; maxBytes: number; lookup: LookupFunction; ca?: string | undefined },
): Promise<BoundedAnswer> {
  return new Promise((resolve, reject) => {
    const stop = new AbortController();
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const fail = (err: Error) =>
      settle(() => {
        stop.abort();
        reject(err);
      });
    const timer = setTimeout(() => fail(new OutboundError(`no complete answer within ${options.timeoutMs / 1000} s`)), options.timeoutMs);
    const tooLarge = () => new OutboundError(`the answer is larger than ${options.maxBytes} bytes`);
    const req = openRequest(url, { method: "GET", headers: options.headers, signal: stop.signal, lookup: options.lookup, ca: options.ca }, (res) => {
      const status = res.statusCode ?? 0;
      res.on("error", (err) => fail(new OutboundError(`the answer broke off: ${describeError(err)}`)));
      if (status !== 200) {
        // Nothing in it is used: close the connection rather than read it.
        settle(() => {
          stop.abort();
          resolve({ status, headers: res.headers, body: Buffer.alloc(0) });
        });
        return;
      }
      const declared = Number(res.headers["content-length"] ?? 0);
      if (declared > options.maxBytes) return fail(tooLarge());
      const chunks: Buffer[] = [];
      let length = 0;
      res.on("data", (chunk: Buffer) => {
        length += chunk.length;
        if (length > options.maxBytes) return fail(tooLarge());
        chunks.push(chunk);
      });
      res.on("end", () => settle(() => resolve({ status, headers: res.headers, body: Buffer.concat(chunks) })));
    });
    req.on("error", (err) => fail(err instanceof AddressRefused ? err : new OutboundError(`could not send: ${describeError(err)}`)));
    req.end();
  });
}

/** An error as one short line for the operator: its code (ECONNREFUSED) and message. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined ? `${code} (${err.message})` : err.message;
  }
  return String(err);
}
