import cluster from "node:cluster";
import { ConfigError, describeConfig, isPostgresUrl, loadConfig, type Config } from "../core/server/config.js";
import { createLogger } from "../core/observe/log.js";
import { ADMIN_NOUNS, ADMIN_USAGE } from "./admin-usage.js";
import { AUDIT_USAGE } from "./audit-usage.js";
import { STORE_USAGE } from "./store-usage.js";
import { EXIT_PORT_TAKEN, runPrimary, workerCount } from "./cluster.js";

const USAGE = `usage: iam [start | core | gateway | config | <administration command>]
  start    core and gateway together (default), in IAM_WORKERS processes
  core     the core alone (gRPC, gRPC-Web and Connect on IAM_GRPC_PORT)
  gateway  the gateway alone, calling the core at IAM_CORE_URL over gRPC
  config   print the effective configuration, secrets masked

${ADMIN_USAGE}

${AUDIT_USAGE}

${STORE_USAGE}`;

/**
 * The `iam` command. What serves, and the administration commands, are loaded
 * only when asked for: the primary of several workers loads neither, and
 * stays small.
 */
async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? "start";
  if (command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`iam: invalid configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  if (ADMIN_NOUNS.has(command)) {
    const { runAdminCommand } = await import("./admin-cli.js");
    process.exitCode = await runAdminCommand(argv, config);
    return;
  }
  if (command === "audit") {
    const { runAuditCommand } = await import("./audit-cli.js");
    process.exitCode = await runAuditCommand(argv, config);
    return;
  }
  if (command === "backup" || command === "restore" || command === "migrate-store") {
    const { runStoreCommand } = await import("./store-cli.js");
    process.exitCode = await runStoreCommand(argv, config);
    return;
  }
  if (command === "config") {
    console.log(describeConfig(config));
    return;
  }
  if (command !== "start" && command !== "core" && command !== "gateway") {
    console.error(USAGE);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const count = workerCount(config);
  if (count > 1 && cluster.isPrimary) {
    await runPrimary({
      command,
      config,
      count,
      logger,
      // Workers that close the database together may each leave its WAL to the
      // other; the last connection to close checkpoints it into the database
      // file and removes it, so that a stopped server is one file to copy.
      afterStop:
        command === "gateway" || isPostgresUrl(config.db)
          ? undefined
          : async () => {
              const { default: Database } = await import("better-sqlite3");
              const db = new Database(config.db, { fileMustExist: true });
              // A connection opens the WAL at its first read; closing it, the last, removes it.
              db.pragma("wal_checkpoint(TRUNCATE)");
              db.close();
            },
    });
    return;
  }
  const { serve } = await import("./serve.js");
  await serve(command, config, logger);
}

main(process.argv.slice(2)).catch((err) => {
  console.error("iam: could not start:", err instanceof Error ? err.message : err);
  // A worker tells the primary that its port was taken: one it chose itself may be chosen again.
  const portTaken = cluster.isWorker && (err as { code?: unknown } | null)?.code === "EADDRINUSE";
  process.exit(portTaken ? EXIT_PORT_TAKEN : 1);
});
