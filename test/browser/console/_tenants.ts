/**
 * Tenants for the console's browser tests, made through the AdminService
 * over the gateway's /admin/api (the console's own path) with a global
 * administrator's token, and raw Connect calls for the tests that call the
 * API directly, as a script would, to see what the core answers.
 */
import type { Page } from "playwright-core";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AdminService } from "../../../gen/iam/v1/admin_pb.js";
import { ADMIN_CLIENT_SECRET, type TestServer } from "../../helpers.js";

/** A client_credentials token of the default admin-client: global administration. */
export async function globalAdminToken(s: TestServer): Promise<string> {
  const res = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`admin-client:${ADMIN_CLIENT_SECRET}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials",
  });
  if (!res.ok) throw new Error(`client_credentials: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A service of the console's API as the console reaches it (Connect over HTTP/1.1 through /admin/api), calling with `token`. */
export function consoleApi<T extends DescService>(service: T, s: TestServer, token: string): Client<T> {
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  return createClient(service, createConnectTransport({ baseUrl: `${s.httpUrl}/admin/api`, httpVersion: "1.1", interceptors: [bearer] }));
}

/** The AdminService with a global administrator's token. */
export async function globalAdmin(s: TestServer): Promise<Client<typeof AdminService>> {
  return consoleApi(AdminService, s, await globalAdminToken(s));
}

/** A Connect error as it travels (the Connect protocol's JSON error body). */
export interface ConnectAnswer {
  status: number;
  contentType: string;
  body: { code?: string; message?: string } & Record<string, unknown>;
}

/** One unary call of the AdminService through the console's API path, in the Connect protocol's JSON, as any HTTP client sends it. */
export async function callAdmin(s: TestServer, method: string, request: object, headers: Record<string, string>): Promise<ConnectAnswer> {
  const res = await fetch(`${s.httpUrl}/admin/api/iam.v1.AdminService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(request),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", body: text === "" ? {} : (JSON.parse(text) as ConnectAnswer["body"]) };
}

/** A project's user holding its `project-admin` role (every project has it from its creation). */
export async function createProjectAdmin(
  admin: Client<typeof AdminService>,
  ref: { organization: string; project: string },
  user: { id: string; password: string; name?: string },
): Promise<void> {
  await admin.createUser({ ...ref, userId: user.id, password: user.password, name: user.name ?? user.id });
  await admin.assignRole({ ...ref, roleId: "project-admin", subject: { case: "userId", value: user.id } });
}

/**
 * The bearer tokens the console sends with its API calls, as the page sends
 * them: every `authorization` header of a request to /admin/api, in order.
 */
export function recordBearerTokens(page: Page): string[] {
  const tokens: string[] = [];
  page.on("request", (request) => {
    if (!new URL(request.url()).pathname.includes("/admin/api/")) return;
    request.allHeaders().then(
      (headers) => {
        const match = /^Bearer (.+)$/.exec(headers["authorization"] ?? "");
        if (match !== null && tokens.at(-1) !== match[1]) tokens.push(match[1]!);
      },
      () => {}, // the page closed meanwhile
    );
  });
  return tokens;
}

/**
 * Opens a console URL within the page, as following a link of the console
 * does (the router reads the address on popstate): the tokens the page holds
 * in memory stay, where a load of the URL would sign in again.
 */
export async function visit(page: Page, path: string): Promise<void> {
  await page.evaluate(`history.pushState(null, "", ${JSON.stringify(path)}); dispatchEvent(new PopStateEvent("popstate"))`);
}
