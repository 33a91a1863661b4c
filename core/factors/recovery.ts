/**
 * Recovery codes: ten single-use codes a user is shown once, when their
 * first factor is enrolled (and when they ask for new ones), to sign in with
 * when the factor is lost. Each is 80 random bits, written as four groups of
 * four characters of an alphabet without look-alikes; only a SHA-256 of the
 * code and its user is stored. At 80 bits a stolen table cannot be reversed.
 */
import { randomBytes } from "node:crypto";
import { sha256 } from "../lib/crypto.js";

export const RECOVERY_CODES = 10;
/** Crockford's base32, lower case: no i, l, o, u. */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODES }, () => {
    const bytes = randomBytes(10);
    let bits = 0n;
    for (const b of bytes) bits = (bits << 8n) | BigInt(b);
    let code = "";
    for (let i = 0; i < 16; i++) code = ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)]! + code;
    return code.match(/.{4}/g)!.join("-");
  });
}

/** A code as typed (any case, spaces or dashes) in its one form; "" when it cannot be a code. */
export function normalizeRecoveryCode(typed: string): string {
  const code = typed.toLowerCase().replace(/[\s-]/g, "").replace(/[il]/g, "1").replace(/o/g, "0");
  return /^[0-9a-hjkmnp-tv-z]{16}$/.test(code) ? code : "";
}

/** What is stored of a code: bound to its user, so one hash never matches another user's code. */
export function recoveryCodeHash(userId: string, normalized: string): string {
  return sha256(`recovery:${userId}:${normalized}`);
}
