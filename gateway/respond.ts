/**
 * The one place where the gateway writes answers: JSON with its headers,
 * pages, redirects, and every error, mapped from what the core reported.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Context, Next } from "koa";
import { CHALLENGE_KEY, DPOP_NONCE_KEY, ERROR_KEY, httpStatusOf, oauthErrorOf, REDIRECT_KEY, RETRY_AFTER_KEY, STATUS_KEY, type OAuthErrorCode } from "../wire/errors.js";
import type { Logger } from "../wire/observe.js";
import { BadRequest } from "./http.js";
import { errorPage, PAGE_SECURITY_HEADERS } from "./pages.js";

/** JSON never cached: tokens, and every error (RFC 6749 §5.1). */
export function json(ctx: Context, status: number, body: unknown): void {
  ctx.set({ "Cache-Control": "no-store", Pragma: "no-cache", "X-Content-Type-Options": "nosniff" });
  ctx.status = status;
  ctx.body = body;
}

/** A public document, cached for five minutes: discovery and the JWK Set. */
export function publicJson(ctx: Context, body: unknown): void {
  ctx.set("Cache-Control", "public, max-age=300");
  ctx.body = body;
}

/** Plain text of its own media type, never cached: the metrics. */
export function text(ctx: Context, status: number, type: string, body: string): void {
  ctx.set("Cache-Control", "no-store");
  ctx.status = status;
  ctx.type = type;
  ctx.body = body;
}

/** An HTML page, with the pages' security headers (a passkey page's allow its two scripts). */
export function page(ctx: Context, status: number, body: string, headers: Record<string, string> = PAGE_SECURITY_HEADERS): void {
  ctx.set(headers);
  ctx.status = status;
  ctx.type = "text/html; charset=utf-8";
  ctx.body = body;
}

/**
 * Location is set as the core built it: Koa's ctx.redirect would re-encode
 * it through URL, and the redirect URI must stay byte for byte the one the
 * client registered.
 */
export function redirect(ctx: Context, status: 302 | 303, location: string): void {
  ctx.body = null;
  ctx.status = status;
  ctx.set({ Location: location, "Cache-Control": "no-store" });
}

/** An error as the gateway renders it. */
export interface WireError {
  error: OAuthErrorCode | "not_found";
  description: string;
  status: number;
  /** Where to send the user agent, for errors the core says go back to the client. */
  redirectTo?: string;
  /** Seconds before trying again (a rate limit or a lockout): the Retry-After header. */
  retryAfter?: number;
  /** A resource's refusal challenged under DPoP rather than Bearer (RFC 9449 §7.1). */
  challenge?: "DPoP";
  /** The DPoP nonce the client must use next (RFC 9449 §8): the DPoP-Nonce header. */
  dpopNonce?: string;
}

/**
 * Where errors become HTTP: a ConnectError from the core keeps its RFC code
 * (from metadata), description and redirect; a malformed request becomes
 * invalid_request; anything else is a server_error whose cause is logged and
 * never shown.
 */
export function toWireError(err: unknown, logger: Logger): WireError {
  if (err instanceof BadRequest) {
    const error = err.status === 401 ? "invalid_client" : "invalid_request";
    return { error, description: err.message, status: err.status };
  }
  if (err instanceof ConnectError) {
    if (err.code === Code.NotFound) return { error: "not_found", description: err.rawMessage, status: 404 };
    const error = oauthErrorOf(err);
    const redirectTo = err.metadata.get(REDIRECT_KEY) ?? undefined;
    // The core's own refusals keep their description and status (a rate limit
    // is temporarily_unavailable with 429); a failure to reach the core does not.
    const deliberate = err.metadata.get(ERROR_KEY) !== null && error !== "server_error";
    if (!deliberate && (error === "server_error" || error === "temporarily_unavailable")) {
      if (err.metadata.get(ERROR_KEY) === null) logger.error("core call failed", { code: Code[err.code], err });
      return {
        error,
        description: error === "server_error" ? "the server could not complete the request" : "the service is temporarily unavailable",
        status: httpStatusOf(error),
        redirectTo,
      };
    }
    const status = Number(err.metadata.get(STATUS_KEY) ?? httpStatusOf(error));
    const retryAfter = Number(err.metadata.get(RETRY_AFTER_KEY) ?? 0);
    return {
      error,
      description: err.rawMessage,
      status: status >= 400 && status < 600 ? status : 400,
      redirectTo,
      ...(Number.isInteger(retryAfter) && retryAfter > 0 ? { retryAfter } : {}),
      ...(err.metadata.get(CHALLENGE_KEY) === "DPoP" ? { challenge: "DPoP" as const } : {}),
      ...(/^[\x21-\x7e]{1,64}$/.test(err.metadata.get(DPOP_NONCE_KEY) ?? "") ? { dpopNonce: err.metadata.get(DPOP_NONCE_KEY)! } : {}),
    };
  }
  logger.error("unexpected gateway error", { err });
  return { error: "server_error", description: "the server could not complete the request", status: 500 };
}

/** The RFC 6749 §5.2 body of an error. */
export function errorJson(ctx: Context, e: WireError): void {
  setRetryAfter(ctx, e);
  json(ctx, e.status, { error: e.error, error_description: e.description });
}

/**
 * When to try again, in seconds (RFC 9110 §10.2.3): a rate limit, a lockout,
 * or a storage fault the core answered temporarily_unavailable (503).
 */
export function setRetryAfter(ctx: Context, e: WireError): void {
  if (e.retryAfter !== undefined) ctx.set("Retry-After", String(e.retryAfter));
}

/** An error of the authorization endpoints: a redirect to the client, JSON, or a page. */
export function authorizationError(ctx: Context, e: WireError, asJson: boolean, redirectStatus: 302 | 303): void {
  setRetryAfter(ctx, e);
  if (e.redirectTo !== undefined) {
    if (asJson && ctx.method === "POST") {
      return json(ctx, e.status, { error: e.error, error_description: e.description, redirect_to: e.redirectTo });
    }
    return redirect(ctx, redirectStatus, e.redirectTo);
  }
  if (asJson) return errorJson(ctx, e);
  page(ctx, e.status, errorPage("Authorization request refused", e.error, e.description));
}

/**
 * An error of the client-authenticated endpoints (token, introspection,
 * revocation): RFC 6749 §5.2 JSON; invalid_client after Basic credentials
 * carries their challenge (`basicRealm`).
 */
export function clientError(ctx: Context, e: WireError, basicRealm: string | undefined): void {
  if (e.dpopNonce !== undefined) ctx.set("DPoP-Nonce", e.dpopNonce);
  if (e.error === "invalid_client" && basicRealm !== undefined) {
    ctx.set("WWW-Authenticate", `Basic realm="${basicRealm}", charset="UTF-8"`);
  }
  errorJson(ctx, e);
}

/** A request to a protected resource without a token (RFC 6750 §3.1: the challenge has no error code). */
export function bearerTokenRequired(ctx: Context, realm: string): void {
  ctx.set("WWW-Authenticate", `Bearer realm="${realm}"`);
  json(ctx, 401, { error: "invalid_token", error_description: "an access token is required" });
}

/** An error of a protected resource (RFC 6750 §3): its challenge, and the same as JSON. */
export function bearerError(ctx: Context, e: WireError, realm: string, scheme: "Bearer" | "DPoP" = "Bearer"): void {
  // RFC 9449 §7.1: a proof's faults, and a DPoP-presented token's, are told under the DPoP scheme.
  const dpop = scheme === "DPoP" || e.challenge === "DPoP" || DPOP_ERRORS.has(e.error);
  const error = e.status === 401 && !DPOP_ERRORS.has(e.error) ? "invalid_token" : e.error;
  const scope = error === "insufficient_scope" ? ', scope="openid"' : "";
  const description = e.description.replace(/["\\]/g, "");
  setRetryAfter(ctx, e);
  ctx.set(
    "WWW-Authenticate",
    dpop
      ? `DPoP realm="${realm}", error="${error}", error_description="${description}"${scope}`
      : `Bearer realm="${realm}", error="${error}", error_description="${description}"${scope}`,
  );
  json(ctx, e.status, { error, error_description: e.description });
}

const DPOP_ERRORS = new Set(["invalid_dpop_proof", "use_dpop_nonce"]);

/** Unknown paths and methods answer JSON too, never Koa's plain text. */
export async function answerUnmatched(ctx: Context, next: Next): Promise<void> {
  await next();
  // 501 is the router's answer to a method it does not know at all (PROPFIND, LOCK…): still just a method not allowed here.
  if (ctx.status === 405 || ctx.status === 501) {
    json(ctx, 405, { error: "invalid_request", error_description: `method ${ctx.method} is not allowed here` });
  } else if (ctx.status === 404 && ctx.body == null) {
    json(ctx, 404, { error: "not_found", error_description: "no such endpoint" });
  }
}
