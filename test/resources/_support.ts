/**
 * Shared setup of the resource indicator tests (RFC 8707): a core and
 * gateway on loopback with the fixtures of test/core/flow.ts, two registered
 * resources of the default project, and the flow's steps over HTTP with
 * `resource` given any number of times. Not a test file itself.
 */
import type { ExecutionContext } from "ava";
import { decodeJwt } from "jose";
import { ALICE, M2M, READ, seedFixtures, WEB, WRITE } from "../core/flow.js";
import { authorizeUrl, basic, getJson, postJson, token } from "../gateway/_support.js";
import { DEFAULT, startTestServer, type TestServer } from "../helpers.js";

/** A resource accepting READ, and one accepting WRITE (and a scope nobody holds). */
export const MCP = { uri: "https://mcp.example/mcp", name: "Docs MCP server", scopes: [READ] };
export const API = { uri: "https://api.example/v1", name: "Docs API", scopes: [WRITE, "docs.files.audit"] };
export const PROJECT_AUDIENCE = "http://iam.test/services/oauth2/iam-admins/iam-admins";

/** A server with the fixtures, MCP and API registered, and M2M holding READ and WRITE. */
export async function resourceServer(t: ExecutionContext): Promise<TestServer> {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedFixtures(s);
  const { store } = s.core.deps;
  for (const r of [MCP, API]) await store.createResource({ ...DEFAULT, ...r, createdAt: 0 });
  await store.createRole({ ...DEFAULT, id: "m2m-role", description: "m2m", permissions: [READ, WRITE] });
  await store.assignRole(DEFAULT, { clientId: M2M.id }, "m2m-role");
  return s;
}

/** The parameters of WEB's authorization request, `resource` once per value given. */
export function webRequest(resources: readonly string[], scope = `${READ} ${WRITE}`): [string, string][] {
  return [
    ["response_type", "code"],
    ["client_id", WEB.id],
    ["redirect_uri", WEB.redirectUri],
    ["scope", scope],
    ["state", "st-1"],
    ...resources.map((r): [string, string] => ["resource", r]),
  ];
}

export interface SignedIn {
  requestId: string;
  /** The login answer's scopes and resources (what the consent page shows). */
  scopes: string[];
  resources: { uri: string; name: string }[];
}

/** Steps 1 and 2 as JSON (authorize, log in as alice); throws unless both succeed. */
export async function signIn(s: TestServer, params: [string, string][]): Promise<SignedIn> {
  const start = await getJson(authorizeUrl(s, params));
  if (start.status !== 200) throw new Error(`authorize: ${start.status} ${await start.text()}`);
  const { request_id } = (await start.json()) as { request_id: string };
  const login = await postJson(`${s.project}/authorize`, { request_id, username: ALICE.id, password: ALICE.password });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const body = (await login.json()) as { scopes: { name: string }[]; resources?: { uri: string; name: string }[] };
  return { requestId: request_id, scopes: body.scopes.map((x) => x.name), resources: body.resources ?? [] };
}

/** Steps 1 to 3: a code of WEB for alice, every offered scope approved. */
export async function webCode(s: TestServer, resources: readonly string[], scope?: string): Promise<string> {
  const signedIn = await signIn(s, webRequest(resources, scope));
  const consent = await postJson(`${s.project}/consent`, { request_id: signedIn.requestId, scopes: signedIn.scopes });
  if (consent.status !== 200) throw new Error(`consent: ${consent.status} ${await consent.text()}`);
  const { redirect_to } = (await consent.json()) as { redirect_to: string };
  return new URL(redirect_to).searchParams.get("code")!;
}

export const webBasic = () => basic(WEB.id, WEB.secret);

/** The code's exchange by WEB, with `resource` once per value. */
export const exchange = (s: TestServer, code: string, resources: readonly string[] = []) =>
  token(s, [["grant_type", "authorization_code"], ["code", code], ["redirect_uri", WEB.redirectUri], ...resources.map((r): [string, string] => ["resource", r])], webBasic());

/** A refresh by WEB (or the client `authorization` names), with `resource` once per value. */
export const refresh = (s: TestServer, refreshToken: string, resources: readonly string[] = [], authorization = webBasic()) =>
  token(s, [["grant_type", "refresh_token"], ["refresh_token", refreshToken], ...resources.map((r): [string, string] => ["resource", r])], authorization);

export interface Issued {
  access_token: string;
  refresh_token?: string;
  scope: string;
  /** The access token's `aud` and `scope` claims. */
  aud: unknown;
  claimedScope: string;
}

/** A 200 token answer, with its access token's aud and scope. */
export async function issued(res: Response): Promise<Issued> {
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token: ${res.status} ${text}`);
  const body = JSON.parse(text) as Omit<Issued, "aud" | "claimedScope">;
  const claims = decodeJwt(body.access_token);
  return { ...body, aud: claims.aud, claimedScope: String(claims.scope) };
}
