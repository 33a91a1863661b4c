import { OAuthError } from "../../errors.js";
import { registeredResources, scopesForResources } from "../../tokens/resources.js";
import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/**
 * RFC 8707 §2: each `resource` must be a resource registered in the project,
 * else `invalid_target`, redirected to the client as the other request
 * errors are. The requested scopes are narrowed to those the resources
 * accept (and the OpenID Connect scopes); a request that named scopes and
 * keeps none of them is `invalid_scope`.
 */
export const checkResource: AuthorizeCheck = async (ctx) => {
  const { request, deps } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  try {
    ctx.resources = await registeredResources(deps.store, request, request.resource);
  } catch (err) {
    if (err instanceof OAuthError) throw redirectError(target, err.error, err.message);
    throw err;
  }
  const scopes = scopesForResources(ctx.scopes!, ctx.resources);
  if (ctx.scopes!.length > 0 && scopes.length === 0) {
    throw redirectError(target, "invalid_scope", "none of the requested scopes is accepted by the requested resources");
  }
  ctx.scopes = scopes;
};
