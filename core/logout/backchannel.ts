import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import type { Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import type { ClientRecord, LogoutDeliveryRecord, SessionRecord } from "../store/types.js";
import { signLogoutToken } from "./logout-token.js";

/**
 * OpenID Connect Back-Channel Logout 1.0: when sessions end (RP-Initiated
 * Logout, administration, a user disabled), every client the session signed
 * the user into that registered a `backchannel_logout_uri` is sent a logout
 * token, server to server. Deliveries run beside the answer to the user and
 * never hold it up; each is bounded by a timeout, retried a few times on
 * network errors and 5xx answers only, and recorded (store.recordLogoutDelivery)
 * with its outcome. Shutdown waits for deliveries in flight, at most
 * IAM_BACKCHANNEL_LOGOUT_TIMEOUT; one cut short then is recorded as failed.
 */

/** The first pause between two attempts at one delivery, doubled after each. */
const FIRST_BACKOFF_MS = 250;

/**
 * The deliveries in flight, so that shutdown can wait for them, a bounded
 * while: those still running then are cut, and recorded as failed before the
 * store closes. None keeps the process alive past `close()`.
 */
export class LogoutDeliveries {
  readonly #inFlight = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  #closing = false;

  /** Runs a delivery beside whatever called it; answers false, running nothing, once `close()` has begun. */
  start(deliver: (shutdown: AbortSignal) => Promise<void>): boolean {
    if (this.#closing) return false;
    const running: Promise<void> = deliver(this.#shutdown.signal).finally(() => this.#inFlight.delete(running));
    this.#inFlight.add(running);
    return true;
  }

  /** Deliveries not yet recorded. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Resolves once every delivery started so far is recorded. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Starts no more deliveries, gives those in flight up to `graceMs` to
   * finish, then cuts the rest short (each is recorded as failed); resolves
   * once all are recorded.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    const cut = setTimeout(() => this.#shutdown.abort(), graceMs);
    try {
      await this.settled();
    } finally {
      clearTimeout(cut);
      this.#shutdown.abort();
    }
  }
}

/**
 * Tells the clients of each ended session that it ended (Back-Channel Logout
 * 1.0 §2.5). Returns at once: the deliveries run on (deps.logoutDeliveries),
 * their failures are recorded and logged, never thrown.
 */
export function announceLogout(deps: Deps, ended: readonly SessionRecord[]): void {
  for (const session of ended) {
    for (const clientId of new Set(session.clients)) {
      const started = deps.logoutDeliveries.start((shutdown) =>
        deliver(deps, session, clientId, shutdown).catch((err: unknown) =>
          deps.logger.error("back-channel logout failed", { client: clientId, session: session.id, err: describe(err) }),
        ),
      );
      if (!started) deps.logger.warn("back-channel logout not sent: the server is shutting down", { client: clientId, session: session.id });
    }
  }
}

/** One attempt's result: the HTTP status (0 when none came) and, unless delivered, what went wrong. */
interface Attempt {
  status: number;
  error: string;
}

/** @see Back-Channel Logout 1.0 §2.8: the RP answers 200 (some frameworks 204) when the logout succeeded. */
const delivered = (attempt: Attempt): boolean => attempt.status >= 200 && attempt.status < 300;

/** Worth trying again: no answer at all, or a server error. A 4xx says the RP refused the token; a 3xx is not followed. */
const retryable = (attempt: Attempt): boolean => attempt.status === 0 || attempt.status >= 500;

/** Sends one client its logout token, retrying as configured, and records the outcome. */
async function deliver(deps: Deps, session: SessionRecord, clientId: string, shutdown: AbortSignal): Promise<void> {
  const client = await deps.store.getClient(session, clientId);
  if (client === undefined || client.backchannelLogoutUri === "") return;
  const { backchannelLogoutTimeout, backchannelLogoutRetries } = deps.config;
  let attempts = 0;
  let last: Attempt;
  for (;;) {
    attempts++;
    // A new token (new jti, iat) for each attempt: an RP that saw the jti of a
    // failed attempt may refuse it as a replay (§2.6).
    let token: string;
    try {
      token = await signLogoutToken(deps, session, client);
    } catch (err) {
      deps.logger.error("could not sign a logout token", { client: client.id, session: session.id, err: describe(err) });
      last = { status: 0, error: "the logout token could not be signed" };
      break;
    }
    last = await postLogoutToken(client, token, backchannelLogoutTimeout, shutdown);
    if (delivered(last) || !retryable(last) || attempts > backchannelLogoutRetries || shutdown.aborted) break;
    await sleep(FIRST_BACKOFF_MS * 2 ** (attempts - 1), undefined, { signal: shutdown }).catch(() => {});
    if (shutdown.aborted) {
      last = { status: last.status, error: `${last.error}; not tried again: the server shut down` };
      break;
    }
  }
  const record: LogoutDeliveryRecord = {
    organization: session.organization,
    project: session.project,
    sessionId: session.id,
    clientId: client.id,
    uri: client.backchannelLogoutUri,
    status: last.status,
    outcome: delivered(last) ? "delivered" : "failed",
    attempts,
    error: last.error,
    at: epochSeconds(deps.clock),
  };
  await deps.store.recordLogoutDelivery(record);
  const fields = { client: client.id, session: session.id, uri: record.uri, status: record.status, attempts, error: record.error };
  if (record.outcome === "delivered") deps.logger.debug("back-channel logout delivered", fields);
  else deps.logger.warn("back-channel logout not delivered", fields);
}

/**
 * POSTs the logout token as `application/x-www-form-urlencoded` (§2.5), on a
 * connection of its own, within `timeoutSeconds` until the answer's status.
 * Redirects are not followed. Never rejects; the error text never holds the token.
 */
function postLogoutToken(client: ClientRecord, token: string, timeoutSeconds: number, shutdown: AbortSignal): Promise<Attempt> {
  let uri: URL;
  try {
    uri = new URL(client.backchannelLogoutUri);
  } catch {
    return Promise.resolve({ status: 0, error: "the back-channel logout URI is not a URL" });
  }
  if (uri.protocol !== "http:" && uri.protocol !== "https:") {
    return Promise.resolve({ status: 0, error: "the back-channel logout URI is not http(s)" });
  }
  const body = new URLSearchParams({ logout_token: token }).toString();
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  const options: RequestOptions = {
    method: "POST",
    // No pooled connection outlives the delivery (Connection: close).
    agent: false,
    signal: AbortSignal.any([shutdown, timeout]),
    headers: { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body) },
  };
  return new Promise((resolve) => {
    const onAnswer = (res: IncomingMessage) => {
      // The body says nothing we act on; read and drop it (still bounded by the signal).
      res.resume();
      res.on("error", () => {});
      const status = res.statusCode ?? 0;
      const error =
        status >= 200 && status < 300 ? "" : status >= 300 && status < 400 ? `answered ${status}; redirects are not followed` : `answered ${status}`;
      resolve({ status, error });
    };
    const req: ClientRequest = (uri.protocol === "https:" ? httpsRequest : httpRequest)(uri, options, onAnswer);
    req.on("error", (err) => {
      const error = timeout.aborted
        ? `no answer within ${timeoutSeconds} s`
        : shutdown.aborted
          ? "not delivered: the server shut down"
          : `could not send: ${describe(err)}`;
      resolve({ status: 0, error });
    });
    req.end(body);
  });
}

/** An error as one short line for the operator: its code (ECONNREFUSED) or message. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== undefined ? `${code} (${err.message})` : err.message;
  }
  return String(err);
}
