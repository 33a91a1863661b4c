import { DPOP_ALGS } from "../dpop/proof.js";
import { ASSERTION_ALGS } from "../tokens/profile.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { CallbackPageSchema, GetServerMetadataRequest, GetServerMetadataResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { OIDC_SCOPES } from "../tokens/oidc.js";
import { GRANTS } from "../grants/registry.js";
import { ADMIN_CLIENT_ID, DEFAULT_TENANT } from "./admin/default-tenant.js";
import { ACR_VALUES } from "../factors/levels.js";
import type { ClientRecord, ProjectRef } from "../store/types.js";

/**
 * Every claim iam-core can release, in an ID token or at UserInfo (OpenID
 * Connect Core §2, §5.1; `sid`: Back-Channel Logout 1.0 §2.1). A given token
 * carries those its scopes, its request and the user's data give it.
 */
const CLAIMS = [
  "sub",
  "iss",
  "aud",
  "exp",
  "iat",
  "auth_time",
  "nonce",
  "acr",
  "amr",
  "azp",
  "at_hash",
  "sid",
  "name",
  "given_name",
  "family_name",
  "preferred_username",
  "email",
  "email_verified",
];

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
  const project = await deps.store.getProject(request);
  if (project === undefined) throw new ConnectError("unknown organization or project", Code.NotFound);
  const issuer = issuerOf(deps.config.baseUrl, request);
  return {
    issuer,
    authorizationEndpoint: `${issuer}/authorize`,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/.well-known/jwks.json`,
    userinfoEndpoint: `${issuer}/userinfo`,
    introspectionEndpoint: `${issuer}/introspect`,
    revocationEndpoint: `${issuer}/revoke`,
    endSessionEndpoint: `${issuer}/logout`,
    pushedAuthorizationRequestEndpoint: `${issuer}/par`,
    // RFC 9126 §5: the project's rule for every client; a client's own is its metadata (§6).
    requirePushedAuthorizationRequests: project.requirePushedAuthorizationRequests,
    // RFC 8414 §2, RFC 7591 §3: named only where the project accepts registrations.
    registrationEndpoint: project.clientRegistration === "" ? "" : `${issuer}/register`,
    clientIdMetadataDocumentSupported: project.clientIdMetadataDocuments === true,
    responseTypesSupported: ["code"],
    responseModesSupported: ["query"],
    grantTypesSupported: [...GRANTS.keys()],
    codeChallengeMethodsSupported: ["S256", "plain"],
    tokenEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
    introspectionEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
    revocationEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
    // RFC 8414 §2: private_key_jwt's algorithms (tokens/client-assertion.ts), preferred first; a FAPI 2.0 client's are the first four.
    tokenEndpointAuthSigningAlgValuesSupported: [...ASSERTION_ALGS],
    scopesSupported: [...OIDC_SCOPES.keys()],
    claimsSupported: CLAIMS,
    claimTypesSupported: ["normal"],
    // RFC 9449 §5.1: a client picks the first it supports.
    dpopSigningAlgValuesSupported: [...DPOP_ALGS],
    subjectTypesSupported: ["public"],
    // Discovery §3: RS256 MUST be listed; it is also the default of clients that registered no algorithm.
    idTokenSigningAlgValuesSupported: ["RS256", "ES256"],
    acrValuesSupported: [...ACR_VALUES],
    promptValuesSupported: ["none", "login", "consent", "select_account"],
    uiLocalesSupported: ["en"],
    claimsLocalesSupported: ["en"],
    authorizationResponseIssParameterSupported: true,
    // Request objects (Core §6) are refused with request_not_supported and
    // request_uri_not_supported: request_uri is read only as the handle of a
    // pushed request (RFC 9126 §4), not to fetch a request object (RFC 9101
    // §5.2), which is what request_uri_parameter_supported announces.
    // require_request_uri_registration, which only means something where
    // such a request_uri is fetched, is left out. The claims parameter (§5.5)
    // is honoured.
    requestParameterSupported: false,
    requestUriParameterSupported: false,
    claimsParameterSupported: true,
    backchannelLogoutSupported: true,
    backchannelLogoutSessionSupported: true,
    webOrigins: await webOriginsOf(deps, request),
    callbackPage: callbackPageOf(request, issuer),
  };
}

/** Clients read per page when the web origins are gathered. */
const CLIENT_PAGE = 500;

/**
 * The origins whose pages may call the token, UserInfo and revocation
 * endpoints from a browser (CORS): the union over the project's clients of
 * their web origins, or for a public client that registered none, the
 * origins of its redirect URIs. The pages are the store's cached reads
 * (administration alone changes clients), so their origins are worked out
 * once per page for as long as the store keeps it.
 */
async function webOriginsOf(deps: Deps, ref: ProjectRef): Promise<string[]> {
  const pages: string[][] = [];
  for (let after = ""; ; ) {
    const page = await deps.store.listClients(ref, { after, limit: CLIENT_PAGE });
    pages.push(originsOfPage(page));
    if (page.length < CLIENT_PAGE) break;
    after = page[page.length - 1]!.id;
  }
  return pages.length === 1 ? pages[0]! : [...new Set(pages.flat())].sort();
}

const pageOrigins = new WeakMap<readonly ClientRecord[], string[]>();

function originsOfPage(page: readonly ClientRecord[]): string[] {
  let origins = pageOrigins.get(page);
  if (origins === undefined) {
    const all = new Set<string>();
    for (const client of page) {
      const uris = client.webOrigins.length > 0 ? client.webOrigins : client.type === "public" ? client.redirectUris : [];
      for (const uri of uris) {
        const origin = originOf(uri);
        if (origin !== undefined) all.add(origin);
      }
    }
    origins = [...all].sort();
    pageOrigins.set(page, origins);
  }
  return origins;
}

/**
 * The origin of an http(s) URL as browsers send it in the Origin header (the
 * HTML standard's serialization: scheme and host in lower case, a default
 * port left out); undefined for anything else, which has an opaque origin
 * (`null`) that is never allowed.
 */
export function originOf(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  return url.protocol === "https:" || url.protocol === "http:" ? url.origin : undefined;
}
