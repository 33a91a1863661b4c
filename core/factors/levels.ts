/**
 * How a sign-in was made, as tokens say it: `amr` values (RFC 8176) and the
 * `acr` (OpenID Connect Core §2) each level satisfies. iam-core has two
 * levels: a password (or anything less than two factors), and a
 * multi-factor sign-in.
 */
import type { FactorRecord } from "../store/types.js";

export const PASSWORD_ACR = "urn:iam-core:acr:password";
export const MFA_ACR = "urn:iam-core:acr:mfa";
/** The acr values iam-core can satisfy, weakest first (discovery's `acr_values_supported`). */
export const ACR_VALUES: readonly string[] = [PASSWORD_ACR, MFA_ACR];

export const PASSWORD_AMR: readonly string[] = ["pwd"];

/**
 * The `amr` of a factor: `otp` for a TOTP code or a recovery code (both
 * one-time passwords), `hwk` for a passkey bound to one device, `swk` for a
 * synced one (its key lives in software the user's account copies).
 */
export function factorAmr(factor: Pick<FactorRecord, "kind" | "deviceType"> | "recovery_code"): string {
  if (factor === "recovery_code" || factor.kind === "totp") return "otp";
  return factor.deviceType === "multiDevice" ? "swk" : "hwk";
}

/** The amr and acr of a sign-in completed by a second factor after `first` (["pwd"], or a session's). */
export function withSecondFactor(first: readonly string[], method: string): { amr: string[]; acr: string } {
  const amr = [...new Set([...first.filter((m) => m !== "mfa"), method, "mfa"])];
  return { amr, acr: MFA_ACR };
}

/** A passkey alone, the user verified by the authenticator (a PIN or biometric): itself two factors. */
export function passkeyOnly(method: string): { amr: string[]; acr: string } {
  return { amr: [method, "mfa"], acr: MFA_ACR };
}

/** Whether a sign-in of this `amr` was multi-factor. */
export const isMultiFactor = (amr: readonly string[]) => amr.includes("mfa");

/**
 * Whether the client asked for a multi-factor sign-in: `acr_values`
 * (voluntary, Core §3.1.2.1) or an essential `acr` claim (§5.5.1.1) whose
 * values name the multi-factor level and not the password one. A request
 * that accepts either is served by what the user has.
 */
export function asksMultiFactor(acrValues: readonly string[]): boolean {
  return acrValues.includes(MFA_ACR) && !acrValues.includes(PASSWORD_ACR);
}
