/**
 * Shared setup of the Dynamic Client Registration tests (RFC 7591, RFC
 * 7592): a real core and gateway whose default project's registration is
 * set through the AdminService, the user alice, and the HTTP calls of the
 * registration and client configuration endpoints. Not a test file itself.
 */
import { createClient, type Client } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import type { Config } from "../../core/server/config.js";
import type { AuditEventRecord } from "../../core/store/types.js";
import { globalAdminToken } from "../admin/rpc-support.js";
import { DEFAULT, seedUser, startTestServer, type TestServer } from "../helpers.js";

export const READ = "docs.files.read";
export const REDIRECT = "https://app.example/callback";
export const ALICE = { id: "alice", password: "alice-password" };

export interface RegistrationServer extends TestServer {
  admin: Client<typeof AdminService>;
  /** Call options of the global administrator. */
  auth: { headers: { authorization: string } };
  /** `{project}/register` on the gateway's own address. */
  endpoint: string;
}

/** A server whose default project's client_registration is `mode` ("" leaves it off), with alice holding READ. */
export async function registrationServer(
  t: ExecutionContext,
  mode: "" | "open" | "initial_access_token" = "open",
  options: { config?: Partial<Config>; localhost?: boolean } = {},
): Promise<RegistrationServer> {
  const s = await startTestServer(options);
  t.teardown(() => s.close());
  const admin = createClient(AdminService, s.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(s)}` } };
  if (mode !== "") await admin.updateProject({ ...DEFAULT, clientRegistration: mode, updateMask: { paths: ["client_registration"] } }, auth);
  await seedUser(s.core, { id: ALICE.id, password: ALICE.password, permissions: [READ] });
  return { ...s, admin, auth, endpoint: `${s.project}/register` };
}

/** POST /register with a JSON body (a string is sent as it is), and a Bearer token when given. */
export function register(s: RegistrationServer, body: unknown, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(s.endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The client information of a registration that must succeed (201). */
export async function registered(s: RegistrationServer, body: unknown, token?: string): Promise<ClientInformation> {
  const res = await register(s, body, token);
  const text = await res.text();
  if (res.status !== 201) throw new Error(`registration: ${res.status} ${text}`);
  return JSON.parse(text) as ClientInformation;
}

export interface ClientInformation {
  client_id: string;
  client_secret?: string;
  client_secret_expires_at?: number;
  client_id_issued_at: number;
  registration_access_token: string;
  registration_client_uri: string;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
  application_type: string;
  client_name: string;
  scope?: string;
  [member: string]: unknown;
}

/** A web client's usual metadata: code flow, refresh, one https redirect URI. */
export const WEB_METADATA = {
  client_name: "Registered web app",
  redirect_uris: [REDIRECT],
  grant_types: ["authorization_code", "refresh_token"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_basic",
};

/** The client configuration endpoint of `info` on the gateway's own address (the issuer's host is a test name). */
export const configurationUrl = (s: RegistrationServer, info: ClientInformation) => `${s.endpoint}/${encodeURIComponent(info.client_id)}`;

/** GET, PUT or DELETE on the client configuration endpoint (RFC 7592 §2). */
export function manage(
  s: RegistrationServer,
  info: ClientInformation,
  method: "GET" | "PUT" | "DELETE",
  token: string | undefined,
  body?: unknown,
): Promise<Response> {
  return fetch(configurationUrl(s, info), {
    method,
    headers: {
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/** An initial access token made through the AdminService. */
export async function initialAccessToken(
  s: RegistrationServer,
  init: { description?: string; ttl?: bigint; maxUses?: number } = {},
): Promise<{ id: string; token: string }> {
  const res = await s.admin.createInitialAccessToken({ ...DEFAULT, description: "for a test", ...init }, s.auth);
  return { id: res.initialAccessToken!.id, token: res.token };
}

/** Asserts an RFC 7591 §3.2.2 (or RFC 6749 §5.2) JSON error: status, code, a description, never cached. */
export async function assertError(t: ExecutionContext, res: Response, status: number, error: string): Promise<{ error: string; error_description: string }> {
  const text = await res.text();
  t.is(res.status, status, text);
  t.is(res.headers.get("cache-control"), "no-store");
  const body = JSON.parse(text) as { error: string; error_description: string };
  t.is(body.error, error, text);
  t.true(typeof body.error_description === "string" && body.error_description.length > 0);
  return body;
}

/** Asserts 401 invalid_token with its Bearer challenge (RFC 6750 §3). */
export async function assertInvalidToken(t: ExecutionContext, res: Response): Promise<void> {
  await assertError(t, res, 401, "invalid_token");
  t.regex(res.headers.get("www-authenticate") ?? "", /^Bearer realm="[^"]+", error="invalid_token", error_description="[^"]+"$/);
}

/** The project's audit events of `action`, oldest first. */
export const eventsOf = async (s: TestServer, action: string): Promise<AuditEventRecord[]> =>
  s.core.deps.store.listAuditEvents(DEFAULT, { actions: [action] }, { after: 0, limit: 1000 });

/** The dynamically registered clients the project holds. */
export const dynamicClients = (s: TestServer) => s.core.deps.store.countDynamicClients(DEFAULT);
