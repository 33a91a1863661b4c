/**
 * Shared fixtures of the core RPC tests: a seeded tenant, the login flow as
 * one call, and an assertion for the OAuth errors the core reports through
 * ConnectError metadata. Not a test file itself (ava only runs *.test.ts).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import Database from "better-sqlite3";
import type { AuthorizeRequestSchema } from "../../gen/iam/v1/authorization_pb.js";
import type { TokenRequestSchema } from "../../gen/iam/v1/token_pb.js";
import { sha256 } from "../../core/lib/crypto.js";
import { isPostgresUrl, type Config } from "../../core/server/config.js";
import { query } from "../pg.js";
import type { ProjectRef } from "../../core/store/types.js";
import { BASE_URL, DEFAULT, pkcePair, queryOf, seedClient, seedProject, seedUser, startTestCore, type TestCore } from "../helpers.js";

/** The plain-object form of a request message (not the Message branch of MessageInitShape). */
type InitOf<T> = Exclude<T, { $typeName: string }>;
export type AuthorizeInit = InitOf<MessageInitShape<typeof AuthorizeRequestSchema>>;
export type TokenInit = InitOf<MessageInitShape<typeof TokenRequestSchema>>;

export const issuerOf = (ref: ProjectRef): string => `${BASE_URL}/services/oauth2/${ref.organization}/${ref.project}`;
export const ISSUER = issuerOf(DEFAULT);
/** A second tenant, for cross-project tests. */
export const OTHER: ProjectRef = { organization: "acme", project: "shop" };

/** Scopes: alice holds READ and WRITE; DELETE exists in the project but only bob holds it. */
export const READ = "docs.files.read";
export const WRITE = "docs.files.write";
export const DELETE = "docs.files.delete";

/** A confidential client with a refresh grant and two registered redirect URIs (one with a query). */
export const WEB = {
  id: "web-app",
  name: "Web App",
  secret: "web-app-secret",
  redirectUri: "https://web.example/callback",
  redirectWithQuery: "https://web.example/other?tenant=1",
  accessTokenTtl: 900,
  refreshTokenTtl: 7200,
} as const;
/** A public client (PKCE always required). */
export const SPA = { id: "spa-app", redirectUri: "https://spa.example/cb" } as const;
/** A confidential client that requires PKCE. */
export const STRICT = { id: "strict-app", secret: "strict-secret", redirectUri: "https://strict.example/cb" } as const;
/** A confidential client that may use the code flow but not refresh. */
export const NOREFRESH = { id: "code-only", secret: "code-only-secret", redirectUri: "https://code-only.example/cb" } as const;
/** A confidential client without the authorization_code grant. */
export const M2M = { id: "m2m-app", secret: "m2m-secret", redirectUri: "https://m2m.example/cb" } as const;
/** A second confidential client registered on the same redirect URI as WEB. */
export const WEB2 = { id: "web-app-2", secret: "web-app-2-secret" } as const;

export const ALICE = { id: "alice", password: "alice-password" } as const;
export const BOB = { id: "bob", password: "bob-password" } as const;
export const CAROL = { id: "carol", password: "carol-password" } as const; // disabled

/** A core with the clients and users above seeded in the default project; closed at teardown. */
export async function setup(t: ExecutionContext, config: Partial<Config> = {}): Promise<TestCore> {
  const c = await startTestCore({ config });
  t.teardown(() => c.close());
  await seedFixtures(c);
  return c;
}

/** The clients and users of `setup`, seeded into any core. */
export async function seedFixtures(c: TestCore): Promise<void> {
  const { core } = c;
  await seedClient(core, {
    id: WEB.id,
    name: WEB.name,
    secret: WEB.secret,
    redirectUris: [WEB.redirectUri, WEB.redirectWithQuery],
    accessTokenTtl: WEB.accessTokenTtl,
    refreshTokenTtl: WEB.refreshTokenTtl,
  });
  await seedClient(core, { id: WEB2.id, secret: WEB2.secret, redirectUris: [WEB.redirectUri] });
  await seedClient(core, { id: SPA.id, redirectUris: [SPA.redirectUri] });
  await seedClient(core, { id: STRICT.id, secret: STRICT.secret, redirectUris: [STRICT.redirectUri], pkceRequired: true });
  await seedClient(core, {
    id: NOREFRESH.id,
    secret: NOREFRESH.secret,
    redirectUris: [NOREFRESH.redirectUri],
    grantTypes: ["authorization_code"],
  });
  await seedClient(core, { id: M2M.id, secret: M2M.secret, redirectUris: [M2M.redirectUri], grantTypes: ["client_credentials"] });
  await seedUser(core, { ...ALICE, permissions: [READ, WRITE] });
  await seedUser(core, { ...BOB, permissions: [DELETE] });
  await seedUser(core, { ...CAROL, permissions: [READ], enabled: false });
}

/** Seeds OTHER with its own key, a client `web-app` (same id, secret and redirect URI as in the default project) and alice. */
export async function seedOtherProject(c: TestCore): Promise<void> {
  await seedProject(c.core, OTHER);
  await seedClient(c.core, {
    ...OTHER,
    id: WEB.id,
    secret: WEB.secret,
    redirectUris: [WEB.redirectUri],
    accessTokenTtl: WEB.accessTokenTtl,
  });
  await seedUser(c.core, { ...OTHER, ...ALICE, permissions: [READ] });
}

/** A valid authorization request of WEB for READ and WRITE, with state `xyz`. */
export function authorizeRequest(overrides: Partial<AuthorizeInit> = {}): AuthorizeInit {
  return {
    ...DEFAULT,
    responseType: "code",
    clientId: WEB.id,
    redirectUri: WEB.redirectUri,
    state: "xyz",
    scope: `${READ} ${WRITE}`,
    ...overrides,
  };
}

export interface FlowOptions {
  authorize?: Partial<AuthorizeInit>;
  user?: { id: string; password: string };
  /** The scopes approved; defaults to every offered one. */
  approve?: string[];
}

/** Runs Authorize, Login and Consent; answers the code and what led to it. */
export async function obtainCode(c: TestCore, options: FlowOptions = {}) {
  const request = authorizeRequest(options.authorize);
  const ref = { organization: request.organization ?? "", project: request.project ?? "" };
  const user = options.user ?? ALICE;
  const auth = await c.authorization.authorize(request);
  const login = await c.authorization.login({ ...ref, requestId: auth.requestId, username: user.id, password: user.password });
  const consent = await c.authorization.consent({
    ...ref,
    requestId: auth.requestId,
    scopes: options.approve ?? login.scopes.map((s) => s.name),
  });
  const code = queryOf(consent.redirectTo).get("code");
  if (code === null) throw new Error(`consent did not issue a code: ${consent.redirectTo}`);
  return { code, redirectTo: consent.redirectTo, requestId: auth.requestId, offered: login.scopes };
}

/** A code exchange by WEB (client_secret_basic) for its registered redirect URI; overrides win. */
export function exchangeRequest(code: string, overrides: Partial<TokenInit> = {}): TokenInit {
  return {
    ...DEFAULT,
    grantType: "authorization_code",
    code,
    redirectUri: WEB.redirectUri,
    basic: { clientId: WEB.id, clientSecret: WEB.secret },
    ...overrides,
  };
}

/** A refresh by WEB (client_secret_basic); overrides win. */
export function refreshRequest(refreshToken: string, overrides: Partial<TokenInit> = {}): TokenInit {
  return {
    ...DEFAULT,
    grantType: "refresh_token",
    refreshToken,
    basic: { clientId: WEB.id, clientSecret: WEB.secret },
    ...overrides,
  };
}

/** Code flow then exchange by WEB: its tokens. */
export async function obtainTokens(c: TestCore, options: FlowOptions = {}) {
  const { code } = await obtainCode(c, options);
  const tokens = await c.tokens.token(exchangeRequest(code, { redirectUri: options.authorize?.redirectUri ?? WEB.redirectUri }));
  return { code, ...tokens };
}

export const nowSeconds = (c: TestCore): number => Math.floor(c.clock.now() / 1000);

/** The stored pending request / code behind a raw handle. */
export const pendingOf = (c: TestCore, requestId: string) => c.core.deps.store.getAuthorizationRequest(sha256(requestId));
export const codeRecordOf = (c: TestCore, code: string) => c.core.deps.store.getAuthorizationCode(sha256(code));
export const refreshRecordOf = (c: TestCore, token: string) => c.core.deps.store.getRefreshToken(sha256(token));

/**
 * Flips a user's enabled flag directly in the database, as another process
 * would. On PostgreSQL another process's change reaches this core's memory by
 * notification, within milliseconds: this waits until it has.
 */
export async function setUserEnabled(c: TestCore, ref: ProjectRef, userId: string, enabled: boolean): Promise<void> {
  const sql = "UPDATE users SET enabled = $1 WHERE organization_id = $2 AND project_id = $3 AND id = $4";
  if (isPostgresUrl(c.dbPath)) {
    const before = await c.core.deps.store.getChangeEpoch();
    const changed = await query(c.dbPath, `${sql} RETURNING id`, [enabled, ref.organization, ref.project, userId]);
    if (changed.length !== 1) throw new Error(`user ${userId} not found`);
    const deadline = Date.now() + 5000;
    while ((await c.core.deps.store.getChangeEpoch()) === before) {
      if (Date.now() > deadline) throw new Error("the change was not announced within 5 s");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return;
  }
  const db = new Database(c.dbPath);
  try {
    const changes = db.prepare(sql.replace(/\$\d/g, "?")).run(enabled ? 1 : 0, ref.organization, ref.project, userId).changes;
    if (changes !== 1) throw new Error(`user ${userId} not found`);
  } finally {
    db.close();
  }
}

/** Counts the rows of a table (to check a refused request left nothing behind). */
export async function countRows(
  c: TestCore,
  table: string,
): Promise<number> {
  if (isPostgresUrl(c.dbPath)) return (await query<{ n: number }>(c.dbPath, `SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
  const db = new Database(c.dbPath, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The Connect code each RFC error travels as (token.proto: invalid_client is UNAUTHENTICATED). */
export const CONNECT_CODE_OF: Record<string, Code> = {
  invalid_request: Code.InvalidArgument,
  invalid_client: Code.Unauthenticated,
  invalid_grant: Code.FailedPrecondition,
  unauthorized_client: Code.PermissionDenied,
  unsupported_grant_type: Code.InvalidArgument,
  unsupported_response_type: Code.InvalidArgument,
  invalid_scope: Code.InvalidArgument,
  access_denied: Code.PermissionDenied,
  invalid_request_uri: Code.InvalidArgument,
};

export interface ExpectedRedirect {
  /** The registered redirect URI the error must be sent to (its own query kept). */
  to: string;
  /** The `state` expected in it; undefined = absent. */
  state?: string;
  iss?: string;
}

export interface ExpectedError {
  /** The RFC 6749 error code in `oauth-error`. */
  error: string;
  /** The Connect code; defaults to CONNECT_CODE_OF[error]. */
  code?: Code;
  /** `false`: the error must not be redirected. An object: it must be, there. Undefined: not checked. */
  redirect?: false | ExpectedRedirect;
  /** The `oauth-status` metadata: a string, or null for absent. Undefined: not checked. */
  status?: string | null;
}

/** Awaits a rejected RPC and checks its OAuth error; answers the ConnectError. */
export async function expectOAuthError(
  t: ExecutionContext,
  promise: Promise<unknown>,
  expected: ExpectedError,
): Promise<ConnectError> {
  const err = (await t.throwsAsync(promise, { instanceOf: ConnectError })) as ConnectError;
  t.is(err.metadata.get("oauth-error"), expected.error, `oauth-error (message: ${err.rawMessage})`);
  t.is<Code | undefined, Code | undefined>(err.code, expected.code ?? CONNECT_CODE_OF[expected.error], `Connect code of ${expected.error}`);
  t.notRegex(err.rawMessage, /\bat .*\.ts:\d+/, "no stack trace in the message");
  const redirect = err.metadata.get("oauth-redirect");
  if (expected.redirect === false) {
    t.is(redirect, null, "must not be redirected");
  } else if (expected.redirect !== undefined) {
    t.not(redirect, null, "must be redirected to the client");
    if (redirect !== null) assertErrorRedirect(t, redirect, expected.error, expected.redirect);
  }
  if (expected.status !== undefined) t.is(err.metadata.get("oauth-status"), expected.status, "oauth-status");
  return err;
}

/** Checks an error redirect URL: the registered URI, then `error`, `error_description`, `state`, `iss`. */
export function assertErrorRedirect(t: ExecutionContext, url: string, error: string, expected: ExpectedRedirect): void {
  const separator = expected.to.includes("?") ? "&" : "?";
  t.true(url.startsWith(expected.to + separator), `${url} starts with ${expected.to}${separator}`);
  const query = queryOf(url);
  t.is(query.get("error"), error);
  t.truthy(query.get("error_description"));
  t.is(query.get("state"), expected.state ?? null);
  t.is(query.get("iss"), expected.iss ?? ISSUER);
  t.is(query.get("code"), null, "no code next to an error");
}

export { pkcePair };
