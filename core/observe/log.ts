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

export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  // Asynchronous: under load, lines written while a write is in progress are
  // sent together in one system call. What is pending is flushed when the
  // process exits (pino registers that); a SIGKILL may lose the last lines.
  // A worker of several (IAM_WORKERS) shares stderr with the others: it
  // writes each line whole, in a write(2) of its own, so that lines of
  // different workers never interleave.
  const destination: DestinationStream =
    write === undefined ? pino.destination({ fd: 2, sync: cluster.isWorker }) : { write };
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
    warn: (msg, fields) => log.warn(fields ?? {}, msg),
    error: (msg, fields) => log.error(fields ?? {}, msg),
  };
}
