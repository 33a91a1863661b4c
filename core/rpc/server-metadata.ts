import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallbackPageSchema, GetServerMetadataRequest, GetServerMetadataResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { OIDC_SCOPES } from "../tokens/oidc.js";
import { GRANTS } from "../grants/registry.js";
import { ADMIN_CLIENT_ID, DEFAULT_TENANT } from "./admin/default-tenant.js";
import type { ProjectRef } from "../store/types.js";

/**
 * The client whose redirect URI is the gateway's callback page: the default
 * client, which bootstrap registers with `{issuer}/redirect`, for people
 * following the flow by hand. Other projects have no such page.
 */
function callbackPageOf(ref: ProjectRef, issuer: string): MessageInitShape<typeof CallbackPageSchema> | undefined {
  const isDefaultTenant = ref.organization === DEFAULT_TENANT.organization && ref.project === DEFAULT_TENANT.project;
  return isDefaultTenant ? { clientId: ADMIN_CLIENT_ID, redirectUri: `${issuer}/redirect` } : undefined;
}

/**
 * The authorization server metadata of a project (RFC 8414 §2, OpenID Connect
 * Discovery §3). Each value is what the endpoints accept, nothing more.
 */
export async function getServerMetadata(
  deps: Deps,
  request: GetServerMetadataRequest,
): Promise<MessageInitShape<typeof GetServerMetadataResponseSchema>> {
  if ((await deps.store.getProject(request)) === undefined) {
    throw new ConnectError("unknown organization or project", Code.NotFound);
  }
  const issuer = issuerOf(deps.config.baseUrl, request);
  return {
    issuer,
    authorizationEndpoint: `${issuer}/authorize`,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    userinfoEndpoint: `${issuer}/userinfo`,
    introspectionEndpoint: `${issuer}/introspect`,
    revocationEndpoint: `${issuer}/revoke`,
    responseTypesSupported: ["code"],
    responseModesSupported: ["query"],
    grantTypesSupported: [...GRANTS.keys()],
    codeChallengeMethodsSupported: ["S256", "plain"],
    tokenEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "none"],
    introspectionEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post"],
    revocationEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "none"],
    scopesSupported: [...OIDC_SCOPES.keys()],
    claimsSupported: ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "name", "preferred_username", "email"],
    subjectTypesSupported: ["public"],
    idTokenSigningAlgValuesSupported: ["ES256"],
    authorizationResponseIssParameterSupported: true,
    // Request objects (OpenID Connect Core §6) and the claims parameter (§5.5) are not read.
    requestParameterSupported: false,
    requestUriParameterSupported: false,
    claimsParameterSupported: false,
    callbackPage: callbackPageOf(request, issuer),
  };
}
