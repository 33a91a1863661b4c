import type { ConnectRouter } from "@connectrpc/connect";
import { ADMIN_CLIENT_ID, bootstrap, CONSOLE_CLIENT_ID, consoleClient, DEFAULT_TENANT, type BootstrapResult } from "../rpc/admin/default-tenant.js";
import { isPostgresUrl, type Config } from "./config.js";
import type { Deps } from "../deps.js";
import { KeyRing, type PrivateKeySource } from "../tokens/keys.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { createPasswordHashing } from "../lib/password.js";
import { RateLimiter } from "../lib/rate-limit.js";
import { createLogger, type Logger } from "../observe/log.js";
import { Metrics } from "../observe/metrics.js";
import { startPurge } from "./purge.js";
import { purgeAuditTrail } from "../audit/retention.js";
import { HealthState } from "./health.js";
import { createRoutes, IAM_SERVICES } from "./routes.js";
import { configuredSealer } from "../store/sealing.js";
import { openSqliteStore } from "../store/sqlite/store.js";
import type { Store } from "../store/types.js";
import { currentRequest } from "../../wire/request-id.js";

import { ClientAuthenticator } from "../tokens/client-auth.js";
import { ClientKeys } from "../tokens/client-jwks.js";
import { ClientMetadataDocuments } from "../clients/document-fetch.js";
import { VerifiedTokens } from "../tokens/verified-tokens.js";
import { LogoutDeliveries } from "../logout/backchannel.js";

export interface Core {
  deps: Deps;
  /** SERVING once the database is open; `drain()` it when shutdown begins. */
  health: HealthState;
  routes: (router: ConnectRouter) => void;
  bootstrap: BootstrapResult;
  /** Stops background work and closes the database. */
  close(): Promise<void>;
}

/**
 * The composition root of the core: opens the database (migrating it), builds
 * every dependency once, creates the default tenant on an empty database and
 * starts the purge job. Nothing else creates these.
 */
export async function createCore(
  config: Config,
  options: {
    clock?: Clock;
    logger?: Logger;
    metrics?: Metrics;
    /** Run the purge job here (default true): one worker of several does. */
    purge?: boolean;
    /** Log the warnings about the configuration (default true): once, not by every worker. */
    warn?: boolean;
    /** Password hashes run at once (default: one per CPU core); workers divide the cores. */
    hashConcurrency?: number;
    /** Where new signing keys come from (default: made afresh); the tests' harness reuses keys it made once. */
    privateKeys?: PrivateKeySource;
  } = {},
): Promise<Core> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? new Metrics();
  const store = await openStore(config, metrics, logger);
  if (config.keyEncryptionKey === undefined && options.warn !== false) {
    logger.warn(
      "private signing keys are stored unencrypted in the database: set IAM_KEY_ENCRYPTION_KEY (openssl rand -base64 32) and keep a copy of it with your backups",
    );
  }
  try {
    const passwords = await createPasswordHashing(
      config.passwordHashMemoryKib,
      config.passwordHashIterations,
      options.hashConcurrency,
    );
    const deps: Deps = {
      store,
      keys: new KeyRing(store, clock, options.privateKeys),
      clock,
      passwords,
      clients: new ClientAuthenticator(store, passwords),
      clientKeys: new ClientKeys(clock, config, logger),
      clientMetadata: new ClientMetadataDocuments(clock, config, logger, (ok) => metrics.clientMetadataFetches.inc({ result: ok ? "ok" : "failed" })),
      verifiedTokens: new VerifiedTokens(),
      logoutDeliveries: new LogoutDeliveries(),
      logger,
      metrics,
      limits: {
        token: new RateLimiter(config.tokenRatePerClient, config.tokenRateBurst),
        login: new RateLimiter(config.loginRatePerAddress, config.loginRateBurst),
        registration: new RateLimiter(config.registrationRatePerAddress / 60, config.registrationRateBurst),
      },
      config,
    };
    const created = await bootstrap(deps, {
      adminPassword: config.adminPassword,
      adminClientSecret: config.adminClientSecret,
    });
    if (options.warn !== false) {
      await warnOnDefaultSecret(deps);
      if (config.console) await warnOnConsoleClient(deps);
      warnOnSharedOrigin(deps);
    }
    const purgeAudit = () => purgeAuditTrail(deps, clock.now(), config.auditRetentionDays);
    const stopPurge = options.purge === false ? () => {} : startPurge(store, clock, logger, config.purgeInterval, purgeAudit);
    const health = new HealthState(IAM_SERVICES.map((s) => s.typeName));
    reportWritability(store, health, metrics, logger);
    return {
      deps,
      health,
      routes: createRoutes(deps, health),
      bootstrap: created,
      async close() {
        stopPurge();
        // Back-channel logouts in flight get one attempt's time to finish; the rest are recorded as failed while the store is open.
        await deps.logoutDeliveries.close(config.backchannelLogoutTimeout * 1000);
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/**
 * Each change of whether the database can be written, told to health
 * (NOT_SERVING while it cannot), the iam_storage_writable gauge, and the log:
 * one line when a fault begins, with the database's code for it (never a
 * statement or a value), and one when a probe write succeeds again.
 */
function reportWritability(store: Store, health: HealthState, metrics: Metrics, logger: Logger): void {
  store.writability.onChange((writable, reason) => {
    health.storageWritable(writable);
    metrics.storageWritable.set(writable ? 1 : 0);
    if (writable) logger.info("the database can be written again: serving", { storage: "writable" });
    else {
      logger.error("the database cannot be written: answering 503 (UNAVAILABLE) and NOT_SERVING until a probe write succeeds", {
        storage: "unwritable",
        reason,
      });
    }
  });
}

/** The database IAM_DB names: a PostgreSQL URL, or else a SQLite file. */
async function openStore(config: Config, metrics: Metrics, logger: Logger): Promise<Store> {
  const onOperation = (operation: string, seconds: number) => metrics.dbSeconds.observe({ operation }, seconds);
  const unitOfWork = currentRequest;
  const sealer = configuredSealer(config);
  if (!isPostgresUrl(config.db)) return openSqliteStore(config.db, { onOperation, sealer, synchronous: config.dbSynchronous, unitOfWork });
  const { openPostgresStore } = await import("../store/postgres/store.js");
  return openPostgresStore(config.db, {
    onOperation,
    sealer,
    unitOfWork,
    poolSize: config.dbPoolSize,
    onListenerChange: (up, err) =>
      up
        ? logger.info("listening for other replicas' changes again")
        : logger.warn("lost the connection that listens for other replicas' changes; reading everything from the database until it is back", {
            err,
          }),
  });
}

/** The published default secret of admin-client, which holds global administration. */
const DEFAULT_ADMIN_CLIENT_SECRET = "top-secret";

async function warnOnDefaultSecret(deps: Deps): Promise<void> {
  const client = await deps.store.getClient(DEFAULT_TENANT, ADMIN_CLIENT_ID);
  if (client?.secretHash && (await deps.passwords.verify(client.secretHash, DEFAULT_ADMIN_CLIENT_SECRET))) {
    deps.logger.warn(
      "admin-client still has the published default secret and holds global administration: rotate it (iam client rotate-secret iam-admins iam-admins admin-client)",
    );
  }
}

/**
 * The console's sign-in through iam-admins/iam-admins: nobody signs in when
 * its client is missing (a database made before the console, or the client
 * deleted), when its redirect URI names another base URL than this server's
 * (IAM_BASE_URL changed since the client was made), nor when the client or
 * the project requires pushed authorization requests, which the console does
 * not make.
 */
async function warnOnConsoleClient(deps: Deps): Promise<void> {
  const client = await deps.store.getClient(DEFAULT_TENANT, CONSOLE_CLIENT_ID);
  if (client === undefined) {
    deps.logger.warn(
      `nobody can sign in to the administration console (/admin) through iam-admins/iam-admins: it has no client ${CONSOLE_CLIENT_ID} (a database made by an earlier version, or the client was deleted); add it with: iam console-client iam-admins iam-admins`,
    );
    return;
  }
  const callback = consoleClient(deps.config.baseUrl, DEFAULT_TENANT, client.createdAt).redirectUris[0];
  if (callback !== undefined && !client.redirectUris.includes(callback)) {
    deps.logger.warn(
      `nobody can sign in to the administration console (/admin) through iam-admins/iam-admins: client ${CONSOLE_CLIENT_ID} does not name this base URL's callback ${callback} (IAM_BASE_URL changed since it was made); ` +
        `make it again with: iam client delete iam-admins iam-admins ${CONSOLE_CLIENT_ID} && iam console-client iam-admins iam-admins`,
      { redirect_uris: client.redirectUris },
    );
  }
  const project = await deps.store.getProject(DEFAULT_TENANT);
  if (client.requirePushedAuthorizationRequests || project?.requirePushedAuthorizationRequests === true) {
    const [who, fix] = client.requirePushedAuthorizationRequests
      ? [`client ${CONSOLE_CLIENT_ID}`, `iam client update iam-admins iam-admins ${CONSOLE_CLIENT_ID} --require-par false`]
      : ["the project", "iam project update iam-admins iam-admins --require-par false"];
    deps.logger.warn(
      `nobody can sign in to the administration console (/admin) through iam-admins/iam-admins: ${who} requires pushed authorization requests (RFC 9126), which the console does not make; turn it off with: ${fix}`,
    );
  }
}

/**
 * A base URL with a path shares its origin with whatever else the host
 * serves there: a script of any page on that origin runs as iam-core's own
 * (it could drive the sign-in pages in a window it opened, and read the
 * console's tokens). Browsers draw their security boundary at the origin.
 */
function warnOnSharedOrigin(deps: Deps): void {
  const { pathname } = new URL(deps.config.baseUrl);
  if (pathname === "/" || pathname === "") return;
  deps.logger.warn(
    `IAM_BASE_URL has a path (${pathname}): iam-core shares its origin with every other page the host serves, and a script on any of them can act as a person signed in to iam-core; give iam-core an origin of its own (docs/security.md)`,
  );
}
