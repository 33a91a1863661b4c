/**
 * A client's registration request (RFC 7591 §2, §3.1) read into the client
 * iam-core would store, by the rules the AdminService applies to the clients
 * administrators create (core/rpc/admin/validate.ts,
 * client-authentication.ts), called here rather than repeated, plus the
 * rules only a client that registers itself is held to: no password grant,
 * no security profile, PKCE always, and redirect URIs that fit its
 * `application_type`. A member the RFCs define that iam-core does not keep
 * is ignored, as §2 says, and never answered back.
 */
import { isLoopbackHost } from "../lib/network-address.js";
import { ConnectError } from "@connectrpc/connect";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { OIDC_SCOPES } from "../tokens/oidc.js";
import type { ClientRecord, ProjectRef } from "../store/types.js";
import { CLIENT_DEFAULTS } from "../rpc/admin/default-tenant.js";
import { checkAuthMethod, checkClientAuthentication, checkJwks, checkJwksUriSetting } from "../rpc/admin/client-authentication.js";
import {
  checkBackchannelLogoutUri,
  checkClientShape,
  checkPostLogoutRedirectUris,
  checkRedirectUri,
  checkSigningAlg,
  checkText,
} from "../rpc/admin/validate.js";
import { type Extras, fieldsOf } from "./extras.js";
import { boolean, metadataError, string, strings } from "./json.js";

/** The grant types a client may register for itself: never the password grant (RFC 9700 §2.4). */
const REGISTRABLE_GRANTS = ["authorization_code", "refresh_token", "client_credentials"];

/** What a registration request describes: the client's own columns, and what the registration keeps beside them. */
export interface RegisteredClient {
  client: Omit<ClientRecord, "organization" | "project" | "id" | "secretHash" | "createdAt">;
  extras: Extras;
}

const redirectUriError = (description: string) => new OAuthError("invalid_redirect_uri", description);

/** Runs an AdminService check; its refusal (INVALID_ARGUMENT) becomes the RFC 7591 §3.2.2 error `as` makes. */
function checked<T>(check: () => T, as: (description: string) => OAuthError = metadataError): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ConnectError) throw as(err.rawMessage);
    throw err;
  }
}

/**
 * OpenID Connect Registration §2 `application_type`, and the redirect URIs
 * each kind may register beyond the AdminService's rules: a web client's
 * are https on a host that is not the user's own machine; a native app's
 * (RFC 8252 §7) a private-use scheme, a claimed https URI, or http on a
 * loopback host (§7.3; `localhost` is NOT RECOMMENDED by §8.3, but MCP
 * clients such as the MCP Inspector register it, and it is as confined to
 * the user's machine as 127.0.0.1, so it is taken).
 */
function checkRedirectUris(applicationType: "web" | "native", uris: string[]): void {
  for (const uri of uris) {
    checked(() => checkRedirectUri(uri), redirectUriError);
    const url = new URL(uri);
    const loopback = isLoopbackHost(url.hostname);
    if (applicationType === "web") {
      if (url.protocol !== "https:" || loopback) {
        throw redirectUriError(`redirect URI ${uri}: a web client's redirect URIs are https on a public host (use application_type native for an app)`);
      }
    }
  }
}

/**
 * The `application_type` of a registration that names none: `native` when
 * every redirect URI is one only an app on the user's machine can receive
 * (http on a loopback host, or a private-use scheme), as MCP clients
 * register without saying so; else `web`, OpenID Connect Registration §2's
 * default, whose stricter rules then apply.
 */
function impliedApplicationType(uris: readonly string[]): "web" | "native" {
  const local = (uri: string) => {
    try {
      const url = new URL(uri);
      if (url.protocol === "http:") return isLoopbackHost(url.hostname);
      return url.protocol !== "https:" && /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol);
    } catch {
      return false;
    }
  };
  return uris.length > 0 && uris.every(local) ? "native" : "web";
}

/**
 * RFC 7591 §2.1: the grant types and response types must agree (`code`
 * with authorization_code). Omitted, response_types is `code` when the
 * client uses authorization_code and none otherwise.
 */
function responseTypesOf(m: Record<string, unknown>, grantTypes: string[]): string[] {
  const given = strings(m, "response_types");
  const code = grantTypes.includes("authorization_code");
  if (given === undefined) return code ? ["code"] : [];
  for (const type of given) {
    if (type !== "code") throw metadataError(`response type ${type} is not supported; use code`);
  }
  if (new Set(given).size !== given.length) throw metadataError("response_types must not repeat");
  if (code !== given.includes("code")) {
    throw metadataError("response_types code and grant_types authorization_code go together (RFC 7591 §2.1)");
  }
  return given;
}

/**
 * `scope` (RFC 7591 §2): what the client may ask for. A registered client
 * holds no role, so it is no grant: kept are the values the project knows
 * (its permissions and the OpenID Connect scopes), the others dropped as
 * §3.2.1 allows the server to replace a value, and the result answered.
 */
async function scopeOf(deps: Deps, ref: ProjectRef, m: Record<string, unknown>): Promise<string> {
  const value = string(m, "scope");
  if (value === undefined || value.trim() === "") return "";
  // RFC 6749 §3.3: scope-tokens of NQCHAR, separated by single spaces.
  if (value.length > 2048 || !/^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/.test(value)) {
    throw metadataError("scope must be scope values separated by spaces (RFC 6749 §3.3)");
  }
  const requested = [...new Set(value.split(" "))];
  const permissions = new Set((await deps.store.getPermissions(ref, requested.filter((s) => !OIDC_SCOPES.has(s)))).map((p) => p.id));
  return requested.filter((s) => OIDC_SCOPES.has(s) || s === "offline_access" || permissions.has(s)).join(" ");
}

/** A registration request's metadata, checked, as the client it registers. */
export async function registeredClient(deps: Deps, ref: ProjectRef, m: Record<string, unknown>, clientId: string): Promise<RegisteredClient> {
  if (m.security_profile !== undefined) throw metadataError("a registered client cannot choose a security profile");
  const given = string(m, "application_type");
  if (given !== undefined && given !== "web" && given !== "native") throw metadataError("application_type must be web or native");

  // RFC 7591 §2: client_secret_basic when omitted.
  const method = checked(() => checkAuthMethod(string(m, "token_endpoint_auth_method") ?? "client_secret_basic")) || "client_secret_basic";
  const type = method === "none" ? "public" : "confidential";
  const grantTypes = strings(m, "grant_types") ?? ["authorization_code"];
  for (const grant of grantTypes) {
    if (grant === "password") throw metadataError("the password grant cannot be registered (RFC 9700 §2.4)");
    if (!REGISTRABLE_GRANTS.includes(grant)) throw metadataError(`grant type ${grant} is not supported; use ${REGISTRABLE_GRANTS.join(", ")}`);
  }
  const redirectUris = strings(m, "redirect_uris") ?? [];
  const applicationType = given ?? impliedApplicationType(redirectUris);
  if (grantTypes.includes("authorization_code") && redirectUris.length === 0) {
    throw redirectUriError("redirect_uris must name at least one redirect URI for authorization_code");
  }
  checkRedirectUris(applicationType, redirectUris);
  checked(() => checkClientShape({ type, grantTypes, redirectUris }));
  const responseTypes = responseTypesOf(m, grantTypes);

  const jwksValue = m.jwks;
  if (jwksValue !== undefined && (typeof jwksValue !== "object" || jwksValue === null || Array.isArray(jwksValue))) {
    throw metadataError("jwks must be a JWK Set (a JSON object)");
  }
  const client: RegisteredClient["client"] = {
    // No security profile and no token exchange (RFC 8693): an administrator's decisions, which a registration cannot ask for.
    ...CLIENT_DEFAULTS,
    name: checked(() => checkText("client_name", string(m, "client_name") ?? "")) || clientId,
    type,
    redirectUris,
    grantTypes,
    // RFC 9700 §2.1.1: PKCE for every client that registers itself, confidential ones too.
    pkceRequired: true,
    postLogoutRedirectUris: checked(() => checkPostLogoutRedirectUris(strings(m, "post_logout_redirect_uris") ?? [])),
    // Public hosts only, whatever the operator allows its own clients: anyone may register one (RFC 7591).
    backchannelLogoutUri: checked(() => checkBackchannelLogoutUri(string(m, "backchannel_logout_uri") ?? "", false)),
    idTokenSignedResponseAlg: checked(() => checkSigningAlg("id_token_signed_response_alg", string(m, "id_token_signed_response_alg") ?? "", "RS256")),
    // Its CORS origins (none in CLIENT_DEFAULTS) are those of its redirect URIs when public: a registration names none.
    requirePushedAuthorizationRequests: boolean(m, "require_pushed_authorization_requests"),
    tokenEndpointAuthMethod: method,
    jwks: checked(() => checkJwks(jwksValue === undefined ? "" : JSON.stringify(jwksValue))),
    jwksUri: checked(() => checkJwksUriSetting(deps, string(m, "jwks_uri") ?? "", { dynamicallyRegistered: true })),
    dpopBoundAccessTokens: boolean(m, "dpop_bound_access_tokens"),
    dynamicallyRegistered: true,
  };
  checked(() => checkClientAuthentication({ ...client, ...ref, id: clientId, secretHash: null, createdAt: 0 }));
  const extras: Extras = { ...fieldsOf(m), application_type: applicationType, response_types: responseTypes, scope: await scopeOf(deps, ref, m) };
  return { client, extras };
}

/** The grant types an administrator gave a registered client that no registration can carry (token exchange, say). */
export const administratorGrants = (current: Pick<ClientRecord, "grantTypes">): string[] => current.grantTypes.filter((g) => !REGISTRABLE_GRANTS.includes(g));

/**
 * RFC 7592 §2.2: a registered client replaces its registration's metadata,
 * never what only an administrator sets on it: the security profile, the
 * token exchange policy and may_act, the grant types no registration can
 * carry, the lifetimes, remembered consent and web origins all stay. The
 * client so made is held to the AdminService's checks again, so that an
 * update cannot take a FAPI 2.0 client out of what its profile requires
 * (its ID token algorithm, say): that is invalid_client_metadata.
 */
export function updatedClient(current: ClientRecord, fields: RegisteredClient["client"]): ClientRecord {
  const next: ClientRecord = {
    ...current,
    ...fields,
    grantTypes: [...fields.grantTypes, ...administratorGrants(current)],
    accessTokenTtl: current.accessTokenTtl,
    refreshTokenTtl: current.refreshTokenTtl,
    rememberConsent: current.rememberConsent,
    webOrigins: current.webOrigins,
    securityProfile: current.securityProfile,
    tokenExchangeSubjectClients: current.tokenExchangeSubjectClients,
    tokenExchangeResources: current.tokenExchangeResources,
    tokenExchangeImpersonation: current.tokenExchangeImpersonation,
    mayActClient: current.mayActClient,
  };
  checked(() => checkClientShape(next));
  checked(() => checkClientAuthentication(next));
  return next;
}
