/**
 * A project's administrator in the console: signed in through their own
 * project (the sign-in screen's "One project" form and that project's
 * sign-in page), they see that project and nothing else; a URL of another
 * project shows the core's refusal and none of its data; and the core
 * refuses their token for any other project or for the server's
 * organizations when it is sent to the API directly, as a script would.
 */
import test from "ava";
import { startTestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { axeViolations, openConsole, signIn } from "./_console.js";
import { settle } from "./_screen.js";
import { callAdmin, createProjectAdmin, globalAdmin, recordBearerTokens, visit } from "./_tenants.js";

const browser = useBrowser(test);

/** Project A, whose administrator signs in; B beside it in the same organization; C in another. */
const A = { organization: "acme", project: "shop" };
const B = { organization: "acme", project: "warehouse" };
const C = { organization: "globex", project: "lab" };
const PAT = { id: "pat", password: "pat-password-1", name: "Pat Admin" };
const REFUSAL = "the access token does not allow this call";

test("a project administrator sees their project alone, and the core refuses them every other, through the console and directly", async (t) => {
  const b = browser();
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const admin = await globalAdmin(s);
  await admin.createOrganization({ id: "acme", name: "Acme" });
  await admin.createOrganization({ id: "globex", name: "Globex" });
  for (const ref of [A, B, C]) await admin.createProject({ organization: ref.organization, id: ref.project });
  await createProjectAdmin(admin, A, PAT);
  await admin.createUser({ ...A, userId: "sam", password: "sam-password-1" });
  await admin.createUser({ ...B, userId: "wendy", password: "wendy-password-1", email: "wendy@warehouse.example" });

  const { page, problems } = await openConsole(t, b);
  const tokens = recordBearerTokens(page);
  await signIn(page, s, { username: PAT.id, password: PAT.password, ...A });

  // The frame offers project A and nothing of the server's.
  const nav = page.getByRole("navigation", { name: "Console" });
  t.is(await nav.getByRole("link", { name: "Organizations" }).count(), 0);
  t.is(await nav.getByRole("link", { name: "Server audit trail" }).count(), 0);
  t.is(await nav.getByRole("heading", { name: "acme / shop" }).count(), 1);
  t.regex((await page.getByRole("banner").textContent()) ?? "", /administrator of acme\/shop/);
  t.deepEqual(await axeViolations(page), []);

  await nav.getByRole("link", { name: "Project", exact: true }).click();
  await page.getByRole("heading", { name: "Project shop", level: 1 }).waitFor();
  await page.getByText(`${s.httpUrl}/services/oauth2/acme/shop`, { exact: true }).first().waitFor();
  const links = await page.locator("a[href]").evaluateAll((as) => as.map((a) => a.getAttribute("href") ?? ""));
  t.deepEqual(
    links.filter((href) => href.startsWith("/admin/p/") && !href.startsWith("/admin/p/acme/shop")),
    [],
    "no link to another project",
  );
  t.false(links.some((href) => href.startsWith("/admin/organizations")), "no link to the organizations");
  // No way to delete the project: a project administrator may not (the core refuses it anyway).
  t.is(await page.getByRole("button", { name: "Delete project" }).count(), 0);

  // Another project's URLs, typed into the address bar (the page loads again and signs in silently) or followed
  // within the page: the core's refusal, and nothing of that project.
  const screensOfB = ["", "/clients", "/users", "/users/wendy", "/roles", "/keys", "/audit"].map((screen) => `/admin/p/acme/warehouse${screen}`);
  for (const [path, open] of [
    ["/admin/p/acme/warehouse", () => page.goto(`${s.httpUrl}/admin/p/acme/warehouse`)],
    ...screensOfB.slice(1).map((path) => [path, () => visit(page, path)] as const),
    ["/admin/p/globex/lab", () => visit(page, "/admin/p/globex/lab")],
  ] as const) {
    await open();
    // The core's refusal, or, where the screen knows it before asking, that the project is not theirs.
    const refusal = page.getByRole("alert").filter({ hasText: REFUSAL });
    const notTheirs = page.getByRole("main").getByText(/^Only the administrators of \S+ and global administrators /);
    await refusal.or(notTheirs).first().waitFor();
    if (path === "/admin/p/acme/warehouse") t.true(await refusal.isVisible(), "the project's screen shows the core's refusal");
    await settle(page);
    const main = (await page.getByRole("main").textContent()) ?? "";
    t.false(main.includes("/services/oauth2/"), `${path} shows no issuer`);
    // B's user, known to this screen only from the core: her email, or her id where the URL does not name her.
    t.false(main.includes("wendy@warehouse.example") || (!path.includes("wendy") && main.includes("wendy")), `${path} shows none of its users`);
    t.is(new URL(page.url()).pathname, path, "the refusal is shown where the person asked, not replaced by another screen");
  }
  // The server's screens are not the console of a project administrator.
  await visit(page, "/admin/organizations");
  await page.getByRole("heading", { name: "Nothing here" }).waitFor();
  t.false(((await page.getByRole("main").textContent()) ?? "").includes("globex"));

  // The core refuses anyway: the console's own bearer token, sent by hand.
  const token = tokens.at(-1);
  if (token === undefined) return t.fail("the console sent no bearer token");
  const headers = { authorization: `Bearer ${token}` };
  const own = await callAdmin(s, "ListUsers", { ...A, pageSize: 50 }, headers);
  t.is(own.status, 200, "the token is good for project A");
  t.deepEqual((own.body.users as { id: string }[]).map((u) => u.id).sort(), ["pat", "sam"]);
  const refused: [string, object][] = [
    ["ListUsers", { ...B, pageSize: 50 }],
    ["ListUsers", { ...C, pageSize: 50 }],
    ["GetProject", B],
    ["ListOrganizations", { pageSize: 50 }],
    ["ListProjects", { organization: "acme", pageSize: 50 }],
    ["CreateUser", { ...B, userId: "mallory", password: "mallory-password-1" }],
    ["CreateOrganization", { id: "pat-corp" }],
    ["AssignRole", { ...B, roleId: "project-admin", userId: "wendy" }],
  ];
  for (const [method, request] of refused) {
    const answer = await callAdmin(s, method, request, headers);
    t.is(answer.status, 403, method);
    t.regex(answer.contentType, /^application\/json/, method);
    t.deepEqual(answer.body, { code: "permission_denied", message: REFUSAL }, method);
  }
  // The refused writes changed nothing.
  t.deepEqual((await admin.listUsers({ ...B, pageSize: 50 })).users.map((u) => u.id), ["wendy"]);
  t.deepEqual((await admin.listOrganizations({ pageSize: 50 })).organizations.map((o) => o.id).sort(), ["acme", "globex", "iam-admins"]);
  t.deepEqual(problems, []);
});
