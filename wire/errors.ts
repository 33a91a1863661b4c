/**
 * An OAuth error as it crosses the RPC boundary, shared by both sides of it.
 * The core (core/errors.ts) writes the RFC 6749 code of a refusal, with its
 * redirect, HTTP status and retry delay, into the ConnectError's metadata;
 * the gateway (gateway/respond.ts) and any other caller read them back and
 * answer over HTTP exactly as the core meant. The metadata keys, the RFC
 * codes, their usual HTTP status and Connect code are written here once.
 *
 * Part of wire/: imported by core/, gateway/ and client/, imports none of them.
 */
import { Code, type ConnectError } from "@connectrpc/connect";

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
  | "insufficient_scope"
  // OpenID Connect Core §3.1.2.6
  | "login_required"
  | "consent_required"
  | "interaction_required"
  | "account_selection_required"
  | "request_not_supported"
  | "request_uri_not_supported"
  | "registration_not_supported"
  // RFC 9449 §12.2
  | "invalid_dpop_proof"
  | "use_dpop_nonce"
  // RFC 9101 §6.2 (OpenID Connect Core §3.1.2.6): a request_uri unknown, used or expired
  | "invalid_request_uri"
  // RFC 7591 §3.2.2: a client registration's refusals
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  // RFC 8707 §2, RFC 8693 §2.2.2: a resource (or audience) the server will not issue a token for
  | "invalid_target";

/** Metadata keys that carry an OAuthError across the RPC boundary. */
export const ERROR_KEY = "oauth-error";
export const REDIRECT_KEY = "oauth-redirect";
export const STATUS_KEY = "oauth-status";
export const RETRY_AFTER_KEY = "retry-after";
/** The authentication scheme a resource's refusal challenges with, where it is not Bearer (RFC 9449 §7.1: `DPoP`). */
export const CHALLENGE_KEY = "oauth-challenge";
/** The DPoP nonce a refusal gives the client to use next (RFC 9449 §8): the gateway's DPoP-Nonce header. */
export const DPOP_NONCE_KEY = "dpop-nonce";

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
  login_required: Code.FailedPrecondition,
  consent_required: Code.FailedPrecondition,
  interaction_required: Code.FailedPrecondition,
  account_selection_required: Code.FailedPrecondition,
  request_not_supported: Code.InvalidArgument,
  request_uri_not_supported: Code.InvalidArgument,
  registration_not_supported: Code.InvalidArgument,
  invalid_dpop_proof: Code.InvalidArgument,
  use_dpop_nonce: Code.InvalidArgument,
  invalid_request_uri: Code.InvalidArgument,
  invalid_redirect_uri: Code.InvalidArgument,
  invalid_client_metadata: Code.InvalidArgument,
  invalid_target: Code.InvalidArgument,
};

/** The Connect code an RFC error usually travels with. */
export function connectCodeOf(error: OAuthErrorCode): Code {
  return CONNECT_CODE[error];
}

/** What of an OAuth error crosses the boundary, besides its description. */
export interface OAuthErrorFields {
  error: OAuthErrorCode;
  /** Where the user agent must be sent to report the error to the client (RFC 6749 §4.1.2.1). */
  redirectTo?: string | undefined;
  /** The HTTP status; sent only where it is not httpStatusOf(error). */
  status?: number | undefined;
  /** Seconds after which the caller may try again. */
  retryAfter?: number | undefined;
  /** The scheme of the WWW-Authenticate challenge, where it is not Bearer. */
  challenge?: "DPoP" | undefined;
  /** The DPoP nonce to use next. */
  dpopNonce?: string | undefined;
}

/** The error metadata of a refusal: its RFC code, and what differs from the code's usual answer. */
export function oauthErrorMetadata(fields: OAuthErrorFields): Headers {
  const metadata = new Headers({ [ERROR_KEY]: fields.error });
  if (fields.redirectTo !== undefined) metadata.set(REDIRECT_KEY, fields.redirectTo);
  if (fields.status !== undefined && fields.status !== httpStatusOf(fields.error)) metadata.set(STATUS_KEY, String(fields.status));
  if (fields.retryAfter !== undefined) metadata.set(RETRY_AFTER_KEY, String(fields.retryAfter));
  if (fields.challenge !== undefined) metadata.set(CHALLENGE_KEY, fields.challenge);
  if (fields.dpopNonce !== undefined) metadata.set(DPOP_NONCE_KEY, fields.dpopNonce);
  return metadata;
}

/**
 * Reads the RFC error code back from an RPC error (the caller's side): the
 * code in its metadata, or, for an error that carries none (the core was not
 * reached, a proxy answered), the closest one to its Connect code.
 */
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
