import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { AuditOutcome, type AuditAction, type AuditEvent } from "../../gen/iam/v1/audit_pb.js";
import { audit } from "../api.js";

/**
 * Reading a chain newest first, as the AuditService allows. ListEvents
 * answers a chain in order of sequence, after a sequence number, and a chain
 * numbers its events 1, 2, 3… without gaps. So the newest events are found
 * by their sequence numbers: first the chain's last number, by asking for
 * the one event after a number (a call that reads one row) for numbers that
 * grow, then narrow down; then a page is the events of a window of numbers
 * ending at the newest, and the next older page the window below it.
 */

/** A chain: a project's, or the server's (both empty). */
export interface Chain {
  organization: string;
  project: string;
}

/** What ListEvents filters by; times in ms since the epoch. */
export interface EventFilter {
  actions: AuditAction[];
  outcome: AuditOutcome;
  actorId: string;
  targetId: string;
  sinceMs: number | undefined;
  untilMs: number | undefined;
}

export const NO_FILTER: EventFilter = { actions: [], outcome: AuditOutcome.UNSPECIFIED, actorId: "", targetId: "", sinceMs: undefined, untilMs: undefined };

export const isFiltered = (f: EventFilter): boolean =>
  f.actions.length > 0 || f.outcome !== AuditOutcome.UNSPECIFIED || f.actorId !== "" || f.targetId !== "" || f.sinceMs !== undefined || f.untilMs !== undefined;

/** Whether an event passes a filter: for events that come by StreamEvents, which filters by actions and outcome only. */
export function passes(f: EventFilter, e: AuditEvent): boolean {
  const ms = e.time === undefined ? 0 : timestampMs(e.time);
  return (
    (f.actions.length === 0 || f.actions.includes(e.action)) &&
    (f.outcome === AuditOutcome.UNSPECIFIED || e.outcome === f.outcome) &&
    (f.actorId === "" || e.actor?.id === f.actorId) &&
    (f.targetId === "" || e.target?.id === f.targetId) &&
    (f.sinceMs === undefined || ms >= f.sinceMs) &&
    (f.untilMs === undefined || ms < f.untilMs)
  );
}

const seq = (e: AuditEvent): number => Number(e.sequence);

function list(chain: Chain, f: EventFilter, after: number, pageSize: number) {
  return audit.listEvents({
    ...chain,
    actions: f.actions,
    outcome: f.outcome,
    actorId: f.actorId,
    targetId: f.targetId,
    since: f.sinceMs === undefined ? undefined : timestampFromMs(f.sinceMs),
    until: f.untilMs === undefined ? undefined : timestampFromMs(f.untilMs),
    afterSequence: BigInt(after),
    pageSize,
  });
}

/** The sequence number of the chain's first event after `after`, or 0 when there is none: a call that reads one row. */
async function firstAfter(chain: Chain, after: number): Promise<number> {
  const { events } = await list(chain, NO_FILTER, after, 1);
  return events[0] === undefined ? 0 : seq(events[0]);
}

/** The last sequence number seen of each chain in this tab: where the next search for its end starts. */
const known = new Map<string, number>();
const keyOf = (chain: Chain) => `${chain.organization}/${chain.project}`;

/** Notes an event seen (on a page or by a live stream). */
export function sawEvent(chain: Chain, sequence: number): void {
  if (sequence > (known.get(keyOf(chain)) ?? 0)) known.set(keyOf(chain), sequence);
}

/**
 * The chain's first and last sequence numbers (0 and 0 when it is empty).
 * From the first event, or the last one this tab saw, the search steps
 * forward by 1, 2, 4… until it passes the end, then halves the gap: about
 * 2·log2(distance) calls, each reading one row by the chain's key (a
 * search by time would read the chain from its start).
 */
export async function chainEnds(chain: Chain): Promise<{ first: number; last: number }> {
  const hint = known.get(keyOf(chain)) ?? 0;
  const [first, seen] = await Promise.all([firstAfter(chain, 0), hint > 1 ? firstAfter(chain, hint - 1) : Promise.resolve(0)]);
  if (first === 0) return { first: 0, last: 0 };
  // `lo` is a number known to exist; `hi` one known to be beyond the end.
  let lo = Math.max(first, seen);
  let hi = Number.POSITIVE_INFINITY;
  for (let step = 1; hi === Number.POSITIVE_INFINITY; step *= 2) {
    const found = await firstAfter(chain, lo + step - 1);
    if (found === 0) hi = lo + step;
    else lo = found;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const found = await firstAfter(chain, mid - 1);
    if (found === 0) hi = mid;
    else lo = found;
  }
  sawEvent(chain, lo);
  return { first, last: lo };
}

/** One page of events, newest first; older pages hold the numbers up to `below` (none when it is 0). */
export interface EventPage {
  events: AuditEvent[];
  below: number;
  /** The width of the window the page came from: where the next older page's search starts. */
  width: number;
}

/**
 * The newest `size` events at or below sequence `top` that pass the filter.
 * Unfiltered, that is the window (top - size, top]: one call. Filtered, the
 * window widens (doubling, from `width`) until it holds `size` events or
 * reaches `floor`; when a widening overshoots, the page is the narrower
 * window's events, fewer than `size` but all of them, so that no event is
 * skipped between pages. Every call answers at most `size` events.
 */
export async function pageAt(chain: Chain, f: EventFilter, top: number, size: number, floor: number, width = size): Promise<EventPage> {
  const base = Math.max(0, floor - 1);
  let w = Math.max(size, width);
  let narrower: { events: AuditEvent[]; lo: number } | undefined;
  for (;;) {
    const lo = Math.max(base, top - w);
    const answer = await list(chain, f, lo, size);
    const events = answer.events.filter((e) => seq(e) <= top);
    // The window's every event is here unless a full page of them came and more may follow.
    const whole = events.length < size || answer.nextPageToken === "" || events.length === top - lo;
    if (whole && (events.length === size || lo === base)) return { events: events.reverse(), below: lo > base ? lo : 0, width: w };
    if (whole) {
      narrower = { events, lo };
      w *= 2;
      continue;
    }
    if (narrower !== undefined && narrower.events.length > 0) return { events: narrower.events.reverse(), below: narrower.lo, width: w / 2 };
    // Nothing in the narrower window: the page ends below it; look again in a narrower window there.
    if (narrower !== undefined) top = narrower.lo;
    narrower = undefined;
    w = Math.max(size, Math.floor(w / 2));
  }
}
