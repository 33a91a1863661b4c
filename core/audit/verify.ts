/**
 * Walking the audit chains: each event must be numbered one after its
 * predecessor, name its predecessor's hash, and hash to what it says. The
 * first event that does not is where the chain was altered, an event removed
 * or events reordered.
 *
 * What a chain cannot show on its own: its last events removed (or the last
 * one altered with its hash computed again) leave a shorter chain that is
 * still whole. Keep the head (`iam audit verify` prints each chain's last
 * sequence and hash) somewhere the database's writers cannot reach, and
 * compare.
 */
import { eventHash, GENESIS_HASH } from "../lib/audit-chain.js";
import type { AuditCheckpoint, AuditEventRecord, ProjectRef, Store } from "../store/types.js";

/** Checks a checkpoint's signature (retention.ts, checkCheckpoint). */
export type CheckpointCheck = (checkpoint: AuditCheckpoint) => Promise<"valid" | "invalid" | "unknown key">;

export interface ChainReport {
  chain: ProjectRef;
  /** Events read. */
  events: number;
  /** The last event's sequence and hash (0 and GENESIS_HASH for an empty chain). */
  head: { sequence: number; hash: string };
  /** The first break, if any. */
  broken?: { sequence: number; problem: string };
  /** Where the chain begins after a purge: the last purged event, and what its signature says. */
  checkpoint?: { sequence: number; signature: "valid" | "invalid" | "unknown key" };
}

const PAGE = 1000;

/** The first break in `events` (a chain read in order of sequence), given what came before. */
export function firstBreak(
  events: readonly AuditEventRecord[],
  before: { sequence: number; hash: string },
): { sequence: number; problem: string } | undefined {
  let previous = before;
  for (const event of events) {
    const expected = previous.sequence + 1;
    if (event.sequence !== expected) {
      return { sequence: expected, problem: `event ${expected} is missing (the next is ${event.sequence})` };
    }
    if (eventHash(event.previousHash, event, event.sequence) !== event.hash) {
      return { sequence: event.sequence, problem: `event ${event.sequence} was altered: its fields (or its place) do not match its hash` };
    }
    if (event.previousHash !== previous.hash) {
      return previous.sequence === 0
        ? { sequence: event.sequence, problem: `event ${event.sequence} was altered: the first event must name no predecessor` }
        : {
            sequence: previous.sequence,
            problem: `event ${event.sequence} does not follow event ${previous.sequence}: event ${previous.sequence} was altered and its hash computed again, or replaced`,
          };
    }
    previous = { sequence: event.sequence, hash: event.hash };
  }
  return undefined;
}

/**
 * Reads one chain whole, a page at a time, and reports its first break. A
 * chain whose older events were purged begins after its checkpoint, whose
 * signature `check` judges: an altered one is a break at its sequence.
 */
export async function verifyChain(store: Store, chain: ProjectRef, check?: CheckpointCheck): Promise<ChainReport> {
  let head = { sequence: 0, hash: GENESIS_HASH };
  let events = 0;
  const saved = await store.getAuditCheckpoint(chain);
  let checkpoint: ChainReport["checkpoint"];
  if (saved !== undefined) {
    head = { sequence: saved.sequence, hash: saved.hash };
    checkpoint = { sequence: saved.sequence, signature: check === undefined ? "unknown key" : await check(saved) };
    if (checkpoint.signature === "invalid") {
      return { chain, events, head, checkpoint, broken: { sequence: saved.sequence, problem: `the checkpoint after event ${saved.sequence} was altered: its signature does not hold` } };
    }
  }
  const report = await walk(store, chain, head);
  return checkpoint === undefined ? report : { ...report, checkpoint };
}

async function walk(store: Store, chain: ProjectRef, from: { sequence: number; hash: string }): Promise<ChainReport> {
  let head = from;
  let events = 0;
  for (;;) {
    const page = await store.listAuditEvents(chain, {}, { after: head.sequence, limit: PAGE });
    if (page.length === 0) return { chain, events, head };
    // A page is read after the last sequence seen: a missing first event shows as the page starting later.
    const broken = firstBreak(page, head);
    if (broken !== undefined) return { chain, events: events + page.length, head, broken };
    events += page.length;
    const last = page.at(-1)!;
    head = { sequence: last.sequence, hash: last.hash };
    if (page.length < PAGE) return { chain, events, head };
  }
}

/** Every chain of the store, verified. */
export async function verifyAll(store: Store, check?: CheckpointCheck): Promise<ChainReport[]> {
  const reports: ChainReport[] = [];
  for (const chain of await store.listAuditChains()) reports.push(await verifyChain(store, chain, check));
  return reports;
}
