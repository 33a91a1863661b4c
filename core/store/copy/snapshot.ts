/** A store's contents as one consistent read: what a copy reads, from a database or from a backup file. */
import type { Shape, Table } from "./shape.js";

export interface Snapshot extends Shape {
  /** When the snapshot was taken (ms since the epoch). */
  takenAt: number;
  /**
   * The rows of `table`, each as its values in the order of the table's
   * columns, in order of primary key. Tables are read in the order of
   * `tables` (parents first), each once.
   */
  rows(table: Table): AsyncIterable<unknown[]>;
  close(): Promise<void>;
}
