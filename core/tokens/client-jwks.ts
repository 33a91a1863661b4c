import type { KeyObject } from "node:crypto";
import type { Clock } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import { addressCheckingLookup, boundedGet, describeError, hostRefusal, OutboundError, systemResolve, type ResolveHost } from "../outbound/request.js";
import type { Logger } from "../observe/log.js";
import type { Config } from "../server/config.js";
import { CLIENT_KEY_ALGS, describeKey, isClientKeyAlg, JWKS_URI_PRIVATE_NETWORKS_OPTION, keyFitsAlg, MAX_JWKS_BYTES, readKeySet, type ClientKey } from "./jwks-rules.js";

export {
  checkJwksUri,
  CLIENT_KEY_ALGS,
  isClientKeyAlg,
  JWKS_URI_PRIVATE_NETWORKS_OPTION,
  MAX_JWKS_BYTES,
  MAX_JWKS_KEYS,
  parseClientJwks,
} from "./jwks-rules.js";

/**
 * Which public key verifies a client's private_key_jwt assertion (RFC 7523
 * §2.2, OpenID Connect Core §9): one of the keys the client registered
 * inline (`jwks`) or publishes at its `jwks_uri` (RFC 7591 §2), the one the
 * assertion's header designates (RFC 7515 §4.1.4 `kid`, else the only key
 * of `alg`'s type). Keys are imported once; a fetched set is kept for as
 * long as its Cache-Control says, within bounds, and fetched again early
 * when an assertion names a kid it lacks (the client rotated its keys,
 * OpenID Connect Core §10.1.1), at most once per REFETCH_COOLDOWN_MS.
 */

/** A refusal whose message may be shown to the client: it names the fault, never an internal detail. */
export class ClientKeysError extends Error {
  override name = "ClientKeysError";
}

/** What ClientKeys reads of a client: who it is, and where its keys are. */
export interface KeyedClient {
  organization: string;
  project: string;
  id: string;
  /** A registered JWK Set, as JSON text; null (or empty) when none. */
  jwks: string | null;
  /** Where the client publishes its JWK Set; null (or empty) when none. */
  jwksUri: string | null;
  /** A client that registered itself (RFC 7591), or a metadata document's: see privateNetworksFor. */
  dynamicallyRegistered?: boolean;
  metadataDocument?: boolean;
}

/** The members of an assertion's JOSE header that choose the key. */
export interface AssertionHeader {
  alg: string;
  kid?: string;
}

/** A fetched set is kept this long when its answer gives no max-age. */
export const DEFAULT_FRESH_MS = 10 * 60_000;
/**
 * The bounds of a max-age: a set is not fetched more often than every
 * minute, and is fetched again at least hourly, so that a key the client
 * withdrew (a leaked one) stops working within the hour whatever its
 * Cache-Control said.
 */
export const MIN_FRESH_MS = 60_000;
export const MAX_FRESH_MS = 3600_000;
/** A set this old is no longer used when fetching it again fails: a withdrawn key is not kept alive by an outage either. */
export const MAX_STALE_MS = 3600_000;
/**
 * The least time between two fetches of one URI (but the first): an
 * assertion with a made-up kid costs a fetch at most this often, so that
 * nobody can turn iam-core into a stream of requests toward a client's host.
 */
export const REFETCH_COOLDOWN_MS = 30_000;
/** Sets kept in memory, fetched or registered, each: past it the least recently used goes. */
export const MAX_CACHED_SETS = 1000;

/** One jwks_uri: its last good set, and its fetches. */
interface RemoteSet {
  keys: ClientKey[] | undefined;
  fetchedAt: number;
  freshUntil: number;
  /** When a fetch last began, whatever its outcome. */
  lastAttempt: number;
  /** The fetch under way, shared by every lookup that needs it; resolves undefined when it failed. */
  pending: Promise<ClientKey[] | undefined> | undefined;
}

/** The keys of clients, registered or fetched: Deps.clientKeys. */
export class ClientKeys {
  /**
   * How the names of jwks_uri hosts are resolved (the system resolver). A
   * test may put its own here: no name but localhost resolves without DNS.
   */
  resolveHost: ResolveHost = systemResolve;

  /** Registered sets, by the SHA-256 of their JSON: a changed registration is another entry. */
  readonly #registered = new Map<string, ClientKey[]>();
  readonly #fetched = new Map<string, RemoteSet>();

  constructor(
    private readonly clock: Clock,
    private readonly config: Pick<Config, "jwksUriTimeout" | "jwksUriPrivateNetworks" | "clientMetadataPrivateNetworks">,
    private readonly logger: Logger,
  ) {}

  /** IAM_JWKS_URI_PRIVATE_NETWORKS: what checkJwksUri is to allow at registration. */
  get privateNetworks(): boolean {
    return this.config.jwksUriPrivateNetworks;
  }

  /**
   * Whether the jwks_uri of `client` may be on a loopback or private
   * network, when it is checked and when it is fetched.
   * IAM_JWKS_URI_PRIVATE_NETWORKS is the operator's word on the clients
   * administrators make. A client that registered itself, which anyone may
   * (RFC 7591), never: else it would make iam-core reach the operator's
   * own network. A metadata document's client as
   * IAM_CLIENT_METADATA_PRIVATE_NETWORKS says of documents.
   */
  privateNetworksFor(client: Pick<KeyedClient, "dynamicallyRegistered" | "metadataDocument">): boolean {
    if (client.metadataDocument === true) return this.config.clientMetadataPrivateNetworks;
    if (client.dynamicallyRegistered === true) return false;
    return this.config.jwksUriPrivateNetworks;
  }

  /**
   * The key that verifies an assertion of `client` signed as `header`
   * says; throws ClientKeysError, and nothing else, when there is none, when
   * the header is ambiguous, or when the keys cannot be had (within
   * IAM_JWKS_URI_TIMEOUT for a fetch).
   */
  async keyFor(client: KeyedClient, header: AssertionHeader): Promise<KeyObject> {
    try {
      return await this.#keyFor(client, header);
    } catch (err) {
      if (err instanceof ClientKeysError) throw err;
      this.logger.error("could not read a client's keys", { ...who(client), err: describeError(err) });
      throw new ClientKeysError("the client's keys could not be read");
    }
  }

  async #keyFor(client: KeyedClient, header: AssertionHeader): Promise<KeyObject> {
    if (typeof header.alg !== "string" || !isClientKeyAlg(header.alg)) {
      throw new ClientKeysError(`the assertion's alg must be one of ${CLIENT_KEY_ALGS.join(", ")}`);
    }
    if (header.kid !== undefined && typeof header.kid !== "string") throw new ClientKeysError("the assertion's kid must be a string");
    const jwks = client.jwks === "" ? null : client.jwks;
    const jwksUri = client.jwksUri === "" ? null : client.jwksUri;
    // RFC 7591 §2: the two MUST NOT both be present; which one holds would be a guess.
    if (jwks !== null && jwksUri !== null) throw new ClientKeysError("the client has both jwks and jwks_uri registered");
    if (jwks !== null) {
      const key = pick(this.#registeredSet(client, jwks), header);
      if (key === undefined) throw new ClientKeysError(notFound(header));
      return key;
    }
    if (jwksUri !== null) return this.#fetchedKey(client, jwksUri, header);
    throw new ClientKeysError("the client has no registered keys (jwks or jwks_uri)");
  }

  #registeredSet(client: KeyedClient, json: string): ClientKey[] {
    const id = sha256(json);
    let keys = recall(this.#registered, id);
    if (keys === undefined) {
      try {
        keys = readKeySet(json);
      } catch (err) {
        // Registration refuses such a set: one stored before the rule, or written past it.
        this.logger.warn("a client's registered jwks is not a valid key set", { ...who(client), error: describeError(err) });
        throw new ClientKeysError("the client's registered jwks is not a valid key set");
      }
      remember(this.#registered, id, keys);
    }
    return keys;
  }

  async #fetchedKey(client: KeyedClient, uri: string, header: AssertionHeader): Promise<KeyObject> {
    let entry = recall(this.#fetched, uri);
    if (entry === undefined) {
      entry = { keys: undefined, fetchedAt: 0, freshUntil: 0, lastAttempt: -Infinity, pending: undefined };
      remember(this.#fetched, uri, entry);
    }
    const keys = entry.keys !== undefined && this.clock.now() < entry.freshUntil ? entry.keys : await this.#refresh(client, uri, entry);
    const key = pick(keys, header);
    if (key !== undefined) return key;
    // No key designated: the client may have rotated (OpenID Connect Core §10.1.1); look once more.
    const again = await this.#refresh(client, uri, entry);
    const rotated = again === keys ? undefined : pick(again, header);
    if (rotated === undefined) throw new ClientKeysError(notFound(header));
    return rotated;
  }

  /**
   * The set of `uri` after fetching it again, unless a fetch began less than
   * REFETCH_COOLDOWN_MS ago (then the one under way, or the set as it is).
   * When the fetch fails, a set fetched less than MAX_STALE_MS ago serves.
   */
  async #refresh(client: KeyedClient, uri: string, entry: RemoteSet): Promise<ClientKey[]> {
    const now = this.clock.now();
    if (entry.pending === undefined && now - entry.lastAttempt >= REFETCH_COOLDOWN_MS) {
      entry.lastAttempt = now;
      entry.pending = this.#fetch(uri, this.privateNetworksFor(client))
        .then(
          ({ keys, freshMs }) => {
            entry.keys = keys;
            entry.fetchedAt = this.clock.now();
            entry.freshUntil = entry.fetchedAt + freshMs;
            return keys;
          },
          (err: unknown) => {
            this.logger.warn("could not fetch a client's keys from its jwks_uri", { ...who(client), jwks_uri: uri, error: describeError(err) });
            return undefined;
          },
        )
        .finally(() => {
          entry.pending = undefined;
        });
    }
    const fetched = entry.pending === undefined ? undefined : await entry.pending;
    if (fetched !== undefined) return fetched;
    if (entry.keys !== undefined && this.clock.now() - entry.fetchedAt < MAX_STALE_MS) return entry.keys;
    throw new ClientKeysError("the client's keys could not be fetched from its jwks_uri");
  }

  /** GETs a JWK Set, held to the outbound rules (outbound/request.ts); rejects with the reason, for the log. */
  async #fetch(uri: string, privateNetworks: boolean): Promise<{ keys: ClientKey[]; freshMs: number }> {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new OutboundError("not fetched: the jwks_uri is not a URL");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new OutboundError("not fetched: the jwks_uri is not http(s)");
    const { jwksUriTimeout } = this.config;
    // A URI stored before the rule, or while the operator allowed private networks, is held to it now.
    const refusal = privateNetworks ? undefined : hostRefusal(url, JWKS_URI_PRIVATE_NETWORKS_OPTION);
    if (refusal !== undefined) throw new OutboundError(`not fetched: ${refusal}`);
    const answer = await boundedGet(url, {
      headers: { Accept: "application/json" },
      timeoutMs: jwksUriTimeout * 1000,
      maxBytes: MAX_JWKS_BYTES,
      lookup: addressCheckingLookup(this.resolveHost, privateNetworks, JWKS_URI_PRIVATE_NETWORKS_OPTION),
    });
    const { status } = answer;
    if (status !== 200) throw new OutboundError(status >= 300 && status < 400 ? `answered ${status}; redirects are not followed` : `answered ${status}`);
    let keys: ClientKey[];
    try {
      keys = readKeySet(new TextDecoder("utf-8", { fatal: true }).decode(answer.body));
    } catch (err) {
      throw new OutboundError(`answered no valid key set: ${describeError(err)}`);
    }
    return { keys, freshMs: freshness(answer.headers["cache-control"]) };
  }
}

/**
 * How long a fetched set is kept: its Cache-Control max-age (RFC 9111
 * §5.2.2.1), within [MIN_FRESH_MS, MAX_FRESH_MS]; no-store or no-cache keep
 * it the least; DEFAULT_FRESH_MS without either.
 */
export function freshness(cacheControl: string | undefined): number {
  if (cacheControl === undefined) return DEFAULT_FRESH_MS;
  const directives = cacheControl.toLowerCase().split(",").map((d) => d.trim());
  if (directives.includes("no-store") || directives.includes("no-cache")) return MIN_FRESH_MS;
  for (const directive of directives) {
    const maxAge = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
    if (maxAge !== null) return Math.min(MAX_FRESH_MS, Math.max(MIN_FRESH_MS, Number(maxAge[1]) * 1000));
  }
  return DEFAULT_FRESH_MS;
}

/**
 * The key `header` designates among `keys`: by kid when it has one, else the
 * only key of alg's type (RFC 7515 §4.1.4 leaves the choice to the
 * verifier, and a guess among several could pick the wrong one); undefined
 * when none is designated. A key that does not fit alg, or whose own alg
 * differs (RFC 7517 §4.4), is refused.
 */
function pick(keys: readonly ClientKey[], header: AssertionHeader): KeyObject | undefined {
  let chosen: ClientKey | undefined;
  if (header.kid !== undefined) {
    chosen = keys.find(({ jwk }) => jwk.kid === header.kid);
    if (chosen === undefined) return undefined;
    if (!keyFitsAlg(chosen.jwk, header.alg)) {
      throw new ClientKeysError(`the client's key with the assertion's kid is an ${describeKey(chosen.jwk)} key, which does not verify ${header.alg}`);
    }
  } else {
    const fitting = keys.filter(({ jwk }) => keyFitsAlg(jwk, header.alg));
    if (fitting.length === 0) return undefined;
    if (fitting.length > 1) throw new ClientKeysError(`the client has ${fitting.length} keys for ${header.alg}: the assertion must name one by kid`);
    chosen = fitting[0]!;
  }
  if (chosen.jwk.alg !== undefined && chosen.jwk.alg !== header.alg) {
    throw new ClientKeysError(`the client's key is registered for ${chosen.jwk.alg}, not ${header.alg}`);
  }
  return chosen.key;
}

function notFound(header: AssertionHeader): string {
  return header.kid !== undefined ? "the client has no key with the assertion's kid" : `the client has no key for ${header.alg}`;
}

/** A cached value, marked as the most recently used. */
function recall<V>(cache: Map<string, V>, id: string): V | undefined {
  const value = cache.get(id);
  if (value !== undefined) {
    cache.delete(id);
    cache.set(id, value);
  }
  return value;
}

/** Caches a value, dropping the least recently used past MAX_CACHED_SETS. */
function remember<V>(cache: Map<string, V>, id: string, value: V): void {
  cache.set(id, value);
  if (cache.size > MAX_CACHED_SETS) cache.delete(cache.keys().next().value!);
}

const who = (client: KeyedClient) => ({ organization: client.organization, project: client.project, client: client.id });
