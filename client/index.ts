/**
 * What an internal service needs to trust iam-core's access tokens:
 * a ready TokenService client for a core URL, a verifier bound to one
 * project, and the RFC 6750 (and RFC 9470) answer for a request whose token
 * does not pass.
 *
 *   import { createAccessTokenVerifier, bearerChallenge, MFA_ACR } from "iam-core/client";
 *   const verify = createAccessTokenVerifier({ coreUrl: "http://127.0.0.1:50051", organization, project });
 *   const result = await verify(bearerToken(req.headers.authorization), ["notes:read"]);
 *   const strong = await verify(token, ["notes:delete"], { acrValues: [MFA_ACR], maxAuthAge: 300 });
 */
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { TokenFailure, TokenService, type VerifyTokenResponse } from "../gen/iam/v1/token_pb.js";
import { createBalancedTransport } from "../wire/balanced-transport.js";

export { TokenFailure, TokenService, type VerifyTokenResponse };
export {
  protectedResourceMetadata,
  RESOURCE_METADATA_SUFFIX,
  resourceMetadataPath,
  resourceMetadataUrl,
  type ProtectedResourceMetadata,
  type ResourceMetadataOptions,
} from "./resource-metadata.js";

/**
 * The authentication context classes iam-core issues (a token's `acr`): a
 * sign-in with a password alone, and a multi-factor one (a password and a
 * second factor, or a passkey that verified its user).
 */
export const PASSWORD_ACR = "urn:iam-core:acr:password";
export const MFA_ACR = "urn:iam-core:acr:mfa";

/** Enough for the worker processes of a core on a small machine; each costs one idle HTTP/2 connection. */
const DEFAULT_CONNECTIONS = 4;

export interface TokenClientOptions {
  /** `grpc` (HTTP/2, the default) or `connect` (HTTP/1.1, for proxies that only speak it). */
  protocol?: "grpc" | "connect";
  /** Per-call deadline in milliseconds (default 2000): a resource server must not hang on its IdP. */
  timeoutMs?: number;
  /** Connect interceptors, for example to add an `x-request-id` header. */
  interceptors?: Interceptor[];
  /**
   * HTTP/2 connections to each core URL (gRPC only; default 4), used in
   * turn. The core gives each connection to one of its worker processes:
   * with one connection, a busy resource server keeps one core of the
   * server busy and leaves the others idle.
   */
  connections?: number;
}

/**
 * A typed TokenService client (VerifyToken, GetJwks, …) for a core URL such as
 * `http://127.0.0.1:50051`, or for several core replicas (an array, or the
 * URLs comma-separated as in IAM_CORE_URL): round-robin over those that are
 * up, a failed verification sent again to the next (gRPC only).
 */
export function createTokenClient(coreUrl: string | readonly string[], options: TokenClientOptions = {}): Client<typeof TokenService> {
  const urls = (typeof coreUrl === "string" ? coreUrl.split(",") : [...coreUrl]).map((u) => u.trim()).filter((u) => u !== "");
  const settings = {
    defaultTimeoutMs: options.timeoutMs ?? 2000,
    interceptors: options.interceptors ?? [],
  };
  if (urls.length > 1 && options.protocol === "connect") throw new TypeError("several core URLs need the grpc protocol");
  // HTTP/1.1 (connect) already spreads calls over a pool of connections.
  const transport =
    options.protocol === "connect"
      ? createConnectTransport({ ...settings, baseUrl: urls[0] ?? "", httpVersion: "1.1" })
      : createBalancedTransport(urls, { transport: settings, connections: options.connections ?? DEFAULT_CONNECTIONS });
  return createClient(TokenService, transport);
}

export interface VerifierOptions extends TokenClientOptions {
  /** One core URL, or several replicas' (see createTokenClient). */
  coreUrl: string | readonly string[];
  /** The project whose tokens this service accepts; tokens of every other project are refused. */
  organization: string;
  project: string;
  /**
   * The token's `aud` must contain it (RFC 9068 §4). Unset (and no
   * `resource`): the project's audience, so that a token issued for a
   * registered resource (RFC 8707) is refused.
   */
  audience?: string;
  /**
   * This resource server's own URI, as registered in iam-core (RFC 8707):
   * a token whose `aud` does not include it, one issued for another
   * resource, is refused (`TokenFailure.AUDIENCE`, answered `invalid_token`).
   * The same check as `audience`; give one of them.
   */
  resource?: string;
}

/**
 * What a route requires of the user's sign-in behind a token (RFC 9470 §3).
 * A token issued to a client for itself meets neither requirement.
 */
export interface SignInRequirement {
  /** The token's `acr` must be one of these: `[MFA_ACR]` for a multi-factor sign-in. */
  acrValues?: readonly string[];
  /** The user must have signed in at most this many seconds ago (the token's `auth_time`). */
  maxAuthAge?: number;
}

/**
 * How the resource request presented its token, for a DPoP-bound token (RFC
 * 9449 §7): its scheme, its `DPoP` header, and the request's method and URL
 * as clients call it (behind a proxy, the public URL). Without it a bound
 * token is never active.
 */
export interface Presentation {
  scheme: "Bearer" | "DPoP";
  /** The request's DPoP header, "" or undefined for none. */
  dpopProof?: string | undefined;
  method: string;
  url: string;
}

/**
 * Verifies access tokens of one project through the core's VerifyToken: the
 * signature, expiry, issuer, project, audience, required scopes, that the
 * grant behind the token was not revoked, and, when asked, how strong and
 * how recent the user's sign-in was, and for a DPoP-bound token the request's
 * proof of its key (`presentation`). Any refusal is `active: false` with its
 * `failure`; only an unreachable core (or a malformed requirement) throws.
 */
export function createAccessTokenVerifier(
  options: VerifierOptions,
): (token: string, requiredScopes?: string[], signIn?: SignInRequirement, presentation?: Presentation) => Promise<VerifyTokenResponse> {
  if (options.resource !== undefined && options.audience !== undefined && options.resource !== options.audience) {
    throw new TypeError("resource and audience name the same check: give one of them");
  }
  const audience = options.resource ?? options.audience ?? "";
  const client = createTokenClient(options.coreUrl, options);
  return (token, requiredScopes = [], signIn = {}, presentation) => {
    const { maxAuthAge } = signIn;
    if (maxAuthAge !== undefined && !(Number.isSafeInteger(maxAuthAge) && maxAuthAge >= 0)) {
      return Promise.reject(new RangeError("maxAuthAge must be a whole number of seconds, 0 or more"));
    }
    return client.verifyToken({
      token,
      organization: options.organization,
      project: options.project,
      audience,
      requiredScopes,
      acrValues: [...(signIn.acrValues ?? [])],
      ...(maxAuthAge !== undefined ? { maxAuthAge: BigInt(maxAuthAge) } : {}),
      ...(presentation === undefined
        ? {}
        : { authorizationScheme: presentation.scheme, dpopProof: presentation.dpopProof ?? "", httpMethod: presentation.method, httpUrl: presentation.url }),
    });
  };
}

/**
 * The token of an `Authorization` header with its scheme: `Bearer` (RFC 6750
 * §2.1) or `DPoP` (RFC 9449 §7.1), the scheme's name in any case;
 * `undefined` when there is none, `null` when it is malformed.
 */
export function presentedToken(header: string | undefined): { scheme: "Bearer" | "DPoP"; token: string } | null | undefined {
  if (header === undefined || header === "") return undefined;
  const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  if (match === null) return null;
  return { scheme: match[1]!.toLowerCase() === "dpop" ? "DPoP" : "Bearer", token: match[2]! };
}

/**
 * The bearer token of an `Authorization` header (RFC 6750 §2.1): `undefined`
 * when there is none, `null` when the header is present but malformed.
 * Tokens in the query string (§2.3) are never read.
 */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined || header === "") return undefined;
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  return match === null ? null : match[1]!;
}

export interface Challenge {
  status: 400 | 401 | 403;
  /** The `WWW-Authenticate` header value. */
  header: string;
  /** A JSON body for the refusal: `{ error, error_description }`, or `{}` when no token was sent. */
  body: { error?: string; error_description?: string };
}

const quoted = (value: string) => `"${value.replace(/["\\]/g, "")}"`;

/**
 * The RFC 6750 §3 answer for a request refused by a resource server:
 * - no token: 401 with a bare challenge (§3.1: no error code), naming the
 *   scopes the request needs when given (`scope`, §3: what a client that
 *   has no token yet should ask for, as MCP clients read it);
 * - a malformed Authorization header: 400 `invalid_request`;
 * - an inactive token: 401 `invalid_token`;
 * - a token without the required scopes: 403 `insufficient_scope`, naming them;
 * - a token whose sign-in is not strong or recent enough: 401
 *   `insufficient_user_authentication` (RFC 9470 §3), with the `acr_values`
 *   and `max_age` the client must ask for in a new authorization request;
 * - a DPoP-bound token presented without a good proof of its key (RFC 9449
 *   §7.1): 401 under the DPoP scheme, `invalid_token` when it came as
 *   Bearer, `invalid_dpop_proof` otherwise.
 *
 * With `resourceMetadata` (the URL of the resource's RFC 9728 document,
 * resourceMetadataUrl), every 401 and 403 challenge names it
 * (`resource_metadata`, RFC 9728 §5.1), so that a client that knows nothing
 * of the resource learns where its authorization server is; the 403's
 * `scope` tells it what to ask for next (step-up, RFC 6750 §3).
 */
export function bearerChallenge(
  realm: string,
  refusal:
    | { missing: true; scopes?: readonly string[] }
    | { malformed: true }
    | { result: VerifyTokenResponse; requiredScopes: string[]; signIn?: SignInRequirement; scheme?: "Bearer" | "DPoP" },
  options: { resourceMetadata?: string } = {},
): Challenge {
  const metadata = options.resourceMetadata === undefined ? "" : `, resource_metadata=${quoted(options.resourceMetadata)}`;
  const head = `${"scheme" in refusal && refusal.scheme === "DPoP" ? "DPoP" : "Bearer"} realm=${quoted(realm)}`;
  if ("missing" in refusal) {
    const scope = refusal.scopes !== undefined && refusal.scopes.length > 0 ? `, scope=${quoted(refusal.scopes.join(" "))}` : "";
    return { status: 401, header: head + scope + metadata, body: {} };
  }
  const answer = (status: 400 | 401 | 403, error: string, description: string, extra = ""): Challenge => ({
    status,
    header: `${head}, error=${quoted(error)}, error_description=${quoted(description)}${extra}${status === 400 ? "" : metadata}`,
    body: { error, error_description: description },
  });
  if ("malformed" in refusal) return answer(400, "invalid_request", "the Authorization header is not a Bearer token");
  const { result, requiredScopes } = refusal;
  if (result.failure === TokenFailure.DPOP_PROOF) {
    const error = refusal.scheme === "DPoP" ? "invalid_dpop_proof" : "invalid_token";
    const description = refusal.scheme === "DPoP" ? "the DPoP proof is missing, invalid or not of the token's key" : "the access token is bound to a DPoP key: present it with the DPoP scheme and a proof";
    return { status: 401, header: `DPoP realm=${quoted(realm)}, error=${quoted(error)}, error_description=${quoted(description)}${metadata}`, body: { error, error_description: description } };
  }
  if (result.failure === TokenFailure.INSUFFICIENT_SCOPE) {
    return answer(403, "insufficient_scope", "the access token lacks a required scope", `, scope=${quoted(requiredScopes.join(" "))}`);
  }
  if (result.failure === TokenFailure.INSUFFICIENT_USER_AUTHENTICATION) {
    const { acrValues = [], maxAuthAge } = refusal.signIn ?? {};
    // §3: both may be given; the new token must meet every requirement of the route.
    const strength = acrValues.length > 0 ? `, acr_values=${quoted(acrValues.join(" "))}` : "";
    const recency = maxAuthAge !== undefined ? `, max_age=${quoted(String(maxAuthAge))}` : "";
    const description =
      strength !== "" && recency !== ""
        ? "a stronger or more recent sign-in is required"
        : recency !== ""
          ? "a more recent sign-in is required"
          : "a stronger sign-in is required";
    return answer(401, "insufficient_user_authentication", description, strength + recency);
  }
  const why: Partial<Record<TokenFailure, string>> = {
    [TokenFailure.EXPIRED]: "the access token expired",
    [TokenFailure.REVOKED]: "the access token was revoked",
    [TokenFailure.AUDIENCE]: "the access token is not meant for this service",
  };
  return answer(401, "invalid_token", why[result.failure] ?? "the access token is not valid");
}
