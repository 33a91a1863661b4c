import type { OAuthErrorCode } from "../../wire/errors.js";
import { OAuthError } from "../errors.js";
import { withQuery } from "../lib/redirect-uri.js";

/**
 * An error reported to the client through its redirect URI, with `state` and
 * the issuer (RFC 6749 §4.1.2.1, RFC 9207 §2).
 */
export function redirectError(
  target: { redirectUri: string; state: string; issuer: string },
  error: OAuthErrorCode,
  description: string,
): OAuthError {
  const redirectTo = withQuery(target.redirectUri, {
    error,
    error_description: description,
    state: target.state,
    iss: target.issuer,
  });
  return new OAuthError(error, description, { redirectTo });
}
