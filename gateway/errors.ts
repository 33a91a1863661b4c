import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_KEY, httpStatusOf, oauthErrorOf, REDIRECT_KEY, RETRY_AFTER_KEY, STATUS_KEY, type OAuthErrorCode } from "../core/errors.js";
import type { Logger } from "../core/observe/log.js";
import { BadRequest } from "./http.js";

/** An error as the gateway renders it. */
export interface WireError {
  error: OAuthErrorCode | "not_found";
  description: string;
  status: number;
  /** Where to send the user agent, for errors the core says go back to the client. */
  redirectTo?: string;
  /** Seconds before trying again (a rate limit or a lockout): the Retry-After header. */
  retryAfter?: number;
}

/**
 * The one place where errors become HTTP: a ConnectError from the core keeps
 * its RFC code (from metadata), description and redirect; a malformed request
 * becomes invalid_request; anything else is a server_error whose cause is
 * logged and never shown.
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
    };
  }
  logger.error("unexpected gateway error", { err });
  return { error: "server_error", description: "the server could not complete the request", status: 500 };
}
