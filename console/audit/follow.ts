import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useRef, useState } from "preact/hooks";
import type { AuditEvent } from "../../gen/iam/v1/audit_pb.js";
import { audit, messageOf } from "../api.js";
import { currentSession, refresh, signInAgain } from "../auth.js";
import { announce } from "../ui/status.js";
import { passes, sawEvent, type Chain, type EventFilter } from "./read.js";

/**
 * Following a chain live: StreamEvents from the last sequence seen, each new
 * event handed to `onEvent`. The stream closes when following stops or the
 * screen is left (the call's signal). It is opened again from the last
 * sequence seen when it breaks: at once after the access token is renewed
 * (the core ends a stream with UNAUTHENTICATED when its token expires, and
 * the API's interceptor does not retry streams), after a growing pause when
 * the network or the server failed. A refusal that a retry cannot change
 * (the chain purged past that point, the right to read it lost) stops it,
 * with the core's words.
 */

export type FollowState = "live" | "reconnecting" | "stopped";

/** Codes of a stream that broke on the way, not by the core's decision: open it again. */
const TRANSIENT = new Set([Code.Unavailable, Code.Unknown, Code.Internal, Code.DeadlineExceeded, Code.Aborted, Code.Canceled, Code.ResourceExhausted]);
const FIRST_RETRY_MS = 1_000;
const LAST_RETRY_MS = 30_000;

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}

export function useFollow(options: {
  chain: Chain;
  filter: EventFilter;
  /** Following and not paused. */
  active: boolean;
  /** The newest sequence shown: where following starts, unless the stream went further before a pause. */
  after: number;
  onEvent: (event: AuditEvent) => void;
}): { state: FollowState; error: string | undefined } {
  const [state, setState] = useState<FollowState>("stopped");
  const [error, setError] = useState<string>();
  const latest = useRef(options);
  latest.current = options;
  /** The last sequence the stream sent, kept across a pause: a resumed stream starts after it. */
  const last = useRef<number | undefined>(undefined);
  const { chain, filter, active } = options;
  const key = JSON.stringify([chain, filter]);
  useEffect(() => {
    last.current = undefined;
  }, [key]);

  useEffect(() => {
    if (!active) {
      setState("stopped");
      return;
    }
    const controller = new AbortController();
    const { signal } = controller;
    setError(undefined);
    // From the last sequence the stream sent, or the newest shown when the page was read again since.
    last.current = Math.max(last.current ?? 0, latest.current.after);
    void (async () => {
      let retryMs = FIRST_RETRY_MS;
      while (!signal.aborted) {
        const token = currentSession()?.accessToken;
        // Live from the call on: the server answers its headers with the first event, which may be long in coming.
        setState("live");
        try {
          const stream = audit.streamEvents(
            { ...chain, afterSequence: BigInt(last.current ?? 0), actions: filter.actions, outcome: filter.outcome },
            { signal },
          );
          for await (const { event } of stream) {
            // A message already on its way when the stream was closed belongs to what closed it.
            if (signal.aborted) return;
            if (event === undefined) continue;
            last.current = Number(event.sequence);
            sawEvent(chain, last.current);
            retryMs = FIRST_RETRY_MS;
            // StreamEvents filters by actions and outcome; the rest of the filter is applied here.
            if (passes(filter, event)) latest.current.onEvent(event);
          }
        } catch (err) {
          if (signal.aborted) return;
          const refused = ConnectError.from(err);
          if (refused.code === Code.Unauthenticated) {
            // Renewed meanwhile (the renewal timer), or renewed now: go on from the last sequence seen.
            if (currentSession()?.accessToken !== token || (await refresh())) continue;
            await signInAgain();
            return;
          }
          if (!TRANSIENT.has(refused.code)) {
            setError(messageOf(refused));
            setState("stopped");
            return;
          }
        }
        if (signal.aborted) return;
        setState("reconnecting");
        await pause(retryMs, signal);
        retryMs = Math.min(retryMs * 2, LAST_RETRY_MS);
      }
    })();
    return () => controller.abort();
  }, [active, key]);

  return { state, error };
}

/** How often at most the arrival of new events is announced. */
const ANNOUNCE_EVERY_MS = 5_000;

/**
 * "3 new events", said by the status region at most once every five
 * seconds however fast they come, so that a screen reader is not flooded.
 */
export function useArrivalAnnouncer(): (count: number) => void {
  const pending = useRef(0);
  const lastAt = useRef(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  return (count) => {
    pending.current += count;
    if (timer.current !== undefined) return;
    timer.current = setTimeout(
      () => {
        announce(pending.current === 1 ? "1 new audit event" : `${pending.current} new audit events`);
        pending.current = 0;
        lastAt.current = Date.now();
        timer.current = undefined;
      },
      Math.max(0, lastAt.current + ANNOUNCE_EVERY_MS - Date.now()),
    );
  };
}
