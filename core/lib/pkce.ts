import { createHash } from "node:crypto";
import { constantEquals } from "./crypto.js";

export type CodeChallengeMethod = "S256" | "plain";

/** RFC 7636 §4.1 / §4.2: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~". */
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

/** @see RFC 7636 §4.1 (code_verifier) and §4.2 (code_challenge) share this grammar. */
export function isPkceValue(value: string): boolean {
  return PKCE_VALUE.test(value);
}

/** @see RFC 7636 §4.3: an absent method means `plain`. */
export function parseChallengeMethod(method: string): CodeChallengeMethod | undefined {
  if (method === "" || method === "plain") return "plain";
  if (method === "S256") return "S256";
  return undefined;
}

/** @see RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). */
export function s256(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** @see RFC 7636 §4.6: the server recomputes the challenge from the verifier. */
export function verifyPkce(method: CodeChallengeMethod, challenge: string, verifier: string): boolean {
  if (!isPkceValue(verifier)) return false;
  const computed = method === "S256" ? s256(verifier) : verifier;
  return constantEquals(computed, challenge);
}
