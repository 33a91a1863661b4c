import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import { isSubset, parseScope } from "../lib/scopes.js";
import { issueTokens } from "../tokens/issue.js";
import { userHoldings } from "../tokens/oidc.js";
import type { Grant } from "./types.js";

/**
 * `refresh_token` (RFC 6749 §6). Every use rotates the token; presenting one
 * already rotated revokes its whole family, access tokens included
 * (RFC 9700 §4.14.2, RFC 6819 §5.2.2.3), unless its own client presents it
 * again within the grace window (IAM_REFRESH_TOKEN_GRACE). Tokens answered
 * for the same parent are siblings: the first of them to be used rotates the
 * others, so the family never splits into chains that each evade reuse
 * detection. The scope may be narrowed for the new
 * access token, never widened; the new refresh token keeps the original scope.
 */
export const refreshTokenGrant: Grant = {
  grantType: "refresh_token",
  parameters: ["refresh_token", "scope"],
  async handler({ deps, request, project, client }) {
    if (request.refreshToken === "") throw new OAuthError("invalid_request", "refresh_token is missing");
    const now = epochSeconds(deps.clock);
    const tokenHash = sha256(request.refreshToken);
    const token = await deps.store.getRefreshToken(tokenHash);
    const invalid = (detail: string) =>
      new OAuthError("invalid_grant", "the refresh token is invalid, expired or revoked", { detail });

    if (token === undefined) throw invalid("unknown refresh token");
    const grant = await deps.store.getGrant(token.grantId);
    if (grant === undefined || grant.organization !== project.organization || grant.project !== project.project) {
      throw invalid("refresh token of another project");
    }
    if (token.clientId !== client.id) throw invalid("refresh token of another client");
    if (grant.revokedAt !== null) throw invalid("grant revoked");
    const inGrace = (rotatedAt: number | null) => rotatedAt !== null && now - rotatedAt < deps.config.refreshTokenGrace;
    if (token.rotatedAt !== null && !inGrace(token.rotatedAt)) {
      await deps.store.revokeGrant(grant.id, now);
      throw invalid("rotated refresh token reused; family revoked");
    }
    if (token.expiresAt <= now) throw invalid("refresh token expired");

    const requested = parseScope(request.scope);
    if (requested === undefined) throw new OAuthError("invalid_scope", "scope has characters RFC 6749 §3.3 does not allow");
    if (!isSubset(requested, token.scopes)) {
      throw new OAuthError("invalid_scope", "the requested scope exceeds the scope originally granted");
    }
    const user = await deps.store.getUser(project, grant.userId);
    if (user === undefined || !user.enabled) {
      await deps.store.revokeGrant(grant.id, now);
      throw invalid("user disabled or deleted");
    }
    // Only what the user still holds: a permission taken away since the
    // grant stops reaching new access tokens at once.
    const { holds } = await userHoldings(deps.store, project, user.id);
    const accessScopes = (requested.length === 0 ? token.scopes : token.scopes.filter((s) => requested.includes(s))).filter(holds);

    const issued = await deps.store.transaction(async (store) => {
      if (!(await store.rotateRefreshToken(tokenHash, now))) {
        // Already rotated, by an earlier request or one racing this one. Within
        // the grace window, from the same client, that is two tabs refreshing
        // at once: answer a second new token and keep the family.
        const current = await store.getRefreshToken(tokenHash);
        if (current === undefined || !inGrace(current.rotatedAt)) return undefined;
      }
      // Re-read inside the transaction: a revocation that landed since the
      // checks above must not be answered with fresh (dead) tokens.
      if ((await store.getGrant(grant.id))?.revokedAt !== null) throw invalid("grant revoked");
      return issueTokens(deps, store, project, grant, client, accessScopes, token.scopes, { user, nonce: "" }, tokenHash);
    });
    if (issued === undefined) {
      // Another request rotated it first: the same token was used twice.
      await deps.store.revokeGrant(grant.id, now);
      throw invalid("refresh token rotated concurrently; family revoked");
    }
    return issued;
  },
};
