import { Code, ConnectError } from "@connectrpc/connect";
import type { AuditStore, ProjectRef } from "../store/types.js";

/**
 * What the open audit streams (AuditService.StreamEvents) of one process
 * share: a cap on how many are open, per caller and in all, and one watch
 * per chain. However many streams follow a chain, one query a poll looks
 * for an event past the newest any of them has seen; the streams read the
 * events themselves only when there is something new. The database is read,
 * not this process's memory, so an event committed by another worker or
 * replica wakes them as soon as one of its own.
 */
export class AuditFeeds {
  private readonly watches = new Map<string, ChainWatch>();
  private readonly perCaller = new Map<string, number>();
  private open = 0;

  constructor(
    private readonly store: Pick<AuditStore, "listAuditEvents">,
    private readonly limits: { perCaller: number; total: number; pollMs: number },
  ) {}

  /**
   * A place among the open streams for `caller`, or RESOURCE_EXHAUSTED when
   * the caller or the process has as many open as allowed. The stream gives
   * it back (`close`) when it ends, however it ends.
   */
  join(caller: string, chain: ProjectRef): FeedSubscription {
    const mine = this.perCaller.get(caller) ?? 0;
    if (mine >= this.limits.perCaller) {
      throw new ConnectError(
        `this caller already follows ${mine} audit streams, as many as one caller may (IAM_AUDIT_STREAMS_PER_CALLER); close one first`,
        Code.ResourceExhausted,
      );
    }
    if (this.open >= this.limits.total) {
      throw new ConnectError(`this server already serves ${this.open} audit streams, as many as it may (IAM_AUDIT_STREAMS_MAX); try again later`, Code.ResourceExhausted);
    }
    this.perCaller.set(caller, mine + 1);
    this.open += 1;
    const key = `${chain.organization}\u0000${chain.project}`;
    let watch = this.watches.get(key);
    if (watch === undefined) {
      watch = new ChainWatch(this.store, chain, this.limits.pollMs);
      this.watches.set(key, watch);
    }
    watch.members += 1;
    let closed = false;
    const joined = watch;
    return {
      saw: (sequence) => joined.saw(sequence),
      next: (after, maxMs, signal) => joined.next(after, maxMs, signal),
      close: () => {
        if (closed) return;
        closed = true;
        this.open -= 1;
        const left = (this.perCaller.get(caller) ?? 1) - 1;
        if (left === 0) this.perCaller.delete(caller);
        else this.perCaller.set(caller, left);
        joined.members -= 1;
        if (joined.members === 0) {
          joined.stop();
          this.watches.delete(key);
        }
      },
    };
  }

  /** Streams open now, and chains watched: for the tests and metrics. */
  get counts(): { streams: number; chains: number } {
    return { streams: this.open, chains: this.watches.size };
  }
}

export interface FeedSubscription {
  /** The stream has read the chain through `sequence`. */
  saw(sequence: number): void;
  /**
   * Resolves once an event past `after` is known (true), or after `maxMs` at
   * most, or at once when `signal` aborts (false unless one is known by then).
   */
  next(after: number, maxMs: number, signal: AbortSignal): Promise<boolean>;
  close(): void;
}

/** One chain's watch: the newest sequence known, and the streams waiting past it. */
class ChainWatch {
  members = 0;
  private newest = 0;
  private readonly waiting = new Set<{ after: number; wake: () => void }>();
  private timer: NodeJS.Timeout | undefined;
  private looking = false;
  /** The last look failed: the streams read for themselves, and meet the fault. */
  private failed = false;

  constructor(
    private readonly store: Pick<AuditStore, "listAuditEvents">,
    private readonly chain: ProjectRef,
    private readonly pollMs: number,
  ) {}

  saw(sequence: number): void {
    if (sequence > this.newest) this.newest = sequence;
  }

  next(after: number, maxMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.newest > after || signal.aborted || this.failed) return Promise.resolve(this.newest > after || this.failed);
    return new Promise((resolve) => {
      const waiter = { after, wake: () => done() };
      const done = () => {
        clearTimeout(timeout);
        signal.removeEventListener("abort", done);
        this.waiting.delete(waiter);
        resolve(this.newest > after || this.failed);
      };
      const timeout = setTimeout(done, maxMs);
      signal.addEventListener("abort", done);
      this.waiting.add(waiter);
      this.timer ??= setTimeout(() => void this.look(), this.pollMs);
    });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const waiter of [...this.waiting]) waiter.wake();
  }

  /** One query for the chain's next event past the newest known; wakes whoever waits below it. */
  private async look(): Promise<void> {
    this.timer = undefined;
    if (this.looking || this.waiting.size === 0) return;
    this.looking = true;
    try {
      const [next] = await this.store.listAuditEvents(this.chain, {}, { after: this.newest, limit: 1 });
      if (next !== undefined) this.saw(next.sequence);
      this.failed = false;
    } catch {
      // A failed look wakes everyone: each stream's own read then meets the fault and ends with it.
      this.failed = true;
    } finally {
      this.looking = false;
    }
    for (const waiter of [...this.waiting]) if (this.failed || this.newest > waiter.after) waiter.wake();
    if (this.waiting.size > 0) this.timer = setTimeout(() => void this.look(), this.pollMs);
  }
}
