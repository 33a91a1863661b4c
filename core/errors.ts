import { Code, ConnectError } from "@connectrpc/connect";
import { connectCodeOf, ERROR_KEY, httpStatusOf, oauthErrorMetadata, type OAuthErrorCode } from "../wire/errors.js";
import { STORAGE_RETRY_AFTER_SECONDS, StorageUnavailable } from "./store/faults.js";

// The RFC codes, the metadata keys and the mapping between them and HTTP or
// Connect are shared with every caller of the core: wire/errors.ts.

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
  /** A resource's refusal to challenge under the DPoP scheme (RFC 9449 §7.1) rather than Bearer. */
  challenge?: "DPoP";
  /** The DPoP nonce the client must use next (RFC 9449 §8): the DPoP-Nonce header. */
  dpopNonce?: string;
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
  readonly challenge: "DPoP" | undefined;
  readonly dpopNonce: string | undefined;

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
    this.challenge = options.challenge;
    this.dpopNonce = options.dpopNonce;
  }
}

/**
 * Turns anything a handler threw into the ConnectError sent to the caller. An
 * OAuthError keeps its RFC code in metadata; a storage fault is UNAVAILABLE
 * (storageUnavailable); anything else is a server_error with a generic
 * message, its cause reported through `onUnexpected`.
 */
export function toConnectError(err: unknown, onUnexpected: (err: unknown) => void): ConnectError {
  if (err instanceof OAuthError) {
    return new ConnectError(err.message, err.code ?? connectCodeOf(err.error), oauthErrorMetadata(err), err.details, err);
  }
  if (err instanceof ConnectError) return err;
  if (err instanceof StorageUnavailable) return storageUnavailable(err);
  onUnexpected(err);
  return new ConnectError(
    "the server could not complete the request",
    Code.Internal,
    new Headers({ [ERROR_KEY]: "server_error" }),
    undefined,
    err,
  );
}

/**
 * A request that met a storage fault (store/faults.ts): it left no trace and
 * may be sent again as it was. UNAVAILABLE, the code gRPC names for "most
 * likely a transient condition, corrected by retrying with a backoff", with
 * temporarily_unavailable (RFC 6749 §4.1.2.1) as its RFC code, which the
 * gateway answers as HTTP 503. When to try again: `retry-after` in seconds
 * (the gateway's Retry-After), and gRPC's server pushback
 * `grpc-retry-pushback-ms` (gRFC A6), which a gRPC client with a retry policy
 * for UNAVAILABLE waits before its next attempt.
 */
export function storageUnavailable(err: StorageUnavailable): ConnectError {
  const metadata = oauthErrorMetadata({ error: "temporarily_unavailable", retryAfter: STORAGE_RETRY_AFTER_SECONDS });
  metadata.set("grpc-retry-pushback-ms", String(STORAGE_RETRY_AFTER_SECONDS * 1000));
  return new ConnectError("the service is temporarily unavailable: try again later", Code.Unavailable, metadata, undefined, err);
}
