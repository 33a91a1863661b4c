/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for a resource server
 * that trusts iam-core: the document it publishes about itself, where it
 * publishes it, so that a client that meets it first (an MCP client, say)
 * learns which authorization server issues its tokens and what to ask for.
 *
 *   const metadata = protectedResourceMetadata({ resource: "https://notes.example/mcp", issuer, scopes: ["notes.note.read"] });
 *   // serve JSON.stringify(metadata) at resourceMetadataPath(metadata.resource)
 */

/** What a resource server says about itself (RFC 9728 §2), as iam-core's resource servers fill it. */
export interface ProtectedResourceMetadata {
  /** Its resource identifier: the URI clients name as `resource` (RFC 8707) and tokens carry in `aud`. */
  resource: string;
  /** The issuers of the authorization servers whose tokens it accepts: its iam-core project's. */
  authorization_servers: string[];
  /** The scopes it understands, those a token for it may carry. */
  scopes_supported?: string[];
  /** How it takes a token: in the Authorization header only (RFC 6750 §2.1). */
  bearer_methods_supported: ["header"];
  /** A name for people. */
  resource_name?: string;
  /** RFC 9449: whether it takes only DPoP-bound tokens. */
  dpop_bound_access_tokens_required?: boolean;
  /** RFC 9449: the JWS algorithms of the DPoP proofs it accepts. */
  dpop_signing_alg_values_supported?: string[];
}

export interface ResourceMetadataOptions {
  /** The resource's URI, as registered in iam-core (AdminService CreateResource). */
  resource: string;
  /** The iam-core project's issuer: `{base_url}/services/oauth2/{organization}/{project}`. */
  issuer: string;
  /** The scopes the resource accepts (those registered with it). */
  scopes?: readonly string[];
  /** Its name, shown to people. */
  name?: string;
  /**
   * DPoP (RFC 9449): `required` when it takes only DPoP-bound tokens,
   * `accepted` when it takes them beside bearer tokens; absent when it takes
   * bearer tokens only (no DPoP field is published then).
   */
  dpop?: "required" | "accepted";
}

/** The proof algorithms iam-core's VerifyToken accepts, as its discovery document lists them (`dpop_signing_alg_values_supported`). */
const DPOP_ALGS = ["ES256", "PS256", "EdDSA", "Ed25519", "ES384", "PS384", "RS256"];

/**
 * The metadata document of a resource (RFC 9728 §2). Refuses, with a
 * TypeError, a resource that is not an absolute https (or loopback http)
 * URI without query or fragment (§1.2: "a URL that uses the https scheme
 * and has no query or fragment components").
 */
export function protectedResourceMetadata(options: ResourceMetadataOptions): ProtectedResourceMetadata {
  resourceUrl(options.resource);
  return {
    resource: options.resource,
    authorization_servers: [options.issuer],
    ...(options.scopes !== undefined ? { scopes_supported: [...options.scopes] } : {}),
    bearer_methods_supported: ["header"],
    ...(options.name !== undefined ? { resource_name: options.name } : {}),
    ...(options.dpop === undefined
      ? {}
      : { dpop_bound_access_tokens_required: options.dpop === "required", dpop_signing_alg_values_supported: DPOP_ALGS }),
  };
}

/** The well-known suffix of RFC 9728 §3. */
export const RESOURCE_METADATA_SUFFIX = "/.well-known/oauth-protected-resource";

/**
 * The path of a resource's metadata on its host (RFC 9728 §3.1): the
 * well-known suffix inserted between the host and the resource's path,
 * without the path's trailing slash: `https://notes.example/mcp` →
 * `/.well-known/oauth-protected-resource/mcp`; a resource at the root →
 * `/.well-known/oauth-protected-resource`.
 */
export function resourceMetadataPath(resource: string): string {
  const path = resourceUrl(resource).pathname.replace(/\/$/, "");
  return `${RESOURCE_METADATA_SUFFIX}${path}`;
}

/** The URL of a resource's metadata (RFC 9728 §3.1), which a 401 names in `resource_metadata` (§5.1). */
export function resourceMetadataUrl(resource: string): string {
  return `${resourceUrl(resource).origin}${resourceMetadataPath(resource)}`;
}

function resourceUrl(resource: string): URL {
  let url: URL;
  try {
    url = new URL(resource);
  } catch {
    throw new TypeError("the resource must be an absolute URI");
  }
  const loopback = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/.test(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw new TypeError("the resource must be https (http only on a loopback host)");
  if (url.search !== "" || url.hash !== "" || resource.includes("#") || resource.includes("?")) {
    throw new TypeError("the resource must have no query or fragment (RFC 9728 §1.2)");
  }
  if (url.username !== "" || url.password !== "") throw new TypeError("the resource must have no user info");
  return url;
}
