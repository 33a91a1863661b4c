import { OAuthError } from "../errors.js";
import type { Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { constantEquals, sha256 } from "../lib/crypto.js";
import type { AuthorizationRequestRecord, ProjectRef } from "../store/types.js";

/**
 * Loads the pending request a Login or Consent names. It must exist, belong to
 * the project of the call, not have expired, and, for a browser form post,
 * come from the browser that started it (login CSRF, RFC 9700 §4.4.1.8).
 * Failures are shown to the user, not redirected.
 */
export async function loadPendingRequest(
  deps: Deps,
  call: ProjectRef & { requestId: string; browserBinding?: string | undefined },
): Promise<AuthorizationRequestRecord> {
  if (call.requestId === "") throw new OAuthError("invalid_request", "request_id is missing");
  const pending = await deps.store.getAuthorizationRequest(sha256(call.requestId));
  if (
    pending === undefined ||
    pending.organization !== call.organization ||
    pending.project !== call.project ||
    pending.expiresAt <= epochSeconds(deps.clock)
  ) {
    throw new OAuthError("invalid_request", "the authorization request is unknown or has expired; start again from the application");
  }
  if (call.browserBinding !== undefined) {
    const bound = pending.browserBindingHash;
    if (bound === "" || call.browserBinding === "" || !constantEquals(sha256(call.browserBinding), bound)) {
      throw new OAuthError("access_denied", "this form was not started in this browser; start again from the application", {
        detail: "browser binding cookie missing or different",
      });
    }
  }
  return pending;
}
