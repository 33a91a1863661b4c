/**
 * The logical copy of a store: every table of a snapshot (a database read
 * in one transaction, or a backup file) into a target of either backend in
 * one transaction. The target is given the schema version the source has
 * (its backend's equivalent), loaded, then migrated to this iam-core's
 * version in the same transaction, as a database of that age would be.
 * Sealed values (private signing keys, TOTP secrets) are copied as they are:
 * they stay encrypted under the key-encryption key, and the copy commits
 * only if the configured sealer opens every one of them, as a server
 * starting on the target must.
 */
import { factorSealId } from "../rows.js";
import type { KeySealer } from "../sealing.js";
import { converter } from "./convert.js";
import { checkFits, CopyRefused, equivalentVersion, KNOWN_VERSION, type Table } from "./shape.js";
import type { Snapshot } from "./snapshot.js";
import type { Target } from "./target.js";

export interface CopyOptions {
  /** Replace a target that holds rows of the same deployment. */
  force?: boolean;
  /** Replace a target that holds rows of another deployment (with force). */
  replaceDeployment?: boolean;
  /** Opens the sealed values, as the servers on the target will. */
  sealer: KeySealer;
  /** What the source is, for messages: "the backup", "the source". */
  what: string;
}

export interface CopyReport {
  tables: { name: string; rows: number }[];
  rows: number;
  /** The target's schema version after the copy. */
  version: number;
}

const BATCH = 1000;

/** Refuses a source this iam-core cannot place in `target`'s backend. */
export function checkSource(source: Snapshot, what: string): void {
  const known = KNOWN_VERSION[source.backend];
  if (source.version > known) {
    throw new CopyRefused(
      `${what} is at ${source.backend} schema ${source.version}, newer than this iam-core knows (${known}): use the iam-core that wrote it, or a newer one`,
    );
  }
}

export async function copyInto(source: Snapshot, target: Target, options: CopyOptions): Promise<CopyReport> {
  try {
    checkSource(source, options.what);
    const version = equivalentVersion(source.backend, source.version, target.backend);
    if (version < 1) throw new CopyRefused(`${options.what} is at ${source.backend} schema ${source.version}, which has no ${target.backend} equivalent: restore it into ${source.backend} first, then move it`);
    await target.begin();
    const state = await target.inspect();
    if (state.version > KNOWN_VERSION[target.backend]) {
      throw new CopyRefused(`the target ${target.name} is at ${target.backend} schema ${state.version}, newer than this iam-core knows (${KNOWN_VERSION[target.backend]})`);
    }
    if (state.occupied.length > 0) {
      const held = `${state.occupied.length} table${state.occupied.length > 1 ? "s" : ""} hold rows (${state.occupied.slice(0, 3).join(", ")}${state.occupied.length > 3 ? ", …" : ""})`;
      if (options.force !== true) throw new CopyRefused(`the target ${target.name} is not empty: ${held}; --force replaces it`);
      const theirs = state.deployment?.id;
      if ((theirs === undefined || theirs !== source.deployment?.id) && options.replaceDeployment !== true) {
        throw new CopyRefused(
          `the target ${target.name} belongs to deployment ${theirs ?? "(unrecorded)"}, ${options.what} to ${source.deployment?.id ?? "(unrecorded)"}: ` +
            `restoring one deployment over another needs --replace-deployment as well`,
        );
      }
    }
    await target.reset();
    await target.createAt(version);
    const tables = await target.tables();
    checkFits(source, tables);
    const into = new Map(tables.map((t) => [t.name, t]));
    const report: CopyReport = { tables: [], rows: 0, version: KNOWN_VERSION[target.backend] };
    for (const table of source.tables) {
      const rows = await load(source, table, into.get(table.name)!, target);
      report.tables.push({ name: table.name, rows });
      report.rows += rows;
    }
    await target.afterLoad();
    await target.migrateFrom(version, source.deployment?.oldestCompatible ?? 0);
    // The same deployment, moved: its id and creation time are the source's.
    if (source.deployment !== undefined) await target.setDeployment(source.deployment);
    await openSealed(target, options.sealer);
    await target.commit();
    return report;
  } catch (err) {
    await target.rollback();
    throw err;
  }
}

async function load(source: Snapshot, table: Table, into: Table, target: Target): Promise<number> {
  const types = new Map(into.columns.map((c) => [c.name, c.type]));
  const convert = table.columns.map((c) => converter(c.type, types.get(c.name)!, `column ${table.name}.${c.name}`));
  const columns = table.columns.map((c) => c.name);
  let batch: unknown[][] = [];
  let count = 0;
  for await (const row of source.rows(table)) {
    batch.push(row.map((value, i) => convert[i]!(value)));
    count++;
    if (batch.length === BATCH) {
      await target.insert(table.name, columns, batch);
      batch = [];
    }
  }
  if (batch.length > 0) await target.insert(table.name, columns, batch);
  return count;
}

/**
 * Opens every sealed value in the target with the configured sealer: a
 * database whose keys the servers could not open would not start (the
 * store opens them at start), so the copy is refused instead, and nothing
 * is written.
 */
async function openSealed(target: Target, sealer: KeySealer): Promise<void> {
  try {
    for (const row of await target.all("SELECT kid, private_jwk FROM signing_keys")) sealer.open(row.kid as string, row.private_jwk as string);
    for (const row of await target.all("SELECT organization_id, project_id, id, secret FROM factors WHERE kind = 'totp'")) {
      sealer.open(factorSealId(row.organization_id as string, row.project_id as string, row.id as string), row.secret as string);
    }
  } catch (err) {
    throw new CopyRefused(`the configured key-encryption key cannot open what was copied: ${(err as Error).message}`);
  }
}
