/**
 * HTTP load from autocannon (one process, one thread, its own lean HTTP/1.1
 * client): each connection repeats a unit of work of one or more requests,
 * one request in flight per connection. Every answer is checked; an answer
 * that is not the expected one counts as an error and ends its unit. A unit's
 * latency is the sum of its requests' latencies as autocannon measures them.
 */
import autocannon from "autocannon";
import type { Recorder } from "./recorder.mjs";

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** What changes in a request from one unit of work to the next. */
export interface Varied {
  path?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** One request of a unit of work. `S` is the unit's state: autocannon's per-connection context, new for each unit. */
export interface Step<S extends object = Record<string, unknown>> {
  method: "GET" | "POST";
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /**
   * The parts that change for this unit, from its state; undefined gives the
   * unit up (an earlier step's answer is missing). Steps without it are built
   * once, before the clock.
   */
  vary?(state: S): Varied | undefined;
  /** What is wrong with the answer, or undefined; keeps in `state` what later steps need. */
  check(answer: Answer, state: S): string | undefined;
}

export interface HttpLoad {
  /**
   * Connection `i`'s requests, made in turn, over and over; their closures
   * may keep that connection's own state. Each `unit` of them in a row is one
   * unit of work (a flow's steps); with `unit` 1, each request is one, and
   * the list is a rotation (clients, tokens).
   */
  connection(i: number): Step<any>[];
  unit: number;
}

/** A header of an answer, whatever the case of its name. */
export function header(answer: Answer, name: string): string | undefined {
  for (const [key, value] of Object.entries(answer.headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

/** What the last checked answer said; read by the response listener, which autocannon calls right after. */
type Verdict = { kind: "step" } | { kind: "done" } | { kind: "error"; message: string };
const STEP: Verdict = { kind: "step" };
const DONE: Verdict = { kind: "done" };

function toRequests(steps: Step<any>[], unit: number, setVerdict: (v: Verdict) => void): autocannon.Request[] {
  return steps.map((step, i) => {
    const last = i % unit === unit - 1;
    const request: autocannon.Request = {
      method: step.method,
      path: step.path,
      headers: step.headers ?? {},
      ...(step.body === undefined ? {} : { body: step.body }),
      onResponse: (status, body, context, headers) => {
        const state = context as { failed?: boolean };
        const problem = step.check({ status, body, headers: headers ?? {} }, state);
        if (problem !== undefined) state.failed = true;
        setVerdict(problem !== undefined ? { kind: "error", message: problem } : last ? DONE : STEP);
      },
    };
    const vary = step.vary;
    if (vary !== undefined) {
      // A falsy answer makes autocannon start the connection's next unit (with a fresh context).
      request.setupRequest = (built, context) => {
        const state = context as { failed?: boolean };
        const varied = state.failed === true ? undefined : vary(state);
        if (varied === undefined) return undefined as unknown as autocannon.Request;
        return { ...built, ...varied, headers: { ...built.headers, ...varied.headers } };
      };
    }
    return request;
  });
}

export interface HttpLoadOptions {
  url: string;
  connections: number;
  /** Requests per second over all connections (the soak); flat out when absent. */
  overallRate?: number;
}

/** Drives `load`, recording into `recorder`, until `until` settles. */
export async function runHttpLoad(load: HttpLoad, recorder: Recorder, options: HttpLoadOptions, until: Promise<unknown>): Promise<void> {
  let verdict: Verdict = STEP;
  const setVerdict = (v: Verdict) => (verdict = v);
  let next = 0;
  /** Latency so far of each connection's unit in progress. */
  const partial = new Map<object, number>();
  let finished!: () => void;
  const ended = new Promise<void>((resolve) => (finished = resolve));
  const instance = autocannon(
    {
      url: options.url,
      connections: options.connections,
      // The recorder stops the load; this is only a bound.
      duration: 24 * 3600,
      timeout: 10,
      ...(options.overallRate === undefined ? {} : { overallRate: Math.max(1, Math.round(options.overallRate)) }),
      // A placeholder: each connection gets its own steps as it is made, not a deep copy of a shared list.
      requests: [{ method: "GET", path: "/" }],
      setupClient: (client) => client.setRequests(toRequests(load.connection(next++), load.unit, setVerdict)),
    },
    () => finished(),
  );
  instance.on("response", (client: object, _status: number, _bytes: number, ms: number) => {
    recorder.answered();
    const unit = (partial.get(client) ?? 0) + ms;
    if (verdict.kind === "step") return void partial.set(client, unit);
    partial.delete(client);
    if (verdict.kind === "done") recorder.completed(unit);
    else recorder.failed(verdict.message);
    verdict = STEP;
  });
  instance.on("reqError", (err: unknown) => recorder.failed(`connection: ${err instanceof Error ? err.message : String(err)}`));
  await until;
  instance.stop();
  await ended;
}
