/**
 * DPoP proofs (RFC 9449): the checks of §4.3 that need no storage. A proof
 * is a JWT the client signs with its own key for one HTTP request; what it
 * proves is possession of that key, named by its JWK thumbprint (RFC 7638),
 * to which tokens are then bound (`cnf.jkt`). Whether its `jti` was seen
 * before is the store's to say (replay.ts).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { KEY_OF_ALG, verifiesJws } from "../lib/jws.js";
import { sha256 } from "../lib/crypto.js";

/**
 * The signature algorithms a proof may use (`dpop_signing_alg_values_supported`),
 * in the order a client should prefer them (it takes the first it supports):
 * asymmetric only (§4.3 check 5), each with the one key type it signs with.
 * Ed25519 is EdDSA's fully specified name (RFC 9864). RS256 is kept for
 * clients whose platforms have nothing better; the FAPI 2.0 profile narrows
 * the list to PS256, ES256 and EdDSA.
 */
export const DPOP_ALGS = ["ES256", "PS256", "EdDSA", "Ed25519", "ES384", "PS384", "RS256"] as const;
export type DpopAlg = (typeof DPOP_ALGS)[number];

/**
 * Seconds a proof's `iat` may lie in the past: its jti is remembered for as
 * long. Five minutes, as certified servers allow: a device's clock may be
 * minutes off, and replay is stopped by the jti, not by the window.
 */
export const DPOP_MAX_AGE = 300;
/** Seconds a proof's `iat` may lie in the future: the client's clock running ahead. */
export const DPOP_CLOCK_SKEW = 60;

/** The longest proof read: a 4096-bit RSA key and a nonce fit several times. */
const MAX_PROOF_LENGTH = 8192;
/** Members that only a private key has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** What a proof must match: the request it came with, and the token it presents. */
export interface ProofExpectation {
  /** The request's method, upper case. */
  method: string;
  /** The request's URL as the server names it: compared without query and fragment (§4.3 check 9). */
  url: string;
  /** Now, in seconds since the epoch. */
  now: number;
  /** The access token the request presents (§7): the proof must carry its hash, `ath`. */
  accessToken?: string;
  /** The algorithms allowed here (a profile may narrow them). */
  algorithms?: readonly string[];
}

/** A proof that passed: its key's thumbprint, and what replay detection needs. */
export interface CheckedProof {
  /** The JWK SHA-256 thumbprint of the proof's key, base64url (RFC 7638 §3): `cnf.jkt`. */
  jkt: string;
  /** The proof's identifier, as the client chose it. */
  jti: string;
  /** When the proof was made (seconds). */
  iat: number;
  /** The nonce it carries (§8), for the caller to check when it requires one. */
  nonce: unknown;
}

/** Why a proof was refused: `use_dpop_nonce` when the only fault is a missing or stale nonce. */
export class DpopProofError extends Error {
  constructor(
    readonly error: "invalid_dpop_proof" | "use_dpop_nonce",
    message: string,
  ) {
    super(message);
    this.name = "DpopProofError";
  }
}

const refuse = (message: string): never => {
  throw new DpopProofError("invalid_dpop_proof", message);
};

/**
 * Checks a DPoP proof (RFC 9449 §4.3, checks 2 to 12; check 1, one header
 * only, is the caller's): a JWT of type `dpop+jwt`, signed with an allowed
 * asymmetric algorithm by the public key in its header, for this method and
 * URL, made within the last five minutes, with `ath` for a presented token.
 * The nonce it carries is the caller's to check (nonce.ts).
 */
export function checkProof(proof: string, expected: ProofExpectation): CheckedProof {
  if (proof.length === 0 || proof.length > MAX_PROOF_LENGTH) refuse("the DPoP proof is missing or too long");
  // Two DPoP headers arrive joined by a comma, which no JWT holds (§4.3 check 1: exactly one).
  if (proof.includes(",")) refuse("send exactly one DPoP header");
  const parts = proof.split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) refuse("the DPoP proof is not a JWT in compact form");
  const header = jsonPart(parts[0]!, "header");
  const claims = jsonPart(parts[1]!, "claims");

  if (header.typ !== "dpop+jwt") refuse("the DPoP proof's typ must be dpop+jwt");
  const algorithms = expected.algorithms ?? DPOP_ALGS;
  const alg = header.alg;
  if (typeof alg !== "string" || !algorithms.includes(alg)) refuse(`the DPoP proof's alg must be one of ${algorithms.join(", ")}`);
  const jwk = header.jwk;
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) refuse("the DPoP proof's header has no jwk");
  const key = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((member) => member in key)) refuse("the DPoP proof's jwk must be a public key");
  const { thumbprint, publicKey, remember } = importKey(key, alg as DpopAlg);
  if (!verifiesJws(alg as DpopAlg, publicKey, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2]!, "base64url"))) {
    refuse("the DPoP proof's signature does not verify with its jwk");
  }
  // Kept for the client's next proofs only once it has signed one: unsigned keys cannot push others out.
  remember();

  const { jti, htm, htu, iat } = claims;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 256) refuse("the DPoP proof's jti must be a string of 1 to 256 characters");
  if (htm !== expected.method) refuse(`the DPoP proof's htm must be ${expected.method}`);
  if (typeof htu !== "string" || !sameResource(htu, expected.url)) refuse(`the DPoP proof's htu must be ${withoutQuery(expected.url)}`);
  // RFC 7519 §2 NumericDate: seconds, fractions allowed.
  if (typeof iat !== "number" || !Number.isFinite(iat)) refuse("the DPoP proof's iat must be a number of seconds");
  if ((iat as number) > expected.now + DPOP_CLOCK_SKEW) refuse("the DPoP proof's iat is in the future");
  if ((iat as number) < expected.now - DPOP_MAX_AGE) refuse(`the DPoP proof is older than ${DPOP_MAX_AGE} seconds`);
  // Optional, but honoured when present (RFC 7519 §4.1.4, §4.1.5), with the same leeway.
  if (claims.exp !== undefined && !(typeof claims.exp === "number" && claims.exp > expected.now - DPOP_CLOCK_SKEW)) refuse("the DPoP proof has expired (exp)");
  if (claims.nbf !== undefined && !(typeof claims.nbf === "number" && claims.nbf <= expected.now + DPOP_CLOCK_SKEW)) refuse("the DPoP proof is not valid yet (nbf)");
  if (expected.accessToken !== undefined) {
    if (typeof claims.ath !== "string") refuse("the DPoP proof must carry ath, the hash of the access token it presents");
    if (claims.ath !== sha256(expected.accessToken)) refuse("the DPoP proof's ath is not the hash of the access token presented");
  }
  return { jkt: thumbprint, jti: jti as string, iat: Math.floor(iat as number), nonce: claims.nonce };
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    refuse(`the DPoP proof's ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) refuse(`the DPoP proof's ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The required members of each key type, in the lexicographic order of RFC 7638 §3.2. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = { EC: ["crv", "kty", "x", "y"], RSA: ["e", "kty", "n"], OKP: ["crv", "kty", "x"] };

/** Keys imported before, by thumbprint: a client signs every proof with the same key. */
const imported = new Map<string, KeyObject>();
const IMPORTED_MAX = 10_000;

/** The proof's key as a KeyObject, and its thumbprint; refused unless it is the key type of `alg`. */
function importKey(jwk: Record<string, unknown>, alg: DpopAlg): { thumbprint: string; publicKey: KeyObject; remember: () => void } {
  const wanted = KEY_OF_ALG[alg];
  if (jwk.kty !== wanted.kty || (wanted.crv !== undefined && jwk.crv !== wanted.crv)) {
    refuse(`the DPoP proof's jwk must be a ${wanted.kty}${wanted.crv === undefined ? "" : ` ${wanted.crv}`} key for ${alg}`);
  }
  const members = THUMBPRINT_MEMBERS[wanted.kty]!;
  if (members.some((m) => typeof jwk[m] !== "string" || (m !== "kty" && m !== "crv" && !/^[A-Za-z0-9_-]+$/.test(jwk[m] as string)))) {
    refuse("the DPoP proof's jwk lacks a member its key type requires");
  }
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, jwk[m]])));
  const thumbprint = sha256(canonical);
  const known = imported.get(thumbprint);
  if (known !== undefined) return { thumbprint, publicKey: known, remember: () => {} };
  // RSA: the usual public exponent only, and no more than 4096 bits; a huge one makes each check cost milliseconds.
  if (wanted.kty === "RSA" && (jwk.e !== "AQAB" || (jwk.n as string).length > 683)) refuse("the DPoP proof's RSA key must have the exponent 65537 and at most 4096 bits");
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: JSON.parse(canonical) as Record<string, string>, format: "jwk" });
  } catch {
    return refuse("the DPoP proof's jwk is not a valid public key");
  }
  if (wanted.kty === "RSA" && (publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) refuse("the DPoP proof's RSA key must have at least 2048 bits");
  const remember = () => {
    if (imported.size >= IMPORTED_MAX) imported.delete(imported.keys().next().value!);
    imported.set(thumbprint, publicKey);
  };
  return { thumbprint, publicKey, remember };
}

/** A URL without its query and fragment, scheme and host in lower case, the default port left out (§4.3 check 9, RFC 3986 §6.2). */
function withoutQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

function sameResource(htu: string, url: string): boolean {
  try {
    // User information has no place in an htu (RFC 9110 §4.2.4 deprecates it), and would be dropped by the comparison.
    const parsed = new URL(htu);
    if (parsed.username !== "" || parsed.password !== "") return false;
    return withoutQuery(htu) === withoutQuery(url);
  } catch {
    return false;
  }
}
