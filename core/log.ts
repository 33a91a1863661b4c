import { pino, stdSerializers, type DestinationStream } from "pino";
import { currentRequest } from "./observe/context.js";

/**
 * Structured logs: one JSON object per line on stderr, through pino. Callers
 * pass fields explicitly and nothing here serializes request bodies; a line
 * written while a request is handled carries its `request_id`. As a second
 * line of defence, fields named like credentials are censored wherever they
 * appear.
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

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

export function createLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const destination: DestinationStream = write === undefined ? pino.destination({ fd: 2, sync: true }) : { write };
  const log = pino(
    {
      level,
      base: undefined,
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: stdSerializers.err },
      redact: { paths: [...CREDENTIAL_FIELDS, ...CREDENTIAL_FIELDS.map((f) => `*.${f}`)], censor: "[redacted]" },
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
