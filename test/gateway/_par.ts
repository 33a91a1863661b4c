/**
 * Shared setup of the pushed authorization request tests (RFC 9126): a
 * server whose default project holds the clients below and the user alice,
 * and the steps of a flow over HTTP. Not a test file itself.
 */
import type { ExecutionContext } from "ava";
import { countRows } from "../core/flow.js";
import { pkcePair, seedClient, seedUser, type TestServer } from "../helpers.js";
import { basic, getJson, postForm, postJson, serve } from "./_support.js";

export const REDIRECT = "https://app.example/callback";
export const OTHER_REDIRECT = "https://app.example/other";
export const READ = "docs.files.read";
export const WRITE = "docs.files.write";
export const ALICE = { id: "alice", password: "alice-password" };
/** A confidential client with two redirect URIs. */
export const WEB = { id: "web", secret: "web-app-secret" };
/** A confidential client that must use PKCE. */
export const STRICT = { id: "strict", secret: "strict-secret" };
/** A public client (PKCE always). */
export const SPA = { id: "spa" };
export const { verifier, challenge } = pkcePair();
export const REQUEST_URI = /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/;

/** A server with the clients web, strict and spa, and alice holding READ and WRITE. */
export async function parServer(t: ExecutionContext): Promise<TestServer> {
  const s = await serve(t);
  await seedClient(s.core, { id: WEB.id, secret: WEB.secret, redirectUris: [REDIRECT, OTHER_REDIRECT] });
  await seedClient(s.core, { id: STRICT.id, secret: STRICT.secret, redirectUris: [REDIRECT], pkceRequired: true });
  await seedClient(s.core, { id: SPA.id, redirectUris: [REDIRECT], pkceRequired: true });
  await seedUser(s.core, { id: ALICE.id, password: ALICE.password, permissions: [READ, WRITE] });
  return s;
}

/** The usual pushed request of `clientId`: code flow, PKCE S256, READ. */
export function pushedParams(clientId: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: READ,
    state: "pushed-state",
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...extra,
  };
}

/** POST /par with a form body. */
export const push = (s: TestServer, body: Record<string, string> | [string, string][] | string, headers: Record<string, string> = {}) =>
  postForm(`${s.project}/par`, body, headers);

/** Pushes `params` as web, authenticated by Basic; answers the request_uri (the push must succeed). */
export async function pushAsWeb(s: TestServer, extra: Record<string, string> = {}): Promise<string> {
  const res = await push(s, pushedParams(WEB.id, extra), basic(WEB.id, WEB.secret));
  if (res.status !== 201) throw new Error(`push: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { request_uri: string }).request_uri;
}

/** GET /authorize with `query`, as JSON. */
export const authorizeWith = (s: Pick<TestServer, "project">, query: Record<string, string>) =>
  getJson(`${s.project}/authorize?${new URLSearchParams(query).toString()}`);

/**
 * The user's part, as JSON: the authorization request named by `query`,
 * alice's sign-in, consent to every scope offered. Answers the login
 * context and the redirect back to the client.
 */
export async function aliceApproves(
  s: Pick<TestServer, "project">,
  query: Record<string, string>,
): Promise<{ context: { scopes_requested: string[]; client: { id: string } }; redirectTo: URL }> {
  const start = await authorizeWith(s, query);
  if (start.status !== 200) throw new Error(`authorize: ${start.status} ${start.headers.get("location") ?? (await start.text())}`);
  const context = (await start.json()) as { request_id: string; scopes_requested: string[]; client: { id: string } };
  const login = await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: ALICE.id, password: ALICE.password });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const scopes = ((await login.json()) as { scopes: { name: string }[] }).scopes.map((scope) => scope.name);
  const consent = await postJson(`${s.project}/consent`, { request_id: context.request_id, scopes });
  if (consent.status !== 200) throw new Error(`consent: ${consent.status} ${await consent.text()}`);
  return { context, redirectTo: new URL(((await consent.json()) as { redirect_to: string }).redirect_to) };
}

/** The pushed requests the database holds. */
export const pushedRows = (s: TestServer) => countRows(s, "pushed_authorization_requests");
