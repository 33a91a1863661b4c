import { isFapi2, requiresPushedRequests } from "../../tokens/profile.js";
import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/**
 * RFC 9126 §5 and §6: a project or client that requires pushed
 * authorization requests accepts no other; nor does a FAPI 2.0 client
 * (FAPI 2.0 Security Profile §5.3.2.2 item 3). Refused as `invalid_request`,
 * redirected to the client once its redirect URI is trusted, with `state`:
 * what the OpenID Foundation's conformance suite expects of the
 * authorization endpoint called without PAR (module
 * fapi2-security-profile-final-ensure-unsigned-authorization-request-without-using-par-fails,
 * FAPI2SPFinalEnsureUnsignedAuthorizationRequestWithoutUsingParFails: an
 * error page or invalid_request with the state).
 */
export const checkPushedRequest: AuthorizeCheck = (ctx) => {
  const { request, client, project } = ctx;
  if (ctx.pushed || !requiresPushedRequests(client!, project!)) return;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  const who = project!.requirePushedAuthorizationRequests && !client!.requirePushedAuthorizationRequests && !isFapi2(client!) ? "this project" : "this client";
  throw redirectError(target, "invalid_request", `${who} requires pushed authorization requests (RFC 9126): push the request, then send its request_uri`);
};
