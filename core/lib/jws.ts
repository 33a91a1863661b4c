/**
 * The signature check of a compact JWS (RFC 7515 §5.2) over node:crypto,
 * for the asymmetric algorithms of RFC 7518 §3 and RFC 8037 that iam-core
 * verifies in JWTs it did not make: DPoP proofs and client assertions. It
 * takes a KeyObject the caller imported once and checked against `alg`; a
 * call is one OpenSSL verification, without the per-call key conversion of
 * a WebCrypto-based library (several times the verification's own cost).
 */
import { constants, verify, type KeyObject } from "node:crypto";

export const VERIFIED_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;
export type VerifiedAlg = (typeof VERIFIED_ALGS)[number];

/** The key type (and curve) each algorithm verifies with (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864 §2.2). */
export const KEY_OF_ALG: Readonly<Record<VerifiedAlg, { kty: "RSA" | "EC" | "OKP"; crv?: string }>> = {
  ES256: { kty: "EC", crv: "P-256" },
  ES384: { kty: "EC", crv: "P-384" },
  ES512: { kty: "EC", crv: "P-521" },
  PS256: { kty: "RSA" },
  PS384: { kty: "RSA" },
  PS512: { kty: "RSA" },
  RS256: { kty: "RSA" },
  RS384: { kty: "RSA" },
  RS512: { kty: "RSA" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
  Ed25519: { kty: "OKP", crv: "Ed25519" },
};

/** Whether `alg` is one of VERIFIED_ALGS. */
export const isVerifiedAlg = (alg: string): alg is VerifiedAlg => Object.hasOwn(KEY_OF_ALG, alg);

const HASH = { 256: "sha256", 384: "sha384", 512: "sha512" } as const;

/** Whether `signature` is `key`'s signature of `input` under `alg` (an algorithm not listed is never verified). */
export function verifiesJws(alg: string, key: KeyObject, input: string, signature: Buffer): boolean {
  const data = Buffer.from(input);
  if (alg === "EdDSA" || alg === "Ed25519") return verify(null, data, key, signature);
  const family = alg.slice(0, 2);
  const bits = Number(alg.slice(2)) as keyof typeof HASH;
  const hash = HASH[bits];
  if (hash === undefined || !isVerifiedAlg(alg)) return false;
  switch (family) {
    case "ES":
      // RFC 7518 §3.4: R and S concatenated, not DER.
      return verify(hash, data, { key, dsaEncoding: "ieee-p1363" }, signature);
    case "PS":
      // RFC 7518 §3.5: MGF1 with the same hash, a salt as long as the hash.
      return verify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 }, signature);
    case "RS":
      return verify(hash, data, key, signature);
    default:
      return false;
  }
}
