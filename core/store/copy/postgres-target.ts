/** A PostgreSQL database as the target of a copy (target.ts). */
import type pg from "pg";
import { LOCKS } from "../postgres/connection.js";
import { migrations, OLDEST_COMPATIBLE } from "../postgres/migrations.js";
import type { Row } from "../rows.js";
import { KNOWN_VERSION } from "./shape.js";
import { connectForCopy, OWNED, postgresSchema, postgresTables, quote } from "./postgres-source.js";
import type { Target } from "./target.js";

/** Rows per INSERT statement: PostgreSQL takes at most 65,535 parameters in one. */
const batchOf = (columns: number) => Math.max(1, Math.min(1000, Math.floor(60_000 / columns)));

export async function postgresTarget(url: string, name: string): Promise<Target> {
  const client: pg.Client = await connectForCopy(url, "restore");
  let identities: { table: string; column: string }[] = [];
  const query = (text: string, values?: unknown[]) => client.query(text, values);
  return {
    backend: "postgres",
    name,
    async begin() {
      await query("BEGIN");
      // Replicas starting meanwhile wait for this copy instead of migrating under it.
      await query("SELECT pg_advisory_xact_lock($1)", [LOCKS.migrate]);
    },
    async inspect() {
      const { version, deployment } = await postgresSchema(client);
      const occupied: string[] = [];
      for (const table of await postgresTables(client)) {
        if ((await query(`SELECT 1 FROM ${quote(table.name)} LIMIT 1`)).rowCount !== 0) occupied.push(table.name);
      }
      return { version, deployment, occupied };
    },
    async reset() {
      await query(`DROP TABLE IF EXISTS ${OWNED.tables.map(quote).join(", ")} CASCADE`);
      for (const fn of OWNED.functions) await query(`DROP FUNCTION IF EXISTS ${quote(fn)}() CASCADE`);
    },
    async createAt(version) {
      await apply(0, version);
    },
    async migrateFrom(version, oldestCompatible) {
      await apply(version, KNOWN_VERSION.postgres);
      await query("UPDATE iam_schema SET oldest_compatible = greatest(oldest_compatible, $1, $2)", [OLDEST_COMPATIBLE, oldestCompatible]);
    },
    async tables() {
      const { rows } = await query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'",
      );
      identities = rows.map((r) => ({ table: r.table_name as string, column: r.column_name as string }));
      return postgresTables(client);
    },
    async insert(table, columns, rows) {
      // Generated ids are copied as they are (and the sequence moved past them in afterLoad).
      const overriding = identities.some((i) => i.table === table) ? " OVERRIDING SYSTEM VALUE" : "";
      const size = batchOf(columns.length);
      for (let start = 0; start < rows.length; start += size) {
        const batch = rows.slice(start, start + size);
        const values: unknown[] = [];
        const tuples = batch.map((row) => `(${row.map((value) => `$${values.push(value)}`).join(", ")})`);
        await query(`INSERT INTO ${quote(table)} (${columns.map(quote).join(", ")})${overriding} VALUES ${tuples.join(", ")}`, values);
      }
    },
    async afterLoad() {
      // The next generated id follows the largest copied one: a logout delivery recorded after the copy does not collide.
      for (const { table, column } of identities) {
        await query(
          `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${quote(column)}) FROM ${quote(table)}), 0) + 1, false)`,
          [quote(table), column],
        );
      }
    },
    async setDeployment(deployment) {
      await query("UPDATE iam_schema SET deployment_id = $1, created_at = $2", [deployment.id, deployment.createdAt]);
    },
    async all(sql) {
      return (await query(sql)).rows as Row[];
    },
    async commit() {
      const result = await query("COMMIT");
      if (result.command !== "COMMIT") throw new Error("the transaction was rolled back");
    },
    async rollback() {
      await query("ROLLBACK").catch(() => {});
    },
    async close() {
      await client.end();
    },
  };

  /** Migrations `from` to `to` as the store applies them (postgres/store.ts migrate), in this transaction. */
  async function apply(from: number, to: number): Promise<void> {
    await query("CREATE TABLE IF NOT EXISTS iam_schema (version INTEGER NOT NULL)");
    for (let version = from; version < to; version++) {
      await query(migrations[version]!);
      if (version === 0) await query("INSERT INTO iam_schema (version) VALUES (1)");
      else await query("UPDATE iam_schema SET version = $1", [version + 1]);
    }
  }
}
