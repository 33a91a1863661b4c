import { issuerOf, type Deps } from "../deps.js";
import { signJwt } from "./keys.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import { formatScope } from "../lib/scopes.js";
import type { ClientRecord, GrantRecord, ProjectRecord, Store, UserRecord } from "../store/types.js";
import { issueIdToken } from "./oidc.js";
import { accessTokenAlg } from "./profile.js";
import { audienceOf } from "./resources.js";

export interface IssuedTokens {
  accessToken: string;
  expiresIn: number;
  refreshToken?: string;
  idToken?: string;
  scopes: string[];
  /** RFC 8693 §2.2.1 `issued_token_type`, for a token exchange's answer only. */
  issuedTokenType?: string;
}

/** RFC 8693 §4.1: the acting party, with the one before it when the delegation is a chain. */
export interface ActClaim {
  sub: string;
  client_id: string;
  act?: ActClaim;
}

/** What a token exchange sets in the access token it issues (RFC 8693 §2.2, §4.1), beside its one resource. */
export interface ExchangedClaims {
  /** Who acts for the subject; absent for impersonation. */
  act: ActClaim | undefined;
  /** The subject token's expiry, which the new token never outlives. */
  notAfter: number;
}

/** Claim naming the grant (token family) an access token belongs to; checked for revocation. */
export const GRANT_CLAIM = "gid";

/**
 * Signs an access token as a JWT per RFC 9068 §2: header `typ: at+jwt`, claims
 * iss, sub, aud, client_id, scope, iat, exp, jti, the grant id, and for a
 * user's token auth_time, acr and amr of the sign-in behind the grant.
 */
export async function issueAccessToken(
  deps: Deps,
  project: ProjectRecord,
  grant: GrantRecord,
  client: ClientRecord,
  scopes: string[],
  /** The thumbprint of the DPoP key the token is bound to (RFC 9449 §6.1), "" for a bearer token. */
  jkt = "",
  /** The resources the token is for (RFC 8707, resources.ts), its `aud`; none for the project's audience. */
  resources: readonly string[] = grant.resources,
  /** For a token exchange: its actor and bound. */
  exchange?: ExchangedClaims,
): Promise<{ token: string; expiresAt: number; expiresIn: number }> {
  // The project's choice of algorithm, ES256 unless it says otherwise; never RS256 for a FAPI 2.0 client (§5.4.1).
  const { kid, key, alg } = await deps.keys.signing(project, accessTokenAlg(client, project.accessTokenSigningAlg));
  const iat = epochSeconds(deps.clock);
  const exp = Math.min(iat + client.accessTokenTtl, exchange?.notAfter ?? Infinity);
  const token = signJwt(
    { alg, typ: "at+jwt", kid },
    {
      iss: issuerOf(deps.config.baseUrl, project),
      sub: grant.kind === "client" ? grant.clientId : grant.userId,
      aud: audienceOf(project, resources),
      client_id: client.id,
      scope: formatScope(scopes),
      iat,
      exp,
      jti: randomToken(16),
      // RFC 9068 §2.2.1: when and how the user authenticated, which a
      // resource server may require (RFC 9470); a client acting for itself
      // has none of them.
      ...(grant.kind === "user" ? userAuthentication(grant) : {}),
      // RFC 9449 §6.1: the key whose proofs must come with the token.
      ...(jkt !== "" ? { cnf: { jkt } } : {}),
      // RFC 8693 §4.1: who acts for the subject; §4.4: who may.
      ...(exchange?.act !== undefined ? { act: exchange.act } : {}),
      ...(grant.kind === "user" && client.mayActClient !== "" ? { may_act: { sub: client.mayActClient, client_id: client.mayActClient } } : {}),
      [GRANT_CLAIM]: grant.id,
    },
    key,
  );
  return { token, expiresAt: exp, expiresIn: exp - iat };
}

/** The auth_time of a user's grant, and its acr and amr when the sign-in recorded them (the password grant does not). */
function userAuthentication(grant: GrantRecord): { auth_time: number; acr?: string; amr?: string[] } {
  return {
    auth_time: grant.authTime,
    ...(grant.acr !== "" ? { acr: grant.acr } : {}),
    ...(grant.amr.length > 0 ? { amr: grant.amr } : {}),
  };
}

/**
 * Issues the tokens of a grant: an access token, and a new refresh token when
 * the client may refresh. Extends the grant to outlive both. Runs inside the
 * caller's transaction (`store`).
 */
export async function issueTokens(
  deps: Deps,
  store: Store,
  project: ProjectRecord,
  grant: GrantRecord,
  client: ClientRecord,
  accessScopes: string[],
  refreshScopes: string[],
  /** The user, and the nonce of the authorization request, for an ID token when `openid` is granted. */
  oidc?: { user: UserRecord; nonce: string },
  /** The refresh token exchanged for these (its hash), if any. */
  parentHash: string | null = null,
  /** The DPoP key the access token is bound to, "" for none. */
  jkt = "",
  /** Whether a new refresh token is issued when the client may refresh; false when the one presented is kept. */
  newRefreshToken = true,
  /** The resources the access token is for (RFC 8707 §2.2: some of the grant's); the refresh token keeps the grant's. */
  resources: readonly string[] = grant.resources,
): Promise<IssuedTokens> {
  const access = await issueAccessToken(deps, project, grant, client, accessScopes, jkt, resources);
  const idToken =
    oidc !== undefined && accessScopes.includes("openid")
      ? await issueIdToken(deps, project, grant, client, oidc.user, accessScopes, access.token, oidc.nonce)
      : undefined;
  let refreshToken: string | undefined;
  let expiresAt = access.expiresAt;
  if (newRefreshToken && client.grantTypes.includes("refresh_token")) {
    refreshToken = randomToken();
    const now = epochSeconds(deps.clock);
    const refreshExpiresAt = now + client.refreshTokenTtl;
    await store.createRefreshToken({
      tokenHash: sha256(refreshToken),
      grantId: grant.id,
      clientId: client.id,
      scopes: refreshScopes,
      createdAt: now,
      expiresAt: refreshExpiresAt,
      rotatedAt: null,
      parentHash,
    });
    expiresAt = Math.max(expiresAt, refreshExpiresAt);
  }
  await store.extendGrant(grant.id, expiresAt);
  return { accessToken: access.token, expiresIn: access.expiresIn, refreshToken, idToken, scopes: accessScopes };
}
