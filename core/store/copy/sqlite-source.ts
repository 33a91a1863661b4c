/**
 * Reading a SQLite store as one snapshot: a read transaction on a
 * connection of its own. In WAL mode (the store's) a reader never blocks a
 * writer nor waits for one: the server keeps committing while the copy
 * reads the database as it was at the transaction's first read.
 */
import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { BUSY_TIMEOUT_MS } from "../sqlite/transactions.js";
import { CopyRefused, INTERNAL_TABLES, parentsFirst, type Column, type Deployment, type Table } from "./shape.js";
import type { Snapshot } from "./snapshot.js";

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The data tables of the database on `db`, from its own schema, parents first. */
export function sqliteTables(db: Database.Database): Table[] {
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").pluck().all() as string[];
  const tables = names
    .filter((name) => !INTERNAL_TABLES.has(name))
    .map((name) => {
      const info = db.prepare(`PRAGMA table_info(${quote(name)})`).all() as { name: string; type: string }[];
      const columns: Column[] = info.map((c) => {
        const type = c.type.toUpperCase();
        if (type !== "TEXT" && type !== "INTEGER") throw new CopyRefused(`column ${name}.${c.name} has type ${c.type}, which a copy does not know`);
        return { name: c.name, type: type === "TEXT" ? "text" : "integer" };
      });
      const parents = (db.prepare(`PRAGMA foreign_key_list(${quote(name)})`).all() as { table: string }[]).map((f) => f.table);
      return { name, columns, parents: [...new Set(parents)] };
    });
  return parentsFirst(tables);
}

/** What iam_schema says of the database; undefined before SQLite migration 12. */
export function sqliteDeployment(db: Database.Database): Deployment | undefined {
  const exists = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'iam_schema'").get();
  if (exists === undefined) return undefined;
  const row = db.prepare("SELECT deployment_id, created_at, oldest_compatible FROM iam_schema").get() as Record<string, unknown> | undefined;
  if (row === undefined) return undefined;
  return { id: row.deployment_id as string, createdAt: row.created_at as number, oldestCompatible: row.oldest_compatible as number };
}

/** The primary key's columns, for a stable order (a table without one is read in rowid order). */
function orderOf(db: Database.Database, table: string): string {
  const info = db.prepare(`PRAGMA table_info(${quote(table)})`).all() as { name: string; pk: number }[];
  const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  return pk.length === 0 ? "" : ` ORDER BY ${pk.map((c) => quote(c.name)).join(", ")}`;
}

export function sqliteSnapshot(path: string): Snapshot {
  if (!existsSync(path)) throw new CopyRefused(`there is no SQLite database at ${path}`);
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // The read transaction begins at its first read: every read after sees the database as it was then.
    db.exec("BEGIN");
    db.prepare("SELECT count(*) FROM sqlite_schema").get();
  } catch (err) {
    throw new CopyRefused(`${path} is not a readable SQLite database: ${(err as Error).message}`);
  }
  const takenAt = Date.now();
  try {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version === 0) throw new CopyRefused(`${path} holds no iam-core schema`);
    const tables = sqliteTables(db);
    const deployment = sqliteDeployment(db);
    return {
      backend: "sqlite",
      version,
      deployment,
      tables,
      takenAt,
      async *rows(table) {
        const columns = table.columns.map((c) => quote(c.name)).join(", ");
        yield* db.prepare(`SELECT ${columns} FROM ${quote(table.name)}${orderOf(db, table.name)}`).raw().iterate() as Iterable<unknown[]>;
      },
      async close() {
        if (db.open) {
          if (db.inTransaction) db.exec("ROLLBACK");
          db.close();
        }
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
