import { party, recordSuccess } from "../audit/record.js";
import { withinLifetimes } from "../sessions/session.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import { verifyPkce } from "../lib/pkce.js";
import type { AuthorizationCodeRecord, EpochSeconds } from "../store/types.js";
import { issueTokens, type IssuedTokens } from "../tokens/issue.js";
import { grantKeyOf } from "../dpop/binding.js";
import { userHoldings } from "../tokens/oidc.js";
import { accessTarget } from "../tokens/resources.js";
import { decidedWithRevocation, grantEvent, resourcesNoted, type GrantEvent, type Revocation } from "./audit.js";
import type { Grant, GrantContext } from "./types.js";

const GRANT_TYPE = "authorization_code";

const invalid = (detail: string) =>
  new OAuthError("invalid_grant", "the authorization code is invalid, expired or already used", { detail });

/**
 * `authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5-4.6). The code must be
 * the client's own, unexpired, unused, presented with the redirect URI of its
 * request and the PKCE verifier of its challenge. A code presented a second
 * time revokes every token issued from it (RFC 6749 §4.1.2, RFC 9700 §4.5).
 *
 * Audited: CODE_EXCHANGED in the transaction that spends the code and creates
 * the grant, or, refused, with the RFC error as reason; a replay as
 * CODE_REPLAYED in the transaction that revokes what the code gave.
 */
export const authorizationCodeGrant: Grant = {
  grantType: GRANT_TYPE,
  parameters: ["code", "redirect_uri", "code_verifier", "resource"],
  async handler(ctx) {
    const { deps, request, project, client } = ctx;
    if (request.code === "") throw new OAuthError("invalid_request", "code is missing");
    const now = epochSeconds(deps.clock);
    const codeHash = sha256(request.code);
    const code = await deps.store.getAuthorizationCode(codeHash);
    // An unknown code is not recorded: it names no user, and a public
    // client's id is all anyone needs to send guesses by the thousand.
    if (code === undefined || code.organization !== project.organization || code.project !== project.project) {
      throw invalid("unknown code");
    }

    const event = grantEvent(project, client, GRANT_TYPE, party("user", code.userId));
    return decidedWithRevocation(deps, event, "CODE_EXCHANGED", now, invalid, () => exchange(ctx, code, codeHash, now, event));
  },
};

/** The checks and the exchange of a code of the project; a replay is answered, for the caller to revoke. */
async function exchange(
  { deps, request, project, client, dpop }: GrantContext,
  code: AuthorizationCodeRecord,
  codeHash: string,
  now: EpochSeconds,
  event: GrantEvent,
): Promise<IssuedTokens | Revocation> {
  // The client first: another client presenting a used code must not be
  // able to revoke a grant that is not its own.
  if (code.clientId !== client.id) throw invalid("code issued to another client");
  if (code.consumedAt !== null) return { grantId: code.grantId, action: "CODE_REPLAYED", detail: "code replayed; its grant is revoked" };
  if (code.expiresAt <= now) throw invalid("code expired");
  if (request.redirectUri !== code.redirectUri) {
    throw new OAuthError("invalid_grant", "redirect_uri differs from the one of the authorization request");
  }
  if (code.codeChallenge === "") {
    if (request.codeVerifier !== "") {
      throw new OAuthError("invalid_grant", "code_verifier given, but the authorization request had no code_challenge");
    }
  } else {
    if (request.codeVerifier === "") throw new OAuthError("invalid_grant", "code_verifier is missing");
    if (!verifyPkce(code.codeChallengeMethod === "S256" ? "S256" : "plain", code.codeChallenge, request.codeVerifier)) {
      throw new OAuthError("invalid_grant", "code_verifier does not match the code_challenge");
    }
  }
  // RFC 9449 §10: a code asked for with dpop_jkt is exchanged with a proof of that key only.
  if (code.dpopJkt !== "" && dpop?.jkt !== code.dpopJkt) {
    throw new OAuthError("invalid_grant", dpop === undefined ? "the code is bound to a DPoP key: send a DPoP proof of it" : "the DPoP proof's key is not the one the code is bound to (dpop_jkt)");
  }

  // The session the code was signed in by must still be live, by the same
  // rule as the cookie: an idle or expired one is not revived by its code.
  if (code.sessionId !== "") {
    const session = await deps.store.getSession(project, code.sessionId);
    if (session === undefined || !withinLifetimes(deps, session)) throw invalid("the sign-in session of the code has ended");
  }
  const user = await deps.store.getUser(project, code.userId);
  if (user === undefined || !user.enabled) throw invalid("user disabled or deleted since login");
  const { holds } = await userHoldings(deps.store, project, user.id);
  const scopes = code.scopes.filter(holds);
  // RFC 8707 §2.2: the access token for some of the code's resources (all, unless named), its scopes narrowed to theirs.
  const target = await accessTarget(deps.store, project, request.resource, code.resources, scopes);

  const issued = await deps.store.transaction(async (store) => {
    const grantId = randomToken(16);
    if (!(await store.consumeAuthorizationCode(codeHash, grantId, now))) return undefined;
    const grant = {
      organization: project.organization,
      project: project.project,
      id: grantId,
      clientId: client.id,
      kind: "user" as const,
      userId: code.userId,
      scopes,
      authTime: code.authTime,
      sessionId: code.sessionId,
      acr: code.acr,
      amr: code.amr,
      claims: code.claims,
      createdAt: now,
      expiresAt: now,
      revokedAt: null,
      // RFC 9449 §5: the key its refreshes need (binding.ts).
      dpopJkt: grantKeyOf(dpop),
      resources: code.resources,
    };
    await store.createGrant(grant);
    // The sign-in session must still be live: a logout between the code and
    // its exchange would otherwise leave tokens the logout meant to end.
    // Touching it locks its row against a concurrent end (which revokes the
    // grants made in it, this one included once it is written).
    if (code.sessionId !== "" && !(await store.touchSession(project, code.sessionId, now, null))) {
      throw invalid("the sign-in session of the code has ended");
    }
    // Again inside the transaction, once the grant holds the user's row: a
    // user disabled or deleted by another replica meanwhile gets nothing.
    const holder = await store.getUser(project, code.userId);
    if (holder === undefined || !holder.enabled) throw invalid("user disabled or deleted since login");
    const tokens = await issueTokens(deps, store, project, grant, client, target.scopes, scopes, { user, nonce: code.nonce }, null, dpop?.jkt, true, target.resources);
    await recordSuccess(deps, { ...event, action: "CODE_EXCHANGED", scopes: target.scopes, ...resourcesNoted(target.resources) }, store);
    return tokens;
  });
  // Another exchange of the same code won the race: a replay.
  if (issued === undefined) {
    const winner = await deps.store.getAuthorizationCode(codeHash);
    return { grantId: winner?.grantId || null, action: "CODE_REPLAYED", detail: "code replayed concurrently" };
  }
  return issued;
}
