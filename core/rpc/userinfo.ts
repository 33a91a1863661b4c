import type { MessageInitShape } from "@bufbuild/protobuf";
import type { UserInfoRequest, UserInfoResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { namesAudience } from "../tokens/resources.js";
import { boundKeyOf, checkPresentation, ResourceRefusal } from "../dpop/resource.js";
import { OAuthError } from "../errors.js";
import { userClaims } from "../tokens/oidc.js";
import { inspectAccessToken } from "../tokens/access-token.js";

/**
 * The UserInfo endpoint (OpenID Connect Core §5.3): the claims about the user
 * that the token's scopes release. Errors are RFC 6750 §3.1's: a token that
 * does not verify here is `invalid_token`; one without `openid`, or issued to
 * a client for itself, is `insufficient_scope`. A DPoP-bound token needs the
 * DPoP scheme and a proof of its key (RFC 9449 §7): `invalid_dpop_proof`.
 */
export async function userInfo(deps: Deps, request: UserInfoRequest): Promise<MessageInitShape<typeof UserInfoResponseSchema>> {
  if (request.token === "") throw new OAuthError("invalid_request", "an access token is required");
  const inspected = await inspectAccessToken(deps, request.token, request);
  if (!inspected.ok) throw new OAuthError("invalid_token", "the access token is invalid, expired or revoked");
  const scheme = request.authorizationScheme === "DPoP" ? "DPoP" : "Bearer";
  const method = request.httpMethod === "POST" || request.httpMethod === "HEAD" ? request.httpMethod : "GET";
  try {
    await checkPresentation(deps, request.token, inspected.token.payload, { scheme, proof: request.dpopProof, method, url: `${issuerOf(deps.config.baseUrl, request)}/userinfo` });
  } catch (err) {
    // A bound token is challenged under DPoP whatever scheme it came with (§7.1).
    if (err instanceof ResourceRefusal) throw new OAuthError(err.error, err.message, { status: 401, ...(boundKeyOf(inspected.token.payload) !== "" ? { challenge: "DPoP" as const } : {}) });
    throw err;
  }
  const { grant, scopes } = inspected.token;
  // The UserInfo endpoint is a resource of iam-core's own, identified by the
  // project's audience: a token for another resource is not meant for it, whatever its scopes.
  if (!(await namesAudience(deps.store, inspected.token, ""))) {
    throw new OAuthError("invalid_token", "the access token is not meant for the UserInfo endpoint (its audience is another resource)");
  }
  if (grant.kind !== "user" || !scopes.includes("openid")) {
    throw new OAuthError("insufficient_scope", "the access token lacks the openid scope");
  }
  const user = await deps.store.getUser(request, grant.userId);
  if (user === undefined || !user.enabled) throw new OAuthError("invalid_token", "the access token is invalid, expired or revoked");
  // userClaims speaks in JWT claim names; the message field names differ.
  const claims = userClaims(user, scopes);
  return {
    sub: user.id,
    name: claims.name,
    givenName: claims.given_name,
    familyName: claims.family_name,
    preferredUsername: claims.preferred_username,
    email: claims.email,
    emailVerified: claims.email_verified,
  };
}
