/**
 * private_key_jwt client authentication (RFC 7523 §2.2 and §3, OpenID
 * Connect Core §9): the client signs a short-lived JWT about itself with a
 * private key whose public half it registered (`jwks` or `jwks_uri`).
 *
 * What iam-core asks of an assertion, beyond the RFC's minimum:
 * - `aud` is one string, compared exactly: the issuer identifier; or, but
 *   for a FAPI 2.0 client, the token endpoint's URL (OpenID Connect Core
 *   §9, RFC 7523 §3, what the OpenID Foundation's conformance suite sends
 *   outside FAPI) or the URL of the endpoint called (RFC 9126 §2). FAPI 2.0
 *   Security Profile Final §5.3.2.1 item 8 and RFC 7523's update allow the
 *   issuer alone: endpoint URLs as audiences let a malicious authorization
 *   server, naming this one's endpoint as its own, obtain an assertion it
 *   can replay here. An array is refused: an assertion for several
 *   audiences is one each of them could replay.
 * - `jti` is required (OpenID Connect Core §9) and accepted once, across
 *   every worker and replica (the store's single-use record).
 * - `exp` is required and at most MAX_LIFETIME ahead, so a leaked
 *   assertion is good for minutes, and its jti record is bounded.
 * - `iat` and `nbf`, when present, at most CLOCK_SKEW ahead (FAPI 2.0
 *   §5.3.2.1 item 13: 10 s accepted, over 60 s refused).
 * - `typ`, when present, `JWT` or `client-authentication+jwt`: a DPoP
 *   proof, an ID token or an access token is not an assertion.
 * - only asymmetric algorithms (no client_secret_jwt), and under FAPI 2.0
 *   only PS256, ES256 and EdDSA (§5.4.1).
 * Every refusal is `invalid_client` (RFC 7523 §3.2).
 */
import type { KeyObject } from "node:crypto";
import type { Deps } from "../deps.js";
import { issuerOf } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import { verifiesJws } from "../lib/jws.js";
import type { ClientRecord } from "../store/types.js";
import { ClientKeysError } from "./client-jwks.js";
import { assertionAlgorithms, isFapi2 } from "./profile.js";

/** The endpoints that authenticate clients, by their path under the issuer. */
export type ClientEndpoint = "token" | "par" | "introspect" | "revoke";

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT assertion. */
export const JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Seconds an assertion may be valid for, from now. */
export const MAX_LIFETIME = 300;
/** Seconds an iat or nbf may be ahead of iam-core's clock (FAPI 2.0 §5.3.2.1 item 13). */
export const CLOCK_SKEW = 60;
/** Seconds an assertion is still taken after its exp, for a client whose clock runs a little behind. */
const EXPIRY_LEEWAY = 10;
/** An assertion's size: a signed JWT with a 4096-bit RSA signature is well under it. */
const MAX_LENGTH = 8192;
/** Seconds a jti record outlives the assertion: a replica whose clock runs behind must still find it. */
const RECORD_MARGIN = 120;

/** `typ` values taken, lower case: a media type, with or without its `application/` (RFC 7515 §4.1.9). */
const TYPES = new Set(["jwt", "client-authentication+jwt", "application/jwt", "application/client-authentication+jwt"]);

/** A refusal of the assertion, with what the client may be told. */
export class AssertionRefused extends Error {}

const refuse = (message: string): never => {
  throw new AssertionRefused(message);
};

/**
 * An assertion read once, before anything is checked: its three parts, its
 * header and its claims. The claims read here are the bytes the signature
 * covers, so once it verifies they are the client's.
 */
export interface ReadAssertion {
  parts: [string, string, string];
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `sub` (RFC 7523 §3 item 2): the client whose keys to look in, not yet proven. */
  clientId: string;
}

/** Reads a compact JWS assertion (RFC 7515 §7.1); throws AssertionRefused when it is not one, or names no client. */
export function readAssertion(assertion: string): ReadAssertion {
  if (assertion.length > MAX_LENGTH) refuse(`the client assertion is longer than ${MAX_LENGTH} characters`);
  const parts = assertion.split(".");
  if (parts.length !== 3 || parts[2] === "" || parts.some((part) => !/^[A-Za-z0-9_-]*$/.test(part))) refuse("the client assertion is not a signed JWT in compact form");
  const [header, claims] = [jsonObject(parts[0]!, "header"), jsonObject(parts[1]!, "claims")];
  if (typeof claims.sub !== "string" || claims.sub === "") refuse("the client assertion has no sub: it must be the client_id");
  return { parts: parts as [string, string, string], header, claims, clientId: claims.sub as string };
}

/** Verifies the assertion as `client`'s, for the project's endpoints, and records its jti; throws AssertionRefused. */
export async function verifyClientAssertion(deps: Deps, client: ClientRecord, assertion: ReadAssertion, endpoint: ClientEndpoint): Promise<void> {
  const { header, claims, parts } = assertion;
  const algorithms = assertionAlgorithms(client);
  if (typeof header.alg !== "string" || !algorithms.includes(header.alg)) refuse(`the client assertion's alg must be one of ${algorithms.join(", ")}`);
  if (header.typ !== undefined && !(typeof header.typ === "string" && TYPES.has(header.typ.toLowerCase()))) {
    refuse("the client assertion's typ must be JWT or client-authentication+jwt");
  }
  if (header.crit !== undefined) refuse("the client assertion names critical header parameters iam-core does not know");

  let key: KeyObject;
  try {
    key = await deps.clientKeys.keyFor(client, { alg: header.alg as string, ...(typeof header.kid === "string" ? { kid: header.kid } : {}) });
  } catch (err) {
    if (err instanceof ClientKeysError) return refuse(err.message);
    throw err;
  }
  // RFC 7515 §5.2 over node:crypto (lib/jws.ts): the key's signature of the first two parts, with the header's algorithm.
  if (!signedBy(header.alg as string, key, parts)) refuse("the client assertion's signature does not verify with the client's keys");
  const issuer = issuerOf(deps.config.baseUrl, client);
  checkClaims(claims, client, audiencesOf(client, issuer, endpoint), epochSeconds(deps.clock));
  const record = sha256(`client-assertion\u0000${client.organization}\u0000${client.project}\u0000${client.id}\u0000${claims.jti as string}`);
  if (!(await deps.store.recordSingleUse(record, Math.ceil(claims.exp as number) + EXPIRY_LEEWAY + RECORD_MARGIN))) {
    refuse("the client assertion was used before: make a new one, with a new jti, for each request");
  }
}

function signedBy(alg: string, key: KeyObject, parts: string[]): boolean {
  try {
    return verifiesJws(alg, key, `${parts[0]}.${parts[1]}`, Buffer.from(parts[2]!, "base64url"));
  } catch {
    // A signature of the wrong size or shape for the key: not its signature.
    return false;
  }
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    return refuse(`the client assertion's ${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) refuse(`the client assertion's ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The audiences an assertion to `endpoint` may name: the issuer first (the only one under FAPI 2.0). */
function audiencesOf(client: ClientRecord, issuer: string, endpoint: ClientEndpoint): string[] {
  return isFapi2(client) ? [issuer] : [issuer, `${issuer}/token`, `${issuer}/${endpoint}`];
}

/** RFC 7523 §3 and OpenID Connect Core §9, as the file's comment tightens them. */
function checkClaims(claims: Record<string, unknown>, client: ClientRecord, audiences: string[], now: number): void {
  if (claims.iss !== client.id) refuse("the client assertion's iss must be the client_id");
  if (claims.sub !== client.id) refuse("the client assertion's sub must be the client_id");
  if (typeof claims.aud !== "string" || !audiences.includes(claims.aud)) {
    refuse(`the client assertion's aud must be the issuer, ${audiences[0]}, as a single string${audiences.length > 1 ? " (or the token endpoint's URL)" : ""}`);
  }
  const { jti, exp, iat, nbf } = claims;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > 256) refuse("the client assertion's jti must be a string of 1 to 256 characters");
  if (typeof exp !== "number" || !Number.isFinite(exp)) refuse("the client assertion must carry exp, a number of seconds");
  if ((exp as number) <= now - EXPIRY_LEEWAY) refuse("the client assertion has expired");
  if ((exp as number) > now + MAX_LIFETIME + CLOCK_SKEW) refuse(`the client assertion must expire within ${MAX_LIFETIME} seconds`);
  for (const [name, value] of [["iat", iat], ["nbf", nbf]] as const) {
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value)) refuse(`the client assertion's ${name} must be a number of seconds`);
    if ((value as number) > now + CLOCK_SKEW) refuse(`the client assertion's ${name} is in the future`);
  }
}
