/**
 * Schema versions across releases. Migrations are numbered, forward-only and
 * applied at start; each backend numbers its own (SQLite's `user_version`,
 * PostgreSQL's `iam_schema.version`). Besides its version, a database records
 * the oldest schema version whose iam-core can still serve it
 * (`iam_schema.oldest_compatible`): a migration that only adds (a table, a
 * column with a default, an index) leaves it alone, so that the replicas of
 * the previous release keep serving while the new one migrates (expand); one
 * that drops or changes what older code reads raises it (contract), and is
 * shipped only once no replica of the older code runs.
 */

/** What a database records of its schema, as a server finds it at start. */
export interface SchemaState {
  version: number;
  /** Absent before the migration that introduced it. */
  oldestCompatible: number | undefined;
}

export class SchemaTooNewError extends Error {
  override name = "SchemaTooNewError";
}

/**
 * Whether a server knowing `known` migrations may use a database in `state`:
 * "migrate" (it is older, or current), or "compatible" (it is newer, and
 * says this server's schema can still serve it). A newer database that says
 * otherwise, or says nothing, is refused with the versions involved.
 */
export function schemaVerdict(backend: string, known: number, state: SchemaState): "migrate" | "compatible" {
  if (state.version <= known) return "migrate";
  if (state.oldestCompatible !== undefined && known >= state.oldestCompatible) return "compatible";
  const needs = state.oldestCompatible === undefined ? `schema ${state.version}` : `schema ${state.oldestCompatible} or newer`;
  throw new SchemaTooNewError(
    `the ${backend} database is at schema version ${state.version}, which needs an iam-core of ${needs}; ` +
      `this iam-core knows schema ${known}: run the newer iam-core that migrated it`,
  );
}
