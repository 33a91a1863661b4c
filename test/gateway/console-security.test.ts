/**
 * The administration console's security, over real HTTP: its page at /admin
 * and every path under it carries the login pages' anti-framing, no-store
 * and no-referrer headers and a CSP that lets no script run but the
 * console's own file (no inline script or style, Trusted Types); its files
 * answer with their types and nosniff; and its API, /admin/api, runs only a
 * Connect call carrying a bearer token: nothing a page of another site can
 * make a browser send (a preflight, a form post of any encoding, a GET, a
 * cookie) runs a call, nor does gRPC or gRPC-Web.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import test, { type ExecutionContext } from "ava";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService, CreateOrganizationRequestSchema } from "../../gen/iam/v1/admin_pb.js";
import { ADMIN_PASSWORD, BASE_URL, compiledIam, startTestServer, type TestServer } from "../helpers.js";
import { adminBasic, adminRequest, authorizeUrl, get, getJson, postJson, serve, token } from "./_support.js";

const ASSETS = `${BASE_URL}/admin/assets`;
const API = "/admin/api/iam.v1.AdminService";

// The page and its files are the build's (dist/console/): make sure it is there, as `npm start` does.
test.before(() => void compiledIam());

/** A Content-Security-Policy as directive name → its values. */
function directives(policy: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of policy.split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name !== undefined && name !== "" && !map.has(name.toLowerCase())) map.set(name.toLowerCase(), values);
  }
  return map;
}

/** The headers the console's page must share with the sign-in pages. */
const SHARED = ["x-frame-options", "referrer-policy", "cache-control", "pragma", "x-content-type-options"];

function ensure(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** A global administrator's token (client_credentials of the default admin-client). */
async function adminToken(s: TestServer): Promise<string> {
  const res = await token(s, { grant_type: "client_credentials" }, adminBasic());
  ensure(res.status === 200, `client_credentials: ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}


const organizationIds = async (s: TestServer, bearer: string): Promise<string[]> => {
  const res = await postJson(`${s.httpUrl}${API}/ListOrganizations`, { pageSize: 100 }, { authorization: `Bearer ${bearer}` });
  ensure(res.status === 200, `ListOrganizations: ${res.status}`);
  return ((await res.json()) as { organizations: { id: string }[] }).organizations.map((o) => o.id).sort();
};

function assertConsolePage(t: ExecutionContext, res: Response, login: Response, where: string): void {
  t.is(res.status, 200, where);
  t.is(res.headers.get("content-type"), "text/html; charset=utf-8", where);
  for (const name of SHARED) t.is(res.headers.get(name), login.headers.get(name), `${name}, as the sign-in page: ${where}`);
  t.is(res.headers.get("x-frame-options"), "DENY", where);
  t.is(res.headers.get("referrer-policy"), "no-referrer", where);
  t.is(res.headers.get("cache-control"), "no-store", where);
  t.is(res.headers.get("x-content-type-options"), "nosniff", where);
  t.is(res.headers.get("cross-origin-opener-policy"), "same-origin", where);
  t.is(res.headers.get("set-cookie"), null, `the console sets no cookie: ${where}`);

  const policy = res.headers.get("content-security-policy") ?? "";
  const csp = directives(policy);
  t.deepEqual(csp.get("default-src"), ["'none'"], where);
  // Exactly the console's one script, by its URL: no inline script, no eval, no other origin, no nonce or hash to match.
  t.deepEqual(csp.get("script-src"), [`${ASSETS}/console.js`], where);
  t.deepEqual(csp.get("style-src"), [`${ASSETS}/console.css`], where);
  for (const name of ["script-src-elem", "script-src-attr", "style-src-elem", "style-src-attr"]) t.false(csp.has(name), `no ${name} to loosen it: ${where}`);
  t.notRegex(policy, /'unsafe-|'nonce-|'sha(256|384|512)-|'strict-dynamic'|\*/, where);
  t.deepEqual(csp.get("frame-ancestors"), ["'none'"], where);
  t.deepEqual(csp.get("base-uri"), ["'none'"], where);
  t.deepEqual(csp.get("form-action"), [`${BASE_URL}/services/oauth2/`], where);
  t.deepEqual(csp.get("connect-src"), ["'self'"], where);
  // Trusted Types with no policy: no string can become markup or script.
  t.deepEqual(csp.get("require-trusted-types-for"), ["'script'"], where);
  t.deepEqual(csp.get("trusted-types"), ["'none'"], where);
  // What the sign-in pages forbid, the console forbids too.
  const loginCsp = directives(login.headers.get("content-security-policy") ?? "");
  for (const name of ["default-src", "frame-ancestors", "base-uri"]) t.deepEqual(csp.get(name), loginCsp.get(name), `${name}, as the sign-in page: ${where}`);
}

/** The console's page: every script has a src (the console's file), no inline style anywhere. */
function assertNoInlineCode(t: ExecutionContext, page: string, where: string): { script: string; style: string } {
  const scripts = page.match(/<script\b[^>]*>[\s\S]*?<\/script\s*>/gi) ?? [];
  t.is(scripts.length, 1, where);
  for (const script of scripts) {
    t.regex(script, /^<script\b[^>]*\ssrc="[^"]+"[^>]*><\/script\s*>$/i, `a script with a src and no content: ${where}`);
  }
  t.is(page.match(/<script\b/gi)?.length, scripts.length, `no unclosed script: ${where}`);
  t.false(/<style\b/i.test(page), `no style element: ${where}`);
  for (const tag of page.match(/<[a-zA-Z][^>]*>/g) ?? []) {
    t.notRegex(tag, /\sstyle\s*=/i, `no style attribute: ${tag}`);
    t.notRegex(tag, /\son[a-z]+\s*=/i, `no event handler attribute: ${tag}`);
    t.notRegex(tag, /javascript:/i, `no javascript: URL: ${tag}`);
  }
  const script = /<script\b[^>]*\ssrc="([^"]+)"/i.exec(page)?.[1] ?? "";
  const style = /<link\b[^>]*rel="stylesheet"[^>]*href="([^"]+)"/i.exec(page)?.[1] ?? "";
  t.regex(script, new RegExp(`^${ASSETS}/console\\.js\\?v=[A-Za-z0-9_-]+$`), where);
  t.regex(style, new RegExp(`^${ASSETS}/console\\.css\\?v=[A-Za-z0-9_-]+$`), where);
  return { script, style };
}

test("/admin and every path under it answer the console's page with the sign-in pages' headers, a CSP that runs the console's script alone, and no inline script or style", async (t) => {
  const s = await serve(t);
  const login = await get(authorizeUrl(s, adminRequest()));
  t.is(login.status, 200);
  const paths = [
    "/admin",
    "/admin/",
    "/admin/signin",
    "/admin/callback?code=abc&state=xyz&iss=http%3A%2F%2Fiam.test",
    "/admin/organizations",
    "/admin/organizations/acme",
    "/admin/p/acme/shop/clients/web",
    "/admin/p/acme/shop/users?prefix=a",
    "/admin/no/such/screen",
    "/admin/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "/admin/assets/",
    "/admin/api",
    // A Connect GET, which a cross-site link or image could send: the page, never the call.
    `${API}/ListOrganizations?connect=v1&encoding=json&message=%7B%7D`,
  ];
  for (const path of paths) {
    const res = await get(`${s.httpUrl}${path}`);
    const page = await res.text();
    assertConsolePage(t, res, login, path);
    assertNoInlineCode(t, page, path);
    t.false(page.includes("<script>alert"), `nothing of the URL is written into the page: ${path}`);
  }
});

test("the console's files answer with their types, nosniff and long caching for this build's URL; an unknown file is 404", async (t) => {
  const s = await serve(t);
  const { script, style } = assertNoInlineCode(t, await (await get(`${s.httpUrl}/admin/`)).text(), "/admin/");
  const files: [string, RegExp][] = [
    [script, /^text\/javascript; charset=utf-8$/],
    [style, /^text\/css; charset=utf-8$/],
  ];
  for (const [url, type] of files) {
    const res = await get(`${s.httpUrl}${url.slice(BASE_URL.length)}`);
    t.is(res.status, 200, url);
    t.regex(res.headers.get("content-type") ?? "", type, url);
    t.is(res.headers.get("x-content-type-options"), "nosniff", url);
    t.is(res.headers.get("cross-origin-resource-policy"), "same-origin", url);
    t.is(res.headers.get("cache-control"), "public, max-age=31536000, immutable", url);
    t.true((await res.arrayBuffer()).byteLength > 0, url);
    // Another version's URL is answered, but must be checked again next time.
    const other = await get(`${s.httpUrl}${url.slice(BASE_URL.length).replace(/\?v=.*$/, "?v=older")}`);
    t.is(other.status, 200);
    t.is(other.headers.get("cache-control"), "no-cache", url);
  }
  for (const name of ["evil.js", "console.js.map", "console.ts", "..%2Fshell.ts", "%2e%2e%2f%2e%2e%2fpackage.json", "CONSOLE.JS"]) {
    const res = await get(`${s.httpUrl}/admin/assets/${name}`);
    t.is(res.status, 404, name);
    t.false((res.headers.get("content-type") ?? "").startsWith("text/javascript"), name);
    await res.body?.cancel();
  }
});

test("/admin/api answers no CORS preflight: a page of another origin cannot send it a Connect call", async (t) => {
  const s = await serve(t);
  for (const origin of ["https://evil.example", "null", BASE_URL]) {
    const res = await fetch(`${s.httpUrl}${API}/CreateOrganization`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, connect-protocol-version" },
    });
    await res.body?.cancel();
    const cors: string[] = [];
    res.headers.forEach((_value, name) => void (name.startsWith("access-control-") && cors.push(name)));
    t.deepEqual(cors, [], `no Access-Control-* header for ${origin}`);
  }
});

test("/admin/api runs no call a cross-site form could send (text/plain, form-encoded, multipart), nor gRPC or gRPC-Web: 415, even with a valid token, and nothing is created", async (t) => {
  const s = await serve(t);
  const bearer = await adminToken(s);
  const before = await organizationIds(s, bearer);
  const json = JSON.stringify({ id: "forged", name: "Forged" });
  const message = toBinary(CreateOrganizationRequestSchema, create(CreateOrganizationRequestSchema, { id: "forged", name: "Forged" }));
  const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
  const multipart = new FormData();
  multipart.set("id", "forged");
  const attempts: [string, Record<string, string>, NonNullable<RequestInit["body"]>][] = [
    ["text/plain", { "content-type": "text/plain" }, json],
    ["text/plain;charset=UTF-8", { "content-type": "text/plain;charset=UTF-8" }, json],
    ["form-encoded", { "content-type": "application/x-www-form-urlencoded" }, `${json}=`],
    ["multipart", {}, multipart],
    ["no content type", {}, new Blob([json])],
    ["gRPC", { "content-type": "application/grpc", te: "trailers" }, framed],
    ["gRPC+proto", { "content-type": "application/grpc+proto", te: "trailers" }, framed],
    ["gRPC-Web", { "content-type": "application/grpc-web" }, framed],
    ["gRPC-Web+proto", { "content-type": "application/grpc-web+proto" }, framed],
    ["gRPC-Web text", { "content-type": "application/grpc-web-text" }, framed.toString("base64")],
  ];
  for (const [what, headers, body] of attempts) {
    const res = await fetch(`${s.httpUrl}${API}/CreateOrganization`, {
      method: "POST",
      headers: { ...headers, authorization: `Bearer ${bearer}`, origin: "https://evil.example" },
      body,
    });
    await res.body?.cancel();
    t.is(res.status, 415, what);
    t.is(res.headers.get("access-control-allow-origin"), null, what);
  }
  t.deepEqual(await organizationIds(s, bearer), before, "no organization was created");
  // The same request as a Connect call of the console does run: what refused the others was how they came.
  const res = await postJson(`${s.httpUrl}${API}/CreateOrganization`, JSON.parse(json), { authorization: `Bearer ${bearer}` });
  t.is(res.status, 200, await res.text());
  t.deepEqual(await organizationIds(s, bearer), [...before, "forged"].sort());
});

test("/admin/api refuses a call without a bearer token as unauthenticated (401), and a sign-in session's cookies alone change nothing", async (t) => {
  const s = await serve(t);
  // A real sign-in session of the global administrator, as a browser holds it after signing in.
  const start = await getJson(authorizeUrl(s, adminRequest()));
  const { request_id } = (await start.json()) as { request_id: string };
  const login = await postJson(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD });
  t.is(login.status, 200);
  const cookies = [...start.headers.getSetCookie(), ...login.headers.getSetCookie()].map((c) => c.split(";")[0]!);
  t.true(cookies.some((c) => c.startsWith("iam_session=")), "the sign-in opened a session");
  const calls: [string, object][] = [
    ["ListOrganizations", {}],
    ["CreateOrganization", { id: "forged" }],
  ];
  const refusals: [string, Record<string, string>][] = [
    ["no header", {}],
    ["cookies alone", { cookie: cookies.join("; ") }],
    ["an empty bearer", { authorization: "Bearer " }],
    ["basic credentials", adminBasic()],
    ["a token that is not one", { authorization: "Bearer not-a-token" }],
  ];
  for (const [method, body] of calls) {
    for (const [what, headers] of refusals) {
      const res = await postJson(`${s.httpUrl}${API}/${method}`, body, headers);
      t.is(res.status, 401, `${method}, ${what}`);
      t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
      t.is(res.headers.get("cache-control"), "no-store");
      t.is(((await res.json()) as { code: string }).code, "unauthenticated", `${method}, ${what}`);
    }
  }
  t.deepEqual(await organizationIds(s, await adminToken(s)), ["iam-admins"], "nothing was created");
});

test("/admin/api runs a Connect call with a valid administrator's token, and answers it never cached", async (t) => {
  const s = await serve(t);
  const bearer = await adminToken(s);
  const res = await postJson(`${s.httpUrl}${API}/ListOrganizations`, {}, { authorization: `Bearer ${bearer}` });
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.is(res.headers.get("cache-control"), "no-store");
  t.is(res.headers.get("x-content-type-options"), "nosniff");
  t.is(res.headers.get("access-control-allow-origin"), null);
  const body = (await res.json()) as { organizations: { id: string; name: string }[] };
  t.deepEqual(
    body.organizations.map((o) => [o.id, o.name]),
    [["iam-admins", "IAM administrators"]],
  );
  // The audit service is there too, for the same token.
  const audit = await postJson(`${s.httpUrl}/admin/api/iam.v1.AuditService/ListEvents`, { organization: "iam-admins", project: "iam-admins", pageSize: 5 }, { authorization: `Bearer ${bearer}` });
  t.is(audit.status, 200, await audit.clone().text());
});

test("IAM_CONSOLE=false: /admin, its files and /admin/api answer 404 even to an administrator's token, and the core's own port still administers", async (t) => {
  const s = await startTestServer({ config: { console: false } });
  t.teardown(() => s.close());
  const bearer = await adminToken(s);
  for (const path of ["/admin", "/admin/", "/admin/organizations", "/admin/assets/console.js"]) {
    const res = await get(`${s.httpUrl}${path}`);
    await res.body?.cancel();
    t.is(res.status, 404, path);
  }
  const call = await fetch(`${s.httpUrl}${API}/CreateOrganization`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ id: "through-the-gateway", name: "Refused" }),
  });
  await call.body?.cancel();
  t.is(call.status, 404);
  const core = createClient(AdminService, createGrpcTransport({ baseUrl: s.grpcUrl }));
  const auth = { headers: { authorization: `Bearer ${bearer}` } };
  t.false((await core.listOrganizations({ pageSize: 100 }, auth)).organizations.some((o) => o.id === "through-the-gateway"));
  await core.createOrganization({ id: "through-the-core", name: "Administered" }, auth);
  t.true((await core.listOrganizations({ pageSize: 100 }, auth)).organizations.some((o) => o.id === "through-the-core"));
});

test("/admin/api reads at most 64 KiB, the core's own limit: a larger call is refused resource_exhausted and creates nothing", async (t) => {
  const s = await serve(t);
  const bearer = await adminToken(s);
  const before = await organizationIds(s, bearer);
  const res = await fetch(`${s.httpUrl}${API}/CreateOrganization`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ id: "too-large", name: "x".repeat(70_000) }),
  });
  t.is(res.status, 429, "Connect's HTTP status for resource_exhausted");
  t.like(await res.json(), { code: "resource_exhausted" });
  t.deepEqual(await organizationIds(s, bearer), before);
});
