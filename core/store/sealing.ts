import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import type { AuditEventInput } from "./types.js";

/**
 * Encryption of private signing keys at rest: AES-256-GCM under a key
 * encryption key (KEK) from the environment, bound to the key's kid (as
 * associated data, so a sealed key cannot be moved to another row). Stored
 * as `enc:v1:{kek id}:{base64url(iv | ciphertext | tag)}`; the KEK id is the
 * first 8 bytes of its SHA-256, so a wrong KEK is named, not guessed at.
 * A plaintext JWK (a database from before a KEK was set) is read as it is,
 * and sealed at the next start with a KEK.
 */
export interface KeySealer {
  /** Whether new and existing private keys are encrypted. */
  readonly sealing: boolean;
  seal(kid: string, privateJwk: string): string;
  open(kid: string, stored: string): string;
  /** Whether a stored value should be written again: plaintext, or sealed under the previous KEK. */
  stale(stored: string): boolean;
  /** The current KEK's id (the first 8 bytes of its SHA-256, in hex); "" without a KEK. */
  readonly kekId: string;
}

/** The id of the KEK a stored private key is sealed under; "" for a plaintext one. */
export function sealedUnder(stored: string): string {
  return stored.startsWith(PREFIX) ? (stored.slice(PREFIX.length).split(":")[0] ?? "") : "";
}

/**
 * The audit event of keys sealed again at start (a KEK set for the first
 * time, or a new one): in the server's chain, by the server, naming the keys
 * and the KEK ids before and after (an id is a fingerprint, not the key).
 * Written in the transaction that re-encrypts them.
 */
export function resealedEvent(
  resealed: { kid: string; stored: string }[],
  sealer: KeySealer,
  timeMs: number,
  /** TOTP secrets sealed again with them (their factors' seal ids, rows.ts factorSealId). */
  factors: { kid: string; stored: string }[] = [],
): AuditEventInput {
  const from = [...new Set([...resealed, ...factors].map((r) => sealedUnder(r.stored)))].sort();
  return {
    organization: "",
    project: "",
    timeMs,
    action: "SIGNING_KEYS_RESEALED",
    outcome: "success",
    reason: "",
    actor: { kind: "server", id: "", project: "" },
    target: null,
    clientAddress: "",
    userAgent: "",
    requestId: "",
    changes: [
      { field: "kek_id", before: JSON.stringify(from.length === 1 ? from[0] : from), after: JSON.stringify(sealer.kekId) },
      { field: "kids", before: "", after: JSON.stringify(resealed.map((r) => r.kid)) },
      ...(factors.length > 0 ? [{ field: "factors", before: "", after: JSON.stringify(factors.map((f) => f.kid)) }] : []),
    ],
    grantType: "",
    scopes: [],
  };
}

const PREFIX = "enc:v1:";

export class KeyEncryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyEncryptionError";
  }
}

/** What a sealed value is, for messages: a factor's TOTP secret (rows.ts factorSealId), or a private signing key. */
const what = (kid: string) => (kid.startsWith("factor:") ? "TOTP secret of" : "private key");
const kekId = (kek: Buffer) => createHash("sha256").update(kek).digest("hex").slice(0, 16);
const aad = (kid: string) => Buffer.from(`iam-core signing key ${kid}`);

export function createKeySealer(current?: Buffer, previous?: Buffer): KeySealer {
  const keks = new Map<string, Buffer>();
  if (current !== undefined) keks.set(kekId(current), current);
  if (previous !== undefined) keks.set(kekId(previous), previous);
  const currentId = current === undefined ? undefined : kekId(current);
  return {
    sealing: current !== undefined,
    kekId: currentId ?? "",
    seal(kid, privateJwk) {
      if (current === undefined) return privateJwk;
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", current, iv).setAAD(aad(kid));
      const body = Buffer.concat([iv, cipher.update(privateJwk, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `${PREFIX}${currentId}:${body.toString("base64url")}`;
    },
    open(kid, stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      const [id, encoded] = stored.slice(PREFIX.length).split(":");
      const kek = keks.get(id ?? "");
      if (kek === undefined) {
        throw new KeyEncryptionError(
          `the ${what(kid)} ${kid} is encrypted with key ${id}, which is not configured: set IAM_KEY_ENCRYPTION_KEY (and IAM_KEY_ENCRYPTION_KEY_PREVIOUS while changing it)`,
        );
      }
      const body = Buffer.from(encoded ?? "", "base64url");
      try {
        const decipher = createDecipheriv("aes-256-gcm", kek, body.subarray(0, 12)).setAAD(aad(kid));
        decipher.setAuthTag(body.subarray(body.length - 16));
        return Buffer.concat([decipher.update(body.subarray(12, body.length - 16)), decipher.final()]).toString("utf8");
      } catch {
        throw new KeyEncryptionError(`the ${what(kid)} ${kid} does not decrypt: the database row was altered or moved`);
      }
    },
    stale(stored) {
      if (currentId === undefined) return false;
      return !stored.startsWith(`${PREFIX}${currentId}:`);
    },
  };
}

/** Reads a KEK from its environment form: 32 bytes in base64 or base64url. */
export function parseKek(raw: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) return undefined;
  const key = Buffer.from(raw.replace(/\+/g, "-").replace(/\//g, "_").replace(/=$/, ""), "base64url");
  return key.length === 32 ? key : undefined;
}

/** The sealer of a configuration's IAM_KEY_ENCRYPTION_KEY and IAM_KEY_ENCRYPTION_KEY_PREVIOUS (base64, unset for none): the servers' and the copy commands' alike. */
export function configuredSealer(keys: { keyEncryptionKey?: string | undefined; keyEncryptionKeyPrevious?: string | undefined }): KeySealer {
  const kek = (raw: string | undefined) => (raw === undefined ? undefined : parseKek(raw));
  return createKeySealer(kek(keys.keyEncryptionKey), kek(keys.keyEncryptionKeyPrevious));
}
