/**
 * The SQLite backend: one file a concern (tenants.ts, clients.ts, …,
 * purge.ts), the commit group and how operations enter the connection
 * (transactions.ts), the change epoch (changes.ts); cached.ts makes them the
 * Store.
 */
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Backend, BackendEvents } from "../backend.js";
import { cachedStore } from "../cached.js";
import { createKeySealer, type KeySealer } from "../sealing.js";
import type { Store } from "../types.js";
import { access } from "./access.js";
import { resources } from "./resources.js";
import { authorization } from "./authorization.js";
import { changeEpoch } from "./changes.js";
import { clients } from "./clients.js";
import { registrations } from "./registrations.js";
import { consents } from "./consents.js";
import { metadataDocumentRules } from "./metadata-document-rules.js";
import { factors } from "./factors.js";
import { grants } from "./grants.js";
import { keys } from "./keys.js";
import { migrations, OLDEST_COMPATIBLE } from "./migrations.js";
import { schemaVerdict } from "../schema.js";
import { overview } from "./overview.js";
import { purge } from "./purge.js";
import { sessions } from "./sessions.js";
import { sqliteMappers } from "./sql.js";
import { tenants } from "./tenants.js";
import { throttle } from "./throttle.js";
import { audit, auditAppender } from "./audit.js";
import { resealedEvent } from "../sealing.js";
import { factorSealId, type Row } from "../rows.js";
import { BUSY_TIMEOUT_MS, groupCommit } from "./transactions.js";
import { users } from "./users.js";

export interface StoreOptions {
  /** Called after each store operation (and each transaction) with the seconds it held the database. */
  onOperation?: (operation: string, seconds: number) => void;
  /** Encrypts private signing keys at rest (sealing.ts); without it they are stored as plain JWKs. */
  sealer?: KeySealer;
  /**
   * `full` (the default): a commit is on disk before it returns, so an
   * acknowledged write survives a power loss. `normal`: it survives a crash
   * of the process, not of the machine; commits are about ten times cheaper.
   */
  synchronous?: "full" | "normal";
  /**
   * The request being served (the same object throughout it), or undefined:
   * the change epoch is read once per request (cached.ts).
   */
  unitOfWork?: () => object | undefined;
}

/**
 * Opens (creating if needed) the SQLite database at `path`, applies pending
 * migrations and answers the Store over it. WAL, with synchronous=FULL by
 * default (a commit is on disk before it returns) and commits made in groups
 * (transactions.ts).
 */
export function openSqliteStore(path: string, options: StoreOptions = {}): Store {
  const db = openDatabase(path, options.synchronous);
  const sealer = options.sealer ?? createKeySealer();
  try {
    sealKeys(db, sealer);
  } catch (err) {
    db.close();
    throw err;
  }
  return cachedStore((events) => sqliteBackend(db, sealer, events), options.onOperation, options.unitOfWork);
}

/** The operations over `db`, the way they enter it, its transactions and its change epoch. */
export function sqliteBackend(db: Database.Database, sealer: KeySealer, events: BackendEvents): Backend {
  const changes = changeEpoch(db);
  const map = sqliteMappers(sealer);
  const committing = groupCommit(db, events, auditAppender(db));
  // iam_schema's one row rewritten as it is, through the commit group: a page to the WAL and a COMMIT, nothing grown.
  const probe = db.prepare("UPDATE iam_schema SET created_at = created_at");
  return {
    ops: {
      ...tenants(db, map),
      ...clients(db, map),
      ...registrations(db, map),
      ...metadataDocumentRules(db, map),
      ...users(db, map),
      ...access(db, map),
      ...resources(db, map),
      ...keys(db, map, sealer, changes),
      ...overview(db),
      ...authorization(db, map),
      ...grants(db, map),
      ...consents(db, map),
      ...sessions(db, map),
      ...throttle(db),
      ...factors(db, map, sealer),
      ...audit(db),
      ...purge(db),
    },
    ...committing,
    probeWrite: () => committing.transaction(async () => void probe.run()),
    changes,
    // A transaction's own changes move the epoch it reads, and its rollback is told.
    cacheInTransaction: true,
    // Triggers on grants move it (migration 5).
    revocationsMoveEpoch: true,
  };
}

/** The database at `path` (created if needed, owner only), migrated. */
export function openDatabase(path: string, synchronous: StoreOptions["synchronous"] = "full"): Database.Database {
  if (path !== ":memory:") {
    // The file holds every project's private signing keys: owner only. SQLite
    // gives the -wal and -shm files the database file's permissions.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    closeSync(openSync(path, "a", 0o600));
  }
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${synchronous === "normal" ? "NORMAL" : "FULL"}`);
  db.pragma("foreign_keys = ON");
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  migrate(db);
  return db;
}

/**
 * Opens every private key once, so that a missing or wrong KEK stops the
 * start-up instead of a later sign-in; with a KEK, encrypts each key stored
 * in plaintext or under the previous KEK.
 */
function sealKeys(db: Database.Database, sealer: KeySealer): void {
  const rows = db.prepare("SELECT kid, private_jwk FROM signing_keys").all() as { kid: string; private_jwk: string }[];
  const update = db.prepare("UPDATE signing_keys SET private_jwk = ? WHERE kid = ?");
  const totps = db.prepare("SELECT organization_id, project_id, id, secret FROM factors WHERE kind = 'totp'").all() as Row[];
  const updateTotp = db.prepare("UPDATE factors SET secret = ? WHERE organization_id = ? AND project_id = ? AND id = ?");
  db.transaction(() => {
    const resealed: { kid: string; stored: string }[] = [];
    for (const row of rows) {
      const privateJwk = sealer.open(row.kid, row.private_jwk);
      if (sealer.stale(row.private_jwk)) {
        update.run(sealer.seal(row.kid, privateJwk), row.kid);
        resealed.push({ kid: row.kid, stored: row.private_jwk });
      }
    }
    // TOTP secrets likewise, each bound to its factor.
    const factors: { kid: string; stored: string }[] = [];
    for (const row of totps) {
      const kid = factorSealId(row.organization_id, row.project_id, row.id);
      const secret = sealer.open(kid, row.secret);
      if (sealer.stale(row.secret)) {
        updateTotp.run(sealer.seal(kid, secret), row.organization_id, row.project_id, row.id);
        factors.push({ kid, stored: row.secret });
      }
    }
    if (resealed.length + factors.length > 0) audit(db).appendAuditEvent(resealedEvent(resealed, sealer, Date.now(), factors));
  })();
}

function migrate(db: Database.Database): void {
  // One migration per IMMEDIATE transaction, the version read inside it: of
  // processes that start at once on one file, one applies each migration and
  // the others see it applied.
  const step = db.transaction(() => {
    const applied = db.pragma("user_version", { simple: true }) as number;
    if (schemaVerdict("SQLite", migrations.length, { version: applied, oldestCompatible: oldestCompatible(db) }) === "compatible") return false;
    if (applied === migrations.length) {
      db.prepare("UPDATE iam_schema SET oldest_compatible = max(oldest_compatible, ?)").run(OLDEST_COMPATIBLE);
      return false;
    }
    db.exec(migrations[applied]!);
    db.pragma(`user_version = ${applied + 1}`);
    return true;
  });
  while (step.immediate()) {
    // applied one; look again
  }
}

function oldestCompatible(db: Database.Database): number | undefined {
  const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'iam_schema'").get();
  if (table === undefined) return undefined;
  return (db.prepare("SELECT oldest_compatible FROM iam_schema").get() as { oldest_compatible: number } | undefined)?.oldest_compatible;
}
