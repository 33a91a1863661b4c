import { decodeJwt, errors, jwtVerify, type JWTPayload } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { projectOfIssuer, type Deps } from "../deps.js";
import type { GrantRecord, ProjectRef } from "../store/types.js";
import { StorageUnavailable } from "../store/faults.js";
import { GRANT_CLAIM } from "./issue.js";
import { SIGNING_ALGS } from "./keys.js";
import type { VerifiedSignature } from "./verified-tokens.js";
import { epochSeconds } from "../lib/clock.js";
import { MAX_DELEGATION_DEPTH } from "../protocol/token-exchange.js";

/** A verified access token: its claims, the grant it belongs to and the project that issued it. */
export interface AccessToken {
  payload: JWTPayload & { client_id: string; scope?: string };
  grant: GrantRecord;
  ref: ProjectRef;
  issuer: string;
  scopes: string[];
  audience: string[];
}

/**
 * Checks an access token: a JWT of type `at+jwt` (RFC 9068 §4) signed by a key
 * of the project its issuer names (and, when `only` is given, of that
 * project) with that key's own algorithm, ES256 or RS256 (RFC 8725 §3.1: the
 * header's `alg` must be the key's), unexpired, whose grant still exists and
 * is not revoked. A token
 * whose signature was verified before is not verified again (VerifiedTokens);
 * its expiry, its key and its grant are checked every time.
 */
export async function inspectAccessToken(
  deps: Deps,
  token: string,
  only?: ProjectRef,
): Promise<{ ok: true; token: AccessToken } | { ok: false; failure: TokenFailure }> {
  const fail = (failure: TokenFailure) => ({ ok: false as const, failure });
  let verified = deps.verifiedTokens.get(token, epochSeconds(deps.clock));
  if (verified !== undefined && (await deps.keys.verifying(verified.ref, verified.kid)) === undefined) verified = undefined;
  if (verified === undefined) {
    const checked = await verifySignature(deps, token, only);
    if (!checked.ok) return checked;
    verified = checked.verified;
    deps.verifiedTokens.remember(token, verified);
  }
  const { payload, ref, issuer } = verified;
  if (only !== undefined && (only.organization !== ref.organization || only.project !== ref.project)) {
    return fail(TokenFailure.INVALID);
  }

  const grantId = payload[GRANT_CLAIM];
  const grant = typeof grantId === "string" ? await deps.store.getGrant(grantId) : undefined;
  if (grant === undefined || grant.organization !== ref.organization || grant.project !== ref.project) {
    return fail(TokenFailure.INVALID);
  }
  if (grant.revokedAt !== null) return fail(TokenFailure.REVOKED);
  const { failure } = await ancestryOf(deps, grant);
  if (failure !== undefined) return fail(failure);
  const audience = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const scopes = typeof payload.scope === "string" ? payload.scope.split(" ").filter((s) => s !== "") : [];
  return { ok: true, token: { payload, grant, ref, issuer, scopes, audience } };
}

/**
 * RFC 8693: a grant made by token exchange hangs off the grant of its
 * subject token, which may itself be an exchanged one. Its tokens are active
 * only while every grant up the chain is there and not revoked (a user's
 * consent withdrawn, a session ended, a token revoked anywhere up the chain
 * stops the delegated tokens too). Answers how many grants are above it,
 * and a failure when one of them is gone or revoked.
 */
export async function ancestryOf(deps: Deps, grant: GrantRecord): Promise<{ depth: number; failure?: TokenFailure }> {
  let depth = 0;
  for (let parentId = grant.parentGrantId ?? ""; parentId !== ""; depth++) {
    // Exchanges refuse to go deeper (grants/token-exchange.ts): a longer chain is not one iam-core made.
    if (depth >= MAX_DELEGATION_DEPTH) return { depth, failure: TokenFailure.INVALID };
    const parent = await deps.store.getGrant(parentId);
    if (parent === undefined || parent.organization !== grant.organization || parent.project !== grant.project) {
      return { depth, failure: TokenFailure.REVOKED };
    }
    if (parent.revokedAt !== null) return { depth, failure: TokenFailure.REVOKED };
    parentId = parent.parentGrantId ?? "";
  }
  return { depth };
}

/** The signature, header and registered claims of a token not seen before. */
async function verifySignature(
  deps: Deps,
  token: string,
  only: ProjectRef | undefined,
): Promise<{ ok: true; verified: VerifiedSignature } | { ok: false; failure: TokenFailure }> {
  const fail = (failure: TokenFailure) => ({ ok: false as const, failure });
  let issuer: unknown;
  try {
    issuer = decodeJwt(token).iss;
  } catch {
    return fail(TokenFailure.INVALID);
  }
  if (typeof issuer !== "string") return fail(TokenFailure.INVALID);
  const ref = projectOfIssuer(deps.config.baseUrl, issuer);
  if (ref === undefined) return fail(TokenFailure.INVALID);
  // Before any signature work: a token of another project is refused cheaply.
  if (only !== undefined && (only.organization !== ref.organization || only.project !== ref.project)) {
    return fail(TokenFailure.INVALID);
  }

  let kid = "";
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid === undefined ? undefined : await deps.keys.verifying(ref, header.kid);
        // An RS256 header on an ES256 key (or the reverse) names no key of ours.
        if (key === undefined || header.alg !== key.alg) throw new errors.JWKSNoMatchingKey();
        kid = header.kid!;
        return key.key;
      },
      {
        issuer,
        algorithms: [...SIGNING_ALGS],
        typ: "at+jwt",
        requiredClaims: ["sub", "client_id", "exp", "iat", "jti", GRANT_CLAIM],
        currentDate: new Date(deps.clock.now()),
      },
    ));
  } catch (err) {
    // The key could not be read (a storage fault): that says nothing about the token.
    if (err instanceof StorageUnavailable) throw err;
    return fail(err instanceof errors.JWTExpired ? TokenFailure.EXPIRED : TokenFailure.INVALID);
  }
  return {
    ok: true,
    verified: { payload: payload as VerifiedSignature["payload"], ref, issuer, kid, expiresAt: payload.exp! },
  };
}

/**
 * acr, amr and auth_time of the sign-in behind a user's grant (RFC 9470 §6.2,
 * RFC 8176), as its tokens carry them, for VerifyToken and introspection to
 * answer; nothing for a client's own grant.
 */
export function signInOf(grant: GrantRecord): { acr?: string; amr?: string[]; authTime?: bigint } {
  if (grant.kind !== "user") return {};
  return { acr: grant.acr, amr: grant.amr, authTime: BigInt(grant.authTime) };
}
