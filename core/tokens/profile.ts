/**
 * What a client is held to at run time, from its own settings and its
 * security profile. The FAPI 2.0 Security Profile (Final) switch of a client
 * (`security_profile: fapi2`) holds it to the profile's rules whatever its
 * other settings say, each asked here by the code that enforces it:
 * - pushed authorization requests only (§5.3.2.2 items 2, 3);
 * - PKCE with S256 only (§5.3.2.2 item 5);
 * - sender-constrained access tokens, by DPoP (§5.3.2.1 items 4, 5);
 * - authorization codes valid at most 60 s (§5.3.2.1 item 11);
 * - refresh tokens not rotated (§5.3.2.1 item 9): a client that lost the
 *   answer retries with the refresh token it has;
 * - JWTs signed with PS256, ES256 or EdDSA only (§5.4.1): its client
 *   assertions, its DPoP proofs, and the access tokens issued to it;
 * - private_key_jwt client authentication, no password grant, ES256 ID
 *   tokens: checked when the client is registered (rpc/admin/client-authentication.ts).
 * The `iss` authorization response parameter (§5.3.2.2 item 7) is sent to
 * every client already.
 */
import type { ClientRecord, ProjectRecord, SigningAlg } from "../store/types.js";

/** FAPI 2.0 Security Profile §5.4.1: PS256, ES256, and EdDSA with Ed25519 (by either name, RFC 9864). */
export const FAPI2_ALGS = ["PS256", "ES256", "EdDSA", "Ed25519"] as const;

/**
 * The algorithms of client assertions iam-core verifies, preferred first
 * (token_endpoint_auth_signing_alg_values_supported): asymmetric only, every
 * one a registered key may be for (CLIENT_KEY_ALGS of jwks-rules.ts).
 */
export const ASSERTION_ALGS: readonly string[] = ["ES256", "PS256", "EdDSA", "Ed25519", "ES384", "PS384", "ES512", "PS512", "RS256", "RS384", "RS512"];

/** FAPI 2.0 Security Profile Final: the client's switch. */
export const isFapi2 = (client: Pick<ClientRecord, "securityProfile">): boolean => client.securityProfile === "fapi2";

/** The algorithms its client assertions may be signed with. */
export const assertionAlgorithms = (client: Pick<ClientRecord, "securityProfile">): readonly string[] => (isFapi2(client) ? FAPI2_ALGS : ASSERTION_ALGS);

/** The algorithms its DPoP proofs may be signed with, as checkProof takes them: none named for every one iam-core accepts. */
export const proofAlgorithms = (client: Pick<ClientRecord, "securityProfile">): { algorithms?: readonly string[] } =>
  isFapi2(client) ? { algorithms: FAPI2_ALGS } : {};

/** RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request of the client carries a proof. */
export const requiresDpop = (client: Pick<ClientRecord, "dpopBoundAccessTokens" | "securityProfile">): boolean =>
  client.dpopBoundAccessTokens || isFapi2(client);

/** RFC 9126 §6: its authorization requests must be pushed ones. */
export const requiresPushedRequests = (
  client: Pick<ClientRecord, "requirePushedAuthorizationRequests" | "securityProfile">,
  project: Pick<ProjectRecord, "requirePushedAuthorizationRequests">,
): boolean => client.requirePushedAuthorizationRequests || project.requirePushedAuthorizationRequests || isFapi2(client);

/** RFC 7636: whether it must send a code challenge, and whether `plain` is refused. */
export const pkceRule = (
  client: Pick<ClientRecord, "type" | "pkceRequired" | "securityProfile" | "metadataDocument">,
): { required: boolean; s256Only: boolean } => ({
  required: client.type === "public" || client.pkceRequired || isFapi2(client) || client.metadataDocument === true,
  // A client ID metadata document's client: anyone may publish one, so it gets the strongest PKCE (RFC 9700 §2.1.1).
  s256Only: isFapi2(client) || client.metadataDocument === true,
});

/** FAPI 2.0 §5.3.2.1 item 11: a code lives at most 60 s. */
export const FAPI2_CODE_TTL = 60;

/** Seconds its authorization codes live. */
export const codeTtl = (client: Pick<ClientRecord, "securityProfile">, configured: number): number =>
  isFapi2(client) ? Math.min(configured, FAPI2_CODE_TTL) : configured;

/** FAPI 2.0 §5.3.2.2 item 12: a request_uri lives under 600 s; iam-core gives a profile client's at most 300. */
export const FAPI2_REQUEST_URI_TTL = 300;

/** Seconds the request_uri of its pushed request lives. */
export const requestUriTtl = (client: Pick<ClientRecord, "securityProfile">, configured: number): number =>
  isFapi2(client) ? Math.min(configured, FAPI2_REQUEST_URI_TTL) : configured;

/** Whether a refresh answers a new refresh token and retires the one used. */
export const rotatesRefreshTokens = (client: Pick<ClientRecord, "securityProfile">): boolean => !isFapi2(client);

/** The algorithm of its access tokens: the project's, but never RS256 under FAPI 2.0. */
export const accessTokenAlg = (client: Pick<ClientRecord, "securityProfile">, projectAlg: SigningAlg): SigningAlg =>
  isFapi2(client) ? "ES256" : projectAlg;
