import type { MessageInitShape } from "@bufbuild/protobuf";
import { decodeJwt, errors, jwtVerify } from "jose";
import { TokenFailure, type VerifyTokenRequest, type VerifyTokenResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { projectOfIssuer, type Deps } from "../deps.js";
import { GRANT_CLAIM } from "./issue.js";

type VerifyTokenResult = MessageInitShape<typeof VerifyTokenResponseSchema>;

const inactive = (failure: TokenFailure): VerifyTokenResult => ({ active: false, failure });

/**
 * Verifies an access token for a resource server: an ES256 JWT of type
 * `at+jwt` (RFC 9068 §4) signed by a key of the project its issuer names,
 * unexpired, whose grant is not revoked, and, when asked, meant for the
 * audience and carrying the scopes. Any failure is an inactive answer.
 */
export async function verifyToken(deps: Deps, request: VerifyTokenRequest): Promise<VerifyTokenResult> {
  let issuer: unknown;
  try {
    issuer = decodeJwt(request.token).iss;
  } catch {
    return inactive(TokenFailure.INVALID);
  }
  if (typeof issuer !== "string") return inactive(TokenFailure.INVALID);
  const ref = projectOfIssuer(deps.config.baseUrl, issuer);
  if (ref === undefined) return inactive(TokenFailure.INVALID);
  if (
    (request.organization !== "" || request.project !== "") &&
    (request.organization !== ref.organization || request.project !== ref.project)
  ) {
    return inactive(TokenFailure.INVALID);
  }

  let payload;
  try {
    ({ payload } = await jwtVerify(
      request.token,
      async (header) => {
        const key = header.kid === undefined ? undefined : await deps.keys.verifying(ref, header.kid);
        if (key === undefined) throw new errors.JWKSNoMatchingKey();
        return key;
      },
      {
        issuer,
        algorithms: ["ES256"],
        typ: "at+jwt",
        requiredClaims: ["sub", "client_id", "exp", "iat", "jti", GRANT_CLAIM],
        currentDate: new Date(deps.clock.now()),
      },
    ));
  } catch (err) {
    return inactive(err instanceof errors.JWTExpired ? TokenFailure.EXPIRED : TokenFailure.INVALID);
  }

  const grantId = payload[GRANT_CLAIM];
  const grant = typeof grantId === "string" ? await deps.store.getGrant(grantId) : undefined;
  if (grant === undefined || grant.organization !== ref.organization || grant.project !== ref.project) {
    return inactive(TokenFailure.INVALID);
  }
  if (grant.revokedAt !== null) return inactive(TokenFailure.REVOKED);

  const audience = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (request.audience !== "" && !audience.includes(request.audience)) return inactive(TokenFailure.AUDIENCE);
  const scopes = typeof payload.scope === "string" ? payload.scope.split(" ").filter((s) => s !== "") : [];
  if (!request.requiredScopes.every((s) => scopes.includes(s))) return inactive(TokenFailure.INSUFFICIENT_SCOPE);

  return {
    active: true,
    subject: payload.sub!,
    clientId: String(payload.client_id),
    scopes,
    audience,
    expiresAt: BigInt(payload.exp!),
    issuedAt: BigInt(payload.iat!),
    organization: ref.organization,
    project: ref.project,
    tokenId: payload.jti!,
    issuer,
    failure: TokenFailure.UNSPECIFIED,
  };
}
