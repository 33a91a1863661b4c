/**
 * Token buckets by key, in memory: each key may spend `burst` requests at
 * once and earns `perSecond` back every second. The number of keys held is
 * bounded (least recently used go first), so a flood of distinct keys costs
 * memory only up to the bound. Limits are per process: with several core
 * replicas each enforces its own.
 */
export class RateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(perSecond: number, burst: number, maxKeys = 100_000) {
    this.#perSecond = perSecond;
    this.#burst = Math.max(burst, 1);
    this.#maxKeys = maxKeys;
  }

  /** Spends one request of `key` at `nowMs`: 0 when allowed, else the seconds until one is. A rate of 0 allows all. */
  take(key: string, nowMs: number): number {
    if (this.#perSecond <= 0) return 0;
    const known = this.#buckets.get(key);
    const elapsed = known === undefined ? 0 : Math.max(0, nowMs - known.at) / 1000;
    const tokens = known === undefined ? this.#burst : Math.min(this.#burst, known.tokens + elapsed * this.#perSecond);
    // Re-inserted so that the map's order is least recently used first.
    this.#buckets.delete(key);
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, at: nowMs });
      return Math.max(1, Math.ceil((1 - tokens) / this.#perSecond));
    }
    this.#buckets.set(key, { tokens: tokens - 1, at: nowMs });
    if (this.#buckets.size > this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    return 0;
  }

  get size(): number {
    return this.#buckets.size;
  }
}
