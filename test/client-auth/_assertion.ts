/**
 * private_key_jwt as a client makes it (jose, as client libraries do): a
 * key pair registered as the client's JWK Set, and assertions signed with
 * it, every header member and claim replaceable or removable to make them
 * wrong on purpose.
 */
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { ISSUER } from "../core/flow.js";
import type { ClientRecord } from "../../core/store/types.js";
import { seedClient, type TestServer } from "../helpers.js";

export const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

export interface ClientKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** A key pair of the client's for `alg`, with a kid. */
export async function clientKey(alg = "ES256", kid: string = randomUUID()): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: "sig" } };
}

/** The JWK Set of `keys` as registered (`jwks`). */
export const jwksOf = (...keys: ClientKey[]): string => JSON.stringify({ keys: keys.map((k) => k.publicJwk) });

export interface AssertionOptions {
  /** Claims to set (or, with `undefined`, remove) over iss, sub, aud, jti, iat, exp. */
  claims?: Record<string, unknown>;
  /** Header members to set (or remove) over alg and kid. */
  header?: Record<string, unknown>;
  /** Seconds since the epoch it is made at (default: the server's clock). */
  now?: number;
}

/** An assertion of `clientId`, for the default project's issuer, made at the server's clock. */
export const assertion = (s: TestServer, clientId: string, key: ClientKey, options: AssertionOptions = {}): Promise<string> =>
  assertionFor(ISSUER, clientId, key, { ...options, now: options.now ?? Math.floor(s.clock.now() / 1000) });

/** An assertion of `clientId` for `issuer` (its `aud`, RFC 7523 §3 item 3), made at `options.now`, else now. */
export async function assertionFor(issuer: string, clientId: string, key: ClientKey, options: AssertionOptions = {}): Promise<string> {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: clientId, sub: clientId, aud: issuer, jti: randomUUID(), iat: now, exp: now + 60, ...options.claims };
  const header: Record<string, unknown> = { alg: key.alg, kid: key.kid, ...options.header };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name];
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** The form parameters that authenticate by `assertionValue`. */
export const byAssertion = (assertionValue: string): Record<string, string> => ({ client_assertion_type: JWT_BEARER, client_assertion: assertionValue });

/** A confidential client of the default project that authenticates by private_key_jwt with `keys`. */
export async function seedKeyClient(s: TestServer, id: string, keys: ClientKey[], over: Partial<ClientRecord> = {}) {
  return seedClient(s.core, {
    id,
    type: "confidential",
    secretHash: null,
    tokenEndpointAuthMethod: "private_key_jwt",
    jwks: jwksOf(...keys),
    grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
    redirectUris: ["https://keys.example/cb"],
    ...over,
  });
}
