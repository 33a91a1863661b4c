import { Code, ConnectError } from "@connectrpc/connect";

/** The error codes of RFC 6749 §4.1.2.1 and §5.2. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "access_denied"
  | "server_error"
  | "temporarily_unavailable"
  // RFC 7009 §2.2.1
  | "unsupported_token_type"
  // RFC 6750 §3.1
  | "invalid_token"
  | "insufficient_scope";

/** Metadata keys that carry an OAuthError across the RPC boundary. */
export const ERROR_KEY = "oauth-error";
export const REDIRECT_KEY = "oauth-redirect";
export const STATUS_KEY = "oauth-status";
export const RETRY_AFTER_KEY = "retry-after";

interface OAuthErrorOptions {
  /** Where the user agent must be sent to report this error to the client (RFC 6749 §4.1.2.1). */
  redirectTo?: string;
  /** The HTTP status, where it is not the usual one for the code (a failed login is 401). */
  status?: number;
  /** What went wrong, for the logs only: never sent. */
  detail?: string;
  /** The Connect code, where it is not the usual one for the RFC code (a lockout is RESOURCE_EXHAUSTED). */
  code?: Code;
  /** Typed error details for the caller (a LoginFailure, say). */
  details?: OutgoingDetail[];
  /** Seconds after which the caller may try again (sent as `retry-after` metadata, then the HTTP header). */
  retryAfter?: number;
}

type OutgoingDetail = ConstructorParameters<typeof ConnectError>[3] extends (infer D)[] | undefined ? D : never;

/**
 * An OAuth error with its RFC code and a description that is safe to show to
 * the caller. `detail` stays in the process.
 */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly redirectTo: string | undefined;
  readonly detail: string | undefined;
  readonly status: number;
  readonly code: Code | undefined;
  readonly details: OutgoingDetail[] | undefined;
  readonly retryAfter: number | undefined;

  constructor(error: OAuthErrorCode, description: string, options: OAuthErrorOptions = {}) {
    super(description);
    this.name = "OAuthError";
    this.error = error;
    this.redirectTo = options.redirectTo;
    this.detail = options.detail;
    this.status = options.status ?? httpStatusOf(error);
    this.code = options.code;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }
}

/** The HTTP status of each error at the token endpoint (RFC 6749 §5.2). */
export function httpStatusOf(error: OAuthErrorCode): number {
  switch (error) {
    case "invalid_client":
    case "invalid_token":
      return 401;
    case "insufficient_scope":
      return 403;
    case "access_denied":
      return 403;
    case "server_error":
      return 500;
    case "temporarily_unavailable":
      return 503;
    default:
      return 400;
  }
}

const CONNECT_CODE: Record<OAuthErrorCode, Code> = {
  invalid_request: Code.InvalidArgument,
  invalid_client: Code.Unauthenticated,
  invalid_grant: Code.FailedPrecondition,
  unauthorized_client: Code.PermissionDenied,
  unsupported_grant_type: Code.InvalidArgument,
  unsupported_response_type: Code.InvalidArgument,
  invalid_scope: Code.InvalidArgument,
  access_denied: Code.PermissionDenied,
  server_error: Code.Internal,
  temporarily_unavailable: Code.Unavailable,
  unsupported_token_type: Code.InvalidArgument,
  invalid_token: Code.Unauthenticated,
  insufficient_scope: Code.PermissionDenied,
};

/**
 * Turns anything a handler threw into the ConnectError sent to the caller. An
 * OAuthError keeps its RFC code in metadata; anything else is a server_error
 * with a generic message, its cause reported through `onUnexpected`.
 */
export function toConnectError(err: unknown, onUnexpected: (err: unknown) => void): ConnectError {
  if (err instanceof OAuthError) {
    const metadata = new Headers({ [ERROR_KEY]: err.error });
    if (err.redirectTo !== undefined) metadata.set(REDIRECT_KEY, err.redirectTo);
    if (err.status !== httpStatusOf(err.error)) metadata.set(STATUS_KEY, String(err.status));
    if (err.retryAfter !== undefined) metadata.set(RETRY_AFTER_KEY, String(err.retryAfter));
    return new ConnectError(err.message, err.code ?? CONNECT_CODE[err.error], metadata, err.details, err);
  }
  if (err instanceof ConnectError) return err;
  onUnexpected(err);
  return new ConnectError(
    "the server could not complete the request",
    Code.Internal,
    new Headers({ [ERROR_KEY]: "server_error" }),
    undefined,
    err,
  );
}

/** Reads the RFC error code back from a ConnectError (the gateway's side). */
export function oauthErrorOf(err: ConnectError): OAuthErrorCode {
  const code = err.metadata.get(ERROR_KEY);
  if (code !== null && Object.hasOwn(CONNECT_CODE, code)) return code as OAuthErrorCode;
  switch (err.code) {
    case Code.Unauthenticated:
      return "invalid_client";
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.ResourceExhausted:
      return "temporarily_unavailable";
    case Code.InvalidArgument:
      return "invalid_request";
    default:
      return "server_error";
  }
}
