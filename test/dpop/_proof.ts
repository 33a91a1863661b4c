/**
 * DPoP proofs as a client makes them (jose, as client libraries do), and
 * made wrong on purpose: every header and claim can be replaced or removed.
 */
import { createHash, randomUUID, sign as signWith } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";

export interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A key pair of the client's, for `alg`. */
export async function proofKey(alg = "ES256", options: { modulusLength?: number } = {}): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(options.modulusLength === undefined ? {} : { modulusLength: options.modulusLength }) });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey) };
}

/** The RFC 7638 thumbprint of a public JWK, base64url. */
export async function thumbprintOf(jwk: JWK): Promise<string> {
  const { calculateJwkThumbprint } = await import("jose");
  return calculateJwkThumbprint(jwk, "sha256");
}

/** base64url(SHA-256(token)): the `ath` of a proof presenting `token`. */
export const athOf = (token: string): string => createHash("sha256").update(token).digest("base64url");

export interface ProofOptions {
  method?: string;
  /** Claims to set (or, with `undefined`, remove) over the defaults: jti, htm, htu, iat. */
  claims?: Record<string, unknown>;
  /** Header members to set (or remove) over the defaults: typ, alg, jwk. */
  header?: Record<string, unknown>;
  /** Seconds since the epoch of `iat` (default now). */
  now?: number;
}

/** A proof for `method` `url`, signed by `key`. */
export async function makeProof(key: ProofKey, url: string, options: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: randomUUID(),
    htm: options.method ?? "POST",
    htu: url,
    iat: options.now ?? Math.floor(Date.now() / 1000),
    ...options.claims,
  };
  const header: Record<string, unknown> = { typ: "dpop+jwt", alg: key.alg, jwk: key.publicJwk, ...options.header };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** A proof whose signature is made up: for the checks that come before the signature's. */
export function forgedProof(header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part(header)}.${part(claims)}.${Buffer.from("not a signature").toString("base64url")}`;
}

/** A proof signed with node:crypto as given (RS256 only): for keys jose itself refuses to use. */
export function rsaSignedProof(privateKey: import("node:crypto").KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${signWith("sha256", Buffer.from(input), privateKey).toString("base64url")}`;
}
