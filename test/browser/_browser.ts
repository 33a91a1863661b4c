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
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExecutionContext, TestFn } from "ava";
import { chromium, type Browser, type BrowserContext, type Page, type Response } from "playwright-core";
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

/**
 * A new context and page for one test, closed when the test ends. Requests to
 * the configured base URL (http://iam.test, which resolves nowhere) are
 * answered by the test's gateway, so the browser lands on the default client's
 * redirect page while its address bar keeps the registered redirect URI.
 * `iamTestRequests` counts them: a test can prove no redirect was attempted.
 */
export async function openPage(
  t: ExecutionContext,
  browser: Browser,
  s: TestServer,
): Promise<{ context: BrowserContext; page: Page; iamTestRequests: () => number }> {
  const context = await browser.newContext();
  t.teardown(() => context.close());
  // Local pages without script answer in milliseconds: fail fast, well within ava's timeout.
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(10_000);
  let count = 0;
  await context.route(`${BASE_URL}/**`, async (route) => {
    count += 1;
    const original = new URL(route.request().url());
    const response = await route.fetch({ url: `${s.httpUrl}${original.pathname}${original.search}` });
    await route.fulfill({ response });
  });
  const page = await context.newPage();
  return { context, page, iamTestRequests: () => count };
}

/**
 * Runs `action` and waits for the main frame to commit the document it leads
 * to. Answers the response of that document and, when it came through
 * redirects, the responses of the hops before it (first hop first).
 */
export async function navigation(page: Page, action: () => Promise<unknown>): Promise<{ response: Response; hops: Response[] }> {
  const responses: Response[] = [];
  const onResponse = (r: Response) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) responses.push(r);
  };
  page.on("response", onResponse);
  try {
    await Promise.all([page.waitForEvent("framenavigated", (f) => f === page.mainFrame()), action()]);
    await page.waitForLoadState("load");
  } finally {
    page.off("response", onResponse);
  }
  const last = responses.at(-1);
  if (last === undefined) throw new Error(`no document response for ${page.url()}`);
  const hops: Response[] = [];
  for (let req = last.request().redirectedFrom(); req !== null; req = req.redirectedFrom()) {
    const hop = await req.response();
    if (hop !== null) hops.unshift(hop);
  }
  return { response: last, hops };
}

/** `page.goto` that insists on a document response (never null). */
export async function open(page: Page, url: string): Promise<Response> {
  const response = await page.goto(url, { waitUntil: "load" });
  if (response === null) throw new Error(`no response for ${url}`);
  return response;
}

/** Saves `test-results/screenshots/<test-name>-<step>.png`; answers its path. */
export async function screenshot(t: ExecutionContext, page: Page, step: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${slug(t.title)}-${slug(step)}.png`);
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
  const csp = headers["content-security-policy"] ?? "";
  t.regex(csp, /frame-ancestors 'none'/, where);
  // No script of any kind: neither a script-src nor a default-src that would allow one.
  t.regex(csp, /default-src 'none'/, where);
  t.notRegex(csp, /script-src|unsafe-inline|unsafe-eval/, where);
  t.is(headers["x-frame-options"], "DENY", where);
  t.is(headers["referrer-policy"], "no-referrer", where);
  t.is(headers["cache-control"], "no-store", where);
}

/** The trimmed text of the only element matching `selector`, or undefined when there is none (or several). */
export async function textOf(page: Page, selector: string): Promise<string | undefined> {
  const found = page.locator(selector);
  if ((await found.count()) !== 1) return undefined;
  return ((await found.textContent()) ?? "").trim();
}

/** How many elements match `selector` now (no waiting: the pages run no script). */
export const countOf = (page: Page, selector: string): Promise<number> => page.locator(selector).count();
