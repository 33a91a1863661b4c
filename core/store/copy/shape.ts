/**
 * What a logical copy of a store moves: its tables and columns, as the
 * source's own schema describes them (sqlite_schema and PRAGMA table_info,
 * information_schema), never a list kept by hand; the schema version each
 * backend numbers its own way; and the deployment the database belongs to.
 */
import { migrations as postgresMigrations } from "../postgres/migrations.js";
import { migrations as sqliteMigrations } from "../sqlite/migrations.js";

export type BackendName = "sqlite" | "postgres";

/**
 * A column's type as its backend stores it. SQLite keeps booleans as
 * INTEGER 0/1 and lists as JSON text where PostgreSQL has BOOLEAN and
 * TEXT[]: a value is converted by the type of the target's column (convert.ts).
 */
export type ColumnType = "text" | "integer" | "boolean" | "text[]";

export interface Column {
  name: string;
  type: ColumnType;
}

export interface Table {
  name: string;
  columns: Column[];
  /** The tables its foreign keys refer to. */
  parents: string[];
}

/** What a database records of itself (iam_schema): absent before SQLite migration 12 / PostgreSQL 9. */
export interface Deployment {
  id: string;
  createdAt: number;
  oldestCompatible: number;
}

export interface Shape {
  backend: BackendName;
  /** The backend's own schema version (SQLite's user_version, PostgreSQL's iam_schema.version). */
  version: number;
  deployment: Deployment | undefined;
  /** Parents before children. */
  tables: Table[];
}

/** Tables a backend keeps for its own bookkeeping, not data: never copied (iam_schema is carried as `deployment`). */
export const INTERNAL_TABLES: ReadonlySet<string> = new Set(["iam_schema", "change_epoch"]);

export const KNOWN_VERSION: Record<BackendName, number> = {
  sqlite: sqliteMigrations.length,
  postgres: postgresMigrations.length,
};

/**
 * For each PostgreSQL schema version (the index), the SQLite version that
 * holds the same tables and columns. The backends number their migrations
 * apart (SQLite's 3 and 5 have no PostgreSQL counterpart: the change epoch's
 * triggers). A new migration adds its pair here; test/store-copy/versions.test.ts
 * fails until it does.
 */
export const SQLITE_OF_POSTGRES: readonly number[] = [0, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];

/** The schema version of `to` whose tables and columns are those of `from`'s version `version`. */
export function equivalentVersion(from: BackendName, version: number, to: BackendName): number {
  if (from === to) return version;
  if (to === "sqlite") return SQLITE_OF_POSTGRES[version] ?? -1;
  // The newest PostgreSQL schema no newer than the SQLite one; the columns are compared after.
  let found = 0;
  SQLITE_OF_POSTGRES.forEach((sqlite, postgres) => {
    if (sqlite <= version) found = postgres;
  });
  return found;
}

/** The copy was refused, or failed: one sentence for the operator, nothing changed. */
export class CopyRefused extends Error {
  override name = "CopyRefused";
}

/** Orders `tables` parents first, so that foreign keys hold at every insert. */
export function parentsFirst(tables: Table[]): Table[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const done = new Set<string>();
  const ordered: Table[] = [];
  const visit = (table: Table, path: Set<string>) => {
    if (done.has(table.name)) return;
    if (path.has(table.name)) throw new CopyRefused(`the foreign keys of table ${table.name} form a cycle`);
    path.add(table.name);
    for (const parent of table.parents) {
      const p = byName.get(parent);
      if (p !== undefined && p !== table) visit(p, path);
    }
    path.delete(table.name);
    done.add(table.name);
    ordered.push(table);
  };
  for (const table of [...tables].sort((a, b) => (a.name < b.name ? -1 : 1))) visit(table, new Set());
  return ordered;
}

/**
 * Checks that the source's tables and columns are the target's, the target
 * having been given the schema version equivalent to the source's: a
 * column the target lacks would be lost, and one the source lacks means the
 * two schemas are not what their versions say. Either is refused.
 */
export function checkFits(source: Shape, target: Table[]): void {
  const names = (tables: Table[]) => new Map(tables.map((t) => [t.name, new Set(t.columns.map((c) => c.name))]));
  const from = names(source.tables);
  const into = names(target);
  const differ = (a: Map<string, Set<string>>, b: Map<string, Set<string>>, where: string, other: string) => {
    for (const [table, columns] of a) {
      const there = b.get(table);
      if (there === undefined) throw new CopyRefused(`table ${table} of the ${where} is unknown to the ${other} (${source.backend} schema ${source.version})`);
      const missing = [...columns].filter((c) => !there.has(c));
      if (missing.length > 0) throw new CopyRefused(`column ${missing.join(", ")} of table ${table} in the ${where} is unknown to the ${other} (${source.backend} schema ${source.version})`);
    }
  };
  differ(from, into, "source", "target");
  differ(into, from, "target", "source");
}
