/**
 * What the console's project screen tests share: a server holding acme/shop
 * (made through the AdminService), a console page signed in as the global
 * administrator, and the walk through the console's own links to one of the
 * project's screens. Not a test file itself.
 */
import { createClient, type CallOptions, type Client } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import type { Browser, Page } from "playwright-core";
import { AdminService } from "../../../gen/iam/v1/admin_pb.js";
import { globalAdminToken } from "../../admin/rpc-support.js";
import { startTestServer, type TestServer } from "../../helpers.js";
import { openConsole, signIn, type ConsolePage } from "./_console.js";

export const SHOP = { organization: "acme", project: "shop" } as const;

export interface Served {
  s: TestServer;
  admin: Client<typeof AdminService>;
  auth: CallOptions;
  console: ConsolePage;
}

/** A server at http://localhost:PORT holding acme/shop, and a console page signed in as the global administrator. */
export async function serve(t: ExecutionContext, browser: Browser): Promise<Served> {
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const admin = createClient(AdminService, s.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(s)}` } };
  await admin.createOrganization({ id: SHOP.organization }, auth);
  await admin.createProject({ organization: SHOP.organization, id: SHOP.project }, auth);
  const console = await openConsole(t, browser);
  await signIn(console.page, s);
  return { s, admin, auth, console };
}

/**
 * Follows the console's own links (the tokens live in the page's memory: a
 * page load would have to sign in again): from the navigation to acme/shop,
 * then, when named, to one of the project's screens.
 */
export async function open(page: Page, screen?: string): Promise<void> {
  const nav = page.getByRole("navigation", { name: "Console" });
  if (!(await nav.getByRole("link", { name: "Project", exact: true }).count())) {
    await nav.getByRole("link", { name: "Organizations" }).click();
    await page.getByRole("link", { name: "acme", exact: true }).click();
    await page.getByRole("link", { name: "shop", exact: true }).click();
  } else {
    await nav.getByRole("link", { name: "Project", exact: true }).click();
  }
  await page.getByRole("heading", { level: 1, name: "Project shop" }).waitFor();
  if (screen === undefined) return;
  await nav.getByRole("link", { name: screen }).click();
  await page.getByRole("heading", { level: 1, name: screen }).waitFor();
}

/** Waits for the console to announce `text` in its status region. */
export const announced = (page: Page, text: string) => page.getByRole("status").filter({ hasText: text }).waitFor();
