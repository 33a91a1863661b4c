/**
 * The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the
 * client as iam-core registered it, from its client row (which an
 * administrator may have changed since) and its registration's extras,
 * with the registration's own members. Only what iam-core checked and keeps
 * is answered: an unknown member of the request never comes back.
 */
import { issuerOf } from "../deps.js";
import type { Deps } from "../deps.js";
import type { ClientRecord } from "../store/types.js";
import type { Extras } from "./extras.js";

/** The client configuration endpoint of a client (RFC 7592 §1): `{issuer}/register/{client_id}`. */
export const registrationClientUri = (deps: Deps, client: ClientRecord) =>
  `${issuerOf(deps.config.baseUrl, client)}/register/${encodeURIComponent(client.id)}`;

export function clientInformation(
  deps: Deps,
  client: ClientRecord,
  extras: Extras,
  registration: { registrationAccessToken: string; secret?: string },
): Record<string, unknown> {
  const hasSecret = client.secretHash !== null;
  return {
    client_id: client.id,
    // Answered once, at registration: only its hash is kept.
    ...(registration.secret !== undefined ? { client_secret: registration.secret } : {}),
    // RFC 7591 §3.2.1: REQUIRED with a secret; 0, it does not expire.
    ...(hasSecret ? { client_secret_expires_at: 0 } : {}),
    client_id_issued_at: client.createdAt,
    registration_access_token: registration.registrationAccessToken,
    registration_client_uri: registrationClientUri(deps, client),
    client_name: client.name,
    application_type: extras.application_type,
    redirect_uris: client.redirectUris,
    grant_types: client.grantTypes,
    response_types: extras.response_types,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod || (client.type === "public" ? "none" : "client_secret_basic"),
    ...(client.jwks !== "" ? { jwks: JSON.parse(client.jwks) as unknown } : {}),
    ...(client.jwksUri !== "" ? { jwks_uri: client.jwksUri } : {}),
    ...(extras.scope !== "" ? { scope: extras.scope } : {}),
    ...(client.postLogoutRedirectUris.length > 0 ? { post_logout_redirect_uris: client.postLogoutRedirectUris } : {}),
    ...(client.backchannelLogoutUri !== "" ? { backchannel_logout_uri: client.backchannelLogoutUri } : {}),
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens,
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests,
    ...pick(extras, ["client_uri", "logo_uri", "tos_uri", "policy_uri", "contacts", "software_id", "software_version"]),
  };
}

function pick(extras: Extras, names: readonly (keyof Extras)[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (extras[name] !== undefined) out[name] = extras[name];
  return out;
}
