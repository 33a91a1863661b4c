/** How statements cross to the server and back: values escaped, rows unescaped, errors stripped of row data. */
import type pg from "pg";
import { rowMappers, type Row } from "../rows.js";
import type { KeySealer } from "../sealing.js";
import { AlreadyExists, NotFound } from "../types.js";
import type { Queryable } from "./connection.js";

export type { Row };

/** The statements of the operations, each on the caller's transaction's connection or the pool. */
export interface Sql {
  run(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
  rows(text: string, values?: unknown[]): Promise<Row[]>;
  one(text: string, values?: unknown[]): Promise<Row | undefined>;
  /** The rows the statement changed. */
  count(text: string, values?: unknown[]): Promise<number>;
  /** Several statements that must land together: in the caller's transaction, or in one of their own. */
  atomic<T>(fn: () => Promise<T>): Promise<T>;
  /** Whether the caller runs within a transaction. */
  inTransaction(): boolean;
  /** Runs `fn` with its statements on `client`, outside any transaction: each commits alone. */
  on<T>(client: pg.PoolClient, fn: () => Promise<T>): Promise<T>;
}

/** run, rows, one and count over the connection `db()` answers at each statement. */
export function statements(db: () => Queryable): Pick<Sql, "run" | "rows" | "one" | "count"> {
  const run = async (sql: string, values: unknown[] = []) => {
    let result: pg.QueryResult<Row>;
    try {
      result = await db().query(sql, values.map(encodeValue));
    } catch (err) {
      throw withoutRowData(err);
    }
    for (const row of result.rows) decodeRow(row);
    return result;
  };
  return {
    run,
    rows: async (sql, values = []) => (await run(sql, values)).rows,
    one: async (sql, values = []) => (await run(sql, values)).rows[0],
    count: async (sql, values = []) => (await run(sql, values)).rowCount ?? 0,
  };
}

/** The records from PostgreSQL's rows: text[] and boolean columns come back as arrays and booleans. */
export function postgresMappers(sealer: KeySealer) {
  return rowMappers({ list: (value) => value as string[], flag: (value) => value === true }, sealer);
}

export type Mappers = ReturnType<typeof postgresMappers>;

export const maybe = <T>(row: Row | undefined, map: (r: Row) => T): T | undefined => (row === undefined ? undefined : map(row));

/**
 * PostgreSQL's text cannot hold U+0000, which SQLite's can, and which a
 * client may put in what iam-core keeps as inert data (a `state`, a `nonce`,
 * a username that matches nobody, stored and answered exactly). Every string
 * crossing to the server is escaped with U+FFFF, a noncharacter no protocol
 * value carries: U+FFFF becomes U+FFFF U+FFFF, U+0000 becomes U+FFFF "0";
 * every string read back is unescaped. A string with neither, that is every
 * ordinary value, is sent and stored unchanged.
 */
const ESCAPE = "\uFFFF";
function encodeText(value: string): string {
  if (!value.includes("\u0000") && !value.includes(ESCAPE)) return value;
  return value.replace(/\uFFFF/g, "\uFFFF\uFFFF").replace(/\u0000/g, "\uFFFF0");
}
function decodeText(value: string): string {
  return value.includes(ESCAPE) ? value.replace(/\uFFFF([\uFFFF0])/g, (_, c: string) => (c === "0" ? "\u0000" : ESCAPE)) : value;
}
function encodeValue(value: unknown): unknown {
  if (typeof value === "string") return encodeText(value);
  if (Array.isArray(value)) return value.map(encodeValue);
  return value;
}
function decodeRow(row: Row): void {
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === "string") row[key] = decodeText(value);
    else if (Array.isArray(value)) row[key] = value.map((v: unknown) => (typeof v === "string" ? decodeText(v) : v));
  }
}

/**
 * PostgreSQL's errors may carry the values of the row at fault ("Failing row
 * contains (…)": a secret's hash, a sealed key): they are dropped before the
 * error can reach a log. The message, code, table and constraint stay.
 */
function withoutRowData(err: unknown): unknown {
  if (err instanceof Error) {
    const fields = err as unknown as Record<string, unknown>;
    for (const field of ["detail", "where", "internalQuery"]) delete fields[field];
  }
  return err;
}

function uniqueViolation(err: unknown): boolean {
  return err instanceof Error && (err as { code?: string }).code === "23505";
}

/** Runs an INSERT (or an UPDATE of a unique column); a duplicate is AlreadyExists, named `what`. */
export async function insert(what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (uniqueViolation(err)) throw new AlreadyExists(what);
    throw err;
  }
}

/**
 * An INSERT of a row that belongs to a client (a foreign key, its deletion
 * cascading): a duplicate is AlreadyExists; a client deleted meanwhile is
 * NotFound, not a failure of the database.
 */
export async function insertForClient(what: string, ref: { clientId: string }, run: () => Promise<unknown>): Promise<void> {
  try {
    await insert(what, run);
  } catch (err) {
    if (err instanceof Error && (err as { code?: string }).code === "23503") throw new NotFound(`client ${ref.clientId}`);
    throw err;
  }
}
