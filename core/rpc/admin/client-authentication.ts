/**
 * How a client authenticates and what it is held to: its
 * `token_endpoint_auth_method` (RFC 7591 §2), its keys for `private_key_jwt`
 * (RFC 7523 §2.2), `dpop_bound_access_tokens` (RFC 9449 §5.2) and its
 * security profile (FAPI 2.0). Checked together, on the client as
 * CreateClient or UpdateClient would leave it, since each depends on the
 * others: a public client has no keys, a FAPI 2.0 client authenticates with
 * its keys only.
 */
import type { Deps } from "../../deps.js";
import { checkJwksUri, parseClientJwks } from "../../tokens/client-jwks.js";
import { TOKEN_ENDPOINT_AUTH_METHODS, type ClientRecord, type SecurityProfile, type TokenEndpointAuthMethod } from "../../store/types.js";
import { invalid } from "./validate.js";

/** The profiles a client may be held to ("" for none). */
const SECURITY_PROFILES: readonly SecurityProfile[] = ["", "fapi2"];

/** The fields this file checks, as CreateClientRequest and UpdateClientRequest carry them. */
export interface AuthenticationSettings {
  tokenEndpointAuthMethod: string;
  jwks: string;
  jwksUri: string;
  dpopBoundAccessTokens: boolean;
  securityProfile: string;
}

export function checkAuthMethod(value: string): TokenEndpointAuthMethod | "" {
  if (value === "" || (TOKEN_ENDPOINT_AUTH_METHODS as readonly string[]).includes(value)) return value as TokenEndpointAuthMethod | "";
  throw invalid(`token_endpoint_auth_method ${value} is not supported; use ${TOKEN_ENDPOINT_AUTH_METHODS.join(", ")}`);
}

export function checkSecurityProfile(value: string): SecurityProfile {
  if ((SECURITY_PROFILES as readonly string[]).includes(value)) return value as SecurityProfile;
  throw invalid(`security_profile ${value} is not supported; use fapi2, or empty for none`);
}

/** A registered JWK Set, checked and kept as given (RFC 7591 §2 `jwks`). */
export function checkJwks(value: string): string {
  if (value === "") return "";
  try {
    parseClientJwks(value);
  } catch (err) {
    throw invalid(`jwks: ${(err as Error).message}`);
  }
  return value;
}

/**
 * A registered `jwks_uri`: https to a public host unless private networks
 * are allowed for the client it is of (ClientKeys.privateNetworksFor: the
 * operator's option for an administrator's client; never for one that
 * registered itself). checkJwksUri answers InvalidArgument.
 */
export const checkJwksUriSetting = (deps: Deps, value: string, client: { dynamicallyRegistered?: boolean; metadataDocument?: boolean } = {}): string =>
  value === "" ? "" : checkJwksUri(value, deps.clientKeys.privateNetworksFor(client));

/**
 * The rules between the fields, on the client as it would be stored.
 * RFC 7591 §2: `jwks` and `jwks_uri` MUST NOT both be present.
 */
export function checkClientAuthentication(client: ClientRecord): void {
  const method = client.tokenEndpointAuthMethod;
  if (client.type === "public" && method !== "" && method !== "none") {
    throw invalid(`a public client authenticates with none, not ${method}: it cannot keep a secret or a private key`);
  }
  if (client.type === "confidential" && method === "none") throw invalid("a confidential client must authenticate: none is for public clients");
  if (client.jwks !== "" && client.jwksUri !== "") throw invalid("jwks and jwks_uri must not both be set (RFC 7591 §2)");
  if (method === "private_key_jwt") {
    if (client.jwks === "" && client.jwksUri === "") throw invalid("private_key_jwt needs the client's public keys: jwks or jwks_uri");
  } else if (client.jwks !== "" || client.jwksUri !== "") {
    throw invalid("jwks and jwks_uri verify private_key_jwt assertions: set token_endpoint_auth_method to private_key_jwt, or leave them empty");
  }
  if (client.securityProfile === "fapi2") checkFapi2(client);
}

/**
 * FAPI 2.0 Security Profile §5.3.2.1: confidential clients only (-3),
 * authenticated by private_key_jwt (-6; iam-core has no mutual TLS), no
 * resource owner password credentials (-2); §5.4.1: ID tokens signed with
 * PS256, ES256 or EdDSA, of which iam-core signs ES256. The rest of the
 * profile (pushed requests, PKCE S256, DPoP, 60 s codes, algorithms of
 * assertions and proofs) holds at run time for any client under it
 * (core/tokens/profile.ts), whatever its other settings say.
 */
function checkFapi2(client: ClientRecord): void {
  if (client.type !== "confidential") throw invalid("a FAPI 2.0 client is a confidential one (FAPI 2.0 Security Profile §5.3.2.1)");
  if (client.tokenEndpointAuthMethod !== "private_key_jwt") {
    throw invalid("a FAPI 2.0 client authenticates with private_key_jwt (FAPI 2.0 Security Profile §5.3.2.1): set token_endpoint_auth_method and its keys");
  }
  if (client.grantTypes.includes("password")) throw invalid("a FAPI 2.0 client cannot use the password grant (FAPI 2.0 Security Profile §5.3.2.1)");
  if (client.idTokenSignedResponseAlg !== "ES256") {
    throw invalid("a FAPI 2.0 client's ID tokens are ES256: set id_token_signed_response_alg to ES256 (FAPI 2.0 Security Profile §5.4.1)");
  }
}

/** CreateClient's settings, checked one by one (checkClientAuthentication then checks them together). */
export function authenticationOf(deps: Deps, r: AuthenticationSettings): Pick<ClientRecord, keyof AuthenticationSettings> {
  return {
    tokenEndpointAuthMethod: checkAuthMethod(r.tokenEndpointAuthMethod),
    jwks: checkJwks(r.jwks),
    jwksUri: checkJwksUriSetting(deps, r.jwksUri),
    dpopBoundAccessTokens: r.dpopBoundAccessTokens,
    securityProfile: checkSecurityProfile(r.securityProfile),
  };
}

/** UpdateClient's: those its mask names, checked; the others as they are. */
export function nextAuthentication(
  deps: Deps,
  r: AuthenticationSettings,
  paths: ReadonlySet<string>,
  current: ClientRecord,
): Pick<ClientRecord, keyof AuthenticationSettings> {
  return {
    tokenEndpointAuthMethod: paths.has("token_endpoint_auth_method") ? checkAuthMethod(r.tokenEndpointAuthMethod) : current.tokenEndpointAuthMethod,
    jwks: paths.has("jwks") ? checkJwks(r.jwks) : current.jwks,
    jwksUri: paths.has("jwks_uri") ? checkJwksUriSetting(deps, r.jwksUri) : current.jwksUri,
    dpopBoundAccessTokens: paths.has("dpop_bound_access_tokens") ? r.dpopBoundAccessTokens : current.dpopBoundAccessTokens,
    securityProfile: paths.has("security_profile") ? checkSecurityProfile(r.securityProfile) : current.securityProfile,
  };
}
