/**
 * Cross-origin reads by the scripts of web pages: the CORS protocol of the
 * Fetch standard (§3.2). Two policies, each a pair of middleware: `answer`
 * adds the headers to a request's own answer, `preflight` answers the
 * browser's OPTIONS before a request that is not simple.
 *
 * - `anyOrigin`, for the public documents (discovery, the JWK Set): any
 *   origin reads them, never with credentials.
 * - `registeredOrigins`, for the endpoints a single-page application calls
 *   with its tokens (token, UserInfo, revocation) and the pushed
 *   authorization request endpoint, which it calls as it calls the token
 *   endpoint (RFC 9126: the same client authentication): only the origins
 *   registered for the project's clients (GetServerMetadata's web_origins).
 *
 * Nothing else gets CORS headers. The authorization endpoint, the sign-in
 * and consent pages and logout must never: their defence against requests
 * forged by other sites relies on browsers hiding their answers from other
 * origins. Introspection neither: it is for resource servers, which hold
 * client secrets that no page may.
 *
 * CORS only decides what a browser lets a page read: a request from an
 * origin not allowed is still processed and answered as any other, without
 * the headers, and the browser withholds the answer from the page.
 */
import type { Context, Middleware, Next } from "koa";
import { projectOf, type EndpointDeps } from "./endpoint.js";

/**
 * How long a browser may reuse a preflight's answer, in seconds (Chromium
 * keeps it at most two hours). Only the preflight is skipped meanwhile: every
 * answer is still checked against the origins registered at that moment.
 */
const MAX_AGE = "7200";

export interface CorsPolicy {
  answer: Middleware;
  preflight: Middleware;
}

/** Fetch §3.2.2: a CORS-preflight request is an OPTIONS with Origin and Access-Control-Request-Method. */
const isPreflight = (ctx: Context) => ctx.get("origin") !== "" && ctx.get("access-control-request-method") !== "";

/**
 * The answer to OPTIONS (RFC 9110 §9.3.7): 204 naming the methods (HEAD
 * wherever GET is served), the CORS headers of a preflight added by the
 * caller when it allows the origin.
 */
function options(ctx: Context, methods: readonly string[]): void {
  ctx.status = 204;
  ctx.set("Allow", [...methods, ...(methods.includes("GET") ? ["HEAD"] : []), "OPTIONS"].join(", "));
}

/**
 * Public documents: `Access-Control-Allow-Origin: *` on every answer.
 * Fetch §3.2.5: `*` is never honoured for a request with credentials, so no
 * page can read them with cookies: there are none to read them with.
 */
export function anyOrigin(methods: readonly string[]): CorsPolicy {
  const allowed = methods.join(", ");
  return {
    answer: async (ctx: Context, next: Next) => {
      ctx.set("Access-Control-Allow-Origin", "*");
      await next();
    },
    preflight: async (ctx: Context) => {
      options(ctx, methods);
      if (!isPreflight(ctx)) return;
      ctx.set({
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": allowed,
        // For a request without credentials, `*` allows any header name (Fetch §3.2.3).
        "Access-Control-Allow-Headers": "*",
        "Access-Control-Max-Age": MAX_AGE,
      });
    },
  };
}

/**
 * The endpoints a page calls with its tokens: the request's Origin, when it
 * is one of the project's web origins, is named in
 * `Access-Control-Allow-Origin`; otherwise no CORS header at all. Never
 * `Access-Control-Allow-Credentials`: these endpoints read no cookie, and a
 * page must not send any. `Vary: Origin` on every answer, as the answer
 * depends on it (Fetch §3.2.5).
 *
 * An origin not allowed gets the preflight answer any OPTIONS gets (204,
 * Allow) without CORS headers: browsers refuse the request the same way as
 * after a 403, and report the missing Access-Control-Allow-Origin, which
 * points the developer at the client's web origins.
 *
 * The origins are asked of the core only for a request that has an Origin
 * header (servers send none), and while the endpoint works on the request.
 */
export function registeredOrigins(deps: EndpointDeps, methods: readonly string[], headers: readonly string[]): CorsPolicy {
  const allowedMethods = methods.join(", ");
  const allowedHeaders = headers.join(", ");
  return {
    answer: async (ctx: Context, next: Next) => {
      ctx.vary("Origin");
      const origin = ctx.get("origin");
      const allowed = origin === "" ? undefined : isRegistered(deps, ctx, origin);
      await next();
      if (allowed !== undefined && (await allowed)) {
        ctx.set("Access-Control-Allow-Origin", origin);
        // A page's client reads a refusal's challenge and the DPoP nonce to use next (RFC 9449 §7.1, §8).
        ctx.set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce");
      }
    },
    preflight: async (ctx: Context) => {
      options(ctx, methods);
      ctx.vary("Origin");
      if (!isPreflight(ctx) || !(await isRegistered(deps, ctx, ctx.get("origin")))) return;
      ctx.set({
        "Access-Control-Allow-Origin": ctx.get("origin"),
        "Access-Control-Allow-Methods": allowedMethods,
        "Access-Control-Allow-Headers": allowedHeaders,
        "Access-Control-Max-Age": MAX_AGE,
      });
    },
  };
}

/**
 * Whether `origin` is one of the project's web origins, compared as the
 * browser serialized it. An unknown project, or a core that does not answer,
 * allows none: the endpoint answers that error itself.
 */
async function isRegistered(deps: EndpointDeps, ctx: Context, origin: string): Promise<boolean> {
  try {
    const metadata = await deps.services.tokens.getServerMetadata(projectOf(ctx));
    return metadata.webOrigins.includes(origin);
  } catch {
    return false;
  }
}
