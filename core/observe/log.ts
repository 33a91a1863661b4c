import cluster from "node:cluster";
import { pino, stdSerializers, type DestinationStream } from "pino";
import { currentRequest } from "../../wire/request-id.js";
import type { Logger } from "../../wire/observe.js";

/**
 * Structured logs: one JSON object per line on stderr, through pino. Callers
 * pass fields explicitly and nothing here serializes request bodies; a line
 * written while a request is handled carries its `request_id`. As a second
 * line of defence, fields named like credentials are censored wherever they
 * appear.
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export type { Logger };

const CREDENTIAL_FIELDS = [
  "password",
  "secret",
  "client_secret",
  "clientSecret",
  "code",
  "code_verifier",
  "codeVerifier",
  "token",
  "access_token",
  "accessToken",
  "refresh_token",
  "refreshToken",
  "id_token",
  "idToken",
  "authorization",
  "cookie",
  // private_key_jwt assertions and DPoP proofs: each good for one request, but good for that.
  "client_assertion",
  "clientAssertion",
  "dpop",
  "dpopProof",
];

const CENSORED = new Set(CREDENTIAL_FIELDS);

/**
 * Replaces the value of every field named like a credential, at the top level
 * and one level down (`{client: {client_secret}}`). A check of each key
 * against a set: several times cheaper than path-based redaction, and it is
 * paid on every line.
 */
function censor(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields;
  for (const key in fields) {
    const value = fields[key];
    let replaced: unknown = value;
    if (CENSORED.has(key)) replaced = "[redacted]";
    else if (typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Error)) {
      for (const inner in value) {
        if (CENSORED.has(inner)) {
          replaced = Object.fromEntries(
            Object.entries(value).map(([k, v]) => [k, CENSORED.has(k) ? "[redacted]" : v]),
          );
          break;
        }
      }
    }
    if (replaced !== value) {
      if (out === fields) out = { ...fields };
      out[key] = replaced;
    }
  }
  return out;
}

/**
 * Whole log lines gathered for one turn of the event loop and written
 * together, each write at most PIPE_BUF (4,096 bytes) so that a pipe takes
 * it at once and no other process's write lands inside it (a longer line is
 * written alone). Under load a worker makes one system call for many lines
 * instead of one per line. What is pending is written when the process exits.
 */
export class WholeLines implements DestinationStream {
  static readonly MAX_WRITE = 4096;
  readonly #out: { write(chunk: string): unknown };
  #pending: string[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #flush = () => this.flush();

  constructor(out: { write(chunk: string): unknown }) {
    this.#out = out;
    process.once("exit", this.#flush);
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.#bytes + bytes > WholeLines.MAX_WRITE) this.flush();
    this.#pending.push(line);
    this.#bytes += bytes;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const chunk = this.#pending.length === 1 ? this.#pending[0]! : this.#pending.join("");
    this.#pending = [];
    this.#bytes = 0;
    this.#out.write(chunk);
  }
}

export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  // Lines logged in one turn of the event loop leave together, in writes of
  // whole lines that no other process's write can cut (WholeLines): under
  // load one system call carries many lines, and the workers of a server
  // (IAM_WORKERS), which share stderr, never interleave their lines. What is
  // pending is written when the process exits; a SIGKILL may lose the last
  // turn's lines.
  // Warnings and errors (rare, and what a person running a command reads
  // next to its other output) are written at once, with what is pending.
  const lines = write === undefined ? new WholeLines(pino.destination({ fd: 2, sync: true })) : undefined;
  const destination: DestinationStream = lines ?? { write: write! };
  const now = () => lines?.flush();
  const log = pino(
    {
      level,
      // A worker of several names itself on each line: which one logged it.
      base: cluster.isWorker ? { worker: Number(process.env.IAM_WORKER_SLOT) } : undefined,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: censor },
      serializers: { err: stdSerializers.err },

      mixin: () => {
        const request = currentRequest();
        return request === undefined ? {} : { request_id: request.requestId };
      },
    },
    destination,
  );
  return {
    debug: (msg, fields) => log.debug(fields ?? {}, msg),
    info: (msg, fields) => log.info(fields ?? {}, msg),
    warn: (msg, fields) => (log.warn(fields ?? {}, msg), now()),
    error: (msg, fields) => (log.error(fields ?? {}, msg), now()),
  };
}
