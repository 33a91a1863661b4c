/**
 * The PostgreSQL backend: one file a concern (tenants.ts, clients.ts, …,
 * purge.ts), its connections (connection.ts), transactions
 * (transactions.ts) and the listener of other processes' changes
 * (listener.ts); cached.ts makes them the Store.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { Backend, BackendEvents } from "../backend.js";
import { cachedStore } from "../cached.js";
import { createKeySealer, resealedEvent, type KeySealer } from "../sealing.js";
import { factorSealId } from "../rows.js";
import type { AuditEventInput, Store } from "../types.js";
import { access } from "./access.js";
import { resources } from "./resources.js";
import { authorization } from "./authorization.js";
import { clients } from "./clients.js";
import { registrations } from "./registrations.js";
import { connectionConfig, LOCKS, withTransaction } from "./connection.js";
import { consents } from "./consents.js";
import { metadataDocumentRules } from "./metadata-document-rules.js";
import { factors } from "./factors.js";
import { grants } from "./grants.js";
import { keys } from "./keys.js";
import { ChangeListener } from "./listener.js";
import { migrations, OLDEST_COMPATIBLE } from "./migrations.js";
import { schemaVerdict } from "../schema.js";
import { overview } from "./overview.js";
import { purge } from "./purge.js";
import { sessions } from "./sessions.js";
import { postgresMappers, statements, type Sql } from "./sql.js";
import { tenants } from "./tenants.js";
import { throttle } from "./throttle.js";
import { audit } from "./audit.js";
import { transactions } from "./transactions.js";
import { users } from "./users.js";

export { LOCKS } from "./connection.js";
export { ChangeListener, HEARTBEAT_MS } from "./listener.js";
export { PURGE_BATCH } from "./purge.js";

export interface PostgresStoreOptions {
  /** Called after each store operation (and each transaction) with the seconds it took. */
  onOperation?: (operation: string, seconds: number) => void;
  /** Encrypts private signing keys at rest; without it they are stored as plain JWKs. */
  sealer?: KeySealer;
  /** Connections this process keeps to the server for queries (one more listens for changes). */
  poolSize?: number;
  /** Told when the connection that listens for other processes' changes is lost, and when it is back. */
  onListenerChange?: (up: boolean, err?: unknown) => void;
  /**
   * The request being served (the same object throughout it), or undefined:
   * the change epoch is read once per request (cached.ts).
   */
  unitOfWork?: () => object | undefined;
}

/**
 * Opens the PostgreSQL database at `url` (postgres://user:password@host:port/db),
 * applies pending migrations and answers the Store over it. Every statement
 * that decides a race (a code exchanged, a refresh token rotated, a failed
 * sign-in counted, a consent merged) is one conditional UPDATE or upsert, so
 * that it is decided by the server's row locks whichever replica sends it.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const origin = `iam-core/${randomUUID()}`;
  const connection = connectionConfig(url, origin);
  const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  // An idle connection the server drops emits here; the next query takes a new one.
  pool.on("error", () => {});
  let changes: ChangeListener | undefined;
  try {
    await migrate(pool);
    const sealer = options.sealer ?? createKeySealer();
    await sealKeys(pool, sealer);
    changes = new ChangeListener(connection, origin, options.onListenerChange);
    await changes.start();
    const listener = changes;
    return cachedStore((events) => postgresBackend(pool, sealer, listener, events), options.onOperation, options.unitOfWork);
  } catch (err) {
    await changes?.close();
    await pool.end();
    throw err;
  }
}

/** The operations over `pool`, its transactions, and the change epoch `changes` keeps. */
export function postgresBackend(pool: pg.Pool, sealer: KeySealer, changes: ChangeListener, events: BackendEvents): Backend {
  const { sql, transaction, inTransaction, changes: feed, deferEvent } = transactions(pool, changes, events);
  const map = postgresMappers(sealer);
  return {
    ops: {
      ...tenants(sql, map),
      ...clients(sql, map),
      ...registrations(sql, map),
      ...metadataDocumentRules(sql, map),
      ...users(sql, map),
      ...access(sql, map),
      ...resources(sql, map),
      ...keys(sql, map, sealer, feed),
      ...overview(sql),
      ...authorization(sql, map),
      ...grants(sql, map),
      ...consents(sql, map),
      ...sessions(sql, map),
      ...throttle(sql),
      ...factors(sql, map, sealer),
      ...audit(sql),
      ...purge(sql, pool, changes),
    },
    // The pool lets every operation in at once; the server's row locks decide.
    // Within a transaction, an audit event waits for its commit (transactions.ts).
    enter: (declaration, run) =>
      declaration.kind === "write" && declaration.changes === "audit event"
        ? (args) => (deferEvent(args[0] as AuditEventInput) ? undefined : run(args))
        : run,
    transaction,
    inTransaction,
    // Another caller's reads do not see this transaction's changes before it
    // commits, and the epoch moves only then: reads in it go to the database.
    cacheInTransaction: false,
    // Other replicas learn of a revocation after its commit: grants are read from the database at every use.
    revocationsMoveEpoch: false,
    changes: feed,
    // iam_schema's one row rewritten as it is: a transaction id, a WAL record and a commit, no growth past one dead tuple.
    probeWrite: () => transaction(async () => void (await sql.run("UPDATE iam_schema SET created_at = created_at"))),
    close: async () => {
      await changes.close();
      await pool.end();
    },
  };
}

async function migrate(pool: pg.Pool): Promise<void> {
  // One migration per transaction, under an advisory lock, the version read
  // inside it: of replicas that start at once, one applies each migration and
  // the others find it applied.
  for (;;) {
    const applied = await withTransaction(pool, async (client) => {
      // A migration of a large table may take long, and wait for the tables it alters.
      await client.query("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0");
      await client.query("SELECT pg_advisory_xact_lock($1)", [LOCKS.migrate]);
      await client.query("CREATE TABLE IF NOT EXISTS iam_schema (version INTEGER NOT NULL)");
      const { rows } = await client.query("SELECT * FROM iam_schema");
      const version = rows.length === 0 ? 0 : (rows[0]!.version as number);
      const oldestCompatible = (rows[0]?.oldest_compatible as number | undefined) ?? undefined;
      if (schemaVerdict("PostgreSQL", migrations.length, { version, oldestCompatible }) === "compatible") return false;
      if (version === migrations.length) {
        await client.query("UPDATE iam_schema SET oldest_compatible = greatest(oldest_compatible, $1)", [OLDEST_COMPATIBLE]);
        return false;
      }
      await client.query(migrations[version]!);
      if (rows.length === 0) await client.query("INSERT INTO iam_schema (version) VALUES (1)");
      else await client.query("UPDATE iam_schema SET version = $1", [version + 1]);
      return true;
    });
    if (!applied) return;
  }
}

/**
 * Opens every private key once, so that a missing or wrong KEK stops the
 * start-up instead of a later sign-in; with a KEK, encrypts each key stored
 * in plaintext or under the previous KEK.
 */
async function sealKeys(pool: pg.Pool, sealer: KeySealer): Promise<void> {
  await withTransaction(pool, async (client) => {
    const { rows } = await client.query("SELECT kid, private_jwk FROM signing_keys FOR UPDATE");
    const resealed: { kid: string; stored: string }[] = [];
    for (const row of rows) {
      const privateJwk = sealer.open(row.kid, row.private_jwk);
      if (sealer.stale(row.private_jwk)) {
        await client.query("UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2", [sealer.seal(row.kid, privateJwk), row.kid]);
        resealed.push({ kid: row.kid, stored: row.private_jwk });
      }
    }
    // TOTP secrets likewise, each bound to its factor.
    const totps = await client.query("SELECT organization_id, project_id, id, secret FROM factors WHERE kind = 'totp' FOR UPDATE");
    const factors: { kid: string; stored: string }[] = [];
    for (const row of totps.rows) {
      const kid = factorSealId(row.organization_id, row.project_id, row.id);
      const secret = sealer.open(kid, row.secret);
      if (sealer.stale(row.secret)) {
        await client.query("UPDATE factors SET secret = $1 WHERE organization_id = $2 AND project_id = $3 AND id = $4", [
          sealer.seal(kid, secret),
          row.organization_id,
          row.project_id,
          row.id,
        ]);
        factors.push({ kid, stored: row.secret });
      }
    }
    // Its event in the same transaction, through the audit trail's own statements on this connection.
    if (resealed.length + factors.length > 0) {
      const inThis: Sql = { ...statements(() => client), atomic: (fn) => fn(), inTransaction: () => true, on: (_, fn) => fn() };
      await audit(inThis).appendAuditEvent(resealedEvent(resealed, sealer, Date.now(), factors));
    }
  });
}
