/**
 * Shared helpers of the gateway's HTTP tests: a real core and Koa gateway per
 * test, Node's fetch with redirects left to the test, cookies passed by hand.
 */
import type { ExecutionContext } from "ava";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT_REDIRECT, startTestServer, type TestServer } from "../helpers.js";

export const ADMIN_SCOPE = "iam.global.admin";
export const ISSUER = "http://iam.test/services/oauth2/iam-admins/iam-admins";
export const FORM = "application/x-www-form-urlencoded";

/** A fresh core and gateway, closed when the test ends. */
export async function serve(t: ExecutionContext): Promise<TestServer> {
  const s = await startTestServer();
  t.teardown(() => s.close());
  return s;
}

/** The URL of GET /authorize with these parameters (in order; a repeated name is given twice). */
export function authorizeUrl(s: TestServer, params: Record<string, string> | [string, string][]): string {
  const query = new URLSearchParams(Array.isArray(params) ? params : Object.entries(params));
  return `${s.project}/authorize?${query.toString()}`;
}

/** The usual parameters of the default client's authorization request. */
export function adminRequest(extra: Record<string, string> = {}): Record<string, string> {
  return { response_type: "code", client_id: "admin-client", redirect_uri: DEFAULT_REDIRECT, state: "st-123", ...extra };
}

export const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { redirect: "manual", headers });

export const getJson = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { redirect: "manual", headers: { accept: "application/json", ...headers } });

export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/json", accept: "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

export const postForm = (url: string, body: Record<string, string> | [string, string][] | string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": FORM, ...headers },
    body: typeof body === "string" ? body : new URLSearchParams(Array.isArray(body) ? body : Object.entries(body)).toString(),
  });

/** `Authorization: Basic` per RFC 6749 §2.3.1: id and secret form-urlencoded, then base64. */
export function basic(id: string, secret: string): Record<string, string> {
  const enc = (v: string) => new URLSearchParams({ v }).toString().slice(2);
  return { authorization: `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}` };
}

export const adminBasic = () => basic("admin-client", ADMIN_CLIENT_SECRET);

export const token = (s: TestServer, body: Record<string, string> | [string, string][] | string, headers: Record<string, string> = {}) =>
  postForm(`${s.project}/token`, body, headers);

/** The Set-Cookie headers of a response. */
export const setCookies = (res: Response): string[] => res.headers.getSetCookie();

/** The `name=value` pair of the browser-binding cookie a response sets, to send back as `cookie`. */
export function browserCookie(res: Response): string {
  const header = setCookies(res).find((c) => c.startsWith("iam_browser="));
  if (header === undefined) throw new Error(`no iam_browser cookie in ${JSON.stringify(setCookies(res))}`);
  return header.split(";")[0]!;
}

/** The value of a hidden `request_id` input of a page. */
export function requestIdOf(page: string): string {
  const match = /name="request_id" value="([^"]*)"/.exec(page);
  if (match === null) throw new Error("no request_id in page");
  return match[1]!;
}

export const query = (location: string | null): URLSearchParams => {
  if (location === null) throw new Error("no Location header");
  return new URL(location).searchParams;
};

/** Location without its query string. */
export const target = (location: string | null): string => {
  if (location === null) throw new Error("no Location header");
  return location.split("?")[0]!;
};

export interface ErrorBody {
  error: string;
  error_description: string;
}

/**
 * Asserts an RFC 6749 §5.2 style JSON error: exact status and code, a string
 * description, no-store, and no stack trace anywhere in the body.
 */
export async function assertJsonError(t: ExecutionContext, res: Response, status: number, error: string): Promise<ErrorBody> {
  const text = await res.text();
  t.is(res.status, status, text);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.is(res.headers.get("cache-control"), "no-store");
  assertNoStack(t, text);
  const body = JSON.parse(text) as ErrorBody;
  t.is(body.error, error, text);
  t.is(typeof body.error_description, "string");
  t.true(body.error_description.length > 0);
  return body;
}

export function assertNoStack(t: ExecutionContext, text: string): void {
  t.notRegex(text, /\n\s+at [^\n]+:\d+:\d+/);
  t.notRegex(text, /\.ts:\d+/);
  t.false(text.includes("stack"), "no stack member");
}

/** The headers every HTML page carries. */
export function assertPageHeaders(t: ExecutionContext, res: Response): void {
  t.regex(res.headers.get("content-type") ?? "", /^text\/html/);
  const csp = res.headers.get("content-security-policy") ?? "";
  t.regex(csp, /frame-ancestors 'none'/);
  t.regex(csp, /default-src 'none'/);
  t.is(res.headers.get("x-frame-options"), "DENY");
  t.is(res.headers.get("referrer-policy"), "no-referrer");
  t.is(res.headers.get("cache-control"), "no-store");
}

/** An HTML error page: exact status, the page headers, never a redirect. */
export async function assertErrorPage(t: ExecutionContext, res: Response, status: number, error: string): Promise<string> {
  const text = await res.text();
  t.is(res.status, status, text);
  t.is(res.headers.get("location"), null);
  assertPageHeaders(t, res);
  t.true(text.includes(`<code id="error-code">${error}</code>`), `page names ${error}`);
  assertNoStack(t, text);
  return text;
}

/** A redirect to the client with an RFC 6749 §4.1.2.1 error, state and RFC 9207 iss. */
export function assertErrorRedirect(
  t: ExecutionContext,
  res: Response,
  status: number,
  error: string,
  options: { redirectUri?: string; state?: string | null; issuer?: string } = {},
): URLSearchParams {
  t.is(res.status, status);
  const location = res.headers.get("location");
  t.not(location, null);
  t.is(target(location), options.redirectUri ?? DEFAULT_REDIRECT);
  const q = query(location);
  t.is(q.get("error"), error);
  t.truthy(q.get("error_description"));
  t.is(q.get("state"), options.state === undefined ? "st-123" : options.state);
  t.is(q.get("iss"), options.issuer ?? ISSUER);
  t.is(q.get("code"), null);
  t.is(res.headers.get("cache-control"), "no-store");
  return q;
}

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

/** A successful RFC 6749 §5.1 token response. */
export async function assertTokens(t: ExecutionContext, res: Response): Promise<TokenResponse> {
  const text = await res.text();
  t.is(res.status, 200, text);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.is(res.headers.get("cache-control"), "no-store");
  t.is(res.headers.get("pragma"), "no-cache");
  const body = JSON.parse(text) as TokenResponse;
  t.is(typeof body.access_token, "string");
  t.is(body.access_token.split(".").length, 3);
  t.is(body.token_type, "Bearer");
  t.is(typeof body.expires_in, "number");
  t.true(body.expires_in > 0);
  t.is(typeof body.scope, "string");
  return body;
}

/**
 * Runs steps 1-3 of the flow as JSON for the default admin user and answers
 * the code. `consent` defaults to every scope offered.
 */
export async function jsonCode(
  s: TestServer,
  options: {
    params?: Record<string, string>;
    username?: string;
    password?: string;
    consent?: string[];
  } = {},
): Promise<{ code: string; redirectTo: string; offered: string[] }> {
  const start = await getJson(authorizeUrl(s, options.params ?? adminRequest()));
  if (start.status !== 200) throw new Error(`authorize: ${start.status} ${await start.text()}`);
  const { request_id } = (await start.json()) as { request_id: string };
  const login = await postJson(`${s.project}/authorize`, {
    request_id,
    username: options.username ?? "admin",
    password: options.password ?? ADMIN_PASSWORD,
  });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const { scopes } = (await login.json()) as { scopes: { name: string }[] };
  const offered = scopes.map((scope) => scope.name);
  const consent = await postJson(`${s.project}/consent`, { request_id, scopes: options.consent ?? offered });
  if (consent.status !== 200) throw new Error(`consent: ${consent.status} ${await consent.text()}`);
  const { redirect_to } = (await consent.json()) as { redirect_to: string };
  const code = new URL(redirect_to).searchParams.get("code");
  if (code === null) throw new Error(`no code in ${redirect_to}`);
  return { code, redirectTo: redirect_to, offered };
}

/** A code of the default client, exchanged for tokens with client_secret_basic. */
export async function adminTokens(t: ExecutionContext, s: TestServer): Promise<TokenResponse> {
  const { code } = await jsonCode(s);
  return assertTokens(
    t,
    await token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT }, adminBasic()),
  );
}
