import type { MessageInitShape } from "@bufbuild/protobuf";
import type { TokenRequest, TokenResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { acceptServerProof } from "../dpop/accept.js";
import { OAuthError } from "../errors.js";
import { formatScope } from "../lib/scopes.js";
import { GRANTS } from "../grants/registry.js";
import { authenticateClient, limitSecretGuessing, type ClientCredentials } from "../tokens/client-auth.js";
import { proofAlgorithms, requiresDpop } from "../tokens/profile.js";
import { declaredParametersOf, PARAMETERS, REPEATED_PARAMETERS, repeatedParameters } from "../protocol/parameters.js";

/**
 * The token endpoint (RFC 6749 §3.2): the grant must be known, the client
 * authenticated and allowed to use it; then the grant's handler runs on the
 * parameters it declares.
 */
export async function token(deps: Deps, request: TokenRequest): Promise<MessageInitShape<typeof TokenResponseSchema>> {
  const [repeated] = repeatedParameters(PARAMETERS.token, request.repeatedParameters);
  if (repeated !== undefined) {
    // The name is echoed only when it looks like a parameter name, never free text.
    throw new OAuthError("invalid_request", /^[a-z_]{1,32}$/.test(repeated) ? `parameter ${repeated} must not be repeated` : REPEATED_PARAMETERS);
  }
  if (request.grantType === "") throw new OAuthError("invalid_request", "grant_type is missing");
  const grant = GRANTS.get(request.grantType);
  if (grant === undefined) throw new OAuthError("unsupported_grant_type", "the grant_type is not supported");

  const credentials = credentialsOf(request);
  limitSecretGuessing(deps, request, credentials, "token");
  const project = await deps.store.getProject(request);
  if (project === undefined) {
    throw new OAuthError("invalid_client", "client authentication failed", { detail: "unknown project" });
  }
  const { client } = await authenticateClient(deps, project, credentials, "token");
  if (!client.grantTypes.includes(grant.grantType)) {
    throw new OAuthError("unauthorized_client", `this client may not use grant_type ${grant.grantType}`);
  }

  // RFC 9449 §5.2: a client registered dpop_bound_access_tokens (or under FAPI 2.0) gets no bearer token.
  if (request.dpopProof === "" && requiresDpop(client)) {
    throw new OAuthError("invalid_dpop_proof", "this client's token requests must carry a DPoP proof (RFC 9449 §5.2)");
  }
  // RFC 9449 §5: with a proof, the tokens are bound to its key.
  const dpop =
    request.dpopProof === ""
      ? undefined
      : await acceptServerProof(deps, project, request.dpopProof, { method: "POST", url: `${issuerOf(deps.config.baseUrl, project)}/token`, ...proofAlgorithms(client) });
  const issued = await grant.handler({ deps, request: declaredParametersOf(grant, request), project, client, dpop });
  const issuedOf = (tokenType: string) => deps.metrics.tokensIssued.inc({ grant_type: grant.grantType, token_type: tokenType });
  issuedOf("access_token");
  if (issued.refreshToken !== undefined) issuedOf("refresh_token");
  if (issued.idToken !== undefined) issuedOf("id_token");
  return {
    accessToken: issued.accessToken,
    tokenType: dpop === undefined ? "Bearer" : "DPoP",
    expiresIn: BigInt(issued.expiresIn),
    refreshToken: issued.refreshToken ?? "",
    scope: formatScope(issued.scopes),
    idToken: issued.idToken ?? "",
    issuedTokenType: issued.issuedTokenType ?? "",
  };
}

/**
 * The client's credentials: `client`, as every client-authenticated endpoint
 * takes them, or the request's own client_id, client_secret and basic, as
 * callers of the token endpoint set them before. Both at once is ambiguous.
 */
function credentialsOf(request: TokenRequest): ClientCredentials {
  if (request.client === undefined) return request;
  if (request.clientId !== "" || request.clientSecret !== "" || request.basic !== undefined) {
    throw new OAuthError("invalid_request", "client credentials given both in client and beside it");
  }
  return request.client;
}
