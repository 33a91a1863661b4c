/**
 * Shared setup of the standards-client and discovery tests: a core and gateway
 * on a real loopback port whose base URL *is* that port, so the issuer a
 * strict client discovers equals the URL it fetched (as `iam start` does:
 * the gateway listens first and is handed the app once the core exists).
 * Real time (systemClock): standard clients check iat/exp against the clock.
 */
import type http from "node:http";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import { createCore, type Core } from "../../core/server/compose.js";
import { createInProcessTransport } from "../../wire/in-process-transport.js";
import { systemClock } from "../../core/lib/clock.js";
import type { ClientRecord, ProjectRef } from "../../core/store/types.js";
import { createGateway } from "../../gateway/app.js";
import { startGatewayServer } from "../../gateway/server.js";
import { memoryLogger, seedClient, seedUser, tempDir, testConfig } from "../helpers.js";

export const REDIRECT_URI = "https://rp.example/cb";
export const PERMISSION = "orders.read";
export const USER = { id: "alice", password: "alice-password-1" } as const;
/** Characters that Basic credentials must form-urlencode (RFC 6749 §2.3.1). */
export const CONFIDENTIAL = { id: "rp-web", secret: "s3cret: with spaces & symbols+/=%" } as const;
export const PUBLIC_CLIENT = { id: "rp-spa" } as const;

export interface StandardServer {
  /** `http://127.0.0.1:PORT`, the configured base URL. */
  baseUrl: string;
  /** The project seeded for the test. */
  ref: ProjectRef;
  /** `${baseUrl}/services/oauth2/{org}/{project}` */
  issuer: string;
  core: Core;
  lines: string[];
}

/** Creates an organization and project whose audience is its issuer, with a signing key. */
async function seedOwnProject(core: Core, ref: ProjectRef, issuer: string): Promise<void> {
  const { store, keys } = core.deps;
  if ((await store.getOrganization(ref.organization)) === undefined) {
    await store.createOrganization({ id: ref.organization, name: ref.organization, createdAt: 0 });
  }
  await store.createProject({ ...ref, name: ref.project, audience: issuer, accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 0 });
  await keys.create(ref);
}

/**
 * A server for one test, closed when it ends, with project acme/shop holding:
 * the confidential client rp-web (authorization_code, refresh_token), the
 * public client rp-spa (same grants), and the user alice with permission
 * orders.read and an email.
 */
export async function startStandardServer(t: ExecutionContext): Promise<StandardServer> {
  const tmp = tempDir();
  let listener: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = await startGatewayServer((req, res) => listener(req, res), "127.0.0.1", 0);
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const { logger, lines } = memoryLogger();
  const core = await createCore(testConfig(join(tmp.dir, "iam.db"), { baseUrl }), { clock: systemClock, logger });
  t.teardown(async () => {
    await server.close();
    await core.close();
    tmp.cleanup();
  });
  listener = createGateway({
    transport: createInProcessTransport(core.routes),
    baseUrl,
    logger,
    metrics: core.deps.metrics,
  }).callback();

  const ref: ProjectRef = { organization: "acme", project: "shop" };
  const issuer = `${baseUrl}/services/oauth2/${ref.organization}/${ref.project}`;
  await seedOwnProject(core, ref, issuer);
  await seedClient(core, {
    ...ref,
    id: CONFIDENTIAL.id,
    secret: CONFIDENTIAL.secret,
    redirectUris: [REDIRECT_URI],
    grantTypes: ["authorization_code", "refresh_token"],
  });
  await seedClient(core, {
    ...ref,
    id: PUBLIC_CLIENT.id,
    redirectUris: [REDIRECT_URI],
    grantTypes: ["authorization_code", "refresh_token"],
  });
  await seedUser(core, { ...ref, id: USER.id, password: USER.password, permissions: [PERMISSION] });
  return { baseUrl, ref, issuer, core, lines };
}

/** Adds a client to the test project. */
export function addClient(s: StandardServer, client: Partial<ClientRecord> & { id: string; secret?: string }): Promise<ClientRecord> {
  return seedClient(s.core, { ...s.ref, redirectUris: [REDIRECT_URI], ...client });
}

const postJson = (url: string, body: unknown) =>
  fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });

/**
 * The user's part of the flow, over HTTP with the JSON variant of the pages:
 * GET the authorization URL (Accept: application/json) for a request_id, log
 * in, approve every scope offered. Answers the redirect back to the client.
 */
export async function userApproves(
  authorizationUrl: URL | string,
  user: { id: string; password: string } = USER,
): Promise<{ redirectTo: URL; offered: string[] }> {
  const url = new URL(authorizationUrl);
  const start = await fetch(url, { redirect: "manual", headers: { accept: "application/json" } });
  if (start.status !== 200) throw new Error(`GET authorize: ${start.status} ${start.headers.get("location") ?? (await start.text())}`);
  const { request_id } = (await start.json()) as { request_id: string };
  const endpoint = `${url.origin}${url.pathname}`;
  const login = await postJson(endpoint, { request_id, username: user.id, password: user.password });
  if (login.status !== 200) throw new Error(`POST authorize: ${login.status} ${await login.text()}`);
  const offered = ((await login.json()) as { scopes: { name: string }[] }).scopes.map((s) => s.name);
  const consentUrl = endpoint.replace(/\/authorize$/, "/consent");
  const consent = await postJson(consentUrl, { request_id, scopes: offered });
  if (consent.status !== 200) throw new Error(`POST consent: ${consent.status} ${await consent.text()}`);
  const { redirect_to } = (await consent.json()) as { redirect_to: string };
  return { redirectTo: new URL(redirect_to), offered };
}

/**
 * The user's part of the flow as a browser goes through it: the login page
 * (HTML), its form posted with the browser's cookie, the consent page's form
 * posted with every scope it offers checked, and the 303 back to the client.
 * Answers that redirect and the scopes the page offered.
 */
export async function userApprovesByPages(
  authorizationUrl: URL | string,
  user: { id: string; password: string } = USER,
): Promise<{ redirectTo: URL; offered: string[] }> {
  const url = new URL(authorizationUrl);
  const start = await fetch(url, { redirect: "manual", headers: { accept: "text/html" } });
  const loginPage = await start.text();
  if (start.status !== 200) throw new Error(`GET authorize: ${start.status} ${start.headers.get("location") ?? loginPage}`);
  const cookie = start.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ");
  const form = (page: string) => {
    const action = /<form[^>]* action="([^"]+)"/.exec(page)?.[1];
    const requestId = /name="request_id" value="([^"]*)"/.exec(page)?.[1];
    if (action === undefined || requestId === undefined) throw new Error(`no form in ${page}`);
    return { action: new URL(action, url.origin), requestId };
  };
  const post = (to: URL, body: [string, string][]) =>
    fetch(to, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams(body).toString(),
    });
  const login = form(loginPage);
  const signedIn = await post(login.action, [["request_id", login.requestId], ["username", user.id], ["password", user.password]]);
  const consentPage = await signedIn.text();
  if (signedIn.status !== 200) throw new Error(`POST authorize: ${signedIn.status} ${consentPage}`);
  const consent = form(consentPage);
  const offered = [...consentPage.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1]!);
  const approved = await post(consent.action, [["request_id", consent.requestId], ...offered.map((scope): [string, string] => ["scope", scope]), ["action", "approve"]]);
  const location = approved.headers.get("location");
  if (approved.status !== 303 || location === null) throw new Error(`POST consent: ${approved.status} ${await approved.text()}`);
  return { redirectTo: new URL(location), offered };
}

/** Decodes a JWT's header and payload (no verification: that is what the tests check otherwise). */
export function decodeJwt(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = jwt.split(".");
  const part = (s: string | undefined) => JSON.parse(Buffer.from(s ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
  return { header: part(header), payload: part(payload) };
}
