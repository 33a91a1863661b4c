import { parseScope } from "../../lib/scopes.js";
import { isOidcScope } from "../../tokens/oidc.js";
import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/**
 * RFC 6749 §3.3: scopes the project does not know are dropped; a request that
 * named scopes and keeps none of them is `invalid_scope`. An empty scope asks
 * for everything the user holds, decided at login. The OpenID Connect scopes
 * (openid, profile, email) are known in every project.
 */
export const checkScope: AuthorizeCheck = async (ctx) => {
  const { request, deps } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  const requested = parseScope(request.scope);
  if (requested === undefined) throw redirectError(target, "invalid_scope", "scope has characters RFC 6749 §3.3 does not allow");
  const known = new Set((await deps.store.getPermissions(request, requested)).map((p) => p.id));
  const scopes = requested.filter((scope) => known.has(scope) || isOidcScope(scope));
  if (requested.length > 0 && scopes.length === 0) {
    throw redirectError(target, "invalid_scope", "none of the requested scopes is known");
  }
  ctx.scopes = scopes;
};
