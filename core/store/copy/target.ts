/**
 * Where a copy writes: a database of either backend, entered in ONE
 * transaction that the copy commits only once every row is in, the foreign
 * keys hold, the schema is migrated to this iam-core's version and the
 * sealed keys open; anything else rolls it back and the target is as it was.
 */
import type { Row } from "../rows.js";
import type { BackendName, Deployment, Table } from "./shape.js";

export interface TargetState {
  /** The target's schema version; 0 when it holds no iam-core schema. */
  version: number;
  deployment: Deployment | undefined;
  /** The data tables that hold rows. */
  occupied: string[];
}

export interface Target {
  readonly backend: BackendName;
  /** A description for messages (a path, or a URL without its password). */
  readonly name: string;
  /** Begins the transaction (and takes the lock migrations take). */
  begin(): Promise<void>;
  inspect(): Promise<TargetState>;
  /** Drops everything of iam-core's in the target. */
  reset(): Promise<void>;
  /** Applies the backend's migrations 1 to `version`. */
  createAt(version: number): Promise<void>;
  /** Applies the migrations after `version`, up to this iam-core's, and raises oldest_compatible to at least `oldestCompatible`. */
  migrateFrom(version: number, oldestCompatible: number): Promise<void>;
  tables(): Promise<Table[]>;
  /** Inserts rows of `table`, with `columns` (source's names) in that order. */
  insert(table: string, columns: string[], rows: unknown[][]): Promise<void>;
  /** After every insert: the foreign keys checked, generated ids moved past the copied ones. */
  afterLoad(): Promise<void>;
  /** Records the source's deployment (id, creation time) as the target's own. */
  setDeployment(deployment: Deployment): Promise<void>;
  all(sql: string): Promise<Row[]>;
  commit(): Promise<void>;
  /** Rolls back (and removes a database file the copy created). */
  rollback(): Promise<void>;
  close(): Promise<void>;
}
