import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { EpochSeconds, RoleRecord, Store } from "../types.js";
import { AlreadyExists } from "../types.js";
import { createKeySealer, type KeySealer } from "../sealing.js";
import { rowMappers, type Row } from "../rows.js";
import type { Backend, BackendEvents } from "../backend.js";
import { cachedStore } from "../cached.js";
import { migrations } from "./migrations.js";


export interface PostgresStoreOptions {
  /** Called after each store operation (and each transaction) with the seconds it took. */
  onOperation?: (operation: string, seconds: number) => void;
  /** Encrypts private signing keys at rest; without it they are stored as plain JWKs. */
  sealer?: KeySealer;
  /** Connections this process keeps to the server for queries (one more listens for changes). */
  poolSize?: number;
  /** Told when the connection that listens for other processes' changes is lost, and when it is back. */
  onListenerChange?: (up: boolean, err?: unknown) => void;
}

/** Advisory lock keys (pg_advisory_*): one per job that must not run twice at once across replicas. */
export const LOCKS = {
  migrate: 0x69616d01,
  bootstrap: 0x69616d02,
  purge: 0x69616d03,
} as const;

/** Rows a purge deletes per table in one short transaction; it goes on while batches come back full. */
export const PURGE_BATCH = 5000;
/** Batches of one table a single purge run deletes at most, so that one run is bounded in time. */
const PURGE_MAX_BATCHES = 200;
const CHANNEL = "iam_changes";
/**
 * How often the listening connection is checked, and how long it may take to
 * answer: a silently dead one is noticed within twice this, and then nothing
 * is answered from memory until it is back.
 */
export const HEARTBEAT_MS = 5000;

/**
 * pg answers BIGINT (and count(*)) as strings, for values past 2^53; times in
 * seconds and row counts are far from that, so they are read as numbers.
 */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult<Row>>;
}

/**
 * Opens the PostgreSQL database at `url` (postgres://user:password@host:port/db),
 * applies pending migrations and answers the Store over it. Every statement
 * that decides a race (a code exchanged, a refresh token rotated, a failed
 * sign-in counted, a consent merged) is one conditional UPDATE or upsert, so
 * that it is decided by the server's row locks whichever replica sends it.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const origin = `iam-core/${randomUUID()}`;
  const connection: pg.ClientConfig = {
    connectionString: url,
    application_name: origin,
    types,
    // A server or network that goes silent must not hold a request, a row
    // lock or the listener forever: TCP keep-alive on every connection, and
    // each side gives up after a bound (SQLite's busy timeout is 5 s too).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: 10_000,
    query_timeout: 35_000,
    statement_timeout: 30_000,
    lock_timeout: 5_000,
    idle_in_transaction_session_timeout: 30_000,
  };
  const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10, idleTimeoutMillis: 30_000 });
  // An idle connection the server drops emits here; the next query takes a new one.
  pool.on("error", () => {});
  let changes: ChangeListener | undefined;
  try {
    await migrate(pool);
    const sealer = options.sealer ?? createKeySealer();
    await sealKeys(pool, sealer);
    changes = new ChangeListener(connection, origin, options.onListenerChange);
    await changes.start();
    const listener = changes;
    return cachedStore((events) => postgresBackend(pool, sealer, listener, events), options.onOperation);
  } catch (err) {
    await changes?.close();
    await pool.end();
    throw err;
  }
}

/**
 * A pooled connection held for a transaction or a session lock. pg-pool
 * stops listening to a connection's errors while it is checked out: one the
 * server ends then (a restart, pg_terminate_backend, a timeout) would be an
 * unhandled 'error' event, which ends the process. It is caught here, and the
 * connection is released as broken, never handed to anyone else.
 */
async function checkout(pool: pg.Pool): Promise<{ client: pg.PoolClient; release: (err?: Error) => void }> {
  const client = await pool.connect();
  let failed: Error | undefined;
  const onError = (err: Error) => (failed ??= err);
  client.on("error", onError);
  return {
    client,
    release: (err?: Error) => {
      client.off("error", onError);
      client.release(err ?? failed);
    },
  };
}

/**
 * COMMIT. PostgreSQL answers a COMMIT of a transaction that an earlier
 * statement aborted with ROLLBACK, and no error: that is made one here, so a
 * caller never takes a rolled-back transaction for a committed one.
 */
async function commit(client: pg.PoolClient): Promise<void> {
  const result = await client.query("COMMIT");
  if (result.command !== "COMMIT") throw new Error("the transaction was rolled back: a statement in it had failed");
}

async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const { client, release } = await checkout(pool);
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await commit(client);
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
    throw err;
  } finally {
    // A connection that could not even roll back is not given to anyone else.
    release(broken);
  }
}

async function migrate(pool: pg.Pool): Promise<void> {
  // One migration per transaction, under an advisory lock, the version read
  // inside it: of replicas that start at once, one applies each migration and
  // the others find it applied.
  for (;;) {
    const applied = await inTransaction(pool, async (client) => {
      // A migration of a large table may take long, and wait for the tables it alters.
      await client.query("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0");
      await client.query("SELECT pg_advisory_xact_lock($1)", [LOCKS.migrate]);
      await client.query("CREATE TABLE IF NOT EXISTS iam_schema (version INTEGER NOT NULL)");
      const { rows } = await client.query("SELECT version FROM iam_schema");
      const version = rows.length === 0 ? 0 : (rows[0]!.version as number);
      if (version > migrations.length) {
        throw new Error(`the database schema (version ${version}) is newer than this iam-core knows (${migrations.length}): run a newer iam-core`);
      }
      if (version === migrations.length) return false;
      await client.query(migrations[version]!);
      if (rows.length === 0) await client.query("INSERT INTO iam_schema (version) VALUES (1)");
      else await client.query("UPDATE iam_schema SET version = $1", [version + 1]);
      return true;
    });
    if (!applied) return;
  }
}

/**
 * Opens every private key once, so that a missing or wrong KEK stops the
 * start-up instead of a later sign-in; with a KEK, encrypts each key stored
 * in plaintext or under the previous KEK.
 */
async function sealKeys(pool: pg.Pool, sealer: KeySealer): Promise<void> {
  await inTransaction(pool, async (client) => {
    const { rows } = await client.query("SELECT kid, private_jwk FROM signing_keys FOR UPDATE");
    for (const row of rows) {
      const privateJwk = sealer.open(row.kid, row.private_jwk);
      if (sealer.stale(row.private_jwk)) {
        await client.query("UPDATE signing_keys SET private_jwk = $1 WHERE kid = $2", [sealer.seal(row.kid, privateJwk), row.kid]);
      }
    }
  });
}

/**
 * The epoch of what this process keeps in memory of administration's tables:
 * it moves when this process changes them, and when another process
 * announces a change (the iam_changes channel, delivered within milliseconds
 * of its commit). While the listening connection is down, nothing is kept:
 * every read goes to the database and the epoch moves at every look, until
 * it is back (it is tried again every second). A connection that dies
 * without a word is found by the heartbeat within 2 × HEARTBEAT_MS.
 */
export class ChangeListener {
  #epoch = 0;
  #up = false;
  #closed = false;
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;
  #everUp = false;
  #reportedDown = false;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly origin: string,
    private readonly onChange: (up: boolean, err?: unknown) => void = () => {},
  ) {}

  get up(): boolean {
    return this.#up;
  }

  get epoch(): number {
    // Down: a value never seen before, so nothing compares equal to it.
    return this.#up ? this.#epoch : ++this.#epoch;
  }

  /** This process changed them. */
  bump(): void {
    this.#epoch++;
  }

  async start(): Promise<void> {
    const client = new pg.Client(this.connection);
    const lost = (err?: unknown) => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#up = false;
      this.#epoch++;
      clearInterval(this.#heartbeat);
      client.end().catch(() => {});
      // end() waits for the server; a connection that went silent is cut.
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      if (this.#closed) return;
      // Said once an outage (not at every failed retry), and only once it had been up.
      if (this.#everUp && !this.#reportedDown) {
        this.#reportedDown = true;
        this.onChange(false, err);
      }
      this.#retry = setTimeout(() => void this.start().catch(() => {}), 1000);
      this.#retry.unref();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => {
      if (message.channel === CHANNEL && message.payload !== this.origin) this.#epoch++;
    });
    this.#client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      lost(err);
      throw err;
    }
    // Anything may have changed while nobody listened.
    this.#epoch++;
    this.#up = true;
    this.#everUp = true;
    if (this.#reportedDown) {
      this.#reportedDown = false;
      this.onChange(true);
    }
    // A connection whose network path died silently (a NAT or balancer that
    // forgot it, a failover) gives no error and no notification: it is asked
    // for an answer every HEARTBEAT_MS, and one that takes longer is taken as lost.
    this.#heartbeat = setInterval(() => {
      if (this.#beating) return;
      this.#beating = true;
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the listening connection did not answer within ${HEARTBEAT_MS} ms`)), HEARTBEAT_MS);
      });
      Promise.race([client.query("SELECT 1"), silent])
        .catch((err: unknown) => lost(err))
        .finally(() => {
          clearTimeout(timer);
          this.#beating = false;
        });
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#heartbeat);
    const client = this.#client;
    this.#client = undefined;
    this.#up = false;
    await client?.end().catch(() => {});
  }
}

/**
 * PostgreSQL's text cannot hold U+0000, which SQLite's can, and which a
 * client may put in what iam-core keeps as inert data (a `state`, a `nonce`,
 * a username that matches nobody, stored and answered exactly). Every string
 * crossing to the server is escaped with U+FFFF, a noncharacter no protocol
 * value carries: U+FFFF becomes U+FFFF U+FFFF, U+0000 becomes U+FFFF "0";
 * every string read back is unescaped. A string with neither, that is every
 * ordinary value, is sent and stored unchanged.
 */
const ESCAPE = "\uFFFF";
function encodeText(value: string): string {
  if (!value.includes("\u0000") && !value.includes(ESCAPE)) return value;
  return value.replace(/\uFFFF/g, "\uFFFF\uFFFF").replace(/\u0000/g, "\uFFFF0");
}
function decodeText(value: string): string {
  return value.includes(ESCAPE) ? value.replace(/\uFFFF([\uFFFF0])/g, (_, c: string) => (c === "0" ? "\u0000" : ESCAPE)) : value;
}
function encodeValue(value: unknown): unknown {
  if (typeof value === "string") return encodeText(value);
  if (Array.isArray(value)) return value.map(encodeValue);
  return value;
}
function decodeRow(row: Row): void {
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === "string") row[key] = decodeText(value);
    else if (Array.isArray(value)) row[key] = value.map((v: unknown) => (typeof v === "string" ? decodeText(v) : v));
  }
}

/**
 * PostgreSQL's errors may carry the values of the row at fault ("Failing row
 * contains (…)": a secret's hash, a sealed key): they are dropped before the
 * error can reach a log. The message, code, table and constraint stay.
 */
function withoutRowData(err: unknown): unknown {
  if (err instanceof Error) {
    const fields = err as unknown as Record<string, unknown>;
    for (const field of ["detail", "where", "internalQuery"]) delete fields[field];
  }
  return err;
}

function uniqueViolation(err: unknown): boolean {
  return err instanceof Error && (err as { code?: string }).code === "23505";
}

async function insert(what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (uniqueViolation(err)) throw new AlreadyExists(what);
    throw err;
  }
}

/** The transaction an operation runs in: its connection, and whether it changed administration's tables. */
interface Tx {
  client: pg.PoolClient;
  changed: boolean;
  /** Set once it has committed or rolled back. */
  ended: boolean;
}

export function postgresBackend(pool: pg.Pool, sealer: KeySealer, changes: ChangeListener, events: BackendEvents): Backend {
  const flow = new AsyncLocalStorage<Tx>();
  const db = (): Queryable => {
    const tx = flow.getStore();
    if (tx?.ended) throw new Error("a store call outlived its transaction");
    return tx?.client ?? pool;
  };
  const run = async (sql: string, values: unknown[] = []) => {
    let result: pg.QueryResult<Row>;
    try {
      result = await db().query(sql, values.map(encodeValue));
    } catch (err) {
      throw withoutRowData(err);
    }
    for (const row of result.rows) decodeRow(row);
    return result;
  };
  const rows = async (sql: string, values: unknown[] = []) => (await run(sql, values)).rows;
  const one = async (sql: string, values: unknown[] = []) => (await run(sql, values)).rows[0];
  const count = async (sql: string, values: unknown[] = []) => (await run(sql, values)).rowCount ?? 0;
  const maybe = <T>(row: Row | undefined, map: (r: Row) => T): T | undefined => (row === undefined ? undefined : map(row));

  // text[] and boolean columns come back as arrays and booleans.
  const { organization, project, client, user, permission, signingKey, request, code, grant, refresh, consent } = rowMappers(
    { list: (value) => value as string[], flag: (value) => value === true },
    sealer,
  );
  const role = (r: Row): RoleRecord => ({
    organization: r.organization_id,
    project: r.project_id,
    id: r.id,
    description: r.description,
    permissions: r.permissions,
  });
  // Several statements that must land together: in the caller's transaction, or one of their own.
  const atomic = <T>(fn: () => Promise<T>): Promise<T> => transaction(fn);
  const ROLE = `SELECT r.*, coalesce(array(SELECT permission_id FROM role_permissions rp
      WHERE rp.organization_id = r.organization_id AND rp.project_id = r.project_id AND rp.role_id = r.id
      ORDER BY permission_id), '{}') AS permissions FROM roles r`;
  const PERMISSIONS_OF = (holder: "user_roles" | "client_roles", column: "user_id" | "client_id") => `
      SELECT DISTINCT p.* FROM ${holder} h
      JOIN role_permissions rp ON rp.organization_id = h.organization_id AND rp.project_id = h.project_id AND rp.role_id = h.role_id
      JOIN permissions p ON p.organization_id = rp.organization_id AND p.project_id = rp.project_id AND p.id = rp.permission_id
      WHERE h.organization_id = $1 AND h.project_id = $2 AND h.${column} = $3 ORDER BY p.id`;
  const purgeBatches = async (table: string, condition: string, values: unknown[]): Promise<number> => {
    let total = 0;
    for (let batch = 0; batch < PURGE_MAX_BATCHES; batch++) {
      const deleted = await count(
        `DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${condition} LIMIT ${PURGE_BATCH})`,
        values,
      );
      total += deleted;
      if (deleted < PURGE_BATCH) break;
    }
    return total;
  };

  const ops: Omit<Store, "transaction" | "close"> = {
    isEmpty: async () => {
      // In a transaction (the default tenant's creation), processes starting
      // at once on an empty database take turns: the second finds it made.
      if (flow.getStore() !== undefined) await run("SELECT pg_advisory_xact_lock($1)", [LOCKS.bootstrap]);
      return (await one("SELECT NOT EXISTS (SELECT 1 FROM organizations) AS empty"))!.empty as boolean;
    },
    createOrganization: (o) =>
      insert(`organization ${o.id}`, () => run("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)", [o.id, o.name, o.createdAt])),
    getOrganization: async (id) => maybe(await one("SELECT * FROM organizations WHERE id = $1", [id]), organization),
    listOrganizations: async (page) =>
      (await rows("SELECT * FROM organizations WHERE id > $1 ORDER BY id LIMIT $2", [page.after, page.limit])).map(organization),
    updateOrganization: async (id, change) => (await count("UPDATE organizations SET name = $1 WHERE id = $2", [change.name, id])) === 1,
    deleteOrganization: (id) =>
      atomic(async () => {
        // The flow's rows name their project without a foreign key: deleted explicitly.
        await run("DELETE FROM grants WHERE organization_id = $1", [id]);
        await run("DELETE FROM authorization_codes WHERE organization_id = $1", [id]);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1", [id]);
        return (await count("DELETE FROM organizations WHERE id = $1", [id])) === 1;
      }),
    createProject: (p) =>
      insert(`project ${p.organization}/${p.project} (or its audience)`, () =>
        run("INSERT INTO projects (organization_id, id, name, audience, created_at) VALUES ($1, $2, $3, $4, $5)", [
          p.organization,
          p.project,
          p.name,
          p.audience,
          p.createdAt,
        ]),
      ),
    getProject: async (ref) =>
      maybe(await one("SELECT * FROM projects WHERE organization_id = $1 AND id = $2", [ref.organization, ref.project]), project),
    listProjects: async (org, page) =>
      (await rows("SELECT * FROM projects WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3", [org, page.after, page.limit])).map(
        project,
      ),
    updateProject: async (ref, change) => {
      let changed = false;
      await insert(`a project with audience ${change.audience}`, async () => {
        changed =
          (await count("UPDATE projects SET name = $1, audience = $2 WHERE organization_id = $3 AND id = $4", [
            change.name,
            change.audience,
            ref.organization,
            ref.project,
          ])) === 1;
      });
      return changed;
    },
    deleteProject: (ref) =>
      atomic(async () => {
        const args = [ref.organization, ref.project];
        await run("DELETE FROM grants WHERE organization_id = $1 AND project_id = $2", args);
        await run("DELETE FROM authorization_codes WHERE organization_id = $1 AND project_id = $2", args);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1 AND project_id = $2", args);
        return (await count("DELETE FROM projects WHERE organization_id = $1 AND id = $2", args)) === 1;
      }),
    createClient: (c) =>
      insert(`client ${c.id}`, () =>
        run(
          `INSERT INTO clients (organization_id, project_id, id, name, type, secret_hash, redirect_uris, grant_types,
            pkce_required, remember_consent, access_token_ttl, refresh_token_ttl, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [
            c.organization,
            c.project,
            c.id,
            c.name,
            c.type,
            c.secretHash,
            c.redirectUris,
            c.grantTypes,
            c.pkceRequired,
            c.rememberConsent,
            c.accessTokenTtl,
            c.refreshTokenTtl,
            c.createdAt,
          ],
        ),
      ),
    getClient: async (ref, id) =>
      maybe(await one("SELECT * FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id]), client),
    listClients: async (ref, page) =>
      (
        await rows("SELECT * FROM clients WHERE organization_id = $1 AND project_id = $2 AND id > $3 ORDER BY id LIMIT $4", [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(client),
    updateClient: async (c) =>
      (await count(
        `UPDATE clients SET name = $1, redirect_uris = $2, grant_types = $3, pkce_required = $4, remember_consent = $5,
          access_token_ttl = $6, refresh_token_ttl = $7 WHERE organization_id = $8 AND project_id = $9 AND id = $10`,
        [c.name, c.redirectUris, c.grantTypes, c.pkceRequired, c.rememberConsent, c.accessTokenTtl, c.refreshTokenTtl, c.organization, c.project, c.id],
      )) === 1,
    setClientSecret: async (ref, id, hash) =>
      (await count("UPDATE clients SET secret_hash = $1 WHERE organization_id = $2 AND project_id = $3 AND id = $4", [
        hash,
        ref.organization,
        ref.project,
        id,
      ])) === 1,
    deleteClient: (ref, id) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, id];
        // Codes, then the client's row, then grants: the order a code exchange
        // takes them in (the code, then the client's row in createGrant), so
        // the two wait for each other instead of deadlocking; a grant created
        // meanwhile is committed before the row is ours, and deleted below.
        await run("DELETE FROM authorization_codes WHERE organization_id = $1 AND project_id = $2 AND client_id = $3", args);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1 AND project_id = $2 AND client_id = $3", args);
        await run("SELECT 1 FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR UPDATE", args);
        await run("DELETE FROM grants WHERE organization_id = $1 AND project_id = $2 AND client_id = $3", args);
        return (await count("DELETE FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3", args)) === 1;
      }),
    createUser: (u) =>
      insert(`user ${u.id}`, () =>
        run(
          `INSERT INTO users (organization_id, project_id, id, name, email, password_hash, enabled, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [u.organization, u.project, u.id, u.name, u.email, u.passwordHash, u.enabled, u.createdAt],
        ),
      ),
    getUser: async (ref, id) =>
      maybe(await one("SELECT * FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id]), user),
    listUsers: async (ref, page) =>
      (
        await rows("SELECT * FROM users WHERE organization_id = $1 AND project_id = $2 AND id > $3 ORDER BY id LIMIT $4", [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(user),
    updateUser: async (u) =>
      (await count("UPDATE users SET name = $1, email = $2, enabled = $3 WHERE organization_id = $4 AND project_id = $5 AND id = $6", [
        u.name,
        u.email,
        u.enabled,
        u.organization,
        u.project,
        u.id,
      ])) === 1,
    setUserPassword: async (ref, id, hash) =>
      (await count("UPDATE users SET password_hash = $1 WHERE organization_id = $2 AND project_id = $3 AND id = $4", [
        hash,
        ref.organization,
        ref.project,
        id,
      ])) === 1,
    deleteUser: (ref, id) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, id];
        // In the order of a code exchange, as deleteClient.
        await run("DELETE FROM authorization_codes WHERE organization_id = $1 AND project_id = $2 AND user_id = $3", args);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1 AND project_id = $2 AND user_id = $3", args);
        await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR UPDATE", args);
        await run("DELETE FROM grants WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND kind = 'user'", args);
        return (await count("DELETE FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3", args)) === 1;
      }),
    revokeUserGrants: (ref, userId, at) =>
      atomic(async () => {
        const args = [at, ref.organization, ref.project, userId];
        await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR UPDATE", [ref.organization, ref.project, userId]);
        // Grants before their refresh tokens, as everywhere: one lock order.
        await run(
          "UPDATE grants SET revoked_at = coalesce(revoked_at, $1) WHERE organization_id = $2 AND project_id = $3 AND user_id = $4 AND kind = 'user'",
          args,
        );
        await run(
          `UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, $1) WHERE grant_id IN
            (SELECT id FROM grants WHERE organization_id = $2 AND project_id = $3 AND user_id = $4 AND kind = 'user')`,
          args,
        );
      }),
    createPermission: (p) =>
      insert(`permission ${p.id}`, () =>
        run("INSERT INTO permissions (organization_id, project_id, id, description) VALUES ($1, $2, $3, $4)", [
          p.organization,
          p.project,
          p.id,
          p.description,
        ]),
      ),
    getPermissions: async (ref, ids) => {
      const found = new Map(
        (
          await rows("SELECT * FROM permissions WHERE organization_id = $1 AND project_id = $2 AND id = ANY($3::text[])", [
            ref.organization,
            ref.project,
            [...ids],
          ])
        ).map((r) => [r.id as string, permission(r)]),
      );
      return ids.flatMap((id) => (found.has(id) ? [found.get(id)!] : []));
    },
    listPermissions: async (ref, page) =>
      (
        await rows("SELECT * FROM permissions WHERE organization_id = $1 AND project_id = $2 AND id > $3 ORDER BY id LIMIT $4", [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(permission),
    deletePermission: async (ref, id) =>
      (await count("DELETE FROM permissions WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id])) === 1,
    createRole: (r) =>
      insert(`role ${r.id}`, () =>
        atomic(async () => {
          await run("INSERT INTO roles (organization_id, project_id, id, description) VALUES ($1, $2, $3, $4)", [
            r.organization,
            r.project,
            r.id,
            r.description,
          ]);
          for (const p of r.permissions) {
            await run("INSERT INTO role_permissions (organization_id, project_id, role_id, permission_id) VALUES ($1, $2, $3, $4)", [
              r.organization,
              r.project,
              r.id,
              p,
            ]);
          }
        }),
      ),
    getRole: async (ref, id) =>
      maybe(await one(`${ROLE} WHERE r.organization_id = $1 AND r.project_id = $2 AND r.id = $3`, [ref.organization, ref.project, id]), role),
    listRoles: async (ref, page) =>
      (
        await rows(`${ROLE} WHERE r.organization_id = $1 AND r.project_id = $2 AND r.id > $3 ORDER BY r.id LIMIT $4`, [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(role),
    deleteRole: async (ref, id) =>
      (await count("DELETE FROM roles WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id])) === 1,
    assignRole: async (ref, subject, roleId) => {
      const [table, column, id] = "userId" in subject ? ["user_roles", "user_id", subject.userId] : ["client_roles", "client_id", subject.clientId];
      await run(`INSERT INTO ${table} (organization_id, project_id, ${column}, role_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
        ref.organization,
        ref.project,
        id,
        roleId,
      ]);
    },
    unassignRole: async (ref, subject, roleId) => {
      const [table, column, id] = "userId" in subject ? ["user_roles", "user_id", subject.userId] : ["client_roles", "client_id", subject.clientId];
      return (
        (await count(`DELETE FROM ${table} WHERE organization_id = $1 AND project_id = $2 AND ${column} = $3 AND role_id = $4`, [
          ref.organization,
          ref.project,
          id,
          roleId,
        ])) === 1
      );
    },
    getRolesOf: async (ref, subject) => {
      const [table, column, id] = "userId" in subject ? ["user_roles", "user_id", subject.userId] : ["client_roles", "client_id", subject.clientId];
      return (
        await rows(`SELECT role_id FROM ${table} WHERE organization_id = $1 AND project_id = $2 AND ${column} = $3 ORDER BY role_id`, [
          ref.organization,
          ref.project,
          id,
        ])
      ).map((r) => r.role_id as string);
    },
    getUserPermissions: async (ref, userId) =>
      (await rows(PERMISSIONS_OF("user_roles", "user_id"), [ref.organization, ref.project, userId])).map(permission),
    getClientPermissions: async (ref, clientId) =>
      (await rows(PERMISSIONS_OF("client_roles", "client_id"), [ref.organization, ref.project, clientId])).map(permission),
    addSigningKey: (k) =>
      insert(`signing key ${k.kid}`, () =>
        run(
          `INSERT INTO signing_keys (kid, organization_id, project_id, alg, private_jwk, public_jwk, created_at, retired_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [k.kid, k.organization, k.project, k.alg, sealer.seal(k.kid, k.privateJwk), k.publicJwk, k.createdAt, k.retiredAt, k.expiresAt],
        ),
      ),
    listSigningKeys: async (ref) =>
      (
        await rows(
          `SELECT * FROM signing_keys WHERE organization_id = $1 AND project_id = $2
            ORDER BY retired_at IS NOT NULL, created_at DESC, kid`,
          [ref.organization, ref.project],
        )
      ).map(signingKey),
    // The project's row is held to the end of the caller's transaction (a
    // rotation: retire, then add): two rotations at once take turns, and the
    // second retires the first's new key, so one key is current.
    retireSigningKeys: (ref, at, expiresAt) =>
      atomic(async () => {
        await run("SELECT 1 FROM projects WHERE organization_id = $1 AND id = $2 FOR UPDATE", [ref.organization, ref.project]);
        return (
        await rows(
          `UPDATE signing_keys SET retired_at = $1, expires_at = $2
            WHERE organization_id = $3 AND project_id = $4 AND retired_at IS NULL RETURNING kid`,
          [at, expiresAt, ref.organization, ref.project],
        )
      )
        .map((r) => r.kid as string)
        .sort();
      }),
    maxAccessTokenTtl: async (ref) =>
      (await one("SELECT coalesce(max(access_token_ttl), 0) AS ttl FROM clients WHERE organization_id = $1 AND project_id = $2", [
        ref.organization,
        ref.project,
      ]))!.ttl as number,
    getChangeEpoch: async () => changes.epoch,
    createAuthorizationRequest: (r) =>
      insert("authorization request", () =>
        run(
          `INSERT INTO authorization_requests (id_hash, organization_id, project_id, client_id, redirect_uri, scopes, state,
            code_challenge, code_challenge_method, nonce, browser_binding_hash, user_id, auth_time, offered_scopes, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
          [
            r.idHash,
            r.organization,
            r.project,
            r.clientId,
            r.redirectUri,
            r.scopes,
            r.state,
            r.codeChallenge,
            r.codeChallengeMethod,
            r.nonce,
            r.browserBindingHash,
            r.userId,
            r.authTime,
            r.offeredScopes,
            r.createdAt,
            r.expiresAt,
          ],
        ),
      ),
    getAuthorizationRequest: async (idHash) => maybe(await one("SELECT * FROM authorization_requests WHERE id_hash = $1", [idHash]), request),
    authenticateAuthorizationRequest: async (idHash, login) => {
      await run("UPDATE authorization_requests SET user_id = $1, auth_time = $2, offered_scopes = $3 WHERE id_hash = $4", [
        login.userId,
        login.authTime,
        login.offeredScopes,
        idHash,
      ]);
    },
    recordFailedLogin: async (idHash) =>
      ((await one("UPDATE authorization_requests SET failed_logins = failed_logins + 1 WHERE id_hash = $1 RETURNING failed_logins", [idHash]))
        ?.failed_logins as number | undefined) ?? 0,
    consumeAuthorizationRequest: async (idHash) => (await count("DELETE FROM authorization_requests WHERE id_hash = $1", [idHash])) === 1,
    createAuthorizationCode: (c) =>
      insert("authorization code", () =>
        run(
          `INSERT INTO authorization_codes (code_hash, organization_id, project_id, client_id, user_id, redirect_uri, scopes,
            code_challenge, code_challenge_method, nonce, auth_time, created_at, expires_at, consumed_at, grant_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
          [
            c.codeHash,
            c.organization,
            c.project,
            c.clientId,
            c.userId,
            c.redirectUri,
            c.scopes,
            c.codeChallenge,
            c.codeChallengeMethod,
            c.nonce,
            c.authTime,
            c.createdAt,
            c.expiresAt,
            c.consumedAt,
            c.grantId,
          ],
        ),
      ),
    getAuthorizationCode: async (codeHash) => maybe(await one("SELECT * FROM authorization_codes WHERE code_hash = $1", [codeHash]), code),
    // One conditional UPDATE: of two replicas exchanging one code at once, the
    // second waits for the first's row lock, then finds it consumed.
    consumeAuthorizationCode: async (codeHash, grantId, at) =>
      (await count("UPDATE authorization_codes SET consumed_at = $1, grant_id = $2 WHERE code_hash = $3 AND consumed_at IS NULL", [
        at,
        grantId,
        codeHash,
      ])) === 1,
    createGrant: (g) =>
      insert("grant", () => atomic(async () => {
        // The client's and the user's rows are held (FOR SHARE, to the end of
        // the caller's transaction): a replica deleting or disabling one at
        // this moment waits for this grant to be committed, and then deletes
        // or revokes it too; or this waits for it, and the caller's re-read of
        // the user (inside its transaction) finds it gone or disabled.
        await run("SELECT 1 FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR SHARE", [g.organization, g.project, g.clientId]);
        if (g.kind === "user") {
          await run("SELECT 1 FROM users WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR SHARE", [g.organization, g.project, g.userId]);
        }
        await run(
          `INSERT INTO grants (id, organization_id, project_id, client_id, kind, user_id, scopes, auth_time, created_at, expires_at, revoked_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [g.id, g.organization, g.project, g.clientId, g.kind, g.userId, g.scopes, g.authTime, g.createdAt, g.expiresAt, g.revokedAt],
        );
      })),
    getGrant: async (id) => maybe(await one("SELECT * FROM grants WHERE id = $1", [id]), grant),
    findClientGrant: async (ref, clientId) =>
      maybe(
        await one(
          `SELECT * FROM grants WHERE organization_id = $1 AND project_id = $2 AND client_id = $3
            AND kind = 'client' AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1`,
          [ref.organization, ref.project, clientId],
        ),
        grant,
      ),
    extendGrant: async (id, expiresAt) => {
      await run("UPDATE grants SET expires_at = greatest(expires_at, $1::bigint) WHERE id = $2", [expiresAt, id]);
    },
    revokeGrant: (id, at) =>
      atomic(async () => {
        await run("UPDATE grants SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2", [at, id]);
        await run("UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, $1) WHERE grant_id = $2", [at, id]);
      }),
    createRefreshToken: (t) =>
      insert("refresh token", () =>
        run(
          `INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scopes, created_at, expires_at, rotated_at, parent_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [t.tokenHash, t.grantId, t.clientId, t.scopes, t.createdAt, t.expiresAt, t.rotatedAt, t.parentHash],
        ),
      ),
    getRefreshToken: async (tokenHash) => maybe(await one("SELECT * FROM refresh_tokens WHERE token_hash = $1", [tokenHash]), refresh),
    rotateRefreshToken: (tokenHash, at) =>
      atomic(async () => {
        // The grant's row first, held to the end of the caller's transaction:
        // refreshes of one family (rotations, grace-window siblings) and its
        // revocation take turns, so no sibling is inserted unseen by a
        // concurrent rotation and no two rotations deadlock on each other's rows.
        await run("SELECT 1 FROM grants WHERE id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = $1) FOR UPDATE", [tokenHash]);
        if ((await count("UPDATE refresh_tokens SET rotated_at = $1 WHERE token_hash = $2 AND rotated_at IS NULL", [at, tokenHash])) !== 1) {
          return false;
        }
        // Siblings are superseded, not exchanged: rotated_at 0 puts them outside any grace window.
        await run(
          `UPDATE refresh_tokens SET rotated_at = 0 WHERE rotated_at IS NULL AND token_hash != $1
            AND parent_hash = (SELECT parent_hash FROM refresh_tokens WHERE token_hash = $1)`,
          [tokenHash],
        );
        return true;
      }),
    getConsent: async (ref, userId, clientId) =>
      maybe(
        await one("SELECT * FROM consents WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND client_id = $4", [
          ref.organization,
          ref.project,
          userId,
          clientId,
        ]),
        consent,
      ),
    // One upsert merging the scopes on the server: two approvals at once both land.
    rememberConsent: async (c) => {
      await run(
        `INSERT INTO consents AS c (organization_id, project_id, user_id, client_id, scopes, granted_at)
          VALUES ($1, $2, $3, $4, array(SELECT DISTINCT u.s COLLATE "C" FROM unnest($5::text[]) AS u(s) ORDER BY 1), $6)
          ON CONFLICT (organization_id, project_id, user_id, client_id) DO UPDATE SET
            scopes = array(SELECT DISTINCT u.s COLLATE "C" FROM unnest(c.scopes || excluded.scopes) AS u(s) ORDER BY 1),
            granted_at = excluded.granted_at`,
        [c.organization, c.project, c.userId, c.clientId, c.scopes, c.grantedAt],
      );
    },
    listConsents: async (ref, userId) =>
      (
        await rows("SELECT * FROM consents WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 ORDER BY client_id", [
          ref.organization,
          ref.project,
          userId,
        ])
      ).map(consent),
    revokeConsent: (ref, userId, clientId, at) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, userId, clientId];
        const forgotten = await count("DELETE FROM consents WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND client_id = $4", args);
        const revoked = await count(
          `UPDATE grants SET revoked_at = $5 WHERE organization_id = $1 AND project_id = $2 AND user_id = $3
            AND client_id = $4 AND kind = 'user' AND revoked_at IS NULL`,
          [...args, at],
        );
        await run(
          `UPDATE refresh_tokens SET rotated_at = coalesce(rotated_at, $5) WHERE grant_id IN (SELECT id FROM grants
            WHERE organization_id = $1 AND project_id = $2 AND user_id = $3 AND client_id = $4 AND kind = 'user')`,
          [...args, at],
        );
        return forgotten + revoked > 0;
      }),
    lockedUntil: async (keys, now) =>
      ((await one("SELECT coalesce(max(locked_until), 0) AS until FROM login_failures WHERE key = ANY($1::text[]) AND locked_until > $2::bigint", [
        [...keys],
        now,
      ]))!.until as number),
    // One upsert: failures counted at once by several replicas all count. A
    // new window starts once the last one ended (a lockout ends its window too).
    recordLoginFailure: async (key, now, policy) => {
      const row = (await one(
        `INSERT INTO login_failures AS f (key, failures, window_ends_at, locked_until)
          VALUES ($1, 1, CASE WHEN 1 >= $3::int THEN $2::bigint + $5::bigint ELSE $2::bigint + $4::bigint END, CASE WHEN 1 >= $3::int THEN $2::bigint + $5::bigint ELSE 0 END)
          ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN f.window_ends_at <= $2::bigint THEN 1 ELSE f.failures + 1 END,
            window_ends_at = CASE
              WHEN (CASE WHEN f.window_ends_at <= $2::bigint THEN 1 ELSE f.failures + 1 END) >= $3::int THEN $2::bigint + $5::bigint
              WHEN f.window_ends_at <= $2::bigint THEN $2::bigint + $4::bigint
              ELSE f.window_ends_at END,
            locked_until = CASE
              WHEN (CASE WHEN f.window_ends_at <= $2::bigint THEN 1 ELSE f.failures + 1 END) >= $3::int THEN $2::bigint + $5::bigint
              ELSE 0 END
          RETURNING failures, locked_until`,
        [key, now, policy.maxFailures, policy.windowSeconds, policy.lockoutSeconds],
      ))!;
      return { failures: row.failures as number, lockedUntil: row.locked_until as number };
    },
    clearLoginFailures: async (key) => {
      await run("DELETE FROM login_failures WHERE key = $1", [key]);
    },
    /**
     * Deletes in batches of PURGE_BATCH rows, each its own short transaction,
     * under a session advisory lock: while one replica purges, another's run
     * finds the lock taken and deletes nothing (its counts are all 0).
     */
    purgeExpired: async (now: EpochSeconds) => {
      const purged = {
        authorization_requests: 0,
        authorization_codes: 0,
        refresh_tokens: 0,
        grants: 0,
        signing_keys: 0,
        login_failures: 0,
      };
      const { client: connection, release } = await checkout(pool);
      let locked = false;
      let unlockFailed: Error | undefined;
      try {
        locked = (await connection.query("SELECT pg_try_advisory_lock($1) AS locked", [LOCKS.purge])).rows[0]!.locked as boolean;
        if (!locked) return purged;
        await flow.run({ client: connection, changed: false, ended: false }, async () => {
          purged.authorization_requests = await purgeBatches("authorization_requests", "expires_at < $1", [now]);
          // A used code is kept for an hour past its expiry, so that a late
          // replay still revokes the tokens issued from it (RFC 6749 §4.1.2).
          purged.authorization_codes = await purgeBatches("authorization_codes", "expires_at < $1", [now - 3600]);
          purged.refresh_tokens = await purgeBatches("refresh_tokens", "expires_at < $1", [now]);
          purged.grants = await purgeBatches("grants", "expires_at < $1", [now]);
          // Only when one has expired: the statement would announce a change to every replica.
          if (await one("SELECT 1 FROM signing_keys WHERE expires_at < $1 LIMIT 1", [now])) {
            purged.signing_keys = await purgeBatches("signing_keys", "expires_at IS NOT NULL AND expires_at < $1", [now]);
            changes.bump();
          }
          purged.login_failures = await purgeBatches("login_failures", "window_ends_at <= $1 AND locked_until <= $1", [now]);
        });
        return purged;
      } finally {
        // A session lock that could not be given back goes with its connection (closed, not pooled).
        if (locked) await connection.query("SELECT pg_advisory_unlock($1)", [LOCKS.purge]).catch((err: Error) => (unlockFailed = err));
        release(unlockFailed);
      }
    },
  };

  const transaction = async <T>(fn: () => Promise<T>): Promise<T> => {
    const joined = flow.getStore();
    if (joined !== undefined && !joined.ended) return fn();
    const started = performance.now();
    const held = await checkout(pool);
    const tx: Tx = { client: held.client, changed: false, ended: false };
    let broken: Error | undefined;
    try {
      await tx.client.query("BEGIN");
      const result = await flow.run(tx, fn);
      // Ended before COMMIT is sent: work the transaction started and left
      // running must not slip onto the connection behind it (and run outside it).
      tx.ended = true;
      await commit(tx.client);
      return result;
    } catch (err) {
      tx.ended = true;
      await tx.client.query("ROLLBACK").catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      tx.ended = true;
      held.release(broken);
      if (tx.changed) changes.bump();
      events.observe("transaction", (performance.now() - started) / 1000);
    }
  };
  return {
    ops,
    // The pool lets every operation in at once; the server's row locks decide.
    enter: (_kind, run) => run,
    transaction,
    inTransaction: () => flow.getStore() !== undefined,
    // Another caller's reads do not see this transaction's changes before it
    // commits, and the epoch moves only then: reads in it go to the database.
    cacheInTransaction: false,
    changes: {
      epoch: () => changes.epoch,
      changed: () => {
        const tx = flow.getStore();
        // Outside a transaction it has committed (or failed) by now.
        if (tx === undefined) changes.bump();
        else tx.changed = true;
      },
    },
    close: async () => {
      await changes.close();
      await pool.end();
    },
  };
}
