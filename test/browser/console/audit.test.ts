/**
 * The console's audit trail and dashboard, in chromium: a sign-in's events
 * shown newest first; a filter narrows them and stays in the URL; following
 * live shows a change made meanwhile through the AdminService, pauses,
 * survives the access token's expiry by resuming from the last event seen,
 * and closes its stream when the screen is left; the dashboard's counts and
 * recent events.
 */
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import test, { type ExecutionContext } from "ava";
import type { Page } from "playwright-core";
import { AdminService, ClientType } from "../../../gen/iam/v1/admin_pb.js";
import { ADMIN_CLIENT_SECRET, startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { axeViolations, openConsole, passSignInPages, signIn } from "./_console.js";

const browser = useBrowser(test);

async function server(t: ExecutionContext): Promise<TestServer> {
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  return s;
}

/** The AdminService through the console's API path, as a script would call it, with a global administrator's client_credentials token. */
async function globalAdmin(s: TestServer): Promise<Client<typeof AdminService>> {
  const res = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`admin-client:${ADMIN_CLIENT_SECRET}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials",
  });
  const { access_token: token } = (await res.json()) as { access_token: string };
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  return createClient(AdminService, createConnectTransport({ baseUrl: `${s.httpUrl}/admin/api`, httpVersion: "1.1", interceptors: [bearer] }));
}

/** The rows of the events table: [time, action, outcome, actor, target, address] of each event, newest first. */
async function rows(page: Page): Promise<string[][]> {
  return page.locator("table.events > tbody > tr:not(.details-row)").evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 6).map((td) => td.textContent ?? "")),
  );
}

/** Goes to a console URL as a link in the page does, without a reload (the tokens live in the page's memory). */
async function go(page: Page, url: string): Promise<void> {
  await page.evaluate(`history.pushState(null, "", ${JSON.stringify(url)}); dispatchEvent(new PopStateEvent("popstate"))`);
}

/** Waits until the events table is read (not busy) and answers its rows. */
async function settled(page: Page): Promise<string[][]> {
  await page.locator(".table-wrap:not([aria-busy])").first().waitFor();
  return rows(page);
}

const ADMINS_AUDIT = "/admin/p/iam-admins/iam-admins/audit";

test("a sign-in's events appear newest first; a filter by action narrows them and the URL keeps it", async (t) => {
  const s = await server(t);
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  await go(page, ADMINS_AUDIT);
  await page.getByRole("heading", { name: "Audit trail of iam-admins" }).waitFor();
  const all = await settled(page);
  const actions = all.map((row) => row[1]);
  // The console's own sign-in, newest first: the code exchanged last, the password checked first.
  t.is(actions[0], "Authorization code exchanged");
  t.true(actions.includes("Authorization code issued"), actions.join(", "));
  const signInRow = all.find((row) => row[1] === "Sign-in");
  t.deepEqual(signInRow?.slice(2, 5), ["Success", "user admin", "user admin"]);
  t.true(actions.indexOf("Sign-in") > actions.indexOf("Authorization code issued"));

  // What the row does not show is behind its Details button.
  const details = page.getByRole("button", { name: /^Details of event/ }).first();
  await details.click();
  t.is(await details.getAttribute("aria-expanded"), "true");
  await page.locator(".event-details").first().waitFor();
  t.regex((await page.locator(".event-details").first().textContent()) ?? "", /CODE_EXCHANGED/);
  t.deepEqual(await axeViolations(page), []);

  await page.getByText("All actions").click();
  await page.getByLabel("Sign-in", { exact: true }).check();
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/[?&]action=SIGN_IN(&|$)/);
  const filtered = await settled(page);
  t.true(filtered.length >= 1);
  t.deepEqual([...new Set(filtered.map((row) => row[1]))], ["Sign-in"]);

  // A bookmark of the filtered view opens it filtered.
  const bookmark = new URL(page.url());
  await page.getByRole("link", { name: "Dashboard" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  await go(page, bookmark.pathname + bookmark.search);
  await page.getByRole("heading", { name: "Audit trail of iam-admins" }).waitFor();
  t.deepEqual([...new Set((await settled(page)).map((row) => row[1]))], ["Sign-in"]);
  t.true(await page.getByLabel("Sign-in", { exact: true }).isChecked());

  // A filter the core refuses shows its words next to the field, and nothing is listed.
  await page.getByLabel("Since").fill("2030-01-02T00:00:00");
  await page.getByLabel("Until").fill("2030-01-01T00:00:00");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.locator("#audit-filter-until-error").waitFor();
  t.is(await page.locator("#audit-filter-until-error").textContent(), "until is before since");
  t.is(await page.getByLabel("Until").getAttribute("aria-invalid"), "true");
  t.deepEqual(await rows(page), []);
  t.deepEqual(await axeViolations(page), []);
  t.deepEqual(problems, []);
});

test("the trail is read newest first, a page at a time, without a gap or a repeat, filtered or not", async (t) => {
  const s = await server(t);
  const admin = await globalAdmin(s);
  // 60 organizations created, every third renamed: 80 events in the server's chain, 20 of them updates spread along it.
  for (let i = 1; i <= 60; i++) {
    await admin.createOrganization({ id: `org-${i}`, name: `Org ${i}` });
    if (i % 3 === 0) await admin.updateOrganization({ id: `org-${i}`, name: `Org ${i} renamed` });
  }
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  // The dashboard's newest events read first, the trail's reads are counted from here.
  await page.locator("table.events").waitFor();
  const reads: number[] = [];
  page.on("request", (request) => {
    if (request.url().endsWith("/iam.v1.AuditService/ListEvents")) reads.push((JSON.parse(request.postData() ?? "{}") as { pageSize?: number }).pageSize ?? 0);
  });
  await page.getByRole("link", { name: "Server audit trail" }).click();
  await page.getByRole("heading", { name: "Server audit trail" }).waitFor();

  /** Every page from the newest to the oldest: the targets of their events. */
  const readAll = async () => {
    const pages: string[][] = [];
    for (;;) {
      pages.push((await settled(page)).map((row) => row[4]!.replace("organization ", "")));
      const older = page.getByRole("button", { name: "Older page" });
      if (await older.isDisabled()) return pages;
      const caption = (await page.locator("table.events caption").textContent()) ?? "";
      await older.click();
      await page.locator("table.events caption").filter({ hasNotText: caption }).waitFor();
    }
  };
  const created = Array.from({ length: 60 }, (_, i) => `org-${60 - i}`);
  const pages = await readAll();
  t.deepEqual(pages.map((p) => p.length), [25, 25, 25, 5]);
  t.deepEqual(pages[0]!.slice(0, 3), ["org-60", "org-60", "org-59"]);
  t.deepEqual([...new Set(pages.flat())], created);
  t.is(pages.flat().length, 80);
  // Every call read at most a page: the search for the chain's end reads one event at a time.
  t.true(reads.every((size) => size === 1 || size === 25), reads.join(","));

  // Back to the newer pages, as they were.
  await page.getByRole("button", { name: "Newer page" }).click();
  await page.locator("table.events caption", { hasText: "sequence 30 down to 6" }).waitFor();
  t.deepEqual((await rows(page)).map((row) => row[4]!.replace("organization ", "")), pages[2]);

  await page.getByText("All actions").click();
  await page.getByLabel("Organization updated").check();
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/action=ORGANIZATION_UPDATED/);
  const updates = await readAll();
  t.true(updates.every((p) => p.length > 0 && p.length <= 25));
  t.deepEqual(updates.flat(), created.filter((id) => Number(id.slice(4)) % 3 === 0));
  t.deepEqual(problems, []);
});

test("following live shows a change made meanwhile, pauses, resumes after the token expires, and stops when the screen is left", async (t) => {
  const s = await server(t);
  const admin = await globalAdmin(s);
  await admin.createOrganization({ id: "before", name: "Before" });
  const { page, problems } = await openConsole(t, browser());
  const streams: string[] = [];
  page.on("request", (request) => {
    // A stream's request is one enveloped message: five bytes of flags and length, then its JSON.
    if (request.url().endsWith("/iam.v1.AuditService/StreamEvents")) streams.push(request.postDataBuffer()?.subarray(5).toString("utf8") ?? "");
  });
  await signIn(page, s);
  await page.getByRole("link", { name: "Server audit trail" }).click();
  await page.getByRole("heading", { name: "Server audit trail" }).waitFor();
  t.deepEqual((await settled(page)).map((row) => row.slice(1, 5)), [["Organization created", "Success", "client admin-client (of iam-admins/iam-admins)", "organization before"]]);

  await page.getByRole("button", { name: "Follow live" }).click();
  t.is(await page.getByRole("button", { name: "Follow live" }).getAttribute("aria-pressed"), "true");
  await page.getByText("Following: new events appear at the top").waitFor();
  await admin.createOrganization({ id: "during", name: "During" });
  await page.locator("table.events tbody tr", { hasText: "organization during" }).waitFor();
  t.deepEqual((await rows(page)).map((row) => row[4]), ["organization during", "organization before"]);
  await page.locator(".status", { hasText: "1 new audit event" }).waitFor();

  // Paused, nothing arrives; resumed, what happened meanwhile does, once.
  await page.getByRole("button", { name: "Pause" }).click();
  await page.getByText("Paused: new events wait").waitFor();
  await admin.createOrganization({ id: "paused", name: "Paused" });
  t.is(await page.locator("table.events tbody tr", { hasText: "organization paused" }).count(), 0);
  await page.getByRole("button", { name: "Resume" }).click();
  await page.locator("table.events tbody tr", { hasText: "organization paused" }).waitFor();

  // The access token expires (the core's clock moves past its 5 minutes): the stream ends UNAUTHENTICATED,
  // the console renews the token and resumes from the last event it saw.
  await page.getByText("Following: new events appear at the top").waitFor();
  const opened = streams.length;
  s.clock.advance(6 * 60);
  await (await globalAdmin(s)).deleteOrganization({ id: "before" });
  await page.locator("table.events tbody tr", { hasText: "Organization deleted" }).waitFor();
  t.true(streams.length > opened);
  t.like(JSON.parse(streams.at(-1)!), { afterSequence: "3" });
  t.deepEqual((await rows(page)).map((row) => `${row[1]} ${row[4]}`), [
    "Organization deleted organization before",
    "Organization created organization paused",
    "Organization created organization during",
    "Organization created organization before",
  ]);
  t.deepEqual(await axeViolations(page), []);

  // Leaving the screen closes the stream: the core's stream ends (its log line is written then).
  const ended = () => s.lines.filter((line) => (JSON.parse(line) as { rpc?: string }).rpc === "iam.v1.AuditService/StreamEvents").length;
  const before = ended();
  await page.getByRole("link", { name: "Dashboard" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  while (ended() === before) await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(ended(), before + 1);
  t.deepEqual(problems, []);
});

/** Signs in to the console as an administrator of one project, through that project's sign-in page. */
async function signInToProject(page: Page, s: TestServer, account: { username: string; password: string; organization: string; project: string }) {
  await page.goto(`${s.httpUrl}/admin/`);
  await page.getByLabel("Organization", { exact: true }).fill(account.organization);
  await page.getByLabel("Project", { exact: true }).fill(account.project);
  await page.getByRole("button", { name: "Sign in to this project" }).click();
  await passSignInPages(page, account);
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
}

/** The dashboard's cards: the text of each, as "3 clients" or "4 users 3 may sign in". */
async function cards(page: Page, list: string): Promise<string[]> {
  const items = page.getByRole("list", { name: list }).getByRole("listitem");
  await items.first().waitFor();
  return (await items.allInnerTexts()).map((text) => text.replace(/\s+/g, " ").trim());
}

test("the dashboard shows a seeded project's counts to its administrator, linking to their screens, and its newest events", async (t) => {
  const s = await server(t);
  const admin = await globalAdmin(s);
  const ref = { organization: "acme", project: "shop" };
  await admin.createOrganization({ id: "acme", name: "Acme" });
  await admin.createProject({ ...ref, id: "shop", organization: "acme", name: "Shop" });
  // The project holds iam-console, the permission iam.project.admin and the role project-admin from its creation.
  await admin.createPermission({ ...ref, permissionId: "shop.orders.read", description: "Read orders" });
  await admin.createRole({ ...ref, roleId: "clerk", description: "Clerk", permissions: ["shop.orders.read"] });
  for (const clientId of ["web", "batch"]) {
    await admin.createClient({ ...ref, clientId, name: clientId, type: ClientType.PUBLIC, redirectUris: ["https://shop.example/cb"], grantTypes: ["authorization_code"], pkceRequired: true });
  }
  for (const userId of ["alice", "bob", "carol"]) await admin.createUser({ ...ref, userId, name: userId, password: `${userId}-password-123` });
  await admin.updateUser({ ...ref, userId: "carol", enabled: false, updateMask: { paths: ["enabled"] } });
  await admin.createUser({ ...ref, userId: "pat", name: "Pat", password: "pat-password-123" });
  await admin.assignRole({ ...ref, roleId: "project-admin", subject: { case: "userId", value: "pat" } });
  // A rotation: the new key of each algorithm (ES256, RS256) signs, the old one still verifies.
  await admin.rotateSigningKey(ref);

  const { page, problems } = await openConsole(t, browser());
  await signInToProject(page, s, { username: "pat", password: "pat-password-123", ...ref });
  t.deepEqual(await cards(page, "Counts of acme/shop"), [
    "3 clients",
    "4 users 3 may sign in",
    "1 live session",
    "2 roles",
    "2 permissions",
    "4 signing keys signing or verifying",
  ]);
  t.is(await page.getByRole("link", { name: "3 clients" }).getAttribute("href"), "/admin/p/acme/shop/clients");
  t.is(await page.getByRole("link", { name: "4 users" }).getAttribute("href"), "/admin/p/acme/shop/users");
  t.is(await page.getByRole("link", { name: "4 signing keys" }).getAttribute("href"), "/admin/p/acme/shop/keys");
  // No server-wide count for a project's administrator.
  t.is(await page.getByRole("list", { name: "Counts of the server" }).count(), 0);

  // The project's newest events, the administrator's own sign-in first.
  await page.getByRole("table", { name: "The 10 newest events" }).waitFor();
  const events = await rows(page);
  t.is(events.length, 10);
  t.deepEqual(events.slice(0, 4).map((row) => row[1]), ["Authorization code exchanged", "Authorization code issued", "Consent given", "Sign-in"]);
  t.deepEqual(events[3]!.slice(2, 5), ["Success", "user pat", "user pat"]);
  t.deepEqual(await axeViolations(page), []);

  // An event's action leads to the trail filtered by it.
  await page.getByRole("link", { name: "Sign-in", exact: true }).first().click();
  await page.getByRole("heading", { name: "Audit trail of shop" }).waitFor();
  t.regex(page.url(), /\/admin\/p\/acme\/shop\/audit\?action=SIGN_IN$/);
  t.deepEqual([...new Set((await settled(page)).map((row) => row[1]))], ["Sign-in"]);
  t.deepEqual(await axeViolations(page), []);
  t.deepEqual(problems, []);
});

test("a global administrator's dashboard counts the organizations and iam-admins, and shows the server's newest events", async (t) => {
  const s = await server(t);
  const admin = await globalAdmin(s);
  await admin.createOrganization({ id: "acme", name: "Acme" });
  await admin.createProject({ organization: "acme", id: "shop", name: "Shop" });
  const { page, problems } = await openConsole(t, browser(), { colorScheme: "dark" });
  await signIn(page, s);
  t.deepEqual(await cards(page, "Counts of the server"), ["2 organizations"]);
  const admins = await cards(page, "Counts of iam-admins/iam-admins");
  t.is(admins[1], "1 user 1 may sign in");
  t.is(admins[2], "1 live session");
  t.deepEqual((await rows(page)).map((row) => `${row[1]} ${row[4]}`), ["Project created project acme/shop", "Organization created organization acme"]);
  t.deepEqual(await axeViolations(page), []);
  t.deepEqual(problems, []);
});
