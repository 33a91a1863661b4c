import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AuthorizeRequest, AuthorizeResponseSchema } from "../../gen/iam/v1/authorization_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import { checkClient } from "../authorization/checks/client.js";
import { checkParameters } from "../authorization/checks/parameters.js";
import { checkPkce } from "../authorization/checks/pkce.js";
import { checkRedirectUri } from "../authorization/checks/redirect-uri.js";
import { checkResponseType } from "../authorization/checks/response-type.js";
import { checkScope } from "../authorization/checks/scope.js";
import type { AuthorizeCheck, AuthorizeContext } from "../authorization/context.js";

/**
 * The checks of an authorization request, in order. The first two establish
 * a client and a redirect URI that can be trusted; their failures are shown
 * to the user. Every later failure is redirected to the client.
 */
const CHECKS: readonly AuthorizeCheck[] = [
  checkClient,
  checkRedirectUri,
  checkParameters,
  checkResponseType,
  checkScope,
  checkPkce,
];

/** @see RFC 6749 §4.1.1, RFC 7636 §4.3 */
export async function authorize(
  deps: Deps,
  request: AuthorizeRequest,
): Promise<MessageInitShape<typeof AuthorizeResponseSchema>> {
  const ctx: AuthorizeContext = { deps, request, issuer: issuerOf(deps.config.baseUrl, request) };
  for (const check of CHECKS) await check(ctx);

  const requestId = randomToken();
  const now = epochSeconds(deps.clock);
  const ttl = deps.config.authorizationRequestTtl;
  await deps.store.createAuthorizationRequest({
    organization: request.organization,
    project: request.project,
    idHash: sha256(requestId),
    clientId: ctx.client!.id,
    redirectUri: ctx.redirectUri!,
    scopes: ctx.scopes!,
    state: request.state,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: ctx.codeChallengeMethod!,
    nonce: request.nonce,
    browserBindingHash: request.browserBinding === "" ? "" : sha256(request.browserBinding),
    userId: null,
    authTime: null,
    offeredScopes: null,
    createdAt: now,
    expiresAt: now + ttl,
  });
  return {
    requestId,
    client: { id: ctx.client!.id, name: ctx.client!.name },
    scopesRequested: ctx.scopes!,
    expiresIn: BigInt(ttl),
    organization: request.organization,
    project: request.project,
    projectName: ctx.project!.name,
  };
}
