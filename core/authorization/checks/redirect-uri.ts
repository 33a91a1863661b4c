import { OAuthError } from "../../errors.js";
import { isRegisteredRedirectUri } from "../../lib/redirect-uri.js";
import { PARAMETERS, repeatedParameters } from "../../protocol/parameters.js";
import type { AuthorizeCheck } from "../context.js";

/**
 * The redirect URI must be given and equal, as a string, one the client
 * registered (RFC 9700 §4.1.3). Failures are shown to the user, never
 * redirected: redirecting to an unverified URI is an open redirector
 * (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
 */
export const checkRedirectUri: AuthorizeCheck = (ctx) => {
  const { request, client } = ctx;
  if (repeatedParameters(PARAMETERS.authorize, request.repeatedParameters).includes("redirect_uri")) {
    throw new OAuthError("invalid_request", "redirect_uri must not be repeated");
  }
  if (request.redirectUri === "") throw new OAuthError("invalid_request", "redirect_uri is missing");
  if (!isRegisteredRedirectUri(client!.redirectUris, request.redirectUri)) {
    throw new OAuthError("invalid_request", "redirect_uri is not registered for this client");
  }
  ctx.redirectUri = request.redirectUri;
};
