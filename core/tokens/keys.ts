import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from "node:crypto";
import { promisify } from "node:util";
import type { Clock } from "../lib/clock.js";
import { epochSeconds } from "../lib/clock.js";
import { auditEvent, party, projectName } from "../audit/record.js";
import type { AuditStore, ProjectRef, SigningAlg, SigningKeyRecord, SigningKeyStore } from "../store/types.js";

/** Every algorithm a project signs with; each has a current key. */
export const SIGNING_ALGS: readonly SigningAlg[] = ["ES256", "RS256"];

/** A public JWK of an ES256 key (RFC 7518 §6.2.1). */
export interface EcPublicJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
  kid: string;
  alg: "ES256";
  use: "sig";
}

/** A public JWK of an RS256 key (RFC 7518 §6.3.1). */
export interface RsaPublicJwk {
  kty: "RSA";
  n: string;
  e: string;
  kid: string;
  alg: "RS256";
  use: "sig";
}

export type PublicJwk = EcPublicJwk | RsaPublicJwk;

/** A key that signs a project's new tokens. */
export interface SigningKey {
  kid: string;
  key: KeyObject;
  alg: SigningAlg;
}

/** A key that verifies a project's tokens, and the one algorithm it verifies. */
export interface VerifyingKey {
  key: KeyObject;
  alg: SigningAlg;
}

/** What a KeyRing needs of the store: the keys, and a transaction to add a missing one with its audit event. */
export type KeyStore = SigningKeyStore & {
  transaction<T>(fn: (store: SigningKeyStore & Pick<AuditStore, "appendAuditEvent">) => Promise<T>): Promise<T>;
};

interface ProjectKeys {
  /** The store's change epoch read before the keys were: they are current while it has not moved. */
  epoch: number;
  /** The current key of each algorithm; one may be missing in a database made before RS256 keys. */
  signing: Map<SigningAlg, SigningKey>;
  /** Each key with its algorithm and the time it stops verifying (Infinity for current keys). */
  verifying: Map<string, VerifyingKey & { until: number }>;
  /** The JWK Set: the current keys (ES256, then RS256), then the others, newest first. */
  jwks: { jwk: PublicJwk; until: number }[];
}

/**
 * @see RFC 7638 §3.2: the thumbprint covers the required members in
 * lexicographic order: crv, kty, x, y for EC; e, kty, n for RSA.
 */
function thumbprint(jwk: { kty: "EC"; crv: string; x: string; y: string } | { kty: "RSA"; n: string; e: string }): string {
  const canonical =
    jwk.kty === "EC"
      ? JSON.stringify({ crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y })
      : JSON.stringify({ e: jwk.e, kty: "RSA", n: jwk.n });
  return createHash("sha256").update(canonical).digest("base64url");
}

/** The record of a freshly made private key; its kid is its RFC 7638 thumbprint. */
function recordOf(ref: ProjectRef, createdAt: number, alg: SigningAlg, privateKey: KeyObject): SigningKeyRecord {
  const priv = privateKey.export({ format: "jwk" }) as Record<string, string>;
  let pub: PublicJwk;
  let secret: Record<string, string>;
  if (alg === "ES256") {
    const { crv, x, y, d } = priv as { crv: "P-256"; x: string; y: string; d: string };
    pub = { kty: "EC", crv, x, y, kid: thumbprint({ kty: "EC", crv, x, y }), alg, use: "sig" };
    secret = { d };
  } else {
    const { n, e, d, p, q, dp, dq, qi } = priv as Record<"n" | "e" | "d" | "p" | "q" | "dp" | "dq" | "qi", string>;
    pub = { kty: "RSA", n, e, kid: thumbprint({ kty: "RSA", n, e }), alg, use: "sig" };
    secret = { d, p, q, dp, dq, qi };
  }
  return {
    organization: ref.organization,
    project: ref.project,
    kid: pub.kid,
    alg,
    privateJwk: JSON.stringify({ ...pub, ...secret }),
    publicJwk: JSON.stringify(pub),
    createdAt,
    retiredAt: null,
    expiresAt: null,
  };
}

/** RSA keys of 2048 bits (RFC 7518 §3.3: at least 2048), exponent 65537. */
const RSA_OPTIONS = { modulusLength: 2048, publicExponent: 0x10001 } as const;
const generateKeyPairAsync = promisify(generateKeyPair);

/** Makes a new key pair of `alg` for a project, at once (RS256 takes a fifth of a second of this thread). */
export function generateSigningKey(ref: ProjectRef, createdAt: number, alg: SigningAlg = "ES256"): SigningKeyRecord {
  const { privateKey } =
    alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", RSA_OPTIONS);
  return recordOf(ref, createdAt, alg, privateKey);
}

/** Makes a new private key of `alg` on the thread pool, leaving the event loop free. */
export async function newPrivateKey(alg: SigningAlg): Promise<KeyObject> {
  const { privateKey } =
    alg === "ES256" ? await generateKeyPairAsync("ec", { namedCurve: "P-256" }) : await generateKeyPairAsync("rsa", RSA_OPTIONS);
  return privateKey;
}

/** Where a KeyRing's new private keys come from. */
export type PrivateKeySource = (alg: SigningAlg) => Promise<KeyObject>;

/** Makes a new key pair of `alg` for a project on the thread pool, leaving the event loop free. */
export async function newSigningKey(
  ref: ProjectRef,
  createdAt: number,
  alg: SigningAlg,
  source: PrivateKeySource = newPrivateKey,
): Promise<SigningKeyRecord> {
  return recordOf(ref, createdAt, alg, await source(alg));
}

/**
 * The signing keys of every project, loaded from the store once and kept as
 * KeyObjects. Each project has a current key per algorithm of SIGNING_ALGS.
 * Signing uses node:crypto directly (several times faster than WebCrypto);
 * verification of presented tokens goes through jose, each key for its own
 * algorithm only.
 */
export class KeyRing {
  readonly #store: KeyStore;
  readonly #clock: Clock;
  readonly #cache = new Map<string, ProjectKeys>();

  readonly #source: PrivateKeySource;

  /** `source`: new private keys (the tests' harness hands out keys it made once; an RSA key takes a fifth of a second). */
  constructor(store: KeyStore, clock: Clock, source: PrivateKeySource = newPrivateKey) {
    this.#store = store;
    this.#clock = clock;
    this.#source = source;
  }

  /**
   * Creates and stores the first keys of a project, one per algorithm.
   * Inside a transaction, pass keys made before it (`make`): on SQLite every
   * writer waits while a transaction is open, and an RSA key takes a fifth
   * of a second to make.
   */
  async create(
    ref: ProjectRef,
    store: SigningKeyStore = this.#store,
    made?: Record<SigningAlg, SigningKeyRecord>,
  ): Promise<Record<SigningAlg, SigningKeyRecord>> {
    return this.#add(store, ref, made ?? (await this.make(ref)));
  }

  /** A new key of each algorithm, made on the thread pool (an RSA key takes a fifth of a second). */
  async make(ref: ProjectRef): Promise<Record<SigningAlg, SigningKeyRecord>> {
    const now = epochSeconds(this.#clock);
    const [ES256, RS256] = await Promise.all([newSigningKey(ref, now, "ES256", this.#source), newSigningKey(ref, now, "RS256", this.#source)]);
    return { ES256, RS256 };
  }

  async #add(
    store: SigningKeyStore,
    ref: ProjectRef,
    made: Record<SigningAlg, SigningKeyRecord>,
  ): Promise<Record<SigningAlg, SigningKeyRecord>> {
    for (const alg of SIGNING_ALGS) await store.addSigningKey(made[alg]);
    this.forget(ref);
    return made;
  }

  /**
   * The key that signs the project's new tokens of `alg`. A project made
   * before it had one (a database of an earlier version, ES256 only) gains
   * it here, once: see #addMissing.
   */
  async signing(ref: ProjectRef, alg: SigningAlg): Promise<SigningKey> {
    if (!SIGNING_ALGS.includes(alg)) throw new Error(`unsupported signing algorithm ${String(alg)}`);
    const keys = await this.#load(ref);
    if (keys === undefined) throw new Error(`project ${ref.organization}/${ref.project} has no signing key`);
    return keys.signing.get(alg) ?? (await this.#addMissing(ref, alg));
  }

  /** The public key with this kid and its algorithm, if it belongs to the project and has not expired. */
  async verifying(ref: ProjectRef, kid: string): Promise<VerifyingKey | undefined> {
    const entry = (await this.#load(ref))?.verifying.get(kid);
    return entry !== undefined && entry.until > epochSeconds(this.#clock) ? { key: entry.key, alg: entry.alg } : undefined;
  }

  /** The project's JWK Set, current keys first, without expired keys; undefined for an unknown project. */
  async jwks(ref: ProjectRef): Promise<PublicJwk[] | undefined> {
    const now = epochSeconds(this.#clock);
    return (await this.#load(ref))?.jwks.filter((k) => k.until > now).map((k) => k.jwk);
  }

  /**
   * Rotates the project's signing keys, every algorithm at once (RFC 7517 §5,
   * RFC 8414 jwks_uri): new keys sign from now on; the old ones stay
   * published, and verifying, until the longest-lived token they may have
   * signed has expired. Answers the new ES256 kid (the access tokens' key
   * unless the project chose otherwise), the new kid of each algorithm, and
   * the retired kids, ES256 first.
   *
   * `immediately` is for a private key that leaked: a self-contained token
   * cannot be recalled one by one (RFC 9068 §6 leaves it to the key), so the
   * keys replaced stop verifying and leave the JWKS now, and so do the keys
   * retired before them (any may be the one that leaked); their kids follow.
   */
  async rotate(
    ref: ProjectRef,
    store: SigningKeyStore = this.#store,
    /** Keys made before the caller's transaction (`make`), as for `create`. */
    premade?: Record<SigningAlg, SigningKeyRecord>,
    immediately = false,
  ): Promise<{ kid: string; kids: Record<SigningAlg, string>; retired: string[]; retiredUntil: number }> {
    // Made before the old keys are retired: on PostgreSQL the retirement locks the project's row until the end.
    const made = premade ?? (await this.make(ref));
    const now = epochSeconds(this.#clock);
    // The ID token lives as long as its access token; a minute of clock skew on top.
    const retiredUntil = immediately ? now : now + Math.max(await store.maxAccessTokenTtl(ref), 600) + 60;
    const algOf = new Map((await store.listSigningKeys(ref)).map((r) => [r.kid, r.alg]));
    const retired = await store.retireSigningKeys(ref, now, retiredUntil);
    const order = (kid: string) => SIGNING_ALGS.indexOf(algOf.get(kid) ?? "ES256");
    const byAlg = (kids: string[]) => kids.sort((a, b) => order(a) - order(b) || (a < b ? -1 : a > b ? 1 : 0));
    byAlg(retired);
    if (immediately) retired.push(...byAlg((await store.expireSigningKeys(ref, now)).filter((kid) => !retired.includes(kid))));
    const created = await this.#add(store, ref, made);
    return { kid: created.ES256.kid, kids: { ES256: created.ES256.kid, RS256: created.RS256.kid }, retired, retiredUntil };
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

  /**
   * Adds the project's missing key of `alg` and answers the current one,
 * recording SIGNING_KEY_ADDED with it.
   * The key is made first, then checked for again and stored in one
   * transaction (joining the caller's, if any: the first ID token of an old
   * project is signed inside the code exchange's): on SQLite transactions
   * take turns across processes, so the second finds the first's key and
   * drops its own. On PostgreSQL two processes may each add one; both are
   * then current and published, so a token signed with either verifies, and
   * every process signs with the same one from then on, the first that
   * listSigningKeys answers (the newest, then the smallest kid), until the
   * next rotation retires both.
   */
  async #addMissing(ref: ProjectRef, alg: SigningAlg): Promise<SigningKey> {
    const made = await newSigningKey(ref, epochSeconds(this.#clock), alg, this.#source);
    const record = await this.#store.transaction(async (store) => {
      const current = (await store.listSigningKeys(ref)).filter((r) => r.retiredAt === null);
      const existing = current.find((r) => r.alg === alg);
      if (existing !== undefined) return existing;
      // Only for a project that still has keys: a deleted one has none.
      if (current.length === 0) throw new Error(`project ${ref.organization}/${ref.project} has no signing key`);
      await store.addSigningKey(made);
      await store.appendAuditEvent(
        auditEvent(
          this.#clock,
          {
            chain: ref,
            action: "SIGNING_KEY_ADDED",
            actor: party("server", ""),
            target: party("project", projectName(ref)),
            changes: [{ field: "kid", before: "", after: JSON.stringify({ alg, kid: made.kid }) }],
          },
          "success",
        ),
      );
      return made;
    });
    this.forget(ref);
    return { kid: record.kid, alg, key: createPrivateKey({ key: JSON.parse(record.privateJwk), format: "jwk" }) };
  }

  /** Drops what is cached of a project, after its keys changed or it was deleted. */
  forget(ref: ProjectRef): void {
    this.#cache.delete(cacheKey(ref));
  }

  async #read(ref: ProjectRef, epoch: number): Promise<ProjectKeys | undefined> {
    const records = await this.#store.listSigningKeys(ref);
    // Current first, newest first, then by kid (the store's order): every
    // process picks the same current key of an algorithm when there are two.
    const current = new Map<SigningAlg, SigningKeyRecord>();
    for (const record of records) {
      if (record.retiredAt === null && SIGNING_ALGS.includes(record.alg) && !current.has(record.alg)) current.set(record.alg, record);
    }
    if (current.size === 0) return undefined;
    const verifying = new Map<string, VerifyingKey & { until: number }>();
    const published: { jwk: PublicJwk; until: number; signs: boolean; record: SigningKeyRecord }[] = [];
    for (const record of records) {
      const jwk = JSON.parse(record.publicJwk) as PublicJwk;
      // A key is trusted for the algorithm its record names, and only if its JWK agrees.
      if (jwk.alg !== record.alg || jwk.kty !== (record.alg === "ES256" ? "EC" : "RSA")) continue;
      const until = record.retiredAt === null ? Infinity : (record.expiresAt ?? 0);
      verifying.set(record.kid, { key: createPublicKey({ key: { ...jwk }, format: "jwk" }), alg: record.alg, until });
      published.push({ jwk, until, signs: current.get(record.alg) === record, record });
    }
    const signing = new Map<SigningAlg, SigningKey>();
    for (const [alg, record] of current) {
      signing.set(alg, { kid: record.kid, alg, key: createPrivateKey({ key: JSON.parse(record.privateJwk), format: "jwk" }) });
    }
    // The signing keys, then the others newest first; ES256 before RS256 among keys of one age.
    const algOrder = (entry: (typeof published)[number]) => SIGNING_ALGS.indexOf(entry.record.alg);
    const jwks = published
      .sort(
        (a, b) =>
          Number(b.signs) - Number(a.signs) ||
          (a.signs ? 0 : b.record.createdAt - a.record.createdAt) ||
          algOrder(a) - algOrder(b),
      )
      .map(({ jwk, until }) => ({ jwk, until }));
    return { epoch, signing, verifying, jwks };
  }
}

function cacheKey(ref: ProjectRef): string {
  return `${ref.organization}\u0000${ref.project}`;
}

/**
 * Signs a JWS compact serialization (RFC 7515 §7.1) with the algorithm its
 * header names: ES256 (RFC 7518 §3.4: the signature is R || S, 64 bytes,
 * hence `ieee-p1363`) or RS256 (RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with
 * SHA-256). A key of another type than the algorithm's is refused, so a
 * header never names an algorithm its signature was not made with.
 */
export function signJwt(
  header: { alg: SigningAlg; kid: string } & Record<string, unknown>,
  payload: Record<string, unknown>,
  key: KeyObject,
): string {
  const input = Buffer.from(
    Buffer.from(JSON.stringify(header)).toString("base64url") + "." + Buffer.from(JSON.stringify(payload)).toString("base64url"),
  );
  let signature: Buffer;
  if (header.alg === "ES256" && key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    signature = sign("sha256", input, { key, dsaEncoding: "ieee-p1363" });
  } else if (header.alg === "RS256" && key.asymmetricKeyType === "rsa") {
    signature = sign("sha256", input, { key, padding: constants.RSA_PKCS1_PADDING });
  } else {
    throw new Error(`cannot sign ${String(header.alg)} with a ${key.asymmetricKeyType ?? key.type} key`);
  }
  return `${input.toString()}.${signature.toString("base64url")}`;
}
