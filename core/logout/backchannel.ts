import type { ClientRequest, IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { AddressRefused, addressCheckingLookup, describeError as describe, hostRefusal, openRequest, systemResolve, type ResolveHost } from "../outbound/request.js";
import { PRIVATE_NETWORKS_OPTION } from "../rpc/admin/validate.js";
import type { ClientRecord, LogoutDeliveryRecord, SessionRecord } from "../store/types.js";
import { signLogoutToken } from "./logout-token.js";

/**
 * OpenID Connect Back-Channel Logout 1.0: when sessions end (RP-Initiated
 * Logout, administration, a user disabled), every client the session signed
 * the user into that registered a `backchannel_logout_uri` is sent a logout
 * token, server to server. Deliveries run beside the answer to the user and
 * never hold it up; each is bounded by a timeout, retried a few times on
 * network errors and 5xx answers only, and recorded (store.recordLogoutDelivery)
 * with its outcome. At most MAX_IN_FLIGHT run at once per process, the rest
 * wait in a bounded queue. Shutdown records the queued ones as failed and
 * waits for those in flight, at most IAM_BACKCHANNEL_LOGOUT_TIMEOUT; one cut
 * short then is recorded as failed.
 *
 * The URI is a project administrator's choice, and the request leaves from
 * inside the operator's network: unless IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS
 * is set, a URI that is not https, or whose host is (or resolves to) a
 * loopback, private, link-local, unique-local, shared or reserved address, is
 * not contacted: the delivery is recorded as failed, and not tried again.
 * The addresses are checked as the connection is made (the `lookup` of the
 * request), so a name that resolved to a public address at registration and
 * resolves to 127.0.0.1 now (DNS rebinding) is refused too (outbound/request.ts).
 */

/** The first pause between two attempts at one delivery, doubled after each. */
const FIRST_BACKOFF_MS = 250;

/**
 * Deliveries running at once in one process. Ending many sessions at once
 * (RevokeUserSessions, a user disabled, a burst of logouts) makes sessions ×
 * clients deliveries, each a connection of its own: without a bound that is
 * as many sockets and timers as the burst, toward relying parties that may be
 * slow. Sixteen keep a relying party's usual answers (well under a second)
 * flowing at hundreds a second, while a hung one holds at most sixteen sockets.
 */
export const MAX_IN_FLIGHT = 16;

/**
 * Deliveries waiting for one of those places. Past it the oldest waiting one
 * is dropped, recorded as failed ("delivery queue full"): the memory a burst
 * can take stays bounded, and the newest logouts, those users just asked
 * for, go out.
 */
export const MAX_QUEUED = 10_000;

/** One delivery: what runs it, and what records it as failed when it never runs. */
interface Job {
  run: (shutdown: AbortSignal) => Promise<void>;
  fail: (error: string) => Promise<void>;
  /** Called once the delivery is recorded, run or not. */
  recorded: () => void;
}

export type { ResolveHost };

/**
 * The deliveries of this process: at most `limits.inFlight` run at once, at
 * most `limits.queued` wait, so that shutdown can wait for them, a bounded
 * while: those waiting then are recorded as failed at once, those running
 * are cut after the grace and recorded as failed, all before the store
 * closes. None keeps the process alive past `close()`.
 */
export class LogoutDeliveries {
  /** Every delivery not yet recorded, running or waiting. */
  readonly #unrecorded = new Set<Promise<void>>();
  readonly #queue: Job[] = [];
  readonly #shutdown = new AbortController();
  #running = 0;
  #closing = false;

  /**
   * How the names of back-channel URIs are resolved (the system resolver).
   * A test may put its own here: no name but localhost resolves without DNS.
   */
  resolveHost: ResolveHost = systemResolve;

  constructor(readonly limits: { inFlight: number; queued: number } = { inFlight: MAX_IN_FLIGHT, queued: MAX_QUEUED }) {}

  /**
   * Runs a delivery beside whatever called it, at once or when a place
   * frees; `fail` records it as failed if it is dropped without running.
   * Answers false, running nothing, once `close()` has begun.
   */
  start(run: (shutdown: AbortSignal) => Promise<void>, fail: (error: string) => Promise<void> = async () => {}): boolean {
    if (this.#closing) return false;
    let recorded = () => {};
    const done = new Promise<void>((resolve) => (recorded = resolve));
    this.#unrecorded.add(done);
    void done.then(() => this.#unrecorded.delete(done));
    const job: Job = { run, fail, recorded };
    if (this.#running < this.limits.inFlight) {
      this.#run(job);
      return true;
    }
    this.#queue.push(job);
    if (this.#queue.length > this.limits.queued) this.#drop(this.#queue.shift()!, "delivery queue full");
    return true;
  }

  #run(job: Job): void {
    this.#running++;
    job
      .run(this.#shutdown.signal)
      .catch(() => {})
      .finally(() => {
        this.#running--;
        job.recorded();
        while (!this.#closing && this.#running < this.limits.inFlight && this.#queue.length > 0) this.#run(this.#queue.shift()!);
      });
  }

  #drop(job: Job, error: string): void {
    job
      .fail(error)
      .catch(() => {})
      .finally(() => job.recorded());
  }

  /** Deliveries not yet recorded, running or waiting. */
  get inFlight(): number {
    return this.#unrecorded.size;
  }

  /** Deliveries running now. */
  get running(): number {
    return this.#running;
  }

  /** Resolves once every delivery started so far is recorded. */
  async settled(): Promise<void> {
    while (this.#unrecorded.size > 0) await Promise.allSettled([...this.#unrecorded]);
  }

  /**
   * Starts no more deliveries and records those waiting as failed; gives
   * those running up to `graceMs` to finish, then cuts the rest short (each
   * is recorded as failed); resolves once all are recorded.
   */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    for (const job of this.#queue.splice(0)) this.#drop(job, "not sent: the server shut down");
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
      const failed = (err: unknown) =>
        deps.logger.error("back-channel logout failed", { client: clientId, session: session.id, err: describe(err) });
      const started = deps.logoutDeliveries.start(
        (shutdown) => deliver(deps, session, clientId, shutdown).catch(failed),
        (error) => recordUnsent(deps, session, clientId, error).catch(failed),
      );
      if (!started) deps.logger.warn("back-channel logout not sent: the server is shutting down", { client: clientId, session: session.id });
    }
  }
}

/** One attempt's result: the HTTP status (0 when none came) and, unless delivered, what went wrong. */
interface Attempt {
  status: number;
  error: string;
  /** Not to be tried again whatever the status: the URI or its address is refused. */
  final?: boolean;
}

/** @see Back-Channel Logout 1.0 §2.8: the RP answers 200 (some frameworks 204) when the logout succeeded. */
const delivered = (attempt: Attempt): boolean => attempt.status >= 200 && attempt.status < 300;

/** Worth trying again: no answer at all, or a server error. A 4xx says the RP refused the token; a 3xx is not followed. */
const retryable = (attempt: Attempt): boolean => attempt.final !== true && (attempt.status === 0 || attempt.status >= 500);

/** Sends one client its logout token, retrying as configured, and records the outcome. */
async function deliver(deps: Deps, session: SessionRecord, clientId: string, shutdown: AbortSignal): Promise<void> {
  const client = await deps.store.getClient(session, clientId);
  if (client === undefined || client.backchannelLogoutUri === "") return;
  const { backchannelLogoutTimeout, backchannelLogoutRetries } = deps.config;
  // The operator's option is for its own clients: one that registered itself (anyone may, RFC 7591) reaches public hosts only.
  const privateNetworks = deps.config.backchannelLogoutPrivateNetworks && client.dynamicallyRegistered !== true && client.metadataDocument !== true;
  // A URI stored before the rule, or while the operator allowed private networks, is held to it now.
  const refused = privateNetworks ? undefined : refusalOf(client.backchannelLogoutUri);
  if (refused !== undefined) {
    await record(deps, session, client, { status: 0, error: refused }, 0);
    return;
  }
  const lookup = addressCheckingLookup(deps.logoutDeliveries.resolveHost, privateNetworks, PRIVATE_NETWORKS_OPTION);
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
    last = await postLogoutToken(client, token, backchannelLogoutTimeout, shutdown, lookup);
    if (delivered(last) || !retryable(last) || attempts > backchannelLogoutRetries || shutdown.aborted) break;
    await sleep(FIRST_BACKOFF_MS * 2 ** (attempts - 1), undefined, { signal: shutdown }).catch(() => {});
    if (shutdown.aborted) {
      last = { status: last.status, error: `${last.error}; not tried again: the server shut down` };
      break;
    }
  }
  await record(deps, session, client, last, attempts);
}

/** Records a delivery's outcome, and logs it: a debug line when delivered, a warning when not. */
async function record(deps: Deps, session: SessionRecord, client: ClientRecord, last: Attempt, attempts: number): Promise<void> {
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

/** Records as failed a delivery that never ran (the queue was full, the server shut down). */
async function recordUnsent(deps: Deps, session: SessionRecord, clientId: string, error: string): Promise<void> {
  const client = await deps.store.getClient(session, clientId);
  if (client === undefined || client.backchannelLogoutUri === "") return;
  await record(deps, session, client, { status: 0, error }, 0);
}

/** Why a stored URI may not be contacted while private networks are not allowed; undefined when it may. */
function refusalOf(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined; // postLogoutToken says so
  }
  const refusal = hostRefusal(url, PRIVATE_NETWORKS_OPTION);
  return refusal === undefined ? undefined : `not sent: ${refusal}`;
}

/**
 * POSTs the logout token as `application/x-www-form-urlencoded` (§2.5), on a
 * connection of its own, within `timeoutSeconds` until the answer's status.
 * Redirects are not followed. Never rejects; the error text never holds the token.
 */
function postLogoutToken(client: ClientRecord, token: string, timeoutSeconds: number, shutdown: AbortSignal, lookup: LookupFunction): Promise<Attempt> {
  let uri: URL;
  try {
    uri = new URL(client.backchannelLogoutUri);
  } catch {
    return Promise.resolve({ status: 0, error: "the back-channel logout URI is not a URL", final: true });
  }
  if (uri.protocol !== "http:" && uri.protocol !== "https:") {
    return Promise.resolve({ status: 0, error: "the back-channel logout URI is not http(s)", final: true });
  }
  const body = new URLSearchParams({ logout_token: token }).toString();
  const timeout = AbortSignal.timeout(timeoutSeconds * 1000);
  const signal = AbortSignal.any([shutdown, timeout]);
  const headers = { "Content-Type": "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(body) };
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
    const req: ClientRequest = openRequest(uri, { method: "POST", headers, signal, lookup }, onAnswer);
    req.on("error", (err) => {
      if (err instanceof AddressRefused) return resolve({ status: 0, error: `not sent: ${err.message}`, final: true });
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
