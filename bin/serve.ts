import cluster from "node:cluster";
import type http from "node:http";
import { availableParallelism } from "node:os";
import { createClient, type Transport } from "@connectrpc/connect";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { createCore, type Core } from "../core/server/compose.js";
import { displayDb, type Config } from "../core/server/config.js";
import { createInProcessTransport } from "../wire/in-process-transport.js";
import type { Logger } from "../core/observe/log.js";
import { Metrics } from "../core/observe/metrics.js";
import { startCoreServer, type RunningServer } from "../core/server/listen.js";
import { createGateway } from "../gateway/app.js";
import { createBalancedTransport } from "../wire/balanced-transport.js";
import { startGatewayServer } from "../gateway/server.js";
import { reportReady, shareRates, signInHint, workerSlot } from "./cluster.js";
import { answerHealthQueries } from "./cluster-health.js";
import { startManagement } from "./management.js";

const timeoutsOf = (config: Config) => ({ headersSeconds: config.httpHeadersTimeout, requestSeconds: config.httpRequestTimeout });

/**
 * Runs `iam start`, `iam core` or `iam gateway` in this process: alone, or as
 * one worker of several (bin/cluster.ts). Stops cleanly on SIGTERM or SIGINT.
 */
export async function serve(command: "start" | "core" | "gateway", config: Config, logger: Logger): Promise<void> {
  const worker = workerSlot();
  if (worker !== undefined) shareRates(config, worker.count);
  const metrics = new Metrics({ process: true, clustered: cluster.isWorker });
  const servers: RunningServer[] = [];
  const closers: (() => Promise<void>)[] = [];
  const drainers: (() => void)[] = [];
  // The management listener, first (management.ts); a worker has none, its primary has the one.
  const management =
    worker === undefined ? await startManagement({ host: config.managementHost, port: config.managementPort }, { metrics: config.metrics ? metrics : undefined, logger }) : undefined;
  const managementNote = management === undefined ? "" : `, management on port ${management.port}`;
  // What readiness asks: the core in this process, or the cores the gateway calls.
  let health: Transport | undefined;
  // The core in this process, or over gRPC at IAM_CORE_URL (the gateway alone).
  // Read at call time: config.baseUrl may be set once the gateway has its port.
  const gatewayApp = (transport: Transport) =>
    createGateway({
      transport,
      baseUrl: config.baseUrl,
      logger,
      metrics,
      serveConsole: config.console,
      trustProxy: config.trustProxy,
      maxBodyBytes: config.httpMaxBodyBytes,
    });

  switch (command) {
    case "start":
    case "core": {
      // With IAM_HTTP_PORT=0 the base URL is only known once the gateway has
      // its port, so the gateway listens first and is handed the app after
      // (503 until then). Otherwise, and always in a worker (the primary has
      // chosen the ports), it listens once it can answer: a worker started
      // to replace one that died is handed connections as soon as it listens.
      let listener: http.RequestListener = (_req, res) => {
        res.statusCode = 503;
        res.end();
      };
      const listenGateway = async () => {
        const gateway = await startGatewayServer((req, res) => listener(req, res), config.host, config.httpPort, timeoutsOf(config));
        servers.unshift(gateway);
        return gateway.port;
      };
      let gatewayPort = config.httpPort;
      if (command === "start" && config.httpPort === 0) {
        gatewayPort = await listenGateway();
        if (process.env.IAM_BASE_URL === undefined || process.env.IAM_BASE_URL === "") {
          config.baseUrl = `http://localhost:${gatewayPort}`;
        }
      }
      // Of several workers, the first (started alone, before the others)
      // migrates the database, creates the default tenant, warns and purges.
      const first = worker === undefined || worker.slot === 0;
      const core = await createCore(config, {
        logger,
        metrics,
        purge: first,
        warn: first,
        // Each argon2id hash holds IAM_PASSWORD_HASH_MEMORY_KIB: no more of them at once than cores, in all.
        hashConcurrency: worker === undefined ? undefined : Math.max(1, Math.floor(availableParallelism() / worker.count)),
      });
      closers.push(() => core.close());
      drainers.push(() => core.health.drain());
      announceBootstrap(core, config, logger);
      const grpc = await startCoreServer(core.routes, config.host, config.grpcPort, {
        http2: {
          requestTimeoutMs: config.grpcRequestTimeout * 1000,
          idleTimeoutMs: config.grpcIdleTimeout * 1000,
          maxConcurrentStreams: config.grpcMaxStreams,
        },
      });
      servers.push(grpc);
      logger.info("core listening", { url: `http://${config.host}:${grpc.port}`, protocols: "grpc, grpc-web, connect" });
      health = createInProcessTransport(core.routes);
      if (command === "start") {
        const app = gatewayApp(health);
        listener = app.callback();
        if (config.httpPort !== 0) gatewayPort = await listenGateway();
        logger.info("gateway listening", { url: `http://${config.host}:${gatewayPort}`, base_url: config.baseUrl, ...(config.console ? { console: `${config.baseUrl}/admin/` } : {}) });
        if (worker === undefined) {
          process.stdout.write(`iam-core is up: gateway on port ${gatewayPort}, core (gRPC) on port ${grpc.port}${managementNote}.\n${signInHint(config)}`);
        }
      } else if (worker === undefined) {
        process.stdout.write(`iam-core is up: core (gRPC) on port ${grpc.port}${managementNote}.\n`);
      }
      break;
    }
    case "gateway": {
      // One or several core replicas: round-robin, with failover of the calls safe to repeat.
      const transport = createBalancedTransport(config.coreUrls, {
        onReplicaChange: (c) =>
          c.up
            ? logger.info("core replica answers again", { core: c.url })
            : logger.warn("core replica down", { core: c.url, retry_in_ms: c.backoffMs, error: c.error.message }),
      });
      health = transport;
      const app = gatewayApp(transport);
      const gateway = await startGatewayServer(app.callback(), config.host, config.httpPort, timeoutsOf(config));
      servers.push(gateway);
      logger.info("gateway listening", { url: `http://${config.host}:${gateway.port}`, core: config.coreUrls.join(","), ...(config.console ? { console: `${config.baseUrl}/admin/` } : {}) });
      if (worker === undefined) {
        process.stdout.write(`iam-core gateway is up on port ${gateway.port}${managementNote}, calling the core at ${config.coreUrls.join(", ")}.\n`);
      }
      break;
    }
  }
  management?.healthFrom(health!);
  if (worker !== undefined) {
    answerHealthQueries(createClient(Health, health!));
    reportReady();
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("draining", { signal });
    for (const drain of drainers) drain();
    management?.drain();
    // Servers first (in-flight requests finish), then the database; the
    // management listener last, answering "not ready" meanwhile.
    await Promise.all(servers.reverse().map((s) => s.close(config.shutdownGrace * 1000)));
    for (const close of closers) await close();
    await management?.close(0);
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** On the first start: says the default tenant was made, and shows a generated admin password once. */
function announceBootstrap(core: Core, config: Config, logger: Logger): void {
  if (!core.bootstrap.created) return;
  logger.info("created the default tenant iam-admins/iam-admins", { db: displayDb(config.db) });
  if (core.bootstrap.generatedAdminPassword !== undefined) {
    // Shown once, on the terminal, not in the log; only its hash is stored.
    process.stdout.write(
      `\n  Default administrator: user "admin", password ${core.bootstrap.generatedAdminPassword}\n` +
        `  (generated; set IAM_ADMIN_PASSWORD on first start to choose it)\n` +
        `  Console: ${config.baseUrl}/admin/\n\n`,
    );
  }
}
