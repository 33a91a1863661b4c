import { parseScope } from "../../lib/scopes.js";
import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/**
 * RFC 6749 §3.3: scopes the project does not know are dropped; a request that
 * named scopes and keeps none of them is `invalid_scope`. An empty scope asks
 * for everything the user holds, decided at login.
 */
export const checkScope: AuthorizeCheck = async (ctx) => {
  const { request, deps } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  const requested = parseScope(request.scope);
  if (requested === undefined) throw redirectError(target, "invalid_scope", "scope has characters RFC 6749 §3.3 does not allow");
  const known = await deps.store.getPermissions(request, requested);
  if (requested.length > 0 && known.length === 0) {
    throw redirectError(target, "invalid_scope", "none of the requested scopes is known");
  }
  ctx.scopes = known.map((p) => p.id);
};
