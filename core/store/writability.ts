import { isStorageFault, StorageUnavailable } from "./faults.js";

/** How often a store that met a storage fault tries a probe write until one succeeds. */
export const PROBE_INTERVAL_MS = 1000;

type Listener = (writable: boolean, reason: string) => void;

/**
 * Whether the database can be written, as this process last saw it. Every
 * store call that fails reports its error here (cached.ts): a storage fault
 * (faults.ts) makes the store unwritable at once. Only a probe write (the
 * backend's probeWrite: one row rewritten as it is, so nothing grows) makes
 * it writable again, tried every PROBE_INTERVAL_MS while it is not: a
 * request's write that happens to succeed meanwhile (one that needs no new
 * page on a full disk, say) does not flip it back, so readiness does not
 * flap with the traffic. Nothing is probed while the database is writable:
 * a fault is seen by the first request it fails.
 */
export class Writability {
  #writable = true;
  #probing: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #listeners = new Set<Listener>();

  constructor(
    private readonly probe: () => Promise<unknown>,
    private readonly intervalMs = PROBE_INTERVAL_MS,
  ) {}

  get writable(): boolean {
    return this.#writable;
  }

  /** Calls `listener` at each change, with the fault's code (or "probe write succeeded"). */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A store call failed with `err`: answers the error its caller is to see,
   * a StorageUnavailable for a storage fault (which makes the store
   * unwritable), else `err` itself.
   */
  failed(err: unknown): unknown {
    if (!isStorageFault(err)) return err;
    const fault = err instanceof StorageUnavailable ? err : new StorageUnavailable(err);
    if (this.#writable && !this.#closed) {
      this.#writable = false;
      this.#tell(false, fault.reason);
      this.#scheduleProbe();
    }
    return fault;
  }

  /** Stops probing (the store is closing). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#probing);
    this.#probing = undefined;
  }

  #scheduleProbe(): void {
    if (this.#probing !== undefined || this.#closed) return;
    this.#probing = setTimeout(() => void this.#tryProbe(), this.intervalMs);
    // A process that has nothing else to do may end while its database is down.
    this.#probing.unref();
  }

  async #tryProbe(): Promise<void> {
    let ok = false;
    try {
      await this.probe();
      ok = true;
    } catch {
      // Still failing: the fault was reported when it began; the next probe tells when it ends.
    }
    this.#probing = undefined;
    if (this.#closed) return;
    if (!ok) return this.#scheduleProbe();
    if (!this.#writable) {
      this.#writable = true;
      this.#tell(true, "probe write succeeded");
    }
  }

  #tell(writable: boolean, reason: string): void {
    for (const listener of this.#listeners) listener(writable, reason);
  }
}
