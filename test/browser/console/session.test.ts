/**
 * The console's sign-in session as a person lives it. While they type, the
 * token stops being good: expired (renewed at once with the refresh token,
 * and the submit goes through), expired past renewal with the sign-in
 * session (they sign in on iam-core's page), or revoked with its refresh
 * token (the live sign-in session brings them back without a password);
 * either way they come back to the same screen with what they typed (but a
 * password, which is never kept), and what they submitted is done once. A reload signs in silently (prompt=none)
 * while the sign-in session lives; signing out ends that session, so that
 * neither a reload nor a new tab signs in again without the password.
 */
import test, { type ExecutionContext } from "ava";
import type { Page } from "playwright-core";
import { AuditAction, AuditService } from "../../../gen/iam/v1/audit_pb.js";
import { startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { GLOBAL_ADMIN, openConsole, passSignInPages, signIn } from "./_console.js";
import { callAdmin, consoleApi, globalAdmin, globalAdminToken, recordBearerTokens, visit } from "./_tenants.js";

const browser = useBrowser(test);

/** The refresh tokens the console received from the token endpoint, in order. */
function recordRefreshTokens(page: Page, s: TestServer): string[] {
  const tokens: string[] = [];
  page.on("response", (response) => {
    if (response.url() !== `${s.project}/token` || response.status() !== 200) return;
    response.json().then(
      (body: { refresh_token?: string }) => void (body.refresh_token !== undefined && tokens.push(body.refresh_token)),
      () => {}, // the page closed meanwhile
    );
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

/** The statuses of the console's renewals by refresh token from now on. */
function recordRenewals(page: Page, s: TestServer): number[] {
  const statuses: number[] = [];
  page.on("response", (response) => {
    if (response.url() === `${s.project}/token` && response.request().postData()?.includes("grant_type=refresh_token")) statuses.push(response.status());
  });
  return statuses;
}

/** The main frame's committed documents from now on (redirects are not documents). */
function recordDocuments(page: Page): string[] {
  const urls: string[] = [];
  page.on("framenavigated", (frame) => void (frame === page.mainFrame() && urls.push(frame.url())));
  return urls;
}

/** How the console's token stops being good while the person types. */
type Loss =
  /** The access token expires (five minutes); the refresh token renews it. */
  | "expired"
  /** Nine hours pass: the access token, the refresh token (a working day) and the sign-in session (30 idle minutes) expire. */
  | "expired-past-renewal"
  /** The access token and the refresh token are revoked at the project's revocation endpoint; the sign-in session lives. */
  | "revoked";

/** A form the person fills in: where it is, what they type, and what its submit creates. */
interface Edit {
  path: string;
  heading: string;
  section: string;
  submit: string;
  /** [label, value, a secret (never kept in a draft)]. */
  fields: [string, string, boolean][];
  /** The heading of the screen the creation leads to. */
  done: string;
  /** The ids of what the form creates, as the AdminService lists them. */
  existing: (admin: Awaited<ReturnType<typeof globalAdmin>>) => Promise<string[]>;
  /** The audit chain, action and target of its creation. */
  audit: { organization: string; project: string; action: AuditAction; targetId: string };
}

const SHOP = { organization: "acme", project: "shop" };

/** A new organization: an id and a name. */
const NEW_ORGANIZATION: Edit = {
  path: "/admin/organizations",
  heading: "Organizations",
  section: "New organization",
  submit: "Create organization",
  fields: [
    ["Id (required)", "globex", false],
    ["Display name", "Globex Corporation", false],
  ],
  done: "Organization globex",
  existing: async (admin) => (await admin.listOrganizations({})).organizations.map((o) => o.id),
  audit: { organization: "", project: "", action: AuditAction.ORGANIZATION_CREATED, targetId: "globex" },
};

/** A new user of a project: their id, name, email, and a password, which is a secret. */
const NEW_USER: Edit = {
  path: "/admin/p/acme/shop/users",
  heading: "Users",
  section: "New user",
  submit: "Create user",
  fields: [
    ["Id (required)", "carol", false],
    ["Display name", "Carol Diaz", false],
    ["Email address", "carol@acme.example", false],
    ["Password (required)", "carol-password-typed-once", true],
  ],
  done: "User carol",
  existing: async (admin) => (await admin.listUsers({ ...SHOP, pageSize: 50 })).users.map((u) => u.id),
  audit: { ...SHOP, action: AuditAction.USER_CREATED, targetId: "carol" },
};

/**
 * The person fills in a form (`edit`); meanwhile the console's token stops
 * being good (`loss`). They submit: what they typed is never lost (secrets
 * excepted, typed again), and what they create is created once.
 */
async function loseTokenMidEdit(t: ExecutionContext, loss: Loss, edit: Edit): Promise<void> {
  const b = browser();
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  // What exists, read with a global administrator's token of the moment (the test moves the clock).
  const existing = async () => edit.existing(await globalAdmin(s));
  if (edit === NEW_USER) {
    const admin = await globalAdmin(s);
    await admin.createOrganization({ id: SHOP.organization });
    await admin.createProject({ organization: SHOP.organization, id: SHOP.project });
  }
  const before = await existing();
  const { page, problems } = await openConsole(t, b);
  const bearers = recordBearerTokens(page);
  const refreshTokens = recordRefreshTokens(page, s);
  await signIn(page, s);
  await visit(page, edit.path);
  await page.getByRole("heading", { name: edit.heading, level: 1 }).waitFor();
  const form = page.getByRole("region", { name: edit.section });
  for (const [label, value] of edit.fields) await form.getByLabel(label, { exact: true }).fill(value);

  const accessToken = bearers.at(-1);
  const refreshToken = refreshTokens.at(-1);
  if (accessToken === undefined || refreshToken === undefined) return t.fail("the console's tokens were not seen");
  if (loss === "revoked") {
    t.is(await revoke(s, accessToken, "access_token"), 200);
    t.is(await revoke(s, refreshToken, "refresh_token"), 200);
  } else {
    s.clock.advance(loss === "expired" ? 301 : 9 * 3600);
  }
  t.is((await callAdmin(s, "ListOrganizations", {}, { authorization: `Bearer ${accessToken}` })).status, 401, "the token is no longer good");

  // The submit is refused (unauthenticated); the console renews the token, or sends the browser to the authorization endpoint.
  const documents = recordDocuments(page);
  const renewals = recordRenewals(page, s);
  await form.getByRole("button", { name: edit.submit }).click();
  if (loss === "expired") {
    await page.getByRole("heading", { name: edit.done, level: 1 }).waitFor();
    t.deepEqual(renewals, [200], "one renewal with the refresh token");
    t.deepEqual(documents.filter((url) => !url.startsWith(`${s.httpUrl}/admin/`)), [], "the page never left");
  } else {
    if (loss === "expired-past-renewal") {
      await page.locator("#username").waitFor();
      t.true(page.url().startsWith(`${s.project}/authorize?`), page.url());
      t.deepEqual(await existing(), before, "the refused call created nothing");
      await passSignInPages(page, GLOBAL_ADMIN);
    }
    await page.getByRole("heading", { name: edit.heading, level: 1 }).waitFor();
    t.is(new URL(page.url()).pathname, edit.path, "back on the same screen");
    for (const [label, value, secret] of edit.fields) {
      t.is(await form.getByLabel(label, { exact: true }).inputValue(), secret ? "" : value, secret ? `${label}: a secret is not kept` : label);
    }
    t.false(renewals.includes(200), "no renewal succeeded");
    t.true(documents.some((url) => url.startsWith(`${s.httpUrl}/admin/callback?`)), "the page signed in again");
    const shown = documents.filter((url) => url.startsWith(s.project));
    if (loss === "revoked") t.deepEqual(shown, [], "the live sign-in session answered: no page of iam-core was shown");
    else t.true(shown.some((url) => url.startsWith(`${s.project}/authorize`)), "iam-core's sign-in page was shown");
    t.deepEqual(await existing(), before, "nothing was sent again by itself");
    for (const [label, value, secret] of edit.fields) if (secret) await form.getByLabel(label, { exact: true }).fill(value);
    await form.getByRole("button", { name: edit.submit }).click();
    await page.getByRole("heading", { name: edit.done, level: 1 }).waitFor();
  }
  t.deepEqual(await existing(), [...before, edit.audit.targetId].sort());
  // One creation in the audit trail: the refused attempt never reached the rule that creates.
  const audit = consoleApi(AuditService, s, await globalAdminToken(s));
  const { organization, project, action, targetId } = edit.audit;
  const created = await audit.listEvents({ organization, project, actions: [action], targetId, pageSize: 10 });
  t.is(created.events.length, 1);
  t.deepEqual(problems, []);
}

test("the access token expires mid-edit: the console renews it with the refresh token and the submit goes through, once, with nothing asked", (t) =>
  loseTokenMidEdit(t, "expired", NEW_ORGANIZATION));

test("the tokens and the sign-in session expire mid-edit: the person signs in on iam-core's page and comes back to what they typed but the password, created once", (t) =>
  loseTokenMidEdit(t, "expired-past-renewal", NEW_USER));

test("the token and the refresh token are revoked mid-edit while the sign-in session lives: back through the authorization endpoint without a password, to what they typed, created once", (t) =>
  loseTokenMidEdit(t, "revoked", NEW_ORGANIZATION));

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
  const logouts: { method: string; url: string; body: string }[] = [];
  page.on("request", (r) => void (r.url().startsWith(`${s.project}/logout`) && logouts.push({ method: r.method(), url: r.url(), body: r.postData() ?? "" })));
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to the iam-core console" }).waitFor();
  // RP-Initiated Logout by POST: the ID token travels in the body, never in a URL the history keeps.
  t.deepEqual(logouts.map((l) => [l.method, l.url]), [["POST", `${s.project}/logout`]]);
  t.truthy(new URLSearchParams(logouts[0]?.body).get("id_token_hint"));
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

test("what one administrator typed is not shown to another who signs in in the same tab after their session ended", async (t) => {
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const admin = await globalAdmin(s);
  const second = { username: "second-admin", password: "second-admin-password-long-enough" };
  await admin.createUser({ organization: "iam-admins", project: "iam-admins", userId: second.username, password: second.password });
  await admin.assignRole({ organization: "iam-admins", project: "iam-admins", roleId: "global-admin", subject: { case: "userId", value: second.username } });
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  await visit(page, NEW_ORGANIZATION.path);
  const form = page.getByRole("region", { name: NEW_ORGANIZATION.section });
  for (const [label, value] of NEW_ORGANIZATION.fields) await form.getByLabel(label, { exact: true }).fill(value);

  // Nine hours: the tokens and the sign-in session are gone; the submit sends the tab to iam-core's sign-in page.
  s.clock.advance(9 * 3600);
  await form.getByRole("button", { name: NEW_ORGANIZATION.submit }).click();
  await page.locator("#username").waitFor();
  await passSignInPages(page, second);
  await page.getByRole("heading", { name: NEW_ORGANIZATION.heading, level: 1 }).waitFor();
  for (const [label] of NEW_ORGANIZATION.fields) t.is(await form.getByLabel(label, { exact: true }).inputValue(), "", `${label}: the first administrator's draft is not shown`);
  t.is(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem("iam-console:drafts")), null, "and it is forgotten");
  t.deepEqual(problems, []);
});
