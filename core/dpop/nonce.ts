/**
 * Server-provided DPoP nonces (RFC 9449 §8): when the server asks for them,
 * a proof must carry a nonce it gave, which bounds how long a proof made in
 * advance (by malware holding the key for a moment) stays usable. They are
 * stateless: a nonce is an HMAC of the project and a five-minute slot, keyed
 * by a secret derived from the project's current ES256 signing key, so every
 * worker and replica makes and accepts the same ones without storing any.
 * A nonce is good in its slot and the next (five to ten minutes); a key
 * rotation makes new ones, and a client holding an old one is simply told
 * the new one (`use_dpop_nonce`).
 */
import { createHmac } from "node:crypto";
import type { Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { constantEquals } from "../lib/crypto.js";
import type { ProjectRef } from "../store/types.js";

/** Seconds a nonce slot lasts. */
const SLOT = 300;

/** Secrets by signing key id: the private key is exported once per key. */
const secrets = new Map<string, Buffer>();

async function secretOf(deps: Deps, project: ProjectRef): Promise<Buffer> {
  const { kid, key } = await deps.keys.signing(project, "ES256");
  let secret = secrets.get(kid);
  if (secret === undefined) {
    const d = (key.export({ format: "jwk" }) as { d?: string }).d ?? "";
    secret = createHmac("sha256", "iam-core dpop-nonce").update(d).digest();
    if (secrets.size > 1000) secrets.clear();
    secrets.set(kid, secret);
  }
  return secret;
}

const nonceOf = (secret: Buffer, project: ProjectRef, slot: number): string =>
  `${slot.toString(36)}.${createHmac("sha256", secret).update(`${project.organization}\u0000${project.project}\u0000${slot}`).digest("base64url").slice(0, 22)}`;

/** The nonce the server gives now, for the project. */
export async function currentNonce(deps: Deps, project: ProjectRef): Promise<string> {
  return nonceOf(await secretOf(deps, project), project, Math.floor(epochSeconds(deps.clock) / SLOT));
}

/** Whether `nonce` is one the server gave for the project in this slot or the one before. */
export async function isCurrentNonce(deps: Deps, project: ProjectRef, nonce: unknown): Promise<boolean> {
  if (typeof nonce !== "string" || nonce.length > 64) return false;
  const secret = await secretOf(deps, project);
  const slot = Math.floor(epochSeconds(deps.clock) / SLOT);
  return constantEquals(nonce, nonceOf(secret, project, slot)) || constantEquals(nonce, nonceOf(secret, project, slot - 1));
}
