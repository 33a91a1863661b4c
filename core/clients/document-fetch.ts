/**
 * Fetching client ID metadata documents
 * (draft-ietf-oauth-client-id-metadata-document §4): a GET of the client_id
 * URL, held to the outbound rules of core/outbound/request.ts (https only,
 * public addresses only unless IAM_CLIENT_METADATA_PRIVATE_NETWORKS, address
 * checked at connect, no redirect followed), within IAM_CLIENT_METADATA_TIMEOUT
 * and MAX_DOCUMENT_BYTES, and answered only as a 200 with a JSON content
 * type. The answer is kept in memory as its HTTP cache headers say (RFC 9111
 * §5.2.2.1 max-age, §5.2.2.5 no-store, §5.3 Expires) within
 * [MIN_FRESH_MS, MAX_FRESH_MS]; a failure is kept FAILURE_MS, so that a bad
 * document cannot make iam-core fetch at every request. Concurrent requests
 * for one URL share one fetch.
 */
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../observe/log.js";
import { addressCheckingLookup, boundedGet, describeError, hostRefusal, OutboundError, systemResolve, type ResolveHost } from "../outbound/request.js";
import type { Config } from "../server/config.js";

/** The option that lets documents be fetched from non-public addresses. */
export const PRIVATE_NETWORKS_OPTION = "IAM_CLIENT_METADATA_PRIVATE_NETWORKS";
/** The draft (§4.2) suggests a limit of 5 KB: a client's metadata is a few hundred bytes. */
export const MAX_DOCUMENT_BYTES = 5120;
/** Kept this long when the answer says neither max-age, no-store nor Expires. */
export const DEFAULT_FRESH_MS = 10 * 60_000;
/**
 * The bounds of a max-age or Expires: a document is kept at least a minute
 * (a short max-age must not make every request a fetch) and at most an
 * hour (a document its author corrected, a redirect URI withdrawn, takes
 * effect within the hour whatever its headers said). `no-store` is obeyed:
 * the answer is not kept at all, and such a document is fetched for each
 * request that needs it (concurrent ones share the fetch).
 */
export const MIN_FRESH_MS = 60_000;
export const MAX_FRESH_MS = 3600_000;
/** A failed fetch or an unusable answer is answered from memory this long. */
export const FAILURE_MS = 30_000;
/** URLs kept in memory; past it the least recently used goes. */
export const MAX_CACHED_DOCUMENTS = 1000;

/** Why a document could not be had; the message is for the operator's log, not the client. */
export class DocumentUnavailable extends Error {}

interface Entry {
  /** The parsed document, or why there is none. */
  outcome: { document: Record<string, unknown> } | { failure: string } | undefined;
  until: number;
  pending: Promise<void> | undefined;
}

/** Deps.clientMetadata: the documents fetched, by URL. */
export class ClientMetadataDocuments {
  /** How hosts are resolved; a test may put its own here. */
  resolveHost: ResolveHost = systemResolve;
  /** A certificate trusted besides the system's (PEM), for a test's own https server; undefined in service. */
  trustedCa: string | undefined = undefined;

  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly config: Pick<Config, "clientMetadataTimeout" | "clientMetadataPrivateNetworks">,
    private readonly logger: Logger,
    /** Told of each fetch over the network: whether a JSON document came back (iam_client_metadata_fetches_total). */
    private readonly fetched: (ok: boolean) => void = () => {},
  ) {}

  /** The document at `url` (a checked client_id, document-url.ts), fetched or from memory; throws DocumentUnavailable. */
  async document(url: URL): Promise<Record<string, unknown>> {
    const key = url.href;
    let entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    } else {
      entry = { outcome: undefined, until: 0, pending: undefined };
      this.#entries.set(key, entry);
      if (this.#entries.size > MAX_CACHED_DOCUMENTS) this.#entries.delete(this.#entries.keys().next().value!);
    }
    if (entry.pending !== undefined) {
      await entry.pending;
    } else if (entry.outcome === undefined || this.clock.now() >= entry.until) {
      const fetched = this.#fetch(url).then(
        ({ document, freshMs }) => {
          this.fetched(true);
          return { outcome: { document }, keepMs: freshMs };
        },
        (err: unknown) => {
          this.fetched(false);
          this.logger.warn("could not use a client ID metadata document", { client_id: key, error: describeError(err) });
          return { outcome: { failure: describeError(err) }, keepMs: FAILURE_MS };
        },
      );
      const current = entry;
      current.pending = fetched.then(({ outcome, keepMs }) => {
        current.outcome = outcome;
        current.until = this.clock.now() + keepMs;
        current.pending = undefined;
      });
      await current.pending;
    }
    const outcome = entry.outcome!;
    if ("failure" in outcome) throw new DocumentUnavailable(outcome.failure);
    return outcome.document;
  }

  /** Forgets what is kept of `url`: an administrator's rule for it changed. */
  forget(url: string): void {
    this.#entries.delete(url);
  }

  async #fetch(url: URL): Promise<{ document: Record<string, unknown>; freshMs: number }> {
    const privateNetworks = this.config.clientMetadataPrivateNetworks;
    const refusal = privateNetworks ? undefined : hostRefusal(url, PRIVATE_NETWORKS_OPTION);
    if (refusal !== undefined) throw new OutboundError(`not fetched: ${refusal}`);
    const answer = await boundedGet(url, {
      headers: { Accept: "application/json" },
      timeoutMs: this.config.clientMetadataTimeout * 1000,
      maxBytes: MAX_DOCUMENT_BYTES,
      lookup: addressCheckingLookup(this.resolveHost, privateNetworks, PRIVATE_NETWORKS_OPTION),
      ca: this.trustedCa,
    });
    const { status, headers } = answer;
    if (status !== 200) throw new OutboundError(status >= 300 && status < 400 ? `answered ${status}; redirects are not followed` : `answered ${status}`);
    const type = (headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json" && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
      throw new OutboundError(`answered ${type || "no content type"}, not application/json`);
    }
    let document: unknown;
    try {
      document = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(answer.body));
    } catch {
      throw new OutboundError("answered something that is not JSON");
    }
    if (typeof document !== "object" || document === null || Array.isArray(document)) throw new OutboundError("answered JSON that is not an object");
    return { document: document as Record<string, unknown>, freshMs: freshness(headers["cache-control"], headers.expires, headers.date, this.clock.now()) };
  }
}

/**
 * How long an answer is kept: 0 for `no-store` or `no-cache` (RFC 9111
 * §5.2.2.4, §5.2.2.5), else its max-age (§5.2.2.1), else what Expires
 * leaves (§5.3, against the answer's Date; an invalid Expires is in the
 * past), within [MIN_FRESH_MS, MAX_FRESH_MS]; DEFAULT_FRESH_MS without any.
 */
export function freshness(cacheControl: string | undefined, expires: string | undefined, date: string | undefined, now: number): number {
  const directives = (cacheControl ?? "").toLowerCase().split(",").map((d) => d.trim());
  if (directives.includes("no-store") || directives.includes("no-cache")) return 0;
  const bounded = (ms: number) => Math.min(MAX_FRESH_MS, Math.max(MIN_FRESH_MS, ms));
  for (const directive of directives) {
    const maxAge = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
    if (maxAge !== null) return bounded(Number(maxAge[1]) * 1000);
  }
  if (expires !== undefined) {
    const at = Date.parse(expires);
    const origin = date === undefined || Number.isNaN(Date.parse(date)) ? now : Date.parse(date);
    if (Number.isNaN(at) || at <= origin) return 0;
    return bounded(at - origin);
  }
  return DEFAULT_FRESH_MS;
}
