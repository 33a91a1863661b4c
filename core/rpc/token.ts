import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { TokenRequest, TokenResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { acceptServerProof } from "../dpop/accept.js";
import { OAuthError } from "../errors.js";
import { formatScope } from "../lib/scopes.js";
import { GRANTS } from "../grants/registry.js";
import { authenticateClient } from "../tokens/client-auth.js";
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

  // Before authentication: guessing a client's secret is limited too. Only
  // requests that present a secret are counted: a public client's id is no
  // secret, and a bucket anyone can spend with it would let anyone stop every
  // user of that application from signing in. Its codes and refresh tokens
  // are not guessable, and sign-in itself is limited per address.
  const clientId = request.basic?.clientId || request.clientId;
  if (clientId !== "" && (request.basic !== undefined || request.clientSecret !== "")) {
    const wait = deps.limits.token.take(`${request.organization}/${request.project}/${clientId}`, deps.clock.now());
    if (wait > 0) {
      throw new OAuthError("temporarily_unavailable", `too many token requests from this client: retry in ${wait} s`, {
        status: 429,
        code: Code.ResourceExhausted,
        retryAfter: wait,
      });
    }
  }
  const project = await deps.store.getProject(request);
  if (project === undefined) {
    throw new OAuthError("invalid_client", "client authentication failed", { detail: "unknown project" });
  }
  const { client } = await authenticateClient(deps, project, request);
  if (!client.grantTypes.includes(grant.grantType)) {
    throw new OAuthError("unauthorized_client", `this client may not use grant_type ${grant.grantType}`);
  }

  // RFC 9449 §5: with a proof, the tokens are bound to its key.
  const dpop = request.dpopProof === "" ? undefined : await acceptServerProof(deps, project, request.dpopProof, { method: "POST", url: `${issuerOf(deps.config.baseUrl, project)}/token` });
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
  };
}
