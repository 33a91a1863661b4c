import type { MessageInitShape } from "@bufbuild/protobuf";
import { TokenFailure, type VerifyTokenRequest, type VerifyTokenResponseSchema } from "../../gen/iam/v1/token_pb.js";
import type { Deps } from "../deps.js";
import { inspectAccessToken } from "../tokens/access-token.js";

type VerifyTokenResult = MessageInitShape<typeof VerifyTokenResponseSchema>;

/**
 * VerifyToken for resource servers: inspectAccessToken, then, when asked, the
 * project, audience and scopes. Any failure is an inactive answer.
 */
export async function verifyToken(deps: Deps, request: VerifyTokenRequest): Promise<VerifyTokenResult> {
  const result = await check(deps, request);
  deps.metrics.verifications.inc({ result: result.active ? "active" : (TokenFailure[result.failure ?? TokenFailure.UNSPECIFIED] ?? "unspecified").toLowerCase() });
  return result;
}

async function check(deps: Deps, request: VerifyTokenRequest): Promise<VerifyTokenResult> {
  const only =
    request.organization !== "" || request.project !== ""
      ? { organization: request.organization, project: request.project }
      : undefined;
  const inspected = await inspectAccessToken(deps, request.token, only);
  if (!inspected.ok) return { active: false, failure: inspected.failure };
  const { payload, ref, issuer, scopes, audience } = inspected.token;
  if (request.audience !== "" && !audience.includes(request.audience)) {
    return { active: false, failure: TokenFailure.AUDIENCE };
  }
  if (!request.requiredScopes.every((s) => scopes.includes(s))) {
    return { active: false, failure: TokenFailure.INSUFFICIENT_SCOPE };
  }
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
