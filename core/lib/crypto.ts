import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A 256-bit random value, base64url: codes, refresh tokens, request ids. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

/** SHA-256 of a string, base64url: how codes, refresh tokens and request ids are stored. */
export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("base64url");
}

/**
 * Compares two strings in time that depends on neither content nor length:
 * both sides are hashed first, so the comparison always covers 32 bytes.
 */
export function constantEquals(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}
