import type { JWTPayload } from "jose";
import type { ProjectRef } from "../store/types.js";

/** What signature verification established about one exact token string. */
export interface VerifiedSignature {
  payload: JWTPayload & { client_id: string; scope?: string };
  ref: ProjectRef;
  issuer: string;
  kid: string;
  /** `exp`, seconds since the Unix epoch. */
  expiresAt: number;
}

/**
 * Access tokens whose signature has been verified, so that a token presented
 * again (a client calls a resource server many times with one token) costs a
 * map lookup instead of an ES256 or RS256 verification. Only what the
 * signature proves is remembered, keyed by the exact token string: expiry,
 * the signing key still being trusted, and the grant (revocation) are
 * checked on every use by the caller, so a revocation is honoured at once.
 * Bounded: the oldest entries go first; expired ones are dropped when met.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, VerifiedSignature>();
  readonly #limit: number;

  constructor(limit = 50_000) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The remembered verification of this token, unless it has expired by `nowSeconds`. */
  get(token: string, nowSeconds: number): VerifiedSignature | undefined {
    const entry = this.#entries.get(token);
    if (entry !== undefined && entry.expiresAt <= nowSeconds) {
      this.#entries.delete(token);
      return undefined;
    }
    return entry;
  }

  remember(token: string, verified: VerifiedSignature): void {
    if (this.#entries.size >= this.#limit) {
      // Maps iterate in insertion order: the first key is the oldest.
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(token, verified);
  }

  /** Forgets every token (a project's keys were changed or it was deleted). */
  clear(): void {
    this.#entries.clear();
  }
}
