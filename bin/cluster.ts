import cluster, { type Worker } from "node:cluster";
import net, { type AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { AggregatorRegistry } from "prom-client";
import type { Config } from "../core/server/config.js";
import type { Logger } from "../core/observe/log.js";
import type { HealthMessage } from "./cluster-health.js";

/**
 * Several processes serving the same ports on one database (IAM_WORKERS): the
 * primary forks the workers, which each run the whole server, and stays out
 * of the request path. The first worker starts alone and migrates the
 * database and creates the default tenant; the others start once it is up. The kernel's connections are handed to the workers in turn by the
 * primary (Node's round-robin cluster scheduling); a connection, and every
 * request on it, stays with one worker.
 *
 * What the workers share goes through the database: tokens, grants, codes,
 * lockouts, and a change epoch that tells each worker when its in-memory copy
 * of projects, clients, users and keys is stale. What they do not share: the
 * per-client and per-address request rates, which each worker enforces for
 * its share (1/N) of the configured rate and burst; and the metrics, which the
 * primary sums over the workers.
 *
 * The primary alone listens on the management port (IAM_MANAGEMENT_PORT):
 * one address for the whole server, that answers while workers die and are
 * replaced, with the metrics summed over the workers and a readiness that is
 * every running worker's (cluster-health.ts).
 */

/** Set by the primary in each worker's environment: its slot (0-based) and how many there are. */
export const WORKER_SLOT = "IAM_WORKER_SLOT";
export const WORKER_COUNT = "IAM_WORKER_COUNT";

/** Messages between a worker and the primary. */
export type ClusterMessage = { type: "iam:ready" } | HealthMessage;

export function workerCount(config: Config): number {
  return config.workers === 0 ? availableParallelism() : config.workers;
}

/** In a worker: its slot and the number of workers; undefined in a single process. */
export function workerSlot(): { slot: number; count: number } | undefined {
  if (!cluster.isWorker) return undefined;
  return { slot: Number(process.env[WORKER_SLOT]), count: Number(process.env[WORKER_COUNT]) };
}

/**
 * A worker's share of the configured request rates: a client or address whose
 * connections land on every worker gets the configured total, one that sends
 * everything over one connection gets 1/N of it. Never more than configured.
 */
export function shareRates(config: Config, count: number): void {
  config.tokenRatePerClient /= count;
  config.tokenRateBurst = Math.ceil(config.tokenRateBurst / count);
  config.loginRatePerAddress /= count;
  config.loginRateBurst = Math.ceil(config.loginRateBurst / count);
}

/** A free port on `host`, for a port configured as 0: every worker must listen on the same one. */
async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A worker's exit code when the port it was told to listen on was taken (EADDRINUSE). */
export const EXIT_PORT_TAKEN = 98;
/** Times the primary chooses new free ports when another process took the ones it chose, before it gives up. */
const PORT_ATTEMPTS = 5;

/**
 * The V8 heap settings of each worker, unless the server was started with its
 * own value of the same flag (on the command line or in NODE_OPTIONS). V8's
 * defaults let the old generation grow to several times what is live before a
 * full collection, and keep two 16 MB semi-spaces: under load a worker whose
 * live heap is about 21 MB held 100 to 130 MB. Growing the heap by half of
 * what is live, with 8 MB semi-spaces, keeps it near 60 to 75 MB for the same
 * rate of requests (the numbers are in docs/performance.md).
 */
export const WORKER_HEAP_FLAGS: readonly string[] = ["--max-semi-space-size=8", "--heap-growing-percent=50"];

/** A flag's name as V8 reads it: `--max_semi_space_size=4` and `--max-semi-space-size` are one flag. */
const flagName = (flag: string) => flag.split("=")[0]!.replaceAll("_", "-");

/** A worker's node flags: the heap settings the operator did not set, then the primary's own flags. */
export function workerExecArgv(primaryExecArgv: readonly string[], nodeOptions = ""): string[] {
  const given = new Set([...primaryExecArgv, ...nodeOptions.split(/\s+/)].filter((f) => f.startsWith("--")).map(flagName));
  return [...WORKER_HEAP_FLAGS.filter((f) => !given.has(flagName(f))), ...primaryExecArgv];
}

/** Restarts of crashed workers allowed within a minute before the primary gives up. */
const MAX_RESTARTS_PER_MINUTE = 5;

/**
 * Runs the primary: `count` workers, the first alone until it is up, each
 * restarted when it dies after it was ready; stops them all on SIGTERM or
 * SIGINT. Resolves the ports configured as 0 first, so that every worker
 * listens on the same ones and the issuer (the base URL) is the same.
 */
export async function runPrimary(options: {
  command: "start" | "core" | "gateway";
  config: Config;
  count: number;
  logger: Logger;
  /** Runs once every worker has stopped, before the primary exits. */
  afterStop?: () => Promise<void>;
}): Promise<void> {
  const { command, config, count, logger } = options;
  const env: Record<string, string> = { [WORKER_COUNT]: String(count) };
  const chooseHttp = command !== "core" && config.httpPort === 0;
  const chooseGrpc = command !== "gateway" && config.grpcPort === 0;
  // A free port is free when it is chosen: another process may take it before
  // the first worker listens. The first worker then says so (EXIT_PORT_TAKEN)
  // and the ports are chosen again.
  const choosePorts = async () => {
    if (chooseHttp) env.IAM_HTTP_PORT = String((config.httpPort = await freePort(config.host)));
    if (chooseGrpc) env.IAM_GRPC_PORT = String((config.grpcPort = await freePort(config.host)));
    if (process.env.IAM_BASE_URL === undefined || process.env.IAM_BASE_URL === "") {
      config.baseUrl = `http://localhost:${config.httpPort}`;
    }
  };
  await choosePorts();
  let portAttempts = 1;

  const aggregator = new AggregatorRegistry();
  const slots = new Map<Worker, number>();
  const ready = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let announced = false;
  let exitCode = 0;

  // Loaded here: the primary of a cluster is the only `iam` process without serve.ts that needs them.
  const [{ startManagement }, { clusterHealth }] = await Promise.all([import("./management.js"), import("./cluster-health.js")]);
  // Ready once every worker has started, until the primary is told to stop.
  const health = clusterHealth(() => (announced && !stopping ? [...ready] : undefined));
  const management = await startManagement(
    { host: config.managementHost, port: config.managementPort },
    {
      transport: health.transport,
      metrics: config.metrics ? { render: async () => ({ body: await aggregator.clusterMetrics(), contentType: aggregator.contentType }) } : undefined,
      logger,
    },
  );

  const stopAll = (signal: NodeJS.Signals, code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info("stopping workers", { signal, workers: slots.size });
    for (const worker of slots.keys()) worker.process.kill(signal);
    if (slots.size === 0) void finish();
  };
  const finish = async () => {
    try {
      await options.afterStop?.();
    } catch (err) {
      logger.error("could not close the database after the workers", { err });
    }
    logger.info("stopped");
    process.exit(exitCode);
  };

  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, process.env.NODE_OPTIONS) });
  const fork = (slot: number) => {
    const worker = cluster.fork({ ...env, [WORKER_SLOT]: String(slot) });
    slots.set(worker, slot);
    worker.on("message", (message: ClusterMessage) => {
      if (message?.type === "iam:ready") {
        ready.add(worker);
        if (announced) logger.info("a new worker is ready", { slot });
        // The first worker has migrated the database: the others may open it.
        if (!announced && slot === 0 && slots.size === 1) for (let next = 1; next < count; next++) fork(next);
        if (!announced && ready.size === count) {
          announced = true;
          logger.info("workers ready", { workers: count });
          const what =
            command === "core" ? `core (gRPC) on port ${config.grpcPort}` : command === "gateway" ? `gateway on port ${config.httpPort}` : `gateway on port ${config.httpPort}, core (gRPC) on port ${config.grpcPort}`;
          // One write: whoever waits for the first line gets the sign-in URL with it.
          process.stdout.write(`iam-core is up: ${what}, ${count} worker processes, management on port ${management.port}.\n${command === "start" ? signInHint(config) : ""}`);
        }
      } else if (message?.type === "iam:health-answer") {
        health.answered(message);
      }
    });
    worker.on("exit", (code, signal) => {
      slots.delete(worker);
      const wasReady = ready.delete(worker);
      if (stopping) {
        if (slots.size === 0) void finish();
        return;
      }
      if (!wasReady && slot === 0 && ready.size === 0 && code === EXIT_PORT_TAKEN && (chooseHttp || chooseGrpc) && portAttempts < PORT_ATTEMPTS) {
        portAttempts++;
        logger.warn("a port chosen for the workers was taken meanwhile; choosing others", { attempt: portAttempts });
        void choosePorts().then(() => fork(0));
        return;
      }
      if (!wasReady) {
        // It could not start (a port taken, a database it cannot open): so will the next.
        logger.error("a worker could not start; stopping", { slot, exit_code: code, signal });
        stopAll("SIGTERM", 1);
        return;
      }
      const now = Date.now();
      restarts.push(now);
      while (restarts[0]! < now - 60_000) restarts.shift();
      if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
        logger.error("workers keep dying; stopping", { restarts: restarts.length });
        stopAll("SIGTERM", 1);
        return;
      }
      logger.error("a worker died; starting another", { slot, exit_code: code, signal });
      fork(slot);
    });
  };

  fork(0);
  process.on("SIGTERM", () => stopAll("SIGTERM", 0));
  process.on("SIGINT", () => stopAll("SIGTERM", 0));
}

/** The sign-in URL printed on start. */
export function signInHint(config: Config): string {
  const redirect = encodeURIComponent(`${config.baseUrl}/services/oauth2/iam-admins/iam-admins/redirect`);
  return (
    `Sign in with a browser at:\n  ${config.baseUrl}/services/oauth2/iam-admins/iam-admins/authorize` +
    `?response_type=code&client_id=admin-client&state=abc&scope=&redirect_uri=${redirect}\n`
  );
}

/** In a worker: tells the primary it listens. */
export function reportReady(): void {
  process.send?.({ type: "iam:ready" } satisfies ClusterMessage);
}
