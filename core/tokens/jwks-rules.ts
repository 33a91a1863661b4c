import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto";
import type { JSONWebKeySet, JWK } from "jose";
import { nonPublicHost } from "../lib/network-address.js";
import { isVerifiedAlg, KEY_OF_ALG, VERIFIED_ALGS } from "../lib/jws.js";
import { checkOutboundUri, invalid } from "../rpc/admin/validate.js";

/**
 * What a client may register as the keys that verify its private_key_jwt
 * assertions (RFC 7523 §2.2, OpenID Connect Core §9): a JWK Set (RFC 7517
 * §5) given inline (`jwks`) or at a URL (`jwks_uri`), RFC 7591 §2. Only
 * public signature keys of the types iam-core verifies are accepted, so that
 * a shared secret or a private key pasted by mistake is refused at
 * registration rather than stored.
 */

/** Largest JWK Set read, registered or fetched: 20 RSA keys of 4096 bits fit with room to spare. */
export const MAX_JWKS_BYTES = 64 * 1024;
/** Most keys in one set: a current key, the next, and old ones kept during rotation. */
export const MAX_JWKS_KEYS = 20;

/** The operator option that lets jwks_uri reach loopback and private networks. */
export const JWKS_URI_PRIVATE_NETWORKS_OPTION = "IAM_JWKS_URI_PRIVATE_NETWORKS";

/** The signature algorithms a client's key may verify: asymmetric only (RFC 7523 §3 item 9 leaves MACs to shared secrets). */
export const CLIENT_KEY_ALGS: readonly string[] = VERIFIED_ALGS;

/** Whether `alg` is one of CLIENT_KEY_ALGS. */
export const isClientKeyAlg = isVerifiedAlg;

/** Whether a key's type (and curve) is the one `alg` signs with. */
export function keyFitsAlg(jwk: JWK, alg: string): boolean {
  const wanted = isClientKeyAlg(alg) ? KEY_OF_ALG[alg]! : undefined;
  return wanted !== undefined && jwk.kty === wanted.kty && (wanted.crv === undefined || jwk.crv === wanted.crv);
}

/** Members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const CURVES: Record<string, readonly string[]> = { EC: ["P-256", "P-384", "P-521"], OKP: ["Ed25519"] };

/** One key of a set: as registered, and imported once. */
export interface ClientKey {
  jwk: JWK;
  key: KeyObject;
}

/**
 * A registered `jwks` value as a JWK Set, each key checked and imported;
 * throws an Error whose message names the fault (and the key, by its place
 * in `keys`). Called to validate a registration, and on every set fetched
 * from a jwks_uri.
 */
export function parseClientJwks(json: string): JSONWebKeySet {
  return { keys: readKeySet(json).map(({ jwk }) => jwk) };
}

/** parseClientJwks, with each key imported (node:crypto, as the DPoP proofs' keys are). */
export function readKeySet(json: string): ClientKey[] {
  if (Buffer.byteLength(json) > MAX_JWKS_BYTES) throw new Error(`jwks must be at most ${MAX_JWKS_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error("jwks is not JSON");
  }
  const keys = isObject(value) ? value.keys : undefined;
  if (!Array.isArray(keys)) throw new Error('jwks must be a JSON object with a "keys" array (RFC 7517 §5)');
  if (keys.length === 0) throw new Error("jwks must hold at least one key");
  if (keys.length > MAX_JWKS_KEYS) throw new Error(`jwks must hold at most ${MAX_JWKS_KEYS} keys`);
  const kids = new Map<string, number>();
  return keys.map((jwk: unknown, i) => {
    const checked = checkKey(jwk, `jwks key ${i}`);
    if (checked.jwk.kid !== undefined) {
      const earlier = kids.get(checked.jwk.kid);
      if (earlier !== undefined) throw new Error(`jwks keys ${earlier} and ${i} have the same kid; each kid must name one key`);
      kids.set(checked.jwk.kid, i);
    }
    return checked;
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One key's rules, in the order a mistake is most likely met; `at` names it in the refusal. */
function checkKey(value: unknown, at: string): ClientKey {
  if (!isObject(value)) throw new Error(`${at} is not a JSON object`);
  const jwk = value as JWK;
  const secret = PRIVATE_MEMBERS.find((member) => member in value);
  if (secret !== undefined) throw new Error(`${at} is a private or secret key (it has "${secret}"): register public keys only`);
  if (jwk.kty === "oct") throw new Error(`${at}: kty oct (a shared secret) cannot verify private_key_jwt; register an RSA, EC or OKP public key`);
  if (jwk.kty !== "RSA" && jwk.kty !== "EC" && jwk.kty !== "OKP") {
    throw new Error(`${at}: kty must be RSA, EC (P-256, P-384, P-521) or OKP (Ed25519)`);
  }
  const curves = CURVES[jwk.kty];
  if (curves !== undefined && !curves.includes(jwk.crv as string)) throw new Error(`${at}: an ${jwk.kty} key's crv must be ${curves.join(", ")}`);
  if (jwk.kty === "RSA" && jwk.e !== "AQAB") throw new Error(`${at}: an RSA key's exponent e must be AQAB (65537)`);
  // RFC 7517 §4.2, §4.3: a key for signatures, verifying.
  if (jwk.use !== undefined && jwk.use !== "sig") throw new Error(`${at}: use must be sig`);
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.every((op) => typeof op === "string") && jwk.key_ops.includes("verify"))) {
    throw new Error(`${at}: key_ops must be an array of strings that includes verify`);
  }
  if (jwk.kid !== undefined && typeof jwk.kid !== "string") throw new Error(`${at}: kid must be a string`);
  if (jwk.alg !== undefined) {
    if (typeof jwk.alg !== "string" || !isClientKeyAlg(jwk.alg)) throw new Error(`${at}: alg must be one of ${CLIENT_KEY_ALGS.join(", ")}`);
    if (!keyFitsAlg(jwk, jwk.alg)) throw new Error(`${at}: alg ${jwk.alg} does not sign with an ${describeKey(jwk)} key`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch {
    throw new Error(`${at} is not a valid ${describeKey(jwk)} public key`);
  }
  if (jwk.kty === "RSA") {
    // Fewer bits are breakable (RFC 7518 §3.3: 2048 at least); more make each verification cost milliseconds.
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048 || bits > 4096) throw new Error(`${at}: an RSA key must have 2048 to 4096 bits, not ${bits}`);
  }
  return { jwk, key };
}

/** "EC P-256", "RSA", as a refusal names a key. */
export function describeKey(jwk: JWK): string {
  return jwk.crv === undefined ? String(jwk.kty) : `${jwk.kty} ${jwk.crv}`;
}

/**
 * RFC 7591 §2: a jwks_uri a client may register, where iam-core fetches its
 * keys: an absolute URL with no fragment, white space or credentials. The
 * server itself makes the request, from inside the operator's network, to a
 * URL a project administrator chose, so the rule is back-channel logout's
 * (rpc/admin/validate.ts): unless the operator allows private networks,
 * `https` to a host that is not `localhost` nor an IP literal of a loopback,
 * private, link-local, unique-local, shared or reserved address (names are
 * checked again against what they resolve to at each fetch); with them
 * allowed, `https` anywhere or `http` on a loopback host. Throws
 * INVALID_ARGUMENT naming the fault.
 */
export function checkJwksUri(value: string, privateNetworks: boolean): string {
  return checkOutboundUri("jwks_uri", value, privateNetworks, { purpose: "fetches keys", option: JWKS_URI_PRIVATE_NETWORKS_OPTION });
}
