/**
 * What both sides log and count through, as the gateway sees it: the logger
 * interface (core/observe/log.ts implements it with pino) and the HTTP series
 * the gateway records and renders (core/observe/metrics.ts implements them
 * with prom-client). Types only, so the gateway needs nothing of the core's.
 *
 * Part of wire/: imported by core/ and gateway/, imports neither.
 */

/** Structured log lines: a message and explicit fields, never a request body. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** The labels of one HTTP request's series: its method, route pattern and status. */
export interface HttpLabels {
  method: string;
  route: string;
  status: string;
}

/** The metrics the gateway writes, and the page the management listener serves at GET /metrics (gateway/management.ts). */
export interface HttpMetrics {
  readonly httpRequests: { inc(labels: HttpLabels): void };
  readonly httpSeconds: { observe(labels: HttpLabels, seconds: number): void };
  /** The Prometheus text of this process (or of every worker of it). */
  render(): Promise<{ body: string; contentType: string }>;
}
