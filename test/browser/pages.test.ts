/**
 * The authorization pages in a real browser (headless Debian chromium through
 * playwright-core): the login, consent, error and redirect pages as a person
 * uses them, by keyboard and mouse, against a real core and Koa gateway.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import test, { type ExecutionContext } from "ava";
import type { Page, Response } from "playwright-core";
import type { Config } from "../../core/server/config.js";
import { ADMIN_PASSWORD, DEFAULT_REDIRECT, pkcePair, startTestServer, type TestServer } from "../helpers.js";
import { ADMIN_SCOPE, adminBasic, adminRequest, authorizeUrl, ISSUER, token } from "../gateway/_support.js";
import {
  assertPageHeaders,
  countOf,
  navigation,
  open,
  openPage,
  screenshot,
  textOf,
  useBrowser,
  type ClientRedirect,
} from "./_browser.js";

const browser = useBrowser(test);

/** The default project's and client's display names, as the bootstrap creates them. */
const PROJECT_NAME = "IAM administration";
const CLIENT_NAME = "IAM administration client";

const INVALID_CREDENTIALS = "Invalid username or password.";

/** A browser page and a fresh server for one test, both closed when it ends. */
async function setup(t: ExecutionContext, config: Partial<Config> = {}) {
  // Ask for the browser first: without chromium the test fails with that reason alone.
  const b = browser();
  const s = await startTestServer({ config });
  t.teardown(() => s.close());
  const { page, clientRedirects } = await openPage(t, b, s);
  return { s, page, clientRedirects };
}

const randomState = () => randomBytes(16).toString("base64url");

/** Fails the test now, naming what of the page contract is missing. */
async function requireOne(page: Page, selector: string): Promise<void> {
  const n = await countOf(page, selector);
  if (n !== 1) {
    throw new Error(`page contract: expected one ${selector} on ${page.url()} ("${await page.title()}"), found ${n}`);
  }
}

/** The login page, as the contract describes it. */
async function assertLoginForm(t: ExecutionContext, page: Page): Promise<void> {
  await requireOne(page, "form#login-form");
  t.is(await countOf(page, "form#login-form input#username"), 1, "input#username in the form");
  t.is(await countOf(page, "form#login-form input#password[type=password]"), 1, "input#password in the form");
  t.is(await countOf(page, "label[for=username]"), 1, "label for #username");
  t.is(await countOf(page, "label[for=password]"), 1, "label for #password");
  t.is(await countOf(page, "form#login-form button#sign-in"), 1, "button#sign-in in the form");
}

/** The first login page of a request: also names the project and the client. */
async function assertLoginPage(t: ExecutionContext, page: Page): Promise<void> {
  await assertLoginForm(t, page);
  // The project's display name (iam-admins is its id), not the client's, which starts alike.
  t.regex((await textOf(page, "h1")) ?? "", new RegExp(`${PROJECT_NAME}(?! client)`), "h1 names the project");
  t.true(await page.locator("p", { hasText: CLIENT_NAME }).count() >= 1, `a paragraph names "${CLIENT_NAME}"`);
}

/** Types the credentials with the keyboard and submits with Enter; answers the page that follows. */
async function signIn(t: ExecutionContext, page: Page, username: string, password: string, step: string): Promise<Response> {
  await requireOne(page, "form#login-form");
  await page.locator("#username").fill("");
  await page.locator("#username").focus();
  await page.keyboard.type(username);
  await page.locator("#password").focus();
  await page.keyboard.type(password);
  const { response } = await navigation(page, () => page.keyboard.press("Enter"));
  await assertPageHeaders(t, response);
  await screenshot(t, page, step);
  return response;
}

/** Opens the authorization request of the default client; answers the login page's response. */
async function startRequest(t: ExecutionContext, page: Page, url: string, step: string): Promise<Response> {
  const response = await open(page, url);
  await assertPageHeaders(t, response);
  await screenshot(t, page, step);
  return response;
}

/** The values of the consent page's scope checkboxes, sorted. */
async function offeredScopes(page: Page): Promise<string[]> {
  const boxes = page.locator("form#consent-form input[type=checkbox][name=scope]");
  const values: string[] = [];
  for (let i = 0; i < (await boxes.count()); i++) values.push((await boxes.nth(i).getAttribute("value")) ?? "");
  return values.sort();
}

/**
 * Ids (or names) of the page's form controls that no <label> with text names.
 * Evaluated as a string: the repository's tsconfig has no DOM lib.
 */
const UNLABELLED_CONTROLS = `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
  .filter((el) => ![...(el.labels ?? [])].some((label) => label.textContent.trim() !== ""))
  .map((el) => el.id || el.name || el.outerHTML)`;

const activeElementId = (page: Page) => page.evaluate<string>("document.activeElement ? document.activeElement.id : ''");

/**
 * Clicks a consent button; asserts the gateway's 303 to the default client's
 * redirect URI and that the browser landed on its redirect page (on the test's
 * gateway: see openPage). Answers the redirect's query.
 */
async function decide(
  t: ExecutionContext,
  s: TestServer,
  page: Page,
  clientRedirects: ClientRedirect[],
  button: "#approve" | "#deny",
  step: string,
): Promise<URLSearchParams> {
  await requireOne(page, `form#consent-form button${button}`);
  const seen = clientRedirects.length;
  const { response, hops } = await navigation(page, () => page.locator(button).click());
  await screenshot(t, page, step);
  const redirect = clientRedirects[seen];
  if (redirect === undefined) throw new Error(`${button} did not redirect to the client: landed on ${response.status()} ${response.url()}`);
  t.is(clientRedirects.length, seen + 1);
  t.is(redirect.status, 303);
  t.is(redirect.headers["cache-control"], "no-store");
  t.is(redirect.location.split("?")[0], DEFAULT_REDIRECT);
  t.deepEqual(
    hops.map((hop) => `${hop.request().method()} ${hop.status()}`),
    ["POST 303"],
  );
  t.is(page.url().split("?")[0], `${s.project}/redirect`);
  const query = new URL(redirect.location).searchParams;
  t.deepEqual([...new URL(page.url()).searchParams], [...query], "the browser carried the query unchanged");
  t.is(response.status(), 200);
  await assertPageHeaders(t, response);
  return query;
}

/** Asserts that a document came straight from the gateway: no redirect before it, none in it. */
async function assertNotRedirected(t: ExecutionContext, response: Response, step: string): Promise<void> {
  t.is(response.request().redirectedFrom(), null, `${step}: not reached through a redirect`);
  t.is((await response.allHeaders())["location"], undefined, `${step}: no Location`);
}

test("full flow by keyboard and mouse: login, consent, callback with a code, tokens", async (t) => {
  const { s, page, clientRedirects } = await setup(t);
  const { verifier, challenge } = pkcePair(randomBytes(32).toString("base64url"));
  const state = randomState();
  const url = authorizeUrl(
    s,
    adminRequest({ state, scope: `openid ${ADMIN_SCOPE}`, code_challenge: challenge, code_challenge_method: "S256" }),
  );

  const login = await startRequest(t, page, url, "1-login");
  t.is(login.status(), 200);
  await assertLoginPage(t, page);

  const consentPage = await signIn(t, page, "admin", ADMIN_PASSWORD, "2-consent");
  t.is(consentPage.status(), 200);
  await requireOne(page, "form#consent-form");
  t.deepEqual(await offeredScopes(page), ["iam.global.admin", "openid"].sort());
  t.deepEqual(await page.evaluate<string[]>(UNLABELLED_CONTROLS), [], "every scope checkbox has a label with text");

  const query = await decide(t, s, page, clientRedirects, "#approve", "3-callback");
  const code = query.get("code");
  t.truthy(code);
  t.is(query.get("state"), state);
  t.is(query.get("iss"), ISSUER);
  t.is(await textOf(page, "#code"), code ?? undefined);
  t.is(await textOf(page, "#state"), state);

  const res = await token(
    s,
    { grant_type: "authorization_code", code: code ?? "", redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier },
    adminBasic(),
  );
  const text = await res.text();
  t.is(res.status, 200, text);
  const tokens = JSON.parse(text) as { access_token?: unknown; id_token?: unknown };
  t.is(typeof tokens.access_token, "string");
  t.is(typeof tokens.id_token, "string");
});

test("a wrong password or an unknown user: 401, the same message, the form again", async (t) => {
  const { s, page } = await setup(t);
  await startRequest(t, page, authorizeUrl(s, adminRequest({ state: randomState() })), "1-login");

  for (const [username, step] of [
    ["admin", "2-wrong-password"],
    ["nobody", "3-unknown-user"],
  ] as const) {
    const res = await signIn(t, page, username, "not-the-password", step);
    t.is(res.status(), 401, step);
    await requireOne(page, "#login-error");
    t.is(await page.locator("#login-error").getAttribute("role"), "alert");
    t.is(await textOf(page, "#login-error"), INVALID_CREDENTIALS, step);
    await assertLoginForm(t, page);
  }
});

test("lockout: after loginMaxFailuresPerUser wrong passwords, 429 and #login-locked, even for the right password", async (t) => {
  const { s, page } = await setup(t, { loginMaxFailuresPerUser: 3 });
  const url = authorizeUrl(s, adminRequest({ state: randomState() }));

  /** Signs in on the current page, or on a new request when the page has no form any more. */
  const attempt = async (password: string, step: string) => {
    if ((await countOf(page, "form#login-form")) === 0) await startRequest(t, page, url, `${step}-new-request`);
    return signIn(t, page, "admin", password, step);
  };

  await startRequest(t, page, url, "0-login");
  for (const step of ["1-wrong", "2-wrong"]) {
    const res = await attempt("wrong-password", step);
    t.is(res.status(), 401, step);
    t.is(await textOf(page, "#login-error"), INVALID_CREDENTIALS, step);
    t.is(await countOf(page, "#login-locked"), 0, step);
  }

  const third = await attempt("wrong-password", "3-wrong-locked");
  t.is(third.status(), 429);
  await requireOne(page, "#login-locked");
  t.is(await page.locator("#login-locked").getAttribute("role"), "alert");
  t.regex((await textOf(page, "#login-locked")) ?? "", /Too many failed sign-ins/);

  const right = await attempt(ADMIN_PASSWORD, "4-right-still-locked");
  t.is(right.status(), 429);
  await requireOne(page, "#login-locked");
  t.regex((await textOf(page, "#login-locked")) ?? "", /Too many failed sign-ins/);
  t.is(await countOf(page, "form#consent-form"), 0, "no consent page while locked");
});

test("deny: back to the client with access_denied and the state, shown on the redirect page", async (t) => {
  const { s, page, clientRedirects } = await setup(t);
  const state = randomState();
  await startRequest(t, page, authorizeUrl(s, adminRequest({ state, scope: ADMIN_SCOPE })), "1-login");
  t.is((await signIn(t, page, "admin", ADMIN_PASSWORD, "2-consent")).status(), 200);

  const query = await decide(t, s, page, clientRedirects, "#deny", "3-denied");
  t.is(query.get("error"), "access_denied");
  t.is(query.get("state"), state);
  t.is(query.get("iss"), ISSUER);
  t.is(query.get("code"), null);
  const body = await page.locator("body").innerText();
  t.true(body.includes("access_denied"), body);
  t.is(await countOf(page, "#code"), 0, "no code shown");
});

test("markup in state and client_id is shown as text, never run or parsed", async (t) => {
  const { s, page, clientRedirects } = await setup(t);
  const state = `"><script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;
  const xss = () => page.evaluate(() => (globalThis as { __xss?: unknown }).__xss);
  const noInjection = async (step: string) => {
    t.is(await countOf(page, "script"), 0, `${step}: no script element`);
    t.is(await countOf(page, "img"), 0, `${step}: no img element`);
    t.is(await xss(), undefined, step);
  };

  await startRequest(t, page, authorizeUrl(s, adminRequest({ state, scope: ADMIN_SCOPE })), "1-login");
  await noInjection("login");
  await signIn(t, page, "admin", ADMIN_PASSWORD, "2-consent");
  await noInjection("consent");
  const query = await decide(t, s, page, clientRedirects, "#approve", "3-callback");
  t.is(query.get("state"), state);
  t.is(await textOf(page, "#state"), state);
  await noInjection("redirect page");

  // A client_id with markup: the error page, 400, no redirect, no <b> in the DOM.
  const refused = await startRequest(t, page, authorizeUrl(s, adminRequest({ client_id: "<b>bold</b>" })), "4-error");
  t.is(refused.status(), 400);
  await assertNotRedirected(t, refused, "error page");
  t.is(await countOf(page, "b"), 0, "no <b> element");
  await requireOne(page, "#error-code");
  // If the page echoes the client_id, it does so literally.
  const body = await page.locator("body").innerText();
  if (body.includes("bold")) t.true(body.includes("<b>bold</b>"), body);
});

test("an unknown client or an unregistered redirect URI: a 400 error page with the RFC 6749 code, never a redirect", async (t) => {
  const { s, page } = await setup(t);
  const cases = [
    ["unknown-client", adminRequest({ client_id: "nobody" })],
    ["unregistered-redirect", adminRequest({ redirect_uri: "https://evil.example/callback" })],
  ] as const;
  for (const [step, params] of cases) {
    const res = await startRequest(t, page, authorizeUrl(s, params), step);
    t.is(res.status(), 400, step);
    await assertNotRedirected(t, res, step);
    await requireOne(page, "#error-code");
    t.is(await textOf(page, "#error-code"), "invalid_request", step);
    t.is(await countOf(page, "form"), 0, `${step}: no form`);
  }
});

/** A page on another origin that frames `src`, and a control frame that is allowed to render. */
async function framer(t: ExecutionContext, src: string): Promise<string> {
  const server: Server = createServer((req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    if (req.url === "/control") {
      // Same element id as the login form: proves a framed #login-form would be seen.
      res.end(`<!doctype html><form id="login-form"><input id="username"></form>`);
      return;
    }
    const port = (server.address() as AddressInfo).port;
    res.end(
      `<!doctype html><title>framer</title>` +
        `<iframe id="victim" src="${src.replace(/&/g, "&amp;").replace(/"/g, "&quot;")}" width="600" height="400"></iframe>` +
        // localhost and 127.0.0.1 are different origins, like the login frame.
        `<iframe id="control" src="http://localhost:${port}/control" width="300" height="100"></iframe>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // The browser keeps its connections alive: close would wait for them.
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

test("framing is refused: a page on another origin cannot show the login form in an iframe", async (t) => {
  const { s, page } = await setup(t);
  const loginUrl = authorizeUrl(s, adminRequest({ state: randomState() }));
  const framerUrl = await framer(t, loginUrl);

  // The gateway does answer the framed request; the browser must refuse to render it.
  const refusals: string[] = [];
  page.on("requestfailed", (r) => {
    if (r.url() === loginUrl) refusals.push(r.failure()?.errorText ?? "");
  });
  const [response] = await Promise.all([page.waitForResponse((r) => r.url() === loginUrl), open(page, framerUrl)]);
  await screenshot(t, page, "framer");

  const frameOf = async (id: string) => {
    const frame = await (await page.locator(`iframe#${id}`).elementHandle())?.contentFrame();
    if (frame === null || frame === undefined) throw new Error(`no frame for iframe#${id}`);
    t.true(page.frames().includes(frame), `iframe#${id} is one of page.frames()`);
    return frame;
  };
  const control = await frameOf("control");
  t.is(await control.locator("#login-form").count(), 1, "the control frame renders: a framed #login-form would be seen");

  // The refused frame shows Chromium's error document instead, with no form.
  const victim = await frameOf("victim");
  t.is(await victim.locator("#login-form, #username, #password").count(), 0, `no login form in the frame at ${victim.url()}`);
  t.regex(victim.url(), /^chrome-error:/, "the frame shows Chromium's error page");

  t.is(response.status(), 200);
  await assertPageHeaders(t, response);
  // Chromium's own word that it refused the response (X-Frame-Options / frame-ancestors).
  t.deepEqual(refusals, ["net::ERR_BLOCKED_BY_RESPONSE"]);
});

test("keyboard and accessibility: labelled inputs, Tab order username, password, sign in; lang set", async (t) => {
  const { s, page } = await setup(t);
  await startRequest(t, page, authorizeUrl(s, adminRequest({ state: randomState(), scope: ADMIN_SCOPE })), "1-login");
  await assertLoginForm(t, page);

  t.truthy(await page.locator("html").getAttribute("lang"), "login page: <html lang>");
  t.is(await page.getByLabel("Username", { exact: true }).getAttribute("id"), "username");
  t.is(await page.getByLabel("Password", { exact: true }).getAttribute("id"), "password");
  t.deepEqual(await page.evaluate<string[]>(UNLABELLED_CONTROLS), [], "login page: every input labelled");

  // From wherever focus starts (autofocus or the top of the document), Tab reaches the username field...
  for (let i = 0; i < 10 && (await activeElementId(page)) !== "username"; i++) await page.keyboard.press("Tab");
  t.is(await activeElementId(page), "username");
  // ...and then the password field and the sign-in button, in that order.
  await page.keyboard.press("Tab");
  t.is(await activeElementId(page), "password");
  await page.keyboard.press("Tab");
  t.is(await activeElementId(page), "sign-in");

  // Sign in by keyboard alone: type into the focused fields, Enter on the button.
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Shift+Tab");
  t.is(await activeElementId(page), "username");
  await page.keyboard.type("admin");
  await page.keyboard.press("Tab");
  await page.keyboard.type(ADMIN_PASSWORD);
  await page.keyboard.press("Tab");
  t.is(await activeElementId(page), "sign-in");
  const { response } = await navigation(page, () => page.keyboard.press("Enter"));
  await screenshot(t, page, "2-consent");
  t.is(response.status(), 200);
  await requireOne(page, "form#consent-form");

  t.truthy(await page.locator("html").getAttribute("lang"), "consent page: <html lang>");
  t.deepEqual(await page.evaluate<string[]>(UNLABELLED_CONTROLS), [], "consent page: every checkbox labelled");
  t.true((await page.locator("form#consent-form input[type=checkbox][name=scope]").count()) >= 1);
  // The decision buttons are reachable by keyboard too.
  const reached = new Set<string>();
  for (let i = 0; i < 10; i++) {
    await page.keyboard.press("Tab");
    reached.add(await activeElementId(page));
  }
  t.true(reached.has("approve") && reached.has("deny"), `Tab reaches #approve and #deny: ${[...reached].join(", ")}`);
});
