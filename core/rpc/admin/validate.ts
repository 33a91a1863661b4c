import { Code, ConnectError } from "@connectrpc/connect";
import { isLoopbackHost, nonPublicHost } from "../../lib/network-address.js";
import type { SigningAlg } from "../../store/types.js";
import { TOKEN_EXCHANGE_GRANT } from "../../protocol/token-exchange.js";

/** The character sets and lengths of identifiers, as admin.proto documents them. */
const ID_RULES = {
  organization: { pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, doc: "1-63 lowercase letters, digits and '-', starting with a letter or digit" },
  project: { pattern: /^[a-z0-9][a-z0-9-]{0,62}$/, doc: "1-63 lowercase letters, digits and '-', starting with a letter or digit" },
  client: { pattern: /^[A-Za-z0-9._~-]{1,128}$/, doc: "1-128 letters, digits and '-._~'" },
  role: { pattern: /^[A-Za-z0-9._~-]{1,128}$/, doc: "1-128 letters, digits and '-._~'" },
  user: { pattern: /^[A-Za-z0-9][A-Za-z0-9._~@+-]{0,127}$/, doc: "1-128 letters, digits and '-._~@+', starting with a letter or digit" },
  permission: {
    pattern: /^[a-z][a-z0-9-]{0,62}\.[a-z][a-z0-9-]{0,62}\.[a-z][a-z0-9-]{0,62}$/,
    doc: "service.resource.action, each part 1-63 lowercase letters, digits and '-', starting with a letter",
  },
} as const;

export type IdKind = keyof typeof ID_RULES;

export function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

export function checkId(kind: IdKind, field: string, value: string): string {
  const rule = ID_RULES[kind];
  if (!rule.pattern.test(value)) throw invalid(`${field} must be ${rule.doc}`);
  return value;
}

/** C0 and C1 controls, and the bidirectional overrides that make text read differently than it is. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/** Display text: at most `max` characters, no control characters. */
export function checkText(field: string, value: string, max = 200): string {
  if (value.length > max) throw invalid(`${field} must be at most ${max} characters`);
  if (CONTROL.test(value)) throw invalid(`${field} must not contain control characters`);
  return value;
}

export function checkEmail(value: string): string {
  if (value === "") return value;
  if (value.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(value)) throw invalid("email must be an email address or empty");
  return value;
}

export function checkPassword(field: string, value: string): string {
  if (value.length < 8 || value.length > 1024) throw invalid(`${field} must be 8 to 1024 characters`);
  return value;
}

export function checkSecret(value: string): string {
  if (value.length < 16 || value.length > 512) throw invalid("secret must be 16 to 512 characters");
  if (CONTROL.test(value)) throw invalid("secret must not contain control characters");
  return value;
}

export function checkRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(`${field} must be ${min} to ${max}`);
  return value;
}

/** An absolute URI without fragment, white space or credentials; `what` names it in the refusal. */
function absoluteUri(what: string, value: string): URL {
  if (value === "") throw invalid(`a ${what} must not be empty`);
  if (value.length > 2048) throw invalid(`a ${what} must be at most 2048 characters`);
  if (value.includes("#")) throw invalid(`${what} ${value} must not have a fragment`);
  if (/\s/.test(value)) throw invalid(`${what} ${value} must not contain white space`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${what} ${value} is not an absolute URI`);
  }
  if (url.username !== "" || url.password !== "") throw invalid(`${what} ${value} must not carry credentials`);
  return url;
}

/** `https` with a host, or `http` on a loopback host; false for any other scheme. */
function webScheme(what: string, value: string, url: URL): boolean {
  if (url.protocol === "https:") {
    if (url.hostname === "") throw invalid(`${what} ${value} has no host`);
    return true;
  }
  if (url.protocol === "http:") {
    if (!isLoopbackHost(url.hostname)) throw invalid(`${what} ${value}: http is allowed only for loopback hosts`);
    return true;
  }
  return false;
}

/**
 * A redirect URI a client may register: absolute, no fragment (RFC 6749
 * §3.1.2), no credentials; `https`, or `http` on a loopback host only
 * (RFC 9700 §2.6, RFC 8252 §7.3), or a private-use scheme with a dot
 * (RFC 8252 §7.1). Anything else (javascript:, data:, plain http) is refused.
 * Post-logout redirect URIs follow the same rules (`what` names them).
 */
export function checkRedirectUri(value: string, what = "redirect URI"): string {
  const url = absoluteUri(what, value);
  if (webScheme(what, value, url)) return value;
  if (/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(url.protocol.slice(0, -1))) return value;
  throw invalid(`${what} ${value}: the scheme must be https, http on a loopback host, or a private-use scheme such as com.example.app`);
}

const MAX_URIS = 20;

/** A list of URIs of one field: at most 20, no repeats, each valid. */
function checkUriList(field: string, values: readonly string[], check: (value: string) => string): string[] {
  if (values.length > MAX_URIS) throw invalid(`at most ${MAX_URIS} ${field}`);
  const checked = values.map(check);
  if (new Set(checked).size !== checked.length) throw invalid(`${field} must not repeat`);
  return checked;
}

/** RP-Initiated Logout 1.0 §3.1: where a logout may send the browser back to, under the rules of redirect URIs. */
export function checkPostLogoutRedirectUris(values: readonly string[]): string[] {
  return checkUriList("post_logout_redirect_uris", values, (value) => checkRedirectUri(value, "post-logout redirect URI"));
}

/** The operator option that lets back-channel logout reach loopback and private networks. */
export const PRIVATE_NETWORKS_OPTION = "IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS";

/**
 * Back-Channel Logout 1.0 §2.2: an absolute URI with no fragment, where the
 * server POSTs logout tokens. Empty: the client is not told of logouts.
 *
 * The server itself makes the request, from inside the operator's network,
 * to a URI a project administrator chose: unless the operator allows private
 * networks (`privateNetworks`), only `https` to a host that is not `localhost`
 * nor an IP literal of a loopback, private, link-local, unique-local, shared
 * or reserved address (core/lib/network-address.ts); names are checked again
 * against what they resolve to at delivery (logout/backchannel.ts). With
 * them allowed: `https` anywhere, or `http` on a loopback host.
 */
export function checkBackchannelLogoutUri(value: string, privateNetworks = false): string {
  if (value === "") return value;
  return checkOutboundUri("backchannel_logout_uri", value, privateNetworks, { purpose: "sends logout tokens", option: PRIVATE_NETWORKS_OPTION });
}

/**
 * A URI the server itself calls, chosen by a project administrator
 * (back-channel logout, a client's jwks_uri): absolute, `https` to a host
 * that is not `localhost` nor an IP literal of a non-public address, unless
 * the operator's `option` allows private networks; then `http` on a
 * loopback host too. What it `purpose`s there names the refusal.
 */
export function checkOutboundUri(what: string, value: string, privateNetworks: boolean, refusal: { purpose: string; option: string }): string {
  const url = absoluteUri(what, value);
  if (!webScheme(what, value, url)) {
    throw invalid(`${what} ${value}: the scheme must be https, or http on a loopback host`);
  }
  if (!privateNetworks) {
    const nonPublic = nonPublicHost(url.hostname);
    if (nonPublic !== undefined) {
      throw invalid(`${what} ${value}: ${nonPublic}; the server ${refusal.purpose} there only when its operator sets ${refusal.option}=true`);
    }
    if (url.protocol !== "https:") throw invalid(`${what} ${value}: the scheme must be https`);
  }
  return value;
}

/**
 * The web origins a client's pages are served from: each exactly
 * `scheme://host[:port]` (RFC 6454 §4), `https` or `http` on a loopback
 * host; answered serialized as browsers send them in `Origin` (lowercase,
 * default port omitted), so that a match is a string comparison.
 */
export function checkWebOrigins(values: readonly string[]): string[] {
  return checkUriList("web_origins", values, (value) => {
    const what = "web origin";
    if (value === "") throw invalid(`a ${what} must not be empty`);
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]+$/.test(value)) {
      throw invalid(`${what} ${value} must be scheme://host[:port], with no path, query or fragment`);
    }
    const url = absoluteUri(what, value);
    if (!webScheme(what, value, url)) throw invalid(`${what} ${value}: the scheme must be https, or http on a loopback host`);
    return url.origin;
  });
}

/** A signing algorithm of the project's keys; empty means `fallback`. */
export function checkSigningAlg(field: string, value: string, fallback: SigningAlg): SigningAlg {
  if (value === "") return fallback;
  if (value !== "RS256" && value !== "ES256") throw invalid(`${field} must be RS256 or ES256`);
  return value;
}

export const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials", "password", TOKEN_EXCHANGE_GRANT] as const;

/** Validates a client's grant types, redirect URIs and type together. */
export function checkClientShape(client: { type: string; grantTypes: string[]; redirectUris: string[] }): void {
  if (client.grantTypes.length === 0) throw invalid("grant_types must name at least one grant type");
  for (const grant of client.grantTypes) {
    if (!(GRANT_TYPES as readonly string[]).includes(grant)) {
      throw invalid(`grant type ${grant} is not supported; use ${GRANT_TYPES.join(", ")}`);
    }
  }
  if (new Set(client.grantTypes).size !== client.grantTypes.length) throw invalid("grant_types must not repeat");
  if (client.type === "public" && client.grantTypes.includes("client_credentials")) {
    throw invalid("a public client cannot use client_credentials (RFC 6749 §4.4)");
  }
  // RFC 8693 §2.1: an exchange acts with the client's own credentials; a public client has none to prove who acts.
  if (client.type === "public" && client.grantTypes.includes(TOKEN_EXCHANGE_GRANT)) {
    throw invalid("a public client cannot use token exchange: the actor must authenticate (RFC 8693 §2.1)");
  }
  if (client.grantTypes.includes("authorization_code") && client.redirectUris.length === 0) {
    throw invalid("authorization_code needs at least one redirect URI");
  }
  if (client.redirectUris.length > MAX_URIS) throw invalid(`at most ${MAX_URIS} redirect URIs`);
  if (new Set(client.redirectUris).size !== client.redirectUris.length) throw invalid("redirect_uris must not repeat");
  for (const uri of client.redirectUris) checkRedirectUri(uri);
}
