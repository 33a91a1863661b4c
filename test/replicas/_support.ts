/**
 * What the PostgreSQL suites of test/replicas share: a database of each
 * test's own, stores opened on it and closed before it is dropped, one
 * project with a user and a client, and a gate a test opens when it chooses.
 */
import type { ExecutionContext } from "ava";
import { openPostgresStore } from "../../core/store/postgres/store.js";
import type { ClientRecord, ProjectRef, Store, UserRecord } from "../../core/store/types.js";
import { CLIENT_AUTH_DEFAULTS } from "../../core/store/types.js";
import { createDatabase } from "../pg.js";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const REF: ProjectRef = { organization: "org", project: "proj" };

/** A promise the test resolves when it chooses. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** A fresh database for the test, dropped at teardown after everything registered with `closing` is closed. */
export async function database(t: ExecutionContext): Promise<{ url: string; name: string; closing: (close: () => Promise<unknown>) => void }> {
  const db = await createDatabase();
  const closers: (() => Promise<unknown>)[] = [];
  t.teardown(async () => {
    // In reverse order of opening; none may hold the teardown (a store on a frozen path could).
    for (const close of closers.reverse()) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([close().catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, 10_000)))]);
      clearTimeout(timer);
    }
    await db.drop();
  });
  return { url: db.url, name: new URL(db.url).pathname.slice(1), closing: (close) => closers.push(close) };
}

export async function openStore(
  t: ExecutionContext,
  db: { url: string; closing: (close: () => Promise<unknown>) => void },
  options: Parameters<typeof openPostgresStore>[1] = {},
  url = db.url,
): Promise<Store> {
  const store = await openPostgresStore(url, options);
  db.closing(() => store.close());
  return store;
}

export const USER: UserRecord = { ...REF, id: "alice", name: "Alice", email: "alice@example.test", emailVerified: false, givenName: "", familyName: "", passwordHash: "h", enabled: true, createdAt: 1 };
export const CLIENT: ClientRecord = {
  ...REF,
  id: "app",
  name: "App",
  type: "confidential",
  secretHash: "old-hash",
  redirectUris: ["https://app.example/cb"],
  grantTypes: ["authorization_code", "refresh_token"],
  pkceRequired: false,
  rememberConsent: false,
  accessTokenTtl: 600,
  refreshTokenTtl: 3600,
  postLogoutRedirectUris: [],
  backchannelLogoutUri: "",
  idTokenSignedResponseAlg: "RS256",
  webOrigins: [],
  requirePushedAuthorizationRequests: false,
  ...CLIENT_AUTH_DEFAULTS,
  createdAt: 1,
};

export async function seed(store: Store): Promise<void> {
  await store.createOrganization({ id: REF.organization, name: "Org", createdAt: 1 });
  await store.createProject({ ...REF, name: "Project", audience: "aud", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 1 });
  await store.createUser(USER);
  await store.createClient(CLIENT);
}
