/**
 * `iam backup`, `iam restore` and `iam migrate-store`: the logical copy of
 * core/store/copy/ from the command line. Exit codes: 0 done, 1 refused or
 * failed (one `iam: ...` line on stderr; nothing written), 2 usage.
 */
import { parseArgs } from "node:util";
import { displayDb, type Config } from "../core/server/config.js";
import { backupSnapshot, writeBackup } from "../core/store/copy/backup-file.js";
import { copyInto, type CopyReport } from "../core/store/copy/copy.js";
import { countRows, openSnapshot, openTarget } from "../core/store/copy/open.js";
import { CopyRefused } from "../core/store/copy/shape.js";
import type { Snapshot } from "../core/store/copy/snapshot.js";
import { configuredSealer, KeyEncryptionError } from "../core/store/sealing.js";
import { STORE_USAGE } from "./store-usage.js";

const OPTIONS = {
  force: { type: "boolean" },
  "replace-deployment": { type: "boolean" },
  from: { type: "string" },
  to: { type: "string" },
} as const;

type Out = NodeJS.WritableStream;

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(2);

export async function runStoreCommand(argv: string[], config: Config, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const command = argv[0]!;
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(1), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err.write(`iam: ${(e as Error).message}\n${STORE_USAGE}\n`);
    return 2;
  }
  const { positionals, values } = parsed;
  const usage = (message: string) => (err.write(`iam: ${message}\n${STORE_USAGE}\n`), 2);
  const migrating = command === "migrate-store";
  if (migrating ? positionals.length !== 0 || values.from === undefined || values.to === undefined : positionals.length !== 1) {
    return usage(migrating ? "migrate-store takes --from DB and --to DB" : `${command} takes one FILE`);
  }
  if (values.from !== undefined && !migrating) return usage("--from and --to are migrate-store's");
  if (values["replace-deployment"] === true && (command !== "restore" || values.force !== true)) return usage("--replace-deployment goes with restore --force");
  if (migrating && values.force === true) return usage("migrate-store copies into an empty database only");
  const sealer = configuredSealer(config);
  try {
    if (command === "backup") return await backup(config.db, positionals[0]!, values.force === true, out);
    if (command === "restore") {
      const source = await backupSnapshot(positionals[0]!);
      const { summary } = source;
      out.write(`backup ${positionals[0]}: ${summary.header.backend} schema ${summary.header.schema_version}, deployment ${summary.header.deployment?.id ?? "(unrecorded)"}, taken ${summary.header.created_at}, ${summary.total} rows, checksum verified\n`);
      const started = performance.now();
      const report = await copy(source, config.db, { force: values.force, replaceDeployment: values["replace-deployment"], sealer, what: "the backup" });
      out.write(`restored into ${displayDb(config.db)} in ${seconds(started)} s: ${describe(report)}\n`);
      return 0;
    }
    const started = performance.now();
    const source = await openSnapshot(values.from!);
    const report = await copy(source, values.to!, { sealer, what: "the source" });
    out.write(`copied ${displayDb(values.from!)} into ${displayDb(values.to!)} in ${seconds(started)} s: ${describe(report)}\n`);
    await warnOfLaterWrites(values.from!, report, source.takenAt, err);
    return 0;
  } catch (e) {
    if (e instanceof CopyRefused || e instanceof KeyEncryptionError) {
      err.write(`iam: ${e.message}\n`);
      return 1;
    }
    err.write(`iam: ${command} failed, nothing was written: ${(e as Error).message}\n`);
    return 1;
  }
}

async function copy(source: Snapshot, db: string, options: Parameters<typeof copyInto>[2]): Promise<CopyReport> {
  try {
    const target = await openTarget(db);
    try {
      return await copyInto(source, target, options);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

async function backup(db: string, file: string, replace: boolean, out: Out): Promise<number> {
  const started = performance.now();
  const snapshot = await openSnapshot(db);
  let summary;
  try {
    summary = await writeBackup(snapshot, file, replace);
  } finally {
    await snapshot.close();
  }
  const { header } = summary;
  out.write(
    `backup written to ${file} in ${seconds(started)} s: ${header.tables.length} tables, ${summary.total} rows, ${summary.bytes} bytes, ` +
      `${header.backend} schema ${header.schema_version}, deployment ${header.deployment?.id ?? "(unrecorded)"}, as of ${header.created_at}, sha256 ${summary.sha256}\n`,
  );
  for (const table of header.tables) out.write(`  ${table.name} ${summary.rows[table.name]}\n`);
  return 0;
}

const describe = (report: CopyReport) =>
  `${report.tables.length} tables, ${report.rows} rows (${report.tables.filter((t) => t.rows > 0).map((t) => `${t.name} ${t.rows}`).join(", ")})`;

/**
 * A copy holds the source as of its snapshot. Where the source served
 * meanwhile, what it wrote afterwards (tokens issued or refreshed, sign-ins,
 * revocations, audit events) is not in the target: said on stderr, with the
 * tables whose row counts moved. Changes to existing rows (a revocation, a
 * rotation) do not move a count: the warning is given whenever it cannot be
 * ruled out.
 */
async function warnOfLaterWrites(db: string, report: CopyReport, takenAt: number, err: Out): Promise<void> {
  const now = await countRows(db);
  const moved = report.tables.filter((t) => (now.get(t.name) ?? 0) !== t.rows).map((t) => `${t.name} ${t.rows} → ${now.get(t.name) ?? 0}`);
  const when = new Date(takenAt).toISOString();
  err.write(
    moved.length > 0
      ? `iam: warning: the source changed after its snapshot of ${when} (${moved.join(", ")}): those writes are not in the target; stop writes to the source, then copy again (docs/backup.md)\n`
      : `iam: warning: the target holds the source as of ${when}; anything the source wrote since (tokens, sign-ins, revocations, audit events) is not in it: stop writes before moving (docs/backup.md)\n`,
  );
}
