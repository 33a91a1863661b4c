/**
 * Reading a PostgreSQL store as one snapshot: a REPEATABLE READ READ ONLY
 * transaction, every table read through a cursor in it. It sees the
 * database as it was at its first query; the replicas keep writing (MVCC: a
 * reader takes no row lock) and what they commit afterwards is not in it.
 */
import pg from "pg";
import { connectionConfig } from "../postgres/connection.js";
import { migrations } from "../postgres/migrations.js";
import { CopyRefused, INTERNAL_TABLES, parentsFirst, type Column, type ColumnType, type Deployment, type Table } from "./shape.js";
import type { Snapshot } from "./snapshot.js";

export const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * What iam-core's migrations create in the database's schema, read from
 * them: the only tables a copy reads or writes, and the only objects a forced
 * restore drops, so that tables of anyone else sharing the schema stay out of it.
 */
export const OWNED = (() => {
  const all = migrations.join("\n");
  const names = (pattern: RegExp) => [...new Set([...all.matchAll(pattern)].map((m) => m[1]!))];
  return { tables: ["iam_schema", ...names(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)], functions: names(/CREATE (?:OR REPLACE )?FUNCTION (\w+)/g) };
})();

const TYPES: Record<string, ColumnType> = { text: "text", int2: "integer", int4: "integer", int8: "integer", bool: "boolean", _text: "text[]" };

/** Connects for a copy: no statement or idle timeouts (a large table takes its time), named for pg_stat_activity. */
export async function connectForCopy(url: string, purpose: string): Promise<pg.Client> {
  const client = new pg.Client({ ...connectionConfig(url, `iam-core/${purpose}`), statement_timeout: 0, query_timeout: undefined, idle_in_transaction_session_timeout: 0, lock_timeout: 30_000 });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new CopyRefused(`cannot connect to the PostgreSQL database: ${(err as Error).message}`);
  }
  return client;
}

/** iam-core's data tables in the current schema, from information_schema and pg_constraint, parents first. */
export async function postgresTables(client: pg.Client): Promise<Table[]> {
  const { rows } = await client.query<{ table_name: string; column_name: string; udt_name: string }>(
    `SELECT c.table_name, c.column_name, c.udt_name FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
     WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
     ORDER BY c.table_name, c.ordinal_position`,
  );
  const fks = await client.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k
       JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
     WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace`,
  );
  const tables = new Map<string, Table>();
  for (const row of rows) {
    if (INTERNAL_TABLES.has(row.table_name) || !OWNED.tables.includes(row.table_name)) continue;
    const type = TYPES[row.udt_name];
    if (type === undefined) throw new CopyRefused(`column ${row.table_name}.${row.column_name} has type ${row.udt_name}, which a copy does not know`);
    let table = tables.get(row.table_name);
    if (table === undefined) tables.set(row.table_name, (table = { name: row.table_name, columns: [] as Column[], parents: [] }));
    table.columns.push({ name: row.column_name, type });
  }
  for (const { child, parent } of fks.rows) {
    const table = tables.get(child);
    if (table !== undefined && !table.parents.includes(parent)) table.parents.push(parent);
  }
  return parentsFirst([...tables.values()]);
}

/** The schema version and what iam_schema says of the database; version 0 when it holds no iam-core schema. */
export async function postgresSchema(client: pg.Client): Promise<{ version: number; deployment: Deployment | undefined }> {
  const exists = await client.query("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'iam_schema'");
  if (exists.rowCount === 0) return { version: 0, deployment: undefined };
  const { rows } = await client.query("SELECT * FROM iam_schema");
  const row = rows[0] as Record<string, unknown> | undefined;
  if (row === undefined) return { version: 0, deployment: undefined };
  const deployment =
    typeof row.deployment_id === "string"
      ? { id: row.deployment_id, createdAt: Number(row.created_at), oldestCompatible: Number(row.oldest_compatible) }
      : undefined;
  return { version: Number(row.version), deployment };
}

async function primaryKey(client: pg.Client, table: string): Promise<string[]> {
  const { rows } = await client.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
     WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    [quote(table)],
  );
  return rows.map((r) => r.attname);
}

const FETCH = 2000;

export async function postgresSnapshot(url: string): Promise<Snapshot> {
  const client = await connectForCopy(url, "copy");
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const { version, deployment } = await postgresSchema(client);
    if (version === 0) throw new CopyRefused("the PostgreSQL database holds no iam-core schema");
    const tables = await postgresTables(client);
    let cursors = 0;
    return {
      backend: "postgres",
      version,
      deployment,
      tables,
      takenAt: Date.now(),
      async *rows(table) {
        const pk = await primaryKey(client, table.name);
        const order = pk.length === 0 ? "" : ` ORDER BY ${pk.map(quote).join(", ")}`;
        const cursor = `iam_copy_${++cursors}`;
        await client.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${table.columns.map((c) => quote(c.name)).join(", ")} FROM ${quote(table.name)}${order}`);
        for (;;) {
          const page = await client.query({ text: `FETCH ${FETCH} FROM ${cursor}`, rowMode: "array" });
          yield* page.rows as unknown[][];
          if (page.rows.length < FETCH) break;
        }
        await client.query(`CLOSE ${cursor}`);
      },
      async close() {
        await client.query("ROLLBACK").catch(() => {});
        await client.end();
      },
    };
  } catch (err) {
    await client.end();
    throw err;
  }
}
