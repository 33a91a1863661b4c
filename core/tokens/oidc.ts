import { createHash } from "node:crypto";
import { issuerOf, type Deps } from "../deps.js";
import { signJwt } from "./keys.js";
import { epochSeconds } from "../lib/clock.js";
import type { AccessStore, ClientRecord, GrantRecord, PermissionRecord, ProjectRecord, ProjectRef, UserRecord } from "../store/types.js";

/**
 * The OpenID Connect scopes (Core §3.1.2.1, §5.4). Every project knows them
 * and every user may grant them; they are not permissions.
 */
export const OIDC_SCOPES: ReadonlyMap<string, string> = new Map([
  ["openid", "Sign you in with your account"],
  ["profile", "See your name"],
  ["email", "See your email address"],
]);

export const isOidcScope = (scope: string): boolean => OIDC_SCOPES.has(scope);

/**
 * What a user may receive now: the permissions of their current roles, and
 * the OpenID Connect scopes. Checked at every issuance, so a permission taken
 * away stops reaching new tokens at once.
 */
export async function userHoldings(
  store: AccessStore,
  ref: ProjectRef,
  userId: string,
): Promise<{ permissions: string[]; holds(scope: string): boolean }> {
  const permissions = (await store.getUserPermissions(ref, userId)).map((p) => p.id);
  const held = new Set(permissions);
  return { permissions, holds: (scope) => held.has(scope) || isOidcScope(scope) };
}

/** The OIDC scopes among `requested`, as records shaped like permissions. */
export function oidcScopesOf(ref: { organization: string; project: string }, requested: readonly string[]): PermissionRecord[] {
  return requested
    .filter(isOidcScope)
    .map((id) => ({ organization: ref.organization, project: ref.project, id, description: OIDC_SCOPES.get(id)! }));
}

/**
 * at_hash (Core §3.1.3.6): the left half of the hash of the access token, with
 * the hash of the ID token's `alg`, base64url-encoded. Both algorithms an ID
 * token is signed with, ES256 and RS256, use SHA-256.
 */
export function atHash(accessToken: string): string {
  return createHash("sha256").update(accessToken, "ascii").digest().subarray(0, 16).toString("base64url");
}

/** The claims of the user released by the granted scopes (Core §5.4), those the user has a value for. */
export interface UserClaims {
  name?: string;
  given_name?: string;
  family_name?: string;
  preferred_username?: string;
  email?: string;
  email_verified?: boolean;
}

/** The claims the user's granted scopes release (Core §5.4): absent when the user has no value. */
export function userClaims(user: UserRecord, scopes: readonly string[]): UserClaims {
  const claims: UserClaims = {};
  if (scopes.includes("profile")) {
    if (user.name !== "") claims.name = user.name;
    if (user.givenName !== "") claims.given_name = user.givenName;
    if (user.familyName !== "") claims.family_name = user.familyName;
    claims.preferred_username = user.id;
  }
  if (scopes.includes("email") && user.email !== "") {
    claims.email = user.email;
    claims.email_verified = user.emailVerified;
  }
  return claims;
}

/** The scope that releases each claim of a user (Core §5.4). */
const SCOPE_OF_CLAIM: ReadonlyMap<string, string> = new Map([
  ["name", "profile"],
  ["given_name", "profile"],
  ["family_name", "profile"],
  ["preferred_username", "profile"],
  ["email", "email"],
  ["email_verified", "email"],
]);

/**
 * The scopes that release the user claims a `claims` request parameter
 * (Core §5.5) names: such a claim is asked for through its scope, so the user
 * sees it on the consent page and approves it or not.
 */
export function scopesForClaims(requested: { userinfo?: Record<string, unknown>; id_token?: Record<string, unknown> }): string[] {
  const names = [...Object.keys(requested.userinfo ?? {}), ...Object.keys(requested.id_token ?? {})];
  return [...new Set(names.map((name) => SCOPE_OF_CLAIM.get(name)).filter((scope): scope is string => scope !== undefined))];
}

/**
 * Signs an ID token (Core §2, §3.1.3.6) with the project's key: iss, sub,
 * aud (the client), azp, exp, iat, auth_time, nonce when the authorization
 * request had one, at_hash of the access token issued with it, sid, acr and
 * amr of the sign-in session, and the profile/email claims its scopes release.
 */
export async function issueIdToken(
  deps: Deps,
  project: ProjectRecord,
  grant: GrantRecord,
  client: ClientRecord,
  user: UserRecord,
  scopes: readonly string[],
  accessToken: string,
  nonce: string,
): Promise<string> {
  // The client's registered algorithm (Registration §2), RS256 unless it chose another.
  const { kid, key, alg } = await deps.keys.signing(project, client.idTokenSignedResponseAlg);
  const iat = epochSeconds(deps.clock);
  return signJwt(
    { alg, typ: "JWT", kid },
    {
      iss: issuerOf(deps.config.baseUrl, project),
      sub: user.id,
      aud: client.id,
      azp: client.id,
      exp: iat + client.accessTokenTtl,
      iat,
      auth_time: grant.authTime,
      ...(nonce !== "" ? { nonce } : {}),
      // The sign-in session (Back-Channel Logout 1.0 §2.1), how the user
      // authenticated in it (Core §2).
      ...(grant.sessionId !== "" ? { sid: grant.sessionId } : {}),
      ...(grant.acr !== "" ? { acr: grant.acr } : {}),
      ...(grant.amr.length > 0 ? { amr: grant.amr } : {}),
      at_hash: atHash(accessToken),
      ...userClaims(user, scopes),
    },
    key,
  );
}
