/**
 * Fixtures of the tenant-isolation tests: three projects with the same
 * objects in each, and a token for every kind of caller. Not a test file
 * itself (ava only runs *.test.ts).
 *
 * Building that world takes ~60 admin calls, too many for each of the
 * hundreds of matrix cells, so it is built once per process into a template
 * database (through the public RPCs only) and every test gets its own copy of
 * that file and its own core: tests share nothing at run time. Tokens issued
 * while building stay valid in every copy (same keys, same grants, and every
 * TestClock starts at the same instant).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import { AdminService, ClientType } from "../../gen/iam/v1/admin_pb.js";
import type { TokenResponse } from "../../gen/iam/v1/token_pb.js";
import type { ProjectRef } from "../../core/store/types.js";
import { ADMIN_CLIENT_SECRET, BASE_URL, DEFAULT, queryOf, startTestCore, TestClock, type TestCore } from "../helpers.js";

export type AdminClient = Client<typeof AdminService>;

/** Project A, administered by its own project admins. */
export const A: ProjectRef = { organization: "acme", project: "a" };
/** Another project of A's organization. */
export const A2: ProjectRef = { organization: "acme", project: "a2" };
/** Project B, in another organization. */
export const B: ProjectRef = { organization: "globex", project: "b" };
/** The default tenant, home of global administration. */
export const ADMINS: ProjectRef = DEFAULT;

export const issuerOf = (ref: ProjectRef): string => `${BASE_URL}/services/oauth2/${ref.organization}/${ref.project}`;
export const refLabel = (ref: ProjectRef): string => `${ref.organization}/${ref.project}`;

export const GLOBAL_ADMIN = "iam.global.admin";
export const PROJECT_ADMIN = "iam.project.admin";
export const PROJECT_ADMIN_ROLE = "project-admin";

/** What exists in each of A, A2, B and iam-admins. */
export const READ = "docs.files.read";
export const READER_ROLE = "reader";
/** A user holding no role: the target of deletes, updates, password changes. */
export const VICTIM = { id: "victim", password: "victim-password" } as const;
/** A user holding `reader`: the target of UnassignRole. */
export const HOLDER = { id: "holder", password: "holder-password" } as const;
/** A user holding `project-admin`. */
export const PADMIN = { id: "padmin", password: "padmin-password" } as const;
/** A user holding `reader` only. */
export const PLAIN = { id: "plain", password: "plain-password" } as const;
/** A confidential client_credentials client holding `reader`: the target of client operations. */
export const VICTIM_APP = { id: "victim-app", secret: "victim-app-secret-0001" } as const;
/** A confidential client_credentials client holding `project-admin`. */
export const OPS = { id: "ops", secret: "ops-client-secret-0001" } as const;
/** A confidential client_credentials client holding `reader` only. */
export const WORKER = { id: "worker", secret: "worker-client-secret-01" } as const;
/** A confidential code-flow client the users log in through. */
export const PORTAL = { id: "portal", secret: "portal-client-secret-01", redirectUri: "https://portal.example/cb" } as const;

/** Tokens issued while the template was built (valid at the TestClock's start, for 600 s). */
export interface WorldTokens {
  /** admin-client, client_credentials: iam.global.admin of iam-admins. */
  global: string;
  /** `ops` of A, client_credentials: iam.project.admin of A. */
  adminA: string;
  /** `padmin` of A logged in through portal (Authorize, Login, Consent, code exchange). */
  adminAUser: string;
  /** `ops` of B. */
  adminB: string;
  /** `ops` of iam-admins: iam.project.admin of iam-admins, not global. */
  adminAdmins: string;
  /** `worker` of A: a client token without administration. */
  plainClientA: string;
  /** `plain` of A logged in through portal: a user token without administration. */
  plainUserA: string;
}

export interface World {
  c: TestCore;
  admin: AdminClient;
  tokens: WorldTokens;
  /** Call options carrying `Bearer token`; none when token is undefined. */
  as(token: string | undefined): CallOptions;
  /** Call options with a token of admin-client issued now (valid whatever the clock did). */
  asGlobal(): Promise<CallOptions>;
}

export const bearer = (token: string): CallOptions => ({ headers: { authorization: `Bearer ${token}` } });

/** client_credentials at a project's token endpoint. */
export function clientCredentials(c: TestCore, ref: ProjectRef, client: { id: string; secret: string }, scope = ""): Promise<TokenResponse> {
  return c.tokens.token({ ...ref, grantType: "client_credentials", scope, basic: { clientId: client.id, clientSecret: client.secret } });
}

export async function globalToken(c: TestCore): Promise<string> {
  return (await clientCredentials(c, ADMINS, { id: "admin-client", secret: ADMIN_CLIENT_SECRET })).accessToken;
}

/** Authorize, Login and Consent (everything offered) through `portal` of the project, then the code exchange. */
export async function loginThroughPortal(
  c: TestCore,
  ref: ProjectRef,
  user: { id: string; password: string },
  scope = "",
): Promise<TokenResponse> {
  const auth = await c.authorization.authorize({
    ...ref,
    responseType: "code",
    clientId: PORTAL.id,
    redirectUri: PORTAL.redirectUri,
    state: "st",
    scope,
  });
  const login = await c.authorization.login({ ...ref, requestId: auth.requestId, username: user.id, password: user.password });
  const consent = await c.authorization.consent({ ...ref, requestId: auth.requestId, scopes: login.scopes.map((s) => s.name) });
  const code = queryOf(consent.redirectTo).get("code");
  if (code === null) throw new Error(`consent did not issue a code: ${consent.redirectTo}`);
  return c.tokens.token({
    ...ref,
    grantType: "authorization_code",
    code,
    redirectUri: PORTAL.redirectUri,
    basic: { clientId: PORTAL.id, clientSecret: PORTAL.secret },
  });
}

/** Whether a user's password is the given one, asked through Authorize and Login of `portal`. */
export async function passwordWorks(c: TestCore, ref: ProjectRef, user: { id: string; password: string }): Promise<boolean> {
  const auth = await c.authorization.authorize({
    ...ref,
    responseType: "code",
    clientId: PORTAL.id,
    redirectUri: PORTAL.redirectUri,
    state: "st",
  });
  try {
    await c.authorization.login({ ...ref, requestId: auth.requestId, username: user.id, password: user.password });
    return true;
  } catch (err) {
    if (err instanceof ConnectError && err.metadata.get("oauth-error") === "access_denied") return false;
    throw err;
  }
}

/** Creates the objects every project of the world holds; answers nothing. */
export async function populateProject(admin: AdminClient, ref: ProjectRef, options: CallOptions): Promise<void> {
  await admin.createPermission({ ...ref, permissionId: READ, description: "Read files" }, options);
  await admin.createRole({ ...ref, roleId: READER_ROLE, description: "Readers", permissions: [READ] }, options);
  for (const user of [VICTIM, HOLDER, PADMIN, PLAIN]) {
    await admin.createUser({ ...ref, userId: user.id, password: user.password, email: `${user.id}@example.test` }, options);
  }
  for (const client of [VICTIM_APP, OPS, WORKER]) {
    await admin.createClient(
      { ...ref, clientId: client.id, type: ClientType.CONFIDENTIAL, secret: client.secret, grantTypes: ["client_credentials"] },
      options,
    );
  }
  await admin.createClient(
    {
      ...ref,
      clientId: PORTAL.id,
      name: "Portal",
      type: ClientType.CONFIDENTIAL,
      secret: PORTAL.secret,
      redirectUris: [PORTAL.redirectUri],
      grantTypes: ["authorization_code", "refresh_token"],
    },
    options,
  );
  await admin.assignRole({ ...ref, roleId: READER_ROLE, subject: { case: "userId", value: HOLDER.id } }, options);
  await admin.assignRole({ ...ref, roleId: READER_ROLE, subject: { case: "userId", value: PLAIN.id } }, options);
  await admin.assignRole({ ...ref, roleId: PROJECT_ADMIN_ROLE, subject: { case: "userId", value: PADMIN.id } }, options);
  await admin.assignRole({ ...ref, roleId: READER_ROLE, subject: { case: "clientId", value: VICTIM_APP.id } }, options);
  await admin.assignRole({ ...ref, roleId: READER_ROLE, subject: { case: "clientId", value: WORKER.id } }, options);
  await admin.assignRole({ ...ref, roleId: PROJECT_ADMIN_ROLE, subject: { case: "clientId", value: OPS.id } }, options);
}

interface Template {
  dir: string;
  db: string;
  tokens: WorldTokens;
  /** The sign-in session of VICTIM in each project, by refLabel. */
  victimSessions: Map<string, string>;
}

/**
 * The id (`sid`) of VICTIM's sign-in session in each project of the world
 * (through portal), by refLabel; filled once the template is built, before
 * any world opens.
 */
export const VICTIM_SESSIONS = new Map<string, string>();

let template: Promise<Template> | undefined;

async function buildTemplate(): Promise<Template> {
  const dir = mkdtempSync(join(tmpdir(), "iam-isolation-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, "template.db");
  const c = await startTestCore({ dbPath: db, clock: new TestClock() });
  try {
    const admin = createClient(AdminService, c.transport);
    const global = await globalToken(c);
    const options = bearer(global);
    await admin.createOrganization({ id: A.organization, name: "Acme" }, options);
    await admin.createProject({ organization: A.organization, id: A.project, name: "A" }, options);
    await admin.createProject({ organization: A2.organization, id: A2.project, name: "A2" }, options);
    await admin.createOrganization({ id: B.organization, name: "Globex" }, options);
    await admin.createProject({ organization: B.organization, id: B.project, name: "B" }, options);
    for (const ref of [A, A2, B, ADMINS]) await populateProject(admin, ref, options);
    const tokens: WorldTokens = {
      global,
      adminA: (await clientCredentials(c, A, OPS)).accessToken,
      adminAUser: (await loginThroughPortal(c, A, PADMIN)).accessToken,
      adminB: (await clientCredentials(c, B, OPS)).accessToken,
      adminAdmins: (await clientCredentials(c, ADMINS, OPS)).accessToken,
      plainClientA: (await clientCredentials(c, A, WORKER)).accessToken,
      plainUserA: (await loginThroughPortal(c, A, PLAIN)).accessToken,
    };
    const victimSessions = new Map<string, string>();
    for (const ref of [A, A2, B, ADMINS]) {
      // VICTIM holds no permission: scope openid gives the consent something to grant.
      await loginThroughPortal(c, ref, VICTIM, "openid");
      victimSessions.set(refLabel(ref), (await c.core.deps.store.listUserSessions(ref, VICTIM.id))[0]!.id);
    }
    return { dir, db, tokens, victimSessions };
  } finally {
    await c.close();
  }
}

/** At most this many worlds open at once (the matrix starts hundreds of tests together). */
const MAX_OPEN = 4;
let open = 0;
const waiting: Array<() => void> = [];

async function acquire(): Promise<void> {
  if (open < MAX_OPEN) {
    open++;
    return;
  }
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function release(): void {
  const next = waiting.shift();
  if (next === undefined) open--;
  else next();
}

let copies = 0;

/** A world of its own for one test: a copy of the template database under a fresh core; closed at teardown. */
export async function openWorld(t: ExecutionContext): Promise<World> {
  template ??= buildTemplate();
  const { dir, db, tokens, victimSessions } = await template;
  for (const [label, sid] of victimSessions) VICTIM_SESSIONS.set(label, sid);
  await acquire();
  const copyDir = mkdtempSync(join(dir, `copy-${copies++}-`));
  const dbPath = join(copyDir, "iam.db");
  let c: TestCore;
  try {
    copyFileSync(db, dbPath);
    for (const suffix of ["-wal", "-shm"]) if (existsSync(db + suffix)) copyFileSync(db + suffix, dbPath + suffix);
    c = await startTestCore({ dbPath, clock: new TestClock() });
  } catch (err) {
    release();
    throw err;
  }
  t.teardown(async () => {
    try {
      await c.close();
      rmSync(copyDir, { recursive: true, force: true });
    } finally {
      release();
    }
  });
  const admin = createClient(AdminService, c.transport);
  return {
    c,
    admin,
    tokens,
    as: (token) => (token === undefined ? {} : bearer(token)),
    asGlobal: async () => bearer(await globalToken(c)),
  };
}

export type Outcome = "OK" | keyof typeof Code;

/** "OK", or the name of the Connect code the call failed with (anything but a ConnectError is rethrown). */
export async function outcomeOf(call: Promise<unknown>): Promise<Outcome> {
  try {
    await call;
    return "OK";
  } catch (err) {
    if (err instanceof ConnectError) return Code[err.code] as keyof typeof Code;
    throw err;
  }
}

/** Whether a Get call finds its object: true on OK, false on NotFound, anything else is a failure. */
export async function exists(call: Promise<unknown>): Promise<boolean> {
  const outcome = await outcomeOf(call);
  if (outcome === "OK") return true;
  if (outcome === "NotFound") return false;
  throw new Error(`expected OK or NotFound, got ${outcome}`);
}
