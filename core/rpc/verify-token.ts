import type { MessageInitShape } from "@bufbuild/protobuf";
import { TokenFailure, type VerifyTokenRequest, type VerifyTokenResponseSchema } from "../../gen/iam/v1/token_pb.js";
import type { Deps } from "../deps.js";
import { boundKeyOf, checkPresentation, ResourceRefusal } from "../dpop/resource.js";
import { OAuthError } from "../errors.js";
import { ACR_VALUES } from "../factors/levels.js";
import { epochSeconds } from "../lib/clock.js";
import type { GrantRecord } from "../store/types.js";
import { inspectAccessToken, signInOf } from "../tokens/access-token.js";
import { tokenActorOf } from "../tokens/act.js";
import { namesAudience } from "../tokens/resources.js";

type VerifyTokenResult = MessageInitShape<typeof VerifyTokenResponseSchema>;

/**
 * VerifyToken for resource servers: inspectAccessToken, then, when asked, the
 * project, audience, scopes, and the strength and age of the user's sign-in
 * (RFC 9470). Any failure is an inactive answer; only a malformed requirement
 * is an error.
 */
export async function verifyToken(deps: Deps, request: VerifyTokenRequest): Promise<VerifyTokenResult> {
  refuseMalformedRequirement(request);
  const result = await check(deps, request);
  deps.metrics.verifications.inc({ result: result.active ? "active" : (TokenFailure[result.failure ?? TokenFailure.UNSPECIFIED] ?? "unspecified").toLowerCase() });
  return result;
}

/**
 * An acr iam-core never issues, or a negative age, could only ever refuse
 * every token: the resource server's mistake, said as such rather than
 * passed off as the token's.
 */
function refuseMalformedRequirement(request: VerifyTokenRequest): void {
  // The common call names no requirement: nothing to look through.
  const unknown = request.acrValues.length === 0 ? [] : request.acrValues.filter((acr) => !ACR_VALUES.includes(acr));
  if (unknown.length > 0) {
    throw new OAuthError("invalid_request", `acr_values may name only ${ACR_VALUES.join(", ")}`, { detail: `acr_values: ${unknown.slice(0, 3).join(", ").slice(0, 200)}` });
  }
  if (request.maxAuthAge !== undefined && request.maxAuthAge < 0n) {
    throw new OAuthError("invalid_request", "max_auth_age must not be negative");
  }
  if (request.authorizationScheme !== "" && request.authorizationScheme !== "Bearer" && request.authorizationScheme !== "DPoP") {
    throw new OAuthError("invalid_request", "authorization_scheme must be Bearer or DPoP");
  }
  if (request.dpopProof !== "" && (request.httpMethod === "" || !URL.canParse(request.httpUrl))) {
    throw new OAuthError("invalid_request", "a dpop_proof needs the request's http_method and http_url (an absolute URL)");
  }
}

async function check(deps: Deps, request: VerifyTokenRequest): Promise<VerifyTokenResult> {
  const only =
    request.organization !== "" || request.project !== ""
      ? { organization: request.organization, project: request.project }
      : undefined;
  const inspected = await inspectAccessToken(deps, request.token, only);
  if (!inspected.ok) return { active: false, failure: inspected.failure };
  const { payload, ref, issuer, scopes, audience, grant } = inspected.token;
  // A resource server that names no audience is one of the project as a whole.
  if (!(await namesAudience(deps.store, inspected.token, request.audience))) {
    return { active: false, failure: TokenFailure.AUDIENCE };
  }
  // A scope the user may not hold is told before a sign-in to repeat: a
  // stronger sign-in would not bring it.
  if (!request.requiredScopes.every((s) => scopes.includes(s))) {
    return { active: false, failure: TokenFailure.INSUFFICIENT_SCOPE };
  }
  if (!signInSuffices(deps, grant, request)) {
    return { active: false, failure: TokenFailure.INSUFFICIENT_USER_AUTHENTICATION };
  }
  // RFC 9449 §7: a bound token with a proof of its key for this request only.
  // Last, as the proof is then spent: a request refused for another reason may be sent again with it.
  const jkt = boundKeyOf(payload);
  if (jkt !== "" || request.authorizationScheme === "DPoP") {
    try {
      await checkPresentation(deps, request.token, payload, {
        scheme: request.authorizationScheme === "Bearer" ? "Bearer" : "DPoP",
        proof: request.dpopProof,
        method: request.httpMethod.toUpperCase(),
        url: request.httpUrl,
      });
    } catch (err) {
      if (err instanceof ResourceRefusal) return { active: false, failure: TokenFailure.DPOP_PROOF, jkt };
      throw err;
    }
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
    jkt,
    // RFC 8693 §4.1: who acts for the subject, when the token came from an exchange.
    actor: tokenActorOf(payload.act),
    // The sign-in the token carries (its acr, amr, auth_time: they are the grant's).
    ...signInOf(grant),
  };
}

/**
 * RFC 9470 §3: the token's acr is one of `acr_values`, and its auth_time at
 * most `max_auth_age` seconds ago. A client acting for itself had no sign-in,
 * so fails any such requirement; so does a user's token of no acr (the
 * password grant's) when an acr is required.
 */
function signInSuffices(deps: Deps, grant: GrantRecord, request: VerifyTokenRequest): boolean {
  if (request.acrValues.length === 0 && request.maxAuthAge === undefined) return true;
  if (grant.kind !== "user") return false;
  if (request.acrValues.length > 0 && !request.acrValues.includes(grant.acr)) return false;
  if (request.maxAuthAge !== undefined && BigInt(epochSeconds(deps.clock) - grant.authTime) > request.maxAuthAge) return false;
  return true;
}
