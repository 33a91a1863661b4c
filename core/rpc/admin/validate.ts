import { Code, ConnectError } from "@connectrpc/connect";

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

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/**
 * A redirect URI a client may register: absolute, no fragment (RFC 6749
 * §3.1.2), no credentials; `https`, or `http` on a loopback host only
 * (RFC 9700 §2.6, RFC 8252 §7.3), or a private-use scheme with a dot
 * (RFC 8252 §7.1). Anything else (javascript:, data:, plain http) is refused.
 */
export function checkRedirectUri(value: string): string {
  if (value.length > 2048) throw invalid("a redirect URI must be at most 2048 characters");
  if (value.includes("#")) throw invalid(`redirect URI ${value} must not have a fragment`);
  if (/\s/.test(value)) throw invalid(`redirect URI ${value} must not contain white space`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`redirect URI ${value} is not an absolute URI`);
  }
  if (url.username !== "" || url.password !== "") throw invalid(`redirect URI ${value} must not carry credentials`);
  const scheme = url.protocol.slice(0, -1);
  if (scheme === "https") {
    if (url.hostname === "") throw invalid(`redirect URI ${value} has no host`);
    return value;
  }
  if (scheme === "http") {
    if (!isLoopback(url.hostname)) throw invalid(`redirect URI ${value}: http is allowed only for loopback hosts`);
    return value;
  }
  if (/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/.test(scheme)) return value;
  throw invalid(`redirect URI ${value}: the scheme must be https, http on a loopback host, or a private-use scheme such as com.example.app`);
}

export const GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials", "password"] as const;

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
  if (client.grantTypes.includes("authorization_code") && client.redirectUris.length === 0) {
    throw invalid("authorization_code needs at least one redirect URI");
  }
  if (client.redirectUris.length > 20) throw invalid("at most 20 redirect URIs");
  if (new Set(client.redirectUris).size !== client.redirectUris.length) throw invalid("redirect_uris must not repeat");
  client.redirectUris.forEach(checkRedirectUri);
}
