import { hash, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto";

/**
 * Random bytes are drawn from the operating system's generator 4 KiB at a
 * time and handed out in order, each byte once: one call into OpenSSL for
 * about a hundred tokens instead of one each (it was a twentieth of the cost
 * of issuing an access token). A new buffer is drawn when one runs out, so
 * bytes already handed out are never written again.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

function randomSlice(bytes: number): Buffer {
  if (bytes > POOL_BYTES) return randomBytes(bytes);
  if (used + bytes > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    used = 0;
  }
  const slice = pool.subarray(used, used + bytes);
  used += bytes;
  return slice;
}

/** A 256-bit random value, base64url: codes, refresh tokens, request ids. */
export function randomToken(bytes = 32): string {
  return randomSlice(bytes).toString("base64url");
}

/** SHA-256 of a string, base64url: how codes, refresh tokens and request ids are stored. */
export function sha256(value: string): string {
  // The one-shot form: half the cost of a Hash object, on every request.
  return hash("sha256", value, "base64url");
}

/** SHA-256 of a string, as its 32 bytes: what is kept to compare a secret presented again (sameDigest). */
export function sha256Digest(value: string): Buffer {
  return hash("sha256", value, "buffer");
}

/** Whether two SHA-256 digests are equal, in time that depends on neither (both are 32 bytes). */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return timingSafeEqual(a, b);
}

/**
 * Compares two strings in time that depends on neither content nor length:
 * both sides are hashed first, so the comparison always covers 32 bytes.
 */
export function constantEquals(a: string, b: string): boolean {
  return sameDigest(sha256Digest(a), sha256Digest(b));
}
