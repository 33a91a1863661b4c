import { execFileSync } from "node:child_process";
import test, { type ExecutionContext } from "ava";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, BASE_URL, DEFAULT_REDIRECT, seedClient } from "../helpers.js";
import {
  ADMIN_SCOPE,
  adminRequest,
  assertErrorPage,
  assertPageHeaders,
  authorizeUrl,
  browserCookie,
  get,
  jsonCode,
  postForm,
  requestIdOf,
  serve,
} from "./_support.js";

const SCRIPT = "<script>alert(1)</script>";
const ATTRIBUTE_BREAK = `"><img src=x onerror=alert(1)>`;
const SINGLE_QUOTE_BREAK = `' autofocus onfocus='alert(1)`;

/** Asserts that none of the hostile strings appears unescaped in a page. */
function assertNoRawMarkup(t: ExecutionContext, page: string, values: string[] = [SCRIPT, ATTRIBUTE_BREAK, SINGLE_QUOTE_BREAK]) {
  for (const value of values) t.false(page.includes(value), `raw ${value}`);
  t.false(/<script/i.test(page), "no script element");
  t.false(/<img/i.test(page), "no injected img element");
  // No tag of the page carries an event handler attribute.
  for (const tag of page.match(/<[a-zA-Z][^>]*>/g) ?? []) t.notRegex(tag, /\son[a-z]+\s*=/i, tag);
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#96;/g, "`")
    .replace(/&amp;/g, "&");
}

/** The text of the page's <pre> block: the curl it shows. */
function curlOf(page: string): string {
  const match = /<pre>([\s\S]*?)<\/pre>/.exec(page);
  if (match === null) throw new Error("no <pre> in page");
  return unescapeHtml(match[1]!);
}

/**
 * The argument vector a POSIX shell would hand to curl for the command shown
 * (with CLIENT_SECRET set), found by running it with printf in place of curl.
 */
function shellWords(command: string): string[] {
  if (!command.startsWith("curl ")) throw new Error(`not a curl command: ${command}`);
  const probe = `printf '%s\\0' ${command.slice("curl ".length)}`;
  const out = execFileSync("bash", ["--noprofile", "--norc", "-c", probe], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CLIENT_SECRET: "SECRET-FROM-ENV" },
    encoding: "utf8",
  });
  return out.split("\0").slice(0, -1);
}

test("every page carries CSP with frame-ancestors 'none', X-Frame-Options DENY, Referrer-Policy no-referrer, Cache-Control no-store", async (t) => {
  const s = await serve(t);
  const login = await get(authorizeUrl(s, adminRequest()));
  const cookie = browserCookie(login);
  const request_id = requestIdOf(await login.text());
  t.is(login.status, 200);
  assertPageHeaders(t, login);

  const wrong = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: "wrong" }, { cookie });
  t.is(wrong.status, 401);
  assertPageHeaders(t, wrong);

  const consent = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
  t.is(consent.status, 200);
  assertPageHeaders(t, consent);

  const refused = await get(authorizeUrl(s, adminRequest({ client_id: "nobody" })));
  t.is(refused.status, 400);
  assertPageHeaders(t, refused);

  const forged = await postForm(`${s.project}/consent`, { request_id, scope: ADMIN_SCOPE });
  t.is(forged.status, 403);
  assertPageHeaders(t, forged);

  const redirect = await get(`${s.project}/redirect?code=abc&state=xyz`);
  t.is(redirect.status, 200);
  assertPageHeaders(t, redirect);

  const failed = await get(`${s.project}/redirect?error=access_denied&state=xyz`);
  t.is(failed.status, 200);
  assertPageHeaders(t, failed);

  for (const res of [login, wrong, consent, refused, forged, redirect, failed]) {
    t.is(res.headers.get("x-content-type-options"), "nosniff");
    t.regex(res.headers.get("content-security-policy")!, /default-src 'none'/);
    t.notRegex(res.headers.get("content-security-policy")!, /unsafe-inline|script-src/);
  }
});

test("a hostile state and client_id never appear unescaped on the authorization error page", async (t) => {
  const s = await serve(t);
  for (const clientId of [SCRIPT, ATTRIBUTE_BREAK, SINGLE_QUOTE_BREAK]) {
    const res = await get(authorizeUrl(s, adminRequest({ client_id: clientId, state: SCRIPT })));
    assertNoRawMarkup(t, await assertErrorPage(t, res, 400, "invalid_request"));
  }
  const badRedirect = await get(authorizeUrl(s, adminRequest({ redirect_uri: `javascript:alert(1)//${ATTRIBUTE_BREAK}`, state: SCRIPT })));
  const page = await assertErrorPage(t, badRedirect, 400, "invalid_request");
  assertNoRawMarkup(t, page);
  t.false(page.includes("javascript:"));
});

test("a hostile state is carried to the client encoded in the Location, not rendered", async (t) => {
  const s = await serve(t);
  const start = await get(authorizeUrl(s, adminRequest({ state: SCRIPT })));
  const cookie = browserCookie(start);
  const loginPage = await start.text();
  assertNoRawMarkup(t, loginPage);
  const request_id = requestIdOf(loginPage);
  await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
  const consent = await postForm(`${s.project}/consent`, { request_id, scope: ADMIN_SCOPE }, { cookie });
  t.is(consent.status, 303);
  const location = consent.headers.get("location")!;
  t.false(location.includes("<"));
  t.is(new URL(location).searchParams.get("state"), SCRIPT);
  // And Koa's redirect body escapes it too.
  t.false((await consent.text()).includes("<script"));
});

test("the /redirect page escapes the code and state it shows", async (t) => {
  const s = await serve(t);
  const q = new URLSearchParams({ code: ATTRIBUTE_BREAK, state: SCRIPT });
  const res = await get(`${s.project}/redirect?${q.toString()}`);
  const page = await res.text();
  t.is(res.status, 200);
  assertPageHeaders(t, res);
  assertNoRawMarkup(t, page);
  t.true(page.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  t.true(page.includes("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
});

test("the /redirect error variant escapes error, error_description and state", async (t) => {
  const s = await serve(t);
  const q = new URLSearchParams({ error: SCRIPT, error_description: ATTRIBUTE_BREAK, state: SINGLE_QUOTE_BREAK });
  const res = await get(`${s.project}/redirect?${q.toString()}`);
  const page = await res.text();
  t.is(res.status, 200);
  assertPageHeaders(t, res);
  assertNoRawMarkup(t, page);
  t.true(page.includes("Authorization failed"));
});

test("a client name and scope description with markup are escaped on the login and consent pages", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "evil", secret: "evil-secret", name: `Evil ${SCRIPT} ${ATTRIBUTE_BREAK}`, redirectUris: [DEFAULT_REDIRECT] });
  await s.core.deps.store.createPermission({
    organization: "iam-admins",
    project: "iam-admins",
    id: "app.x.read",
    description: `Read ${SCRIPT}${ATTRIBUTE_BREAK}`,
  });
  await s.core.deps.store.createRole({ organization: "iam-admins", project: "iam-admins", id: "x-reader", description: "", permissions: ["app.x.read"] });
  await s.core.deps.store.assignRole({ organization: "iam-admins", project: "iam-admins" }, { userId: "admin" }, "x-reader");

  const start = await get(authorizeUrl(s, adminRequest({ client_id: "evil", state: SCRIPT })));
  const cookie = browserCookie(start);
  const loginPage = await start.text();
  t.is(start.status, 200);
  assertNoRawMarkup(t, loginPage);
  t.true(loginPage.includes("Evil &lt;script&gt;"));
  const request_id = requestIdOf(loginPage);

  const consent = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
  const consentPage = await consent.text();
  t.is(consent.status, 200);
  assertNoRawMarkup(t, consentPage);
  t.true(consentPage.includes("Read &lt;script&gt;"));
  t.regex(consentPage, /name="scope" value="app\.x\.read"/);
});

test("a hostile request_id in a form post is not reflected unescaped", async (t) => {
  const s = await serve(t);
  const start = await get(authorizeUrl(s, adminRequest()));
  const cookie = browserCookie(start);
  for (const path of ["/authorize", "/consent"]) {
    const res = await postForm(`${s.project}${path}`, { request_id: ATTRIBUTE_BREAK, username: SCRIPT, password: "x", scope: SCRIPT }, { cookie });
    assertNoRawMarkup(t, await assertErrorPage(t, res, 400, "invalid_request"));
  }
});

test("the /redirect page shows the code and state it received and the token curl, without the client secret", async (t) => {
  const s = await serve(t);
  const { code, redirectTo } = await jsonCode(s, { params: adminRequest({ state: "shown-state" }) });
  const url = new URL(redirectTo);
  t.is(`${url.origin}${url.pathname}`, DEFAULT_REDIRECT);
  // The registered redirect URI is on BASE_URL: follow it on the loopback gateway.
  const res = await get(`${s.project}/redirect${url.search}`);
  const page = await res.text();
  t.is(res.status, 200);
  assertPageHeaders(t, res);
  t.true(page.includes(`<code id="code">${code}</code>`));
  t.true(page.includes(`<code id="state">shown-state</code>`));
  t.false(page.includes(ADMIN_CLIENT_SECRET));

  const curl = curlOf(page);
  t.false(curl.includes(ADMIN_CLIENT_SECRET));
  t.regex(curl, /^curl /);
  t.true(curl.includes(`${BASE_URL}/services/oauth2/iam-admins/iam-admins/token`));
  const words = shellWords(curl);
  t.true(words.includes(`${BASE_URL}/services/oauth2/iam-admins/iam-admins/token`));
  t.true(words.includes("admin-client:SECRET-FROM-ENV"), "the secret comes from the environment");
  t.true(words.includes("grant_type=authorization_code"));
  t.true(words.includes(`code=${code}`));
  t.true(words.includes(`redirect_uri=${DEFAULT_REDIRECT}`));
});

test("the curl on the /redirect page passes an odd code to curl as it is, never to the shell", async (t) => {
  const s = await serve(t);
  const code = `abc'$(echo INJECTED)'def`;
  const res = await get(`${s.project}/redirect?${new URLSearchParams({ code, state: "s" }).toString()}`);
  const page = await res.text();
  t.is(res.status, 200);
  const words = shellWords(curlOf(page));
  t.false(words.some((w) => w.includes("INJECTED") && !w.includes("$(echo INJECTED)")), JSON.stringify(words));
  t.true(words.includes(`code=${code}`), JSON.stringify(words));
});
