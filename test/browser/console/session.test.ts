/**
 * The console's sign-in session as a person lives it: the token revoked (or
 * expired) while they type, with no refresh token left to renew it, sends
 * them through iam-core's sign-in page and back to the same screen with what
 * they typed, and the refused call changed nothing; a reload signs in
 * silently (prompt=none) while the sign-in session lives; signing out ends
 * that session, so that neither a reload nor a new tab signs in again
 * without the password.
 */
import test, { type ExecutionContext } from "ava";
import type { Page } from "playwright-core";
import { AuditAction, AuditService } from "../../../gen/iam/v1/audit_pb.js";
import { startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { GLOBAL_ADMIN, openConsole, passSignInPages, signIn } from "./_console.js";
import { callAdmin, consoleApi, globalAdmin, globalAdminToken, recordBearerTokens } from "./_tenants.js";

const browser = useBrowser(test);

/** The refresh tokens the console received from the token endpoint, in order. */
function recordRefreshTokens(page: Page, s: TestServer): string[] {
  const tokens: string[] = [];
  page.on("response", (response) => {
    if (response.url() !== `${s.project}/token` || response.status() !== 200) return;
    void response.json().then((body: { refresh_token?: string }) => void (body.refresh_token !== undefined && tokens.push(body.refresh_token)));
  });
  return tokens;
}

/** RFC 7009 revocation at the project's endpoint, as the console's public client. */
async function revoke(s: TestServer, token: string, hint: "access_token" | "refresh_token"): Promise<number> {
  const res = await fetch(`${s.project}/revoke`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: "iam-console", token, token_type_hint: hint }),
  });
  await res.body?.cancel();
  return res.status;
}

/** The main frame's committed documents from now on (redirects are not documents). */
function recordDocuments(page: Page): string[] {
  const urls: string[] = [];
  page.on("framenavigated", (frame) => void (frame === page.mainFrame() && urls.push(frame.url())));
  return urls;
}

/**
 * The person types a new organization; meanwhile the console's access token
 * and refresh token are revoked at the project's revocation endpoint (what
 * an expiry past renewal looks like to the page), and, unless
 * `sessionLives`, the browser's sign-in session lapses too. They submit.
 */
async function loseTokenMidEdit(t: ExecutionContext, options: { sessionLives: boolean }): Promise<void> {
  const b = browser();
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const admin = await globalAdmin(s);
  const { context, page, problems } = await openConsole(t, b);
  const bearers = recordBearerTokens(page);
  const refreshTokens = recordRefreshTokens(page, s);
  await signIn(page, s);
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Organizations" }).click();
  await page.getByRole("heading", { name: "Organizations", level: 1 }).waitFor();
  const form = page.getByRole("region", { name: "New organization" });
  await form.getByLabel("Id").fill("globex");
  await form.getByLabel("Display name").fill("Globex Corporation");

  const accessToken = bearers.at(-1);
  const refreshToken = refreshTokens.at(-1);
  if (accessToken === undefined || refreshToken === undefined) return t.fail("the console's tokens were not seen");
  t.is(await revoke(s, accessToken, "access_token"), 200);
  t.is(await revoke(s, refreshToken, "refresh_token"), 200);
  t.is((await callAdmin(s, "ListOrganizations", {}, { authorization: `Bearer ${accessToken}` })).status, 401, "the token is no longer good");
  if (!options.sessionLives) await context.clearCookies();

  // The submit is refused (unauthenticated), renewal fails, and the browser goes to the authorization endpoint.
  const documents = recordDocuments(page);
  await form.getByRole("button", { name: "Create organization" }).click();
  if (!options.sessionLives) {
    await page.locator("#username").waitFor();
    t.true(page.url().startsWith(`${s.project}/authorize?`), page.url());
    t.deepEqual((await admin.listOrganizations({})).organizations.map((o) => o.id), ["iam-admins"], "the refused call created nothing");
    await passSignInPages(page, GLOBAL_ADMIN);
  }
  await page.getByRole("heading", { name: "Organizations", level: 1 }).waitFor();
  t.is(new URL(page.url()).pathname, "/admin/organizations", "back on the same screen");
  t.is(await form.getByLabel("Id").inputValue(), "globex");
  t.is(await form.getByLabel("Display name").inputValue(), "Globex Corporation");
  const shown = documents.filter((url) => url.startsWith(s.project));
  if (options.sessionLives) t.deepEqual(shown, [], "the live sign-in session answered: no page of iam-core was shown");
  else t.true(shown.some((url) => url.startsWith(`${s.project}/authorize`)), "iam-core's sign-in page was shown");
  t.deepEqual((await admin.listOrganizations({})).organizations.map((o) => o.id), ["iam-admins"], "nothing was sent again by itself");

  await form.getByRole("button", { name: "Create organization" }).click();
  await page.getByRole("heading", { name: "Organization globex", level: 1 }).waitFor();
  t.deepEqual((await admin.listOrganizations({})).organizations.map((o) => [o.id, o.name]), [
    ["globex", "Globex Corporation"],
    ["iam-admins", "IAM administrators"],
  ]);
  // One creation in the server's audit trail: the refused attempt never reached the rule that creates.
  const audit = consoleApi(AuditService, s, await globalAdminToken(s));
  const created = await audit.listEvents({ organization: "", project: "", actions: [AuditAction.ORGANIZATION_CREATED], targetId: "globex", pageSize: 10 });
  t.is(created.events.length, 1);
  t.deepEqual(problems, []);
}

test("a revoked token mid-edit, no refresh token to renew it, the sign-in session gone: the person signs in on iam-core's page and comes back to what they typed, created once", (t) =>
  loseTokenMidEdit(t, { sessionLives: false }));

test("a revoked token mid-edit while the sign-in session lives: back through the authorization endpoint without a password, to what they typed, created once", (t) =>
  loseTokenMidEdit(t, { sessionLives: true }));

test("a reload signs in silently while the sign-in session lives; signing out ends it, so a reload and a new tab show the sign-in screen", async (t) => {
  const b = browser();
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const { context, page, problems } = await openConsole(t, b);
  const refreshTokens = recordRefreshTokens(page, s);
  await signIn(page, s);
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Organizations" }).click();
  await page.getByRole("heading", { name: "Organizations", level: 1 }).waitFor();

  // A reload loses the tokens (memory only): the page asks with prompt=none and is back without a password.
  const documents = recordDocuments(page);
  const asked: string[] = [];
  page.on("request", (r) => void (r.url().startsWith(`${s.project}/authorize?`) && asked.push(r.url())));
  await page.reload();
  await page.getByRole("heading", { name: "Organizations", level: 1 }).waitFor();
  t.is(asked.length, 1);
  t.is(new URL(asked[0]!).searchParams.get("prompt"), "none");
  t.false(
    documents.some((url) => url.startsWith(s.project)),
    `no page of iam-core was shown: ${documents.join(", ")}`,
  );
  t.is(new URL(page.url()).pathname, "/admin/organizations");

  // Sign-out: the refresh token is revoked and the sign-in session ended.
  const refreshToken = refreshTokens.at(-1);
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to the iam-core console" }).waitFor();
  if (refreshToken === undefined) return t.fail("no refresh token was seen");
  const renewal = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: "iam-console", refresh_token: refreshToken }),
  });
  t.is(renewal.status, 400);
  t.is(((await renewal.json()) as { error: string }).error, "invalid_grant");

  await page.reload();
  await page.getByRole("heading", { name: "Sign in to the iam-core console" }).waitFor();
  // A new tab has no memory of the sign-out: it tries a silent sign-in, which the ended session refuses.
  const tab = await context.newPage();
  const tabAsked: string[] = [];
  tab.on("request", (r) => void (r.url().startsWith(`${s.project}/authorize?`) && tabAsked.push(r.url())));
  await tab.goto(`${s.httpUrl}/admin/organizations`);
  await tab.getByRole("heading", { name: "Sign in to the iam-core console" }).waitFor();
  t.is(tabAsked.length, 1);
  t.is(new URL(tabAsked[0]!).searchParams.get("prompt"), "none");
  t.is(new URL(tab.url()).pathname, "/admin/organizations", "the sign-in screen is shown where the person was going");
  // Signing in again asks for the password, and brings them where they were going.
  await tab.getByRole("button", { name: "Sign in as a global administrator" }).click();
  await tab.locator("#password").waitFor();
  await passSignInPages(tab, GLOBAL_ADMIN);
  await tab.getByRole("heading", { name: "Organizations", level: 1 }).waitFor();
  t.deepEqual(problems, []);
});
