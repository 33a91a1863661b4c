/** The connections to the server: their settings, and a connection held for a transaction or a session lock. */
import pg from "pg";
import type { Row } from "../rows.js";

/** Advisory lock keys (pg_advisory_*): one per job that must not run twice at once across replicas. */
export const LOCKS = {
  migrate: 0x69616d01,
  bootstrap: 0x69616d02,
  purge: 0x69616d03,
} as const;

/**
 * The first key of the two-key advisory locks (pg_advisory_xact_lock(int,
 * int), a key space apart from the one-key locks above) that serialize the
 * appends to one audit chain; the second is a hash of the chain's name.
 */
export const AUDIT_CHAIN_LOCK = 0x69616d10;

/** The first key of the two-key advisory locks that serialize counting a project's clients against a ceiling (client-count.ts). */
export const CLIENT_CEILING_LOCK = 0x69616d11;

/**
 * pg answers BIGINT (and count(*)) as strings, for values past 2^53; times in
 * seconds and row counts are far from that, so they are read as numbers.
 */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

/** A pool, or the connection of the caller's transaction. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
}

/** The settings of every connection to the database at `url`, named `origin` (application_name). */
export function connectionConfig(url: string, origin: string): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: origin,
    types,
    // A server or network that goes silent must not hold a request, a row
    // lock or the listener forever: TCP keep-alive on every connection, and
    // each side gives up after a bound (SQLite's busy timeout is 5 s too).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: 10_000,
    query_timeout: 35_000,
    statement_timeout: 30_000,
    lock_timeout: 5_000,
    idle_in_transaction_session_timeout: 30_000,
  };
}

/**
 * A pooled connection held for a transaction or a session lock. pg-pool
 * stops listening to a connection's errors while it is checked out: one the
 * server ends then (a restart, pg_terminate_backend, a timeout) would be an
 * unhandled 'error' event, which ends the process. It is caught here, and the
 * connection is released as broken, never handed to anyone else.
 */
export async function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; release: (err?: Error) => void }> {
  const client = await pool.connect();
  let failed: Error | undefined;
  const onError = (err: Error) => (failed ??= err);
  client.on("error", onError);
  return {
    client,
    release: (err?: Error) => {
      client.off("error", onError);
      client.release(err ?? failed);
    },
  };
}

/**
 * COMMIT. PostgreSQL answers a COMMIT of a transaction that an earlier
 * statement aborted with ROLLBACK, and no error: that is made one here, so a
 * caller never takes a rolled-back transaction for a committed one.
 */
export async function commit(client: pg.PoolClient): Promise<void> {
  const result = await client.query("COMMIT");
  if (result.command !== "COMMIT") throw new Error("the transaction was rolled back: a statement in it had failed");
}

/** Runs `fn` in a transaction on a connection of its own (start-up work: migrations, sealing keys). */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkout(pool);
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await commit(client);
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
    throw err;
  } finally {
    // A connection that could not even roll back is not given to anyone else.
    release(broken);
  }
}
