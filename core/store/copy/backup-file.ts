/**
 * iam-core's backup format: gzip over JSON lines, the same whichever
 * backend wrote it. The first line is a header (format, backend, schema
 * version, deployment, creation time, the tables and their columns); each
 * table follows as a line {"table": name} and one JSON array a row; the
 * last line is a trailer with each table's row count and the SHA-256 of
 * every line before it. A backup whose trailer is missing was cut short;
 * one whose gzip stream, lines, counts or checksum do not agree was damaged:
 * either is refused whole, before anything is written anywhere.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, mkdirSync, fsyncSync, linkSync, openSync, closeSync, renameSync, rmSync, statSync } from "node:fs";
import { once } from "node:events";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { createGunzip, createGzip } from "node:zlib";
import { CopyRefused, type BackendName, type Deployment, type Table } from "./shape.js";
import type { Snapshot } from "./snapshot.js";

export const FORMAT = "iam-core-backup";
export const FORMAT_VERSION = 1;

interface Header {
  format: typeof FORMAT;
  format_version: number;
  backend: BackendName;
  schema_version: number;
  deployment: Deployment | null;
  /** When the snapshot was taken, ISO 8601. */
  created_at: string;
  tables: Table[];
}

interface Trailer {
  end: true;
  rows: Record<string, number>;
  sha256: string;
}

export interface BackupSummary {
  header: Header;
  rows: Record<string, number>;
  total: number;
  sha256: string;
  bytes: number;
}

/**
 * Writes `snapshot` to `file`: into a temporary file beside it (owner only:
 * it holds sealed keys and password hashes), synced, read back and checked
 * whole, then given its name in one step. An existing file is replaced only
 * when `replace`; no half-written backup ever has the final name.
 */
export async function writeBackup(snapshot: Snapshot, file: string, replace: boolean): Promise<BackupSummary> {
  if (!replace && existsSync(file)) throw new CopyRefused(`${file} exists: name another file, or give --force to replace it`);
  // A missing folder is made, owner only, as the store makes the database's.
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString("hex")}.partial`);
  try {
    const header: Header = {
      format: FORMAT,
      format_version: FORMAT_VERSION,
      backend: snapshot.backend,
      schema_version: snapshot.version,
      deployment: snapshot.deployment ?? null,
      created_at: new Date(snapshot.takenAt).toISOString(),
      tables: snapshot.tables,
    };
    const out = createWriteStream(temporary, { flags: "wx", mode: 0o600 });
    const gzip = createGzip();
    gzip.pipe(out);
    const failed = new Promise<never>((_, reject) => {
      out.once("error", reject);
      gzip.once("error", reject);
    });
    const hash = createHash("sha256");
    let pending: string[] = [];
    let size = 0;
    const flush = async () => {
      const chunk = pending.join("");
      pending = [];
      size = 0;
      hash.update(chunk);
      if (!gzip.write(chunk)) await Promise.race([once(gzip, "drain"), failed]);
    };
    const line = async (value: unknown) => {
      const text = JSON.stringify(value) + "\n";
      pending.push(text);
      size += text.length;
      if (size > 1 << 16) await flush();
    };
    const rows: Record<string, number> = {};
    await line(header);
    for (const table of snapshot.tables) {
      await line({ table: table.name });
      let count = 0;
      for await (const row of snapshot.rows(table)) {
        await line(row);
        count++;
      }
      rows[table.name] = count;
    }
    await flush();
    const sha256 = hash.digest("hex");
    gzip.end(JSON.stringify({ end: true, rows, sha256 } satisfies Trailer) + "\n");
    await Promise.race([once(out, "close"), failed]);
    const fd = openSync(temporary, "r");
    fsyncSync(fd);
    closeSync(fd);
    // Read back as a restore will read it, before it takes the backup's name.
    const written = await verifyBackup(temporary);
    if (written.sha256 !== sha256 || Object.keys(rows).some((t) => written.rows[t] !== rows[t])) {
      throw new CopyRefused(`the backup read back from ${temporary} differs from what was written`);
    }
    if (replace) renameSync(temporary, file);
    else {
      // A link does not replace a file created meanwhile (rename would).
      linkSync(temporary, file);
      rmSync(temporary);
    }
    const dir = openSync(dirname(file), "r");
    fsyncSync(dir);
    closeSync(dir);
    return { ...written, bytes: statSync(file).size };
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Every line of the backup at `file`, each with its text, checking gzip's integrity as it goes. */
async function* linesOf(file: string): AsyncGenerator<string> {
  if (!existsSync(file)) throw new CopyRefused(`there is no backup at ${file}`);
  const gunzip = createGunzip();
  const input = createReadStream(file);
  // gzip's own checks (its CRC-32 and length, the deflate stream) fail here: kept, and said once reading stops.
  let failure: NodeJS.ErrnoException | undefined;
  gunzip.on("error", (err) => (failure ??= err));
  input.on("error", (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  const lines = createInterface({ input: gunzip, crlfDelay: Infinity });
  const closed = new Promise<void>((resolve) => gunzip.once("close", resolve));
  try {
    for await (const text of lines) {
      if (failure !== undefined) break;
      yield text;
    }
    await closed;
  } catch (err) {
    failure ??= err as NodeJS.ErrnoException;
  } finally {
    lines.close();
    input.destroy();
  }
  if (failure !== undefined) {
    const code = failure.code;
    if (code === "Z_BUF_ERROR") throw new CopyRefused(`the backup ${file} is truncated: it ends before its last line`);
    if (typeof code === "string" && code.startsWith("Z_")) throw new CopyRefused(`the backup ${file} is damaged or not an iam-core backup (gzip: ${failure.message})`);
    throw new CopyRefused(`cannot read the backup ${file}: ${failure.message}`);
  }
}

/**
 * Reads the backup at `file` once, whole, and checks it: its header, every
 * line a row of the table it is under with that table's number of values,
 * the trailer's counts, and the checksum. Answers what it holds.
 */
export async function verifyBackup(file: string): Promise<BackupSummary> {
  let header: Header | undefined;
  let trailer: Trailer | undefined;
  const hash = createHash("sha256");
  const counted: Record<string, number> = {};
  let current: Table | undefined;
  let next = 0;
  const damaged = (why: string) => new CopyRefused(`the backup ${file} is damaged: ${why}`);
  for await (const text of linesOf(file)) {
    if (trailer !== undefined) throw damaged("it goes on after its last line");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw header === undefined ? new CopyRefused(`${file} is not an iam-core backup`) : damaged("a line is not JSON");
    }
    if (header === undefined) {
      header = readHeader(value, file);
    } else if (Array.isArray(value)) {
      if (current === undefined) throw damaged("a row before any table");
      if (value.length !== current.columns.length) throw damaged(`a row of ${current.name} has ${value.length} values for ${current.columns.length} columns`);
      counted[current.name]!++;
    } else if (isObject(value) && typeof value.table === "string") {
      current = header.tables[next++];
      if (current?.name !== value.table) throw damaged(`table ${value.table} is out of the header's order`);
      counted[current.name] = 0;
    } else if (isObject(value) && value.end === true) {
      trailer = value as unknown as Trailer;
      continue;
    } else throw damaged("a line is neither a row nor a table");
    hash.update(text + "\n");
  }
  if (header === undefined) throw new CopyRefused(`${file} is empty: not an iam-core backup`);
  if (trailer === undefined) throw new CopyRefused(`the backup ${file} is truncated: it ends before its last line`);
  if (next !== header.tables.length) throw damaged("tables of its header are missing");
  for (const table of header.tables) {
    if (trailer.rows?.[table.name] !== counted[table.name]) throw damaged(`table ${table.name} has ${counted[table.name]} rows where its trailer says ${trailer.rows?.[table.name]}`);
  }
  const sha256 = hash.digest("hex");
  if (sha256 !== trailer.sha256) throw damaged("its checksum does not match its content");
  const total = Object.values(counted).reduce((a, b) => a + b, 0);
  return { header, rows: counted, total, sha256, bytes: statSync(file).size };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function readHeader(value: unknown, file: string): Header {
  if (!isObject(value) || value.format !== FORMAT) throw new CopyRefused(`${file} is not an iam-core backup`);
  if (typeof value.format_version !== "number" || value.format_version > FORMAT_VERSION) {
    throw new CopyRefused(`${file} is in backup format ${String(value.format_version)}, newer than this iam-core reads (${FORMAT_VERSION})`);
  }
  if ((value.backend !== "sqlite" && value.backend !== "postgres") || !Number.isSafeInteger(value.schema_version) || !Array.isArray(value.tables)) {
    throw new CopyRefused(`the backup ${file} is damaged: its header is incomplete`);
  }
  return value as unknown as Header;
}

/**
 * The backup at `file` as a snapshot, once verified whole (verifyBackup):
 * its rows are read a second time as the copy asks for them, and the
 * checksum checked again at the end, before the copy may commit.
 */
export async function backupSnapshot(file: string): Promise<Snapshot & { summary: BackupSummary }> {
  const summary = await verifyBackup(file);
  const { header } = summary;
  const lines = linesOf(file);
  const hash = createHash("sha256");
  let peeked: string | undefined;
  const read = async (): Promise<string | undefined> => {
    if (peeked !== undefined) {
      const line = peeked;
      peeked = undefined;
      return line;
    }
    const { value, done } = await lines.next();
    if (done) return undefined;
    // The trailer is not hashed: it holds the hash of the lines before it.
    if (!value.startsWith('{"end"')) hash.update(value + "\n");
    return value;
  };
  const changed = () => new CopyRefused(`the backup ${file} changed while it was read`);
  await read();
  return {
    summary,
    backend: header.backend,
    version: header.schema_version,
    deployment: header.deployment ?? undefined,
    tables: header.tables,
    takenAt: Date.parse(header.created_at),
    async *rows(table) {
      const marker = await read();
      if (marker === undefined || (JSON.parse(marker) as { table?: string }).table !== table.name) throw changed();
      for (;;) {
        const line = await read();
        if (line === undefined) throw changed();
        if (!line.startsWith("[")) {
          peeked = line;
          break;
        }
        yield JSON.parse(line) as unknown[];
      }
      if (table === header.tables.at(-1) && hash.digest("hex") !== summary.sha256) throw changed();
    },
    async close() {
      await lines.return(undefined);
    },
  };
}
