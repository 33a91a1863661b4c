/**
 * A project's clients of one kind, counted for a ceiling
 * (IAM_REGISTRATION_MAX_CLIENTS, IAM_CLIENT_METADATA_MAX_CLIENTS). The count
 * first takes a transaction-scoped advisory lock on the project
 * (CLIENT_CEILING_LOCK), held until the caller's transaction ends: two
 * transactions that each count, then create a client, go one after the
 * other, and the second counts the first's client, as SQLite's single
 * writer has it. Without the lock both count the same number under READ
 * COMMITTED and both create. Outside a transaction the lock ends with the
 * statement.
 */
import type { ProjectRef } from "../types.js";
import { CLIENT_CEILING_LOCK } from "./connection.js";
import type { Sql } from "./sql.js";

export async function countClientsOf(sql: Sql, ref: ProjectRef, kind: "dynamically_registered" | "metadata_document"): Promise<number> {
  await sql.run("SELECT pg_advisory_xact_lock($1::int, hashtext($2 || '/' || $3))", [CLIENT_CEILING_LOCK, ref.organization, ref.project]);
  const row = await sql.one(`SELECT count(*) AS n FROM clients WHERE organization_id = $1 AND project_id = $2 AND ${kind}`, [ref.organization, ref.project]);
  return Number(row?.n ?? 0);
}
