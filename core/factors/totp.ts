/**
 * TOTP (RFC 6238 over RFC 4226's HOTP), with the parameters every
 * authenticator app supports: SHA-1, six digits, 30-second steps, a 160-bit
 * secret. A code of the current step or of one step either side is
 * accepted (§5.2's allowance for clock drift and typing time); the step it
 * matched is what the store keeps, so a code is accepted once.
 */
import { Secret, TOTP } from "otpauth";

const PERIOD = 30;
const DIGITS = 6;
/** Steps either side of now whose codes are accepted. */
export const TOTP_WINDOW = 1;

/** A new secret, base32 (RFC 4648), 160 bits as RFC 4226 §4 recommends. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The `otpauth://` URI an authenticator app reads from a QR code (Google Authenticator's key URI format). */
export function totpUri(secret: string, issuer: string, account: string): string {
  return new TOTP({ issuer, label: account, secret: Secret.fromBase32(secret), period: PERIOD, digits: DIGITS, algorithm: "SHA1" }).toString();
}

/**
 * The time step a code is valid for at `nowMs`, within the window; undefined
 * for a code that matches none (or is not six digits).
 */
export function totpStep(secret: string, code: string, nowMs: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const delta = TOTP.validate({ token: code, secret: Secret.fromBase32(secret), period: PERIOD, digits: DIGITS, algorithm: "SHA1", timestamp: nowMs, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return TOTP.counter({ period: PERIOD, timestamp: nowMs }) + delta;
}

/** The code of a secret at a time: for tests and the documentation's examples. */
export function totpCode(secret: string, nowMs: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), period: PERIOD, digits: DIGITS, algorithm: "SHA1", timestamp: nowMs });
}
