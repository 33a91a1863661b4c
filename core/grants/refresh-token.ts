import { checkRefreshBinding } from "../dpop/binding.js";
import { party, recordSuccess } from "../audit/record.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import { isSubset, parseScope } from "../lib/scopes.js";
import type { EpochSeconds, GrantRecord, RefreshTokenRecord } from "../store/types.js";
import { issueTokens, type IssuedTokens } from "../tokens/issue.js";
import { userHoldings } from "../tokens/oidc.js";
import { accessTarget } from "../tokens/resources.js";
import { rotatesRefreshTokens } from "../tokens/profile.js";
import { decidedWithRevocation, grantEvent, resourcesNoted, type GrantEvent, type Revocation } from "./audit.js";
import type { Grant, GrantContext } from "./types.js";

const GRANT_TYPE = "refresh_token";

const invalid = (detail: string) => new OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked", { detail });

/**
 * `refresh_token` (RFC 6749 §6). Every use rotates the token (except for a
 * FAPI 2.0 client's, which is kept, tokens/profile.ts); presenting one
 * already rotated revokes its whole family, access tokens included
 * (RFC 9700 §4.14.2, RFC 6819 §5.2.2.3), unless its own client presents it
 * again within the grace window (IAM_REFRESH_TOKEN_GRACE). Tokens answered
 * for the same parent are siblings: the first of them to be used rotates the
 * others, so the family never splits into chains that each evade reuse
 * detection. The scope may be narrowed for the new
 * access token, never widened; the new refresh token keeps the original scope.
 *
 * Audited: TOKEN_REFRESHED in the rotation's transaction, or, refused, with
 * the RFC error as reason; a reuse as REFRESH_TOKEN_REUSED in the transaction
 * that revokes the family.
 */
export const refreshTokenGrant: Grant = {
  grantType: GRANT_TYPE,
  parameters: ["refresh_token", "scope", "resource"],
  async handler(ctx) {
    const { deps, request, project, client } = ctx;
    if (request.refreshToken === "") throw new OAuthError("invalid_request", "refresh_token is missing");
    const now = epochSeconds(deps.clock);
    const tokenHash = sha256(request.refreshToken);
    const token = await deps.store.getRefreshToken(tokenHash);
    // An unknown token, or another project's, is not recorded: it names no
    // user of the project, and guesses must not fill its trail.
    if (token === undefined) throw invalid("unknown refresh token");
    const grant = await deps.store.getGrant(token.grantId);
    if (grant === undefined || grant.organization !== project.organization || grant.project !== project.project) {
      throw invalid("refresh token of another project");
    }

    const event = grantEvent(project, client, GRANT_TYPE, party("user", grant.userId));
    return decidedWithRevocation(deps, event, "TOKEN_REFRESHED", now, invalid, () => refresh(ctx, token, tokenHash, grant, now, event));
  },
};

/** The checks and the rotation of a refresh token of the project; a refusal that revokes the family is answered, for the caller to carry out. */
async function refresh(
  { deps, request, project, client, dpop }: GrantContext,
  token: RefreshTokenRecord,
  tokenHash: string,
  grant: GrantRecord,
  now: EpochSeconds,
  event: GrantEvent,
): Promise<IssuedTokens | Revocation> {
  if (token.clientId !== client.id) throw invalid("refresh token of another client");
  if (grant.revokedAt !== null) throw invalid("grant revoked");
  const inGrace = (rotatedAt: number | null) => rotatedAt !== null && now - rotatedAt < deps.config.refreshTokenGrace;
  if (token.rotatedAt !== null && !inGrace(token.rotatedAt)) {
    return { grantId: grant.id, action: "REFRESH_TOKEN_REUSED", detail: "rotated refresh token reused; family revoked" };
  }
  if (token.expiresAt <= now) throw invalid("refresh token expired");
  // RFC 9449 §5: the proof a grant begun with DPoP needs (binding.ts).
  checkRefreshBinding(grant, client, dpop);

  const requested = parseScope(request.scope);
  if (requested === undefined) throw new OAuthError("invalid_scope", "scope has characters RFC 6749 §3.3 does not allow");
  if (!isSubset(requested, token.scopes)) {
    throw new OAuthError("invalid_scope", "the requested scope exceeds the scope originally granted");
  }
  const user = await deps.store.getUser(project, grant.userId);
  if (user === undefined || !user.enabled) return { grantId: grant.id, action: "TOKEN_REFRESHED", detail: "user disabled or deleted" };
  // Only what the user still holds: a permission taken away since the
  // grant stops reaching new access tokens at once.
  const { holds } = await userHoldings(deps.store, project, user.id);
  const held = (requested.length === 0 ? token.scopes : token.scopes.filter((s) => requested.includes(s))).filter(holds);
  // RFC 8707 §2.2: a narrower resource for the new access token; the new refresh token keeps the grant's whole set.
  const { resources, scopes: accessScopes } = await accessTarget(deps.store, project, request.resource, grant.resources, held);

  // FAPI 2.0 §5.3.2.1 item 9: a client under the profile keeps its refresh token, so a lost answer costs it nothing.
  const rotate = rotatesRefreshTokens(client);
  const issued = await deps.store.transaction(async (store) => {
    if (rotate && !(await store.rotateRefreshToken(tokenHash, now))) {
      // Already rotated, by an earlier request or one racing this one. Within
      // the grace window, from the same client, that is two tabs refreshing
      // at once: answer a second new token and keep the family.
      const current = await store.getRefreshToken(tokenHash);
      if (current === undefined || !inGrace(current.rotatedAt)) return undefined;
    }
    // Re-read inside the transaction: a revocation that landed since the
    // checks above must not be answered with fresh (dead) tokens.
    if ((await store.getGrant(grant.id))?.revokedAt !== null) throw invalid("grant revoked");
    const tokens = await issueTokens(deps, store, project, grant, client, accessScopes, token.scopes, { user, nonce: "" }, tokenHash, dpop?.jkt, rotate, resources);
    await recordSuccess(deps, { ...event, action: "TOKEN_REFRESHED", scopes: accessScopes, ...resourcesNoted(resources) }, store);
    return tokens;
  });
  // Another request rotated it first: the same token was used twice.
  if (issued === undefined) return { grantId: grant.id, action: "REFRESH_TOKEN_REUSED", detail: "refresh token rotated concurrently; family revoked" };
  return issued;
}
