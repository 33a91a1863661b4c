/**
 * Shared helpers of the console's browser tests: a server whose base URL is
 * the browser's origin (http://localhost:PORT, as the console's CSP names its
 * files by that URL), a page that records every script error and CSP
 * violation, the sign-in through iam-core's own pages, and an axe-core check.
 */
import type { ExecutionContext } from "ava";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ADMIN_PASSWORD, type TestServer } from "../../helpers.js";

export interface ConsolePage {
  context: BrowserContext;
  page: Page;
  /** Script errors, failed console messages and CSP violations seen so far: a test ends by asserting there are none. */
  problems: string[];
}

/** A fresh context and page for one test, closed when it ends. */
export async function openConsole(t: ExecutionContext, browser: Browser, options: { colorScheme?: "light" | "dark"; viewport?: { width: number; height: number } } = {}): Promise<ConsolePage> {
  const context = await browser.newContext({ colorScheme: options.colorScheme ?? "light", viewport: options.viewport ?? { width: 1280, height: 800 } });
  t.teardown(() => context.close());
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (message) => {
    // A refused API call is logged by the browser as a failed resource: that is the console showing the core's refusal, not a fault.
    if (message.type() === "error" && !/Failed to load resource: the server responded with a status of (4\d\d)/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  return { context, page, problems };
}

/** Who signs in: the default tenant's global administrator, or a user of a project. */
export type Account = { username: string; password: string; organization?: string; project?: string };

export const GLOBAL_ADMIN: Account = { username: "admin", password: ADMIN_PASSWORD };

/**
 * Signs in to the console through iam-core's sign-in page (and its consent
 * page the first time), and waits for the dashboard.
 */
export async function signIn(page: Page, s: TestServer, account: Account = GLOBAL_ADMIN): Promise<void> {
  await page.goto(`${s.httpUrl}/admin/`);
  await page.getByRole("heading", { name: "Sign in to the iam-core console" }).waitFor();
  if (account.organization === undefined) {
    await page.getByRole("button", { name: "Sign in as a global administrator" }).click();
  } else {
    await page.getByLabel("Organization", { exact: true }).fill(account.organization);
    await page.getByLabel("Project", { exact: true }).fill(account.project ?? "");
    await page.getByRole("button", { name: "Sign in to this project" }).click();
  }
  await passSignInPages(page, account);
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
}

/** iam-core's sign-in page, then its consent page when it is shown. */
export async function passSignInPages(page: Page, account: Account): Promise<void> {
  await page.locator("#username").waitFor();
  await page.fill("#username", account.username);
  await page.fill("#password", account.password);
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
  if (await page.locator("#approve").count()) await Promise.all([page.waitForLoadState("load"), page.click("#approve")]);
}

export { axeViolations } from "./_screen.js";
