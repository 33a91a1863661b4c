/**
 * Shared helpers of the browser tests: one headless Debian chromium per test
 * file driven by playwright-core, a fresh context per test, the default
 * client's `http://iam.test` redirect URI served by the test's gateway, and a
 * screenshot of every page visited.
 *
 * The pages run no script, so once a navigation has finished its DOM is final:
 * the tests query it with non-waiting calls (`count()`) and report a missing
 * element as a failed assertion rather than as a locator timeout.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutionContext, TestFn } from "ava";
import { chromium, type Browser, type BrowserContext, type Page, type Request, type Response } from "playwright-core";
import { BASE_URL, type TestServer } from "../helpers.js";

export const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const SCREENSHOTS = join(REPO_ROOT, "test-results", "screenshots");

/**
 * Registers the hooks that launch one browser for the file and close it, and
 * answers a getter for it. A missing or broken chromium is not a reason to skip:
 * the getter throws, so every test of the file fails and says why.
 */
export function useBrowser(test: TestFn): () => Browser {
  let browser: Browser | undefined;
  let unavailable: Error | undefined;
  test.before(async () => {
    if (!existsSync(CHROMIUM)) {
      unavailable = new Error(
        `The browser tests require chromium at ${CHROMIUM} (CI installs it: apt-get install chromium); it is missing.`,
      );
      return;
    }
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    } catch (err) {
      unavailable = new Error(`The browser tests require chromium at ${CHROMIUM}, and it failed to start: ${String(err)}`);
    }
  });
  test.after.always(async () => {
    await browser?.close();
  });
  return () => {
    if (browser === undefined) throw unavailable ?? new Error("the browser was not launched");
    return browser;
  };
}

/** A redirect to the configured base URL, as the gateway sent it. */
export interface ClientRedirect {
  status: number;
  location: string;
  headers: Record<string, string>;
}

/**
 * A new context and page for one test, closed when the test ends.
 *
 * The consent step redirects to the default client at the configured base URL
 * (http://iam.test), which resolves nowhere, and Playwright's routes never see
 * a request the browser makes by following a redirect. So the consent POST
 * itself is routed: sent on to the gateway unchanged (route.fetch shares the
 * context's cookies), its redirect recorded as the gateway sent it in
 * `clientRedirects`, and handed to the browser with the Location moved to the
 * test's gateway, whose /redirect page the default client's URI names.
 */
export async function openPage(
  t: ExecutionContext,
  browser: Browser,
  s: TestServer,
): Promise<{ context: BrowserContext; page: Page; clientRedirects: ClientRedirect[] }> {
  const context = await browser.newContext();
  t.teardown(() => context.close());
  // A missing element fails at once (non-waiting counts); this only bounds
  // navigations and typing on a busy machine, within ava's 60 s timeout.
  context.setDefaultTimeout(30_000);
  const clientRedirects: ClientRedirect[] = [];
  await context.route(`${s.project}/consent`, async (route) => {
    const response = await route.fetch({ maxRedirects: 0 });
    const headers = response.headers();
    const location = headers["location"];
    if (location === undefined || !location.startsWith(`${BASE_URL}/`)) return route.fulfill({ response });
    clientRedirects.push({ status: response.status(), location, headers });
    await route.fulfill({ response, headers: { ...headers, location: `${s.httpUrl}${location.slice(BASE_URL.length)}` } });
  });
  const page = await context.newPage();
  return { context, page, clientRedirects };
}

/**
 * Runs `action` and waits for the main frame to commit the document it leads
 * to. Answers the response of that document and, when it came through
 * redirects, the responses of the hops before it (first hop first).
 *
 * The chain is followed from its first request: the response events of the
 * last hop (fulfilled by a route) may come after the frame has navigated.
 */
export async function navigation(page: Page, action: () => Promise<unknown>): Promise<{ response: Response; hops: Response[] }> {
  const starts: Request[] = [];
  const onRequest = (r: Request) => {
    if (r.isNavigationRequest() && r.frame() === page.mainFrame() && r.redirectedFrom() === null) starts.push(r);
  };
  page.on("request", onRequest);
  try {
    await Promise.all([page.waitForEvent("framenavigated", (f) => f === page.mainFrame()), action()]);
    await page.waitForLoadState("load");
  } finally {
    page.off("request", onRequest);
  }
  let request = starts.at(-1);
  if (request === undefined) throw new Error(`no navigation request led to ${page.url()}`);
  const hops: Response[] = [];
  for (let next = request.redirectedTo(); next !== null; request = next, next = next.redirectedTo()) {
    const hop = await request.response();
    if (hop !== null) hops.push(hop);
  }
  const response = await request.response();
  if (response === null) throw new Error(`no response for ${request.url()}`);
  return { response, hops };
}

/** `page.goto` that insists on a document response (never null). */
export async function open(page: Page, url: string): Promise<Response> {
  const response = await page.goto(url, { waitUntil: "load" });
  if (response === null) throw new Error(`no response for ${url}`);
  return response;
}

/** Tests whose screenshots of earlier runs were removed in this run. */
const cleaned = new Set<string>();

/** Saves `test-results/screenshots/<test-name>-<step>.png`; answers its path. */
export async function screenshot(t: ExecutionContext, page: Page, step: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const prefix = `${slug(t.title)}-`;
  if (!cleaned.has(prefix)) {
    // A step an earlier run reached and this one did not must not pass for this run's.
    cleaned.add(prefix);
    for (const name of readdirSync(SCREENSHOTS)) if (name.startsWith(prefix)) rmSync(join(SCREENSHOTS, name), { force: true });
  }
  const path = join(SCREENSHOTS, `${prefix}${slug(step)}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

const slug = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80);

/** The headers every HTML page of the gateway carries. */
export async function assertPageHeaders(t: ExecutionContext, response: Response): Promise<void> {
  const headers = await response.allHeaders();
  const where = `${response.status()} ${response.url()}`;
  t.regex(headers["content-type"] ?? "", /^text\/html/, where);
  const csp = directives(headers["content-security-policy"] ?? "");
  t.is(csp.get("frame-ancestors"), "'none'", where);
  // No script of any kind: default-src 'none', and no script directive that loosens it.
  t.is(csp.get("default-src"), "'none'", where);
  for (const name of ["script-src", "script-src-elem", "script-src-attr"]) t.is(csp.get(name) ?? "'none'", "'none'", `${name}: ${where}`);
  t.is(headers["x-frame-options"], "DENY", where);
  t.is(headers["referrer-policy"], "no-referrer", where);
  t.is(headers["cache-control"], "no-store", where);
}

/** A Content-Security-Policy as directive name → its value (names lower-cased, as browsers read them). */
function directives(policy: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of policy.split(";")) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name !== undefined && name !== "" && !map.has(name.toLowerCase())) map.set(name.toLowerCase(), values.join(" "));
  }
  return map;
}

/** The trimmed text of the only element matching `selector`, or undefined when there is none (or several). */
export async function textOf(page: Page, selector: string): Promise<string | undefined> {
  const found = page.locator(selector);
  if ((await found.count()) !== 1) return undefined;
  return ((await found.textContent()) ?? "").trim();
}

/** How many elements match `selector` now (no waiting: the pages run no script). */
export const countOf = (page: Page, selector: string): Promise<number> => page.locator(selector).count();
