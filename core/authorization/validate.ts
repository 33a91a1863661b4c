import type { AuthorizeRequest } from "../../gen/iam/v1/authorization_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { checkClient } from "./checks/client.js";
import { checkDpopJkt } from "./checks/dpop-jkt.js";
import { checkOpenIdParameters } from "./checks/openid.js";
import { checkParameters } from "./checks/parameters.js";
import { checkPkce } from "./checks/pkce.js";
import { checkPushedRequest } from "./checks/pushed-request.js";
import { checkRedirectUri } from "./checks/redirect-uri.js";
import { checkRequestObject } from "./checks/request-object.js";
import { checkResource } from "./checks/resource.js";
import { checkResponseType } from "./checks/response-type.js";
import { checkScope } from "./checks/scope.js";
import type { AuthorizeCheck, AuthorizeContext } from "./context.js";

/**
 * The checks of an authorization request, in order. The first two establish
 * a client and a redirect URI that can be trusted; their failures are shown
 * to the user. Every later failure is redirected to the client.
 */
const CHECKS: readonly AuthorizeCheck[] = [
  checkClient,
  checkRedirectUri,
  checkParameters,
  checkPushedRequest,
  checkRequestObject,
  checkResponseType,
  checkScope,
  checkResource,
  checkPkce,
  checkDpopJkt,
  checkOpenIdParameters,
];

/**
 * Runs every check of an authorization request (RFC 6749 §4.1.1, RFC 7636
 * §4.3, OpenID Connect Core §3.1.2.1–§3.1.2.6) and answers what they
 * established. The same checks, whether the request came in a URL, was
 * pushed (RFC 9126 §2.1: validated "as it would an authorization request
 * sent to the authorization endpoint") or is replayed from a request_uri
 * (§4).
 */
export async function validateAuthorizationRequest(deps: Deps, request: AuthorizeRequest, pushed: boolean): Promise<AuthorizeContext> {
  const ctx: AuthorizeContext = { deps, request, issuer: issuerOf(deps.config.baseUrl, request), pushed };
  for (const check of CHECKS) await check(ctx);
  return ctx;
}
