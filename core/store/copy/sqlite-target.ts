/** A SQLite database as the target of a copy (target.ts). */
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { migrations, OLDEST_COMPATIBLE } from "../sqlite/migrations.js";
import { BUSY_TIMEOUT_MS } from "../sqlite/transactions.js";
import type { Row } from "../rows.js";
import { CopyRefused, KNOWN_VERSION } from "./shape.js";
import { sqliteDeployment, sqliteTables } from "./sqlite-source.js";
import type { Target } from "./target.js";

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

export function sqliteTarget(path: string): Target {
  const created = !existsSync(path);
  // As the store creates it (sqlite/store.ts): the file holds sealed keys and password hashes, owner only.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (created) closeSync(openSync(path, "a", 0o600));
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("journal_mode = WAL");
    // Off for this connection: rows are loaded parents first, and foreign_key_check proves them before the commit.
    db.pragma("foreign_keys = OFF");
  } catch (err) {
    if (created) removeDatabase(path);
    throw new CopyRefused(`${path} is not a usable SQLite database: ${(err as Error).message}`);
  }
  const statements = new Map<string, Database.Statement>();
  return {
    backend: "sqlite",
    name: path,
    async begin() {
      db.exec("BEGIN IMMEDIATE");
    },
    async inspect() {
      const version = db.pragma("user_version", { simple: true }) as number;
      const occupied = sqliteTables(db)
        .map((t) => t.name)
        .filter((name) => db.prepare(`SELECT 1 FROM ${quote(name)} LIMIT 1`).get() !== undefined);
      return { version, deployment: sqliteDeployment(db), occupied };
    },
    async reset() {
      // The file is iam-core's alone: every table goes (their indexes and triggers with them).
      const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").pluck().all() as string[];
      for (const name of names) db.exec(`DROP TABLE ${quote(name)}`);
      db.pragma("user_version = 0");
    },
    async createAt(version) {
      for (const migration of migrations.slice(0, version)) db.exec(migration);
      db.pragma(`user_version = ${version}`);
    },
    async migrateFrom(version, oldestCompatible) {
      for (const migration of migrations.slice(version)) db.exec(migration);
      db.pragma(`user_version = ${KNOWN_VERSION.sqlite}`);
      db.prepare("UPDATE iam_schema SET oldest_compatible = max(oldest_compatible, ?, ?)").run(OLDEST_COMPATIBLE, oldestCompatible);
    },
    async tables() {
      return sqliteTables(db);
    },
    async insert(table, columns, rows) {
      const key = `${table}\u0000${columns.join(",")}`;
      let insert = statements.get(key);
      if (insert === undefined) {
        insert = db.prepare(`INSERT INTO ${quote(table)} (${columns.map(quote).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
        statements.set(key, insert);
      }
      for (const row of rows) insert.run(row);
    },
    async afterLoad() {
      const broken = db.prepare("PRAGMA foreign_key_check").all() as { table: string; parent: string }[];
      if (broken.length > 0) {
        const first = broken[0]!;
        throw new CopyRefused(`${broken.length} rows of the source refer to rows it does not hold (first: a row of ${first.table} without its ${first.parent})`);
      }
      // INTEGER PRIMARY KEY ids continue after the largest copied one by themselves.
    },
    async setDeployment(deployment) {
      db.prepare("UPDATE iam_schema SET deployment_id = ?, created_at = ?").run(deployment.id, deployment.createdAt);
    },
    async all(sql) {
      return db.prepare(sql).all() as Row[];
    },
    async commit() {
      db.exec("COMMIT");
    },
    async rollback() {
      if (db.inTransaction) db.exec("ROLLBACK");
      if (created) {
        db.close();
        removeDatabase(path);
      }
    },
    async close() {
      if (db.open) db.close();
    },
  };
}

function removeDatabase(path: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}
