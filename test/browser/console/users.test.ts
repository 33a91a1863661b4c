/**
 * The console's user screens in a real browser: a project of 10,000 users
 * read 25 at a time (one ListUsers call for each page shown, never more),
 * filtered by the beginning of an id or email as the person types, the
 * filter kept in the URL; a user created, refused in place when the core
 * refuses it; one user's profile, disabling, password and sign-in sessions,
 * each checked over the API.
 */
import { createClient, type Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import type { Page, Request } from "playwright-core";
import { AdminService } from "../../../gen/iam/v1/admin_pb.js";
import type { ProjectRef } from "../../../core/store/types.js";
import { globalAdminToken } from "../../admin/rpc-support.js";
import { pkcePair, seedClient, startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { axeViolations, openConsole, signIn } from "./_console.js";

const browser = useBrowser(test);

/** The project of many users, and the project whose users the tests change. */
const MANY: ProjectRef = { organization: "bulk", project: "people" };
const DESK: ProjectRef = { organization: "bulk", project: "desk" };
const COUNT = 10_000;
const idOf = (n: number) => `user-${String(n).padStart(5, "0")}`;
const emailOf = (n: number) => `mail-${String(n).padStart(5, "0")}@people.example`;

let s: TestServer;
let api: Client<typeof AdminService>;
let auth: { headers: { authorization: string } };

/**
 * The 10,000 users go into the store in one transaction, all with one
 * password hash: what is tested is the console reading them, not the
 * hashing of 10,000 passwords.
 */
async function seedMany(ref: ProjectRef, count: number): Promise<void> {
  const passwordHash = await s.core.deps.passwords.hash("bulk-password");
  await s.core.deps.store.transaction(async (store) => {
    for (let n = 0; n < count; n++) {
      await store.createUser({ ...ref, id: idOf(n), name: `User ${n}`, email: emailOf(n), emailVerified: false, givenName: "", familyName: "", passwordHash, enabled: true, createdAt: 0 });
    }
  });
}

test.before(async () => {
  s = await startTestServer({ localhost: true });
  auth = { headers: { authorization: `Bearer ${await globalAdminToken(s)}` } };
  api = createClient(AdminService, s.transport);
  // Over https a reload signs the console in again silently, its consent
  // remembered; over the test's http://localhost a public client's consent
  // is remembered only for a web origin it registered (identityAssured).
  await api.updateClient({ organization: "iam-admins", project: "iam-admins", clientId: "iam-console", webOrigins: [s.httpUrl], updateMask: { paths: ["web_origins"] } }, auth);
  await api.createOrganization({ id: "bulk" }, auth);
  for (const ref of [MANY, DESK]) await api.createProject({ organization: ref.organization, id: ref.project }, auth);
  await seedMany(MANY, COUNT);
  // A client the users of DESK sign in to, as a browser would: a session opens with each sign-in.
  await seedClient(s.core, { ...DESK, id: "app", redirectUris: ["https://app.example/callback"] });
});

test.after.always(async () => {
  await s?.close();
});

const url = (path: string) => `${s.httpUrl}/admin${path}`;

/** The JSON bodies of the ListUsers calls the page has sent so far. */
function listUsersCalls(page: Page): Record<string, unknown>[] {
  const calls: Record<string, unknown>[] = [];
  page.on("request", (r: Request) => {
    if (r.url().endsWith("/admin/api/iam.v1.AdminService/ListUsers")) calls.push(JSON.parse(r.postData() ?? "{}") as Record<string, unknown>);
  });
  return calls;
}

/** The ids in the first column of the users' table, once it shows `first` first. */
async function shownIds(page: Page, first: string): Promise<string[]> {
  const table = page.getByRole("table", { name: /^Users/ });
  await table.locator("tbody tr").first().getByRole("link", { name: first, exact: true }).waitFor();
  await page.locator(".table-wrap[aria-busy]").waitFor({ state: "detached" });
  return table.locator("tbody tr td:first-child").allTextContents();
}

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => idOf(from + i));

test("a project of 10,000 users is read 25 at a time, one ListUsers call for each page shown; the filter narrows the list as the person types and stays in the URL", async (t) => {
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  const calls = listUsersCalls(page);

  // A reload of the page signs in again silently and reads the first page.
  await page.goto(url("/p/bulk/people/users"));
  t.deepEqual(await shownIds(page, idOf(0)), range(0, 25), "page 1: the first 25 users, by id");
  await page.getByText("Page 1", { exact: true }).waitFor();
  t.deepEqual(calls, [{ organization: "bulk", project: "people", pageSize: 25 }], "one call, for the first page");
  t.deepEqual(await axeViolations(page), []);

  await page.getByRole("button", { name: "Next page" }).click();
  t.deepEqual(await shownIds(page, idOf(25)), range(25, 25), "page 2");
  await page.getByText("Page 2", { exact: true }).waitFor();
  await page.getByRole("button", { name: "Next page" }).click();
  t.deepEqual(await shownIds(page, idOf(50)), range(50, 25), "page 3");
  await page.getByRole("button", { name: "Previous page" }).click();
  t.deepEqual(await shownIds(page, idOf(25)), range(25, 25), "page 2 again");
  t.is(calls.length, 4, "one call for each page shown");
  t.true(calls.every((c) => c.pageSize === 25));
  t.is(typeof calls[1]!.pageToken, "string");
  t.is(calls[3]!.pageToken, calls[1]!.pageToken, "back to page 2 with page 2's token");

  // Typed while on page 2: the filtered list starts at its own first page, read once.
  await page.getByLabel("Find users").fill("user-0123");
  t.deepEqual(await shownIds(page, idOf(1230)), range(1230, 10), "the ten users whose id begins so");
  await page.waitForURL(/\/users\?q=user-0123$/);
  t.deepEqual(calls.slice(4), [{ organization: "bulk", project: "people", pageSize: 25, query: "user-0123" }], "one call for the filtered page, from its start");
  t.true(await page.getByRole("button", { name: "Next page" }).isDisabled(), "a single page");

  // An email address's beginning finds its user too.
  await page.getByLabel("Find users").fill("mail-0042");
  t.deepEqual(await shownIds(page, idOf(420)), range(420, 10));
  t.is(calls.length, 6);

  // The filter survives a reload, and the way back from a user.
  await page.reload();
  t.deepEqual(await shownIds(page, idOf(420)), range(420, 10), "after a reload");
  t.is(await page.getByLabel("Find users").inputValue(), "mail-0042");
  await page.getByRole("link", { name: idOf(421), exact: true }).click();
  await page.getByRole("heading", { name: `User ${idOf(421)}` }).waitFor();
  await page.goBack();
  t.deepEqual(await shownIds(page, idOf(420)), range(420, 10), "after the way back");
  t.is(await page.getByLabel("Find users").inputValue(), "mail-0042");
  t.is(calls.length, 8, "one call for each time the list was shown");
  t.true(calls.slice(6).every((c) => c.query === "mail-0042" && c.pageSize === 25));

  // A filter of many pages pages as the whole list does.
  await page.getByLabel("Find users").fill("user-01");
  t.deepEqual(await shownIds(page, idOf(1000)), range(1000, 25));
  await page.getByRole("button", { name: "Next page" }).click();
  t.deepEqual(await shownIds(page, idOf(1025)), range(1025, 25));
  t.deepEqual(
    calls.slice(8).map((c) => [c.query, c.pageSize, c.pageToken === undefined]),
    [
      ["user-01", 25, true],
      ["user-01", 25, false],
    ],
  );

  // A filter the core refuses: its message at the filter.
  await page.getByLabel("Find users").fill("u".repeat(255));
  await page.locator("#users-filter-error").waitFor();
  t.is(await page.locator("#users-filter-error").textContent(), "query must be at most 254 characters");
  t.is(await page.getByLabel("Find users").getAttribute("aria-invalid"), "true");

  // Emptied, the filter leaves the URL and the whole list is back.
  await page.getByLabel("Find users").fill("");
  t.deepEqual(await shownIds(page, idOf(0)), range(0, 25));
  await page.waitForURL(/\/users$/);
  t.is(await page.locator("#users-filter-error").count(), 0);
  t.is(calls.length, 12);
  t.deepEqual(problems, []);
});

test("creating a user with an id the core refuses shows the core's message at the id field and creates nothing; a good one opens the new user", async (t) => {
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  await page.goto(url("/p/bulk/desk/users"));
  const form = page.getByRole("region", { name: "New user" });
  await form.getByLabel("Id").fill("-shady");
  await form.getByLabel("Password").fill("a-good-password");
  await form.getByRole("button", { name: "Create user" }).click();
  const id = form.getByLabel("Id");
  await page.locator("#create-user-bulk-desk-user_id-error").waitFor();
  t.is(await page.locator("#create-user-bulk-desk-user_id-error").textContent(), "user_id must be 1-128 letters, digits and '-._~@+', starting with a letter or digit");
  t.is(await id.getAttribute("aria-invalid"), "true");
  t.regex((await id.getAttribute("aria-describedby")) ?? "", /create-user-bulk-desk-user_id-error/);
  t.is((await api.listUsers({ ...DESK, query: "-shady" }, auth)).users.length, 0, "nothing created");
  const missing = await api.getUser({ ...DESK, userId: "-shady" }, auth).catch((err: unknown) => err);
  t.is(ConnectError.from(missing).code, Code.NotFound);

  // The password is a secret: its field is of type password, and it stays out of the form's draft.
  t.is(await form.getByLabel("Password").getAttribute("type"), "password");

  await id.fill("newcomer");
  await form.getByLabel("Email address", { exact: true }).fill("newcomer@desk.example");
  await form.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("heading", { name: "User newcomer" }).waitFor();
  t.like((await api.getUser({ ...DESK, userId: "newcomer" }, auth)).user, { id: "newcomer", email: "newcomer@desk.example", enabled: true });

  // The core's "user newcomer already exists" names the id otherwise than the form does: it is shown at the id all the same.
  await page.getByRole("link", { name: "Users", exact: true }).first().click();
  await form.getByLabel("Id").fill("newcomer");
  await form.getByLabel("Password").fill("another-password");
  await form.getByRole("button", { name: "Create user" }).click();
  await page.locator("#create-user-bulk-desk-user_id-error").waitFor();
  t.is(await page.locator("#create-user-bulk-desk-user_id-error").textContent(), "user newcomer already exists");
  t.deepEqual(problems, []);
});

/**
 * Signs the user in to DESK's `app` over the core's API, as the sign-in page
 * does (a sign-in session opens): the refusal of the password, or undefined.
 */
async function signInOverApi(userId: string, password: string): Promise<ConnectError | undefined> {
  const request = await s.authorization.authorize({
    ...DESK,
    responseType: "code",
    clientId: "app",
    redirectUri: "https://app.example/callback",
    state: "st",
    scope: "openid",
    nonce: "n",
    codeChallenge: pkcePair().challenge,
    codeChallengeMethod: "S256",
  });
  const login = s.authorization.login({ ...DESK, requestId: request.requestId, username: userId, password, userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0" });
  return login.then(
    () => undefined,
    (err: unknown) => ConnectError.from(err),
  );
}

test("a user's screen: the profile saves only what changed, a new password signs in, a session is revoked, and disabling is confirmed and holds", async (t) => {
  await api.createUser({ ...DESK, userId: "dora", name: "Dora", email: "dora@desk.example", password: "first-password" }, auth);
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  const updates: unknown[] = [];
  page.on("request", (r) => void (r.url().endsWith("/iam.v1.AdminService/UpdateUser") && updates.push(JSON.parse(r.postData() ?? "{}"))));
  await page.goto(url("/p/bulk/desk/users/dora"));
  await page.getByRole("heading", { name: "User dora" }).waitFor();

  const profile = page.getByRole("region", { name: "Profile" });
  await profile.getByLabel("Family name").fill("Explorer");
  await profile.getByRole("button", { name: "Save profile" }).click();
  await page.getByRole("status").getByText("Profile of dora saved").waitFor();
  t.like(updates[0], { userId: "dora", familyName: "Explorer", updateMask: "familyName" }, "the mask names the one field changed (in JSON, camelCase)");
  t.like((await api.getUser({ ...DESK, userId: "dora" }, auth)).user, { name: "Dora", email: "dora@desk.example", familyName: "Explorer" });

  // A refusal of the core is shown at the field it names, and changes nothing.
  await profile.getByLabel("Email address", { exact: true }).fill("not an address");
  await profile.getByRole("button", { name: "Save profile" }).click();
  await page.locator("#user-profile-bulk-desk-dora-email-error").waitFor();
  t.is(await page.locator("#user-profile-bulk-desk-dora-email-error").textContent(), "email must be an email address or empty");
  t.is((await api.getUser({ ...DESK, userId: "dora" }, auth)).user?.email, "dora@desk.example");

  const password = page.getByRole("region", { name: "Password" });
  t.is(await password.getByLabel("New password").getAttribute("type"), "password");
  await password.getByLabel("New password").fill("second-password");
  await password.getByRole("button", { name: "Set password" }).click();
  await page.getByRole("status").getByText("Password of dora set; their sign-in sessions ended").waitFor();
  t.is(await password.getByLabel("New password").inputValue(), "", "the field is emptied");
  t.is(await signInOverApi("dora", "second-password"), undefined, "the new password signs in");
  t.is((await signInOverApi("dora", "first-password"))?.code, Code.PermissionDenied, "the old one no more");

  // The session the new password opened is listed, and revoked from the screen.
  await page.reload();
  const sessions = page.getByRole("region", { name: "Sign-in sessions" });
  const [live] = (await api.listUserSessions({ ...DESK, userId: "dora" }, auth)).sessions;
  t.truthy(live);
  const revoke = sessions.getByRole("button", { name: `Revoke session ${live!.id.slice(0, 8)}` });
  await revoke.waitFor();
  t.deepEqual(await axeViolations(page), []);
  await revoke.click();
  const dialog = page.getByRole("dialog", { name: /End the session/ });
  t.regex((await dialog.textContent()) ?? "", /every grant made in the session is revoked/);
  await dialog.getByRole("button", { name: "Revoke session", exact: true }).click();
  await sessions.getByText("No browser is signed in.").waitFor();
  t.deepEqual((await api.listUserSessions({ ...DESK, userId: "dora" }, auth)).sessions, []);

  await page.getByRole("button", { name: "Disable user" }).click();
  const confirm = page.getByRole("dialog", { name: "Disable dora?" });
  t.regex((await confirm.textContent()) ?? "", /revoked and their sign-in sessions end/);
  await confirm.getByRole("button", { name: "Disable user" }).click();
  await page.getByRole("button", { name: "Enable user" }).waitFor();
  t.is((await api.getUser({ ...DESK, userId: "dora" }, auth)).user?.enabled, false, "disabled, as the API says");
  // enabled: false, the default, is left out of the JSON body.
  t.deepEqual(updates.at(-1), { organization: "bulk", project: "desk", userId: "dora", updateMask: "enabled" }, "the mask names enabled alone");
  t.deepEqual(await axeViolations(page), []);
  t.deepEqual(problems, []);
});

test("roles are assigned and taken back among the project's", async (t: ExecutionContext) => {
  await api.createPermission({ ...DESK, permissionId: "desk.tickets.read", description: "Read tickets" }, auth);
  await api.createRole({ ...DESK, roleId: "agent", permissions: ["desk.tickets.read"] }, auth);
  await api.createUser({ ...DESK, userId: "ravi", password: "ravi-password" }, auth);
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  await page.goto(url("/p/bulk/desk/users/ravi"));
  const roles = page.getByRole("region", { name: "Roles" });
  await roles.getByRole("button", { name: "Assign agent" }).click();
  await roles.getByRole("button", { name: "Unassign agent" }).waitFor();
  t.deepEqual((await api.getUser({ ...DESK, userId: "ravi" }, auth)).user?.roles, ["agent"]);
  await roles.getByRole("button", { name: "Unassign agent" }).click();
  await roles.getByRole("button", { name: "Assign agent" }).waitFor();
  t.deepEqual((await api.getUser({ ...DESK, userId: "ravi" }, auth)).user?.roles, []);
  t.deepEqual(problems, []);
});
