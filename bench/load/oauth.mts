/** What every HTTP scenario's requests are made of: client authentication, PKCE, the token answer. */
import { createHash, randomBytes } from "node:crypto";

export const FORM = "application/x-www-form-urlencoded";
export const JSON_BODY = { "content-type": "application/json", accept: "application/json" };

/** client_secret_basic (RFC 6749 §2.3.1: each part form-encoded first). */
export function basic(id: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
}

export interface TokenAnswer {
  access_token?: unknown;
  refresh_token?: unknown;
  id_token?: unknown;
  token_type?: unknown;
}

/** Parses a JSON answer, or undefined when it is not JSON. */
export function parseJson<T>(body: string): T | undefined {
  try {
    return JSON.parse(body) as T;
  } catch {
    return undefined;
  }
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

/**
 * PKCE pairs (RFC 7636 §4.1, §4.2, S256) made before the clock and used in
 * turn: each code is bound to the challenge of its own authorization
 * request, so reusing a verifier across flows changes nothing for the
 * server, and the load process spends no hash per flow.
 */
export function pkcePairs(count: number): Pkce[] {
  return Array.from({ length: count }, () => {
    const verifier = randomBytes(32).toString("base64url");
    return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
  });
}

/** The `name=value` of a cookie an answer sets, or undefined. */
export function cookieOf(setCookie: string | string[] | undefined, name: string): string | undefined {
  const all = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  return all.find((c) => c.startsWith(`${name}=`))?.split(";")[0];
}

/** What the answer's status and body say when it is not the expected one. */
export function unexpected(what: string, status: number, body: string): string {
  return `${what}: ${status} ${body.slice(0, 200)}`;
}
