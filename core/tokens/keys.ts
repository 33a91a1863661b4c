import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import { epochSeconds } from "../lib/clock.js";
import type { ProjectRef, SigningKeyRecord, SigningKeyStore } from "../store/types.js";

/** A public JWK of an ES256 key (RFC 7518 §6.2.1). */
export interface PublicJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
  kid: string;
  alg: "ES256";
  use: "sig";
}

interface ProjectKeys {
  /** The store's change epoch read before the keys were: they are current while it has not moved. */
  epoch: number;
  signing: { kid: string; key: KeyObject };
  /** Each key with the time it stops verifying (Infinity for the current key). */
  verifying: Map<string, { key: KeyObject; until: number }>;
  jwks: { jwk: PublicJwk; until: number }[];
}

/** @see RFC 7638 §3.2: the thumbprint of an EC key covers crv, kty, x, y in that order. */
function thumbprint(jwk: { crv: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y });
  return createHash("sha256").update(canonical).digest("base64url");
}

/** Makes a new ES256 key pair for a project; its kid is its RFC 7638 thumbprint. */
export function generateSigningKey(ref: ProjectRef, createdAt: number): SigningKeyRecord {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const priv = privateKey.export({ format: "jwk" }) as { crv: string; x: string; y: string; d: string };
  const kid = thumbprint(priv);
  const pub: PublicJwk = { kty: "EC", crv: "P-256", x: priv.x, y: priv.y, kid, alg: "ES256", use: "sig" };
  return {
    organization: ref.organization,
    project: ref.project,
    kid,
    alg: "ES256",
    privateJwk: JSON.stringify({ ...pub, d: priv.d }),
    publicJwk: JSON.stringify(pub),
    createdAt,
    retiredAt: null,
    expiresAt: null,
  };
}

/**
 * The signing keys of every project, loaded from the store once and kept as
 * KeyObjects. Signing uses node:crypto directly (several times faster than
 * WebCrypto for ES256); verification of presented tokens goes through jose.
 */
export class KeyRing {
  readonly #store: SigningKeyStore;
  readonly #clock: Clock;
  readonly #cache = new Map<string, ProjectKeys>();

  constructor(store: SigningKeyStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Creates and stores the first (or a new current) key of a project. */
  async create(ref: ProjectRef, store: SigningKeyStore = this.#store): Promise<SigningKeyRecord> {
    const record = generateSigningKey(ref, epochSeconds(this.#clock));
    await store.addSigningKey(record);
    this.forget(ref);
    return record;
  }

  /** The key that signs the project's new tokens. */
  async signing(ref: ProjectRef): Promise<{ kid: string; key: KeyObject }> {
    const keys = await this.#load(ref);
    if (keys === undefined) throw new Error(`project ${ref.organization}/${ref.project} has no signing key`);
    return keys.signing;
  }

  /** The public key with this kid, if it belongs to the project and has not expired. */
  async verifying(ref: ProjectRef, kid: string): Promise<KeyObject | undefined> {
    const entry = (await this.#load(ref))?.verifying.get(kid);
    return entry !== undefined && entry.until > epochSeconds(this.#clock) ? entry.key : undefined;
  }

  /** The project's JWK Set, current key first, without expired keys; undefined for an unknown project. */
  async jwks(ref: ProjectRef): Promise<PublicJwk[] | undefined> {
    const now = epochSeconds(this.#clock);
    return (await this.#load(ref))?.jwks.filter((k) => k.until > now).map((k) => k.jwk);
  }

  /**
   * Rotates the project's signing key (RFC 7517 §5, RFC 8414 jwks_uri): a new
   * key signs from now on; the old one stays published, and verifying, until
   * the longest-lived token it may have signed has expired.
   */
  async rotate(ref: ProjectRef, store: SigningKeyStore = this.#store): Promise<{ kid: string; retired: string[]; retiredUntil: number }> {
    const now = epochSeconds(this.#clock);
    // The ID token lives as long as its access token; a minute of clock skew on top.
    const retiredUntil = now + Math.max(await store.maxAccessTokenTtl(ref), 600) + 60;
    const retired = await store.retireSigningKeys(ref, now, retiredUntil);
    const record = await this.create(ref, store);
    return { kid: record.kid, retired, retiredUntil };
  }

  /**
   * A project's keys are read again once the store's change epoch has moved,
   * so a rotation made by another process (the `iam` command, another worker
   * or replica) signs and verifies everywhere from the next request on.
   * Only loaded key sets are cached, never a load in flight: a load started
   * outside a transaction waits for it, and the transaction itself may need
   * the same keys. Two concurrent first loads both read; that is harmless.
   * Projects that do not exist are not remembered, so tokens naming made-up
   * projects cannot grow the cache.
   */
  async #load(ref: ProjectRef): Promise<ProjectKeys | undefined> {
    const key = cacheKey(ref);
    const cached = this.#cache.get(key);
    // Read before the keys: a change landing between the two reads the keys again next time.
    const epoch = await this.#store.getChangeEpoch();
    if (cached !== undefined && cached.epoch === epoch) return cached;
    const keys = await this.#read(ref, epoch);
    if (keys !== undefined) this.#cache.set(key, keys);
    return keys;
  }

  /** Drops what is cached of a project, after its keys changed or it was deleted. */
  forget(ref: ProjectRef): void {
    this.#cache.delete(cacheKey(ref));
  }

  async #read(ref: ProjectRef, epoch: number): Promise<ProjectKeys | undefined> {
    const records = await this.#store.listSigningKeys(ref);
    const current = records.find((r) => r.retiredAt === null);
    if (current === undefined) return undefined;
    const verifying = new Map<string, { key: KeyObject; until: number }>();
    const jwks: { jwk: PublicJwk; until: number }[] = [];
    for (const record of records) {
      const jwk = JSON.parse(record.publicJwk) as PublicJwk;
      const until = record.retiredAt === null ? Infinity : (record.expiresAt ?? 0);
      verifying.set(record.kid, { key: createPublicKey({ key: { ...jwk }, format: "jwk" }), until });
      jwks.push({ jwk, until });
    }
    const privateKey = createPrivateKey({ key: JSON.parse(current.privateJwk), format: "jwk" });
    return { epoch, signing: { kid: current.kid, key: privateKey }, verifying, jwks };
  }
}

function cacheKey(ref: ProjectRef): string {
  return `${ref.organization}\u0000${ref.project}`;
}

/**
 * Signs a JWS compact serialization with ES256 (RFC 7515 §7.1, RFC 7518 §3.4:
 * the signature is R || S, 64 bytes, hence `ieee-p1363`).
 */
export function signJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input =
    Buffer.from(JSON.stringify(header)).toString("base64url") +
    "." +
    Buffer.from(JSON.stringify(payload)).toString("base64url");
  const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${signature.toString("base64url")}`;
}
