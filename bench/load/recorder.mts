/**
 * Cuts one continuous load into a warm-up and consecutive timed runs. The
 * load never pauses between runs (connections, refresh-token chains and
 * sessions carry on); each completed unit counts in the run during which it
 * completed, and each run's length is measured, not assumed, so a late timer
 * does not inflate a rate.
 */
import { Latencies } from "../stats.mjs";
import type { LoadOutput, RunResult, Timing } from "./plan.mjs";

interface Window {
  started: number;
  cpu: NodeJS.CpuUsage;
  completed: number;
  requests: number;
  errors: number;
  latencies: Latencies;
}

const newWindow = (): Window => ({ started: performance.now(), cpu: process.cpuUsage(), completed: 0, requests: 0, errors: 0, latencies: new Latencies() });

export class Recorder {
  readonly #timing: Timing;
  /** The warm-up first, then one window per run. */
  #current: Window = newWindow();
  #warmupErrors = 0;
  #runs: RunResult[] = [];
  #firstError: string | undefined;
  #onMeasuring: () => void;

  /** `onMeasuring` is called when the warm-up ends and the first run starts. */
  constructor(timing: Timing, onMeasuring: () => void = () => {}) {
    this.#timing = timing;
    this.#onMeasuring = onMeasuring;
  }

  /** Starts the clock; resolves when the last run has ended. */
  run(): Promise<LoadOutput> {
    return new Promise((resolve) => {
      const next = (ms: number, then: () => void) => setTimeout(then, ms);
      const endRun = () => {
        this.#close();
        if (this.#runs.length < this.#timing.runs) return next(this.#timing.runSeconds * 1000, endRun);
        resolve({ runs: this.#runs, warmupErrors: this.#warmupErrors, ...(this.#firstError === undefined ? {} : { firstError: this.#firstError }) });
      };
      next(this.#timing.warmupSeconds * 1000, () => {
        this.#warmupErrors = this.#current.errors;
        this.#current = newWindow();
        this.#onMeasuring();
        next(this.#timing.runSeconds * 1000, endRun);
      });
    });
  }

  /** A unit of work completed and checked, in `ms` (one request, or a whole flow). */
  completed(ms: number): void {
    this.#current.completed++;
    this.#current.latencies.add(ms);
  }

  /** An answer arrived (counted for requests per second, whatever its verdict). */
  answered(): void {
    this.#current.requests++;
  }

  failed(message: string): void {
    this.#current.errors++;
    this.#firstError ??= message.slice(0, 300);
  }

  #close(): void {
    const w = this.#current;
    const seconds = (performance.now() - w.started) / 1000;
    const cpu = process.cpuUsage(w.cpu);
    const loadCpu = (cpu.user + cpu.system) / 1e6 / seconds;
    this.#runs.push({ completed: w.completed, requests: w.requests, errors: w.errors, seconds, loadCpu, ...w.latencies.summary() });
    this.#current = newWindow();
  }
}
