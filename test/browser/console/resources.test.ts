/**
 * The console's resources screen (RFC 8707) in headless chromium, signed in
 * as the global administrator, on acme/shop: a resource registered with
 * scopes chosen among the project's permissions, the core's refusals shown
 * at their fields, and a deletion confirmed. What the screen did is checked
 * over the AdminService, and with a token asked for the resource.
 */
import test from "ava";
import { useBrowser } from "../_browser.js";
import { axeViolations } from "./_console.js";
import { announced, open, serve, SHOP } from "./_shop.js";

const browser = useBrowser(test);

test("a resource is registered with the permissions chosen, refusals show at their fields and leave nothing, and a deletion is confirmed", async (t) => {
  const { admin, auth, console } = await serve(t, browser());
  const { page, problems } = console;
  for (const id of ["notes.items.read", "notes.items.write"]) await admin.createPermission({ ...SHOP, permissionId: id }, auth);
  const listed = async () => (await admin.listResources({ ...SHOP, pageSize: 1000 }, auth)).resources;
  await open(page, "Resources");
  t.deepEqual(await axeViolations(page), []);

  const form = page.getByRole("form", { name: "New resource" });
  const register = form.getByRole("button", { name: "Register resource" });
  // A fragment: the core's message at the URI field.
  await form.getByLabel("URI").fill("https://notes.example/api#v1");
  await form.getByLabel("Name").fill("Notes API");
  await form.getByRole("checkbox", { name: /notes\.items\.read/ }).check();
  await register.click();
  const uriError = page.locator("#create-resource-acme-shop-uri-error");
  await uriError.waitFor();
  t.regex((await uriError.textContent()) ?? "", /cannot name a resource: .*fragment/);
  t.is(await form.getByLabel("URI").getAttribute("aria-invalid"), "true");
  // No scope: the core's message at the scopes.
  await form.getByLabel("URI").fill("https://notes.example/api");
  await form.getByRole("checkbox", { name: /notes\.items\.read/ }).uncheck();
  await register.click();
  const scopesError = page.locator("#create-resource-acme-shop-scopes-error");
  await scopesError.waitFor();
  t.is(await scopesError.textContent(), "a resource needs at least one scope");
  t.deepEqual(await listed(), [], "the refused ones made nothing");

  await form.getByRole("checkbox", { name: /notes\.items\.read/ }).check();
  await form.getByRole("checkbox", { name: /notes\.items\.write/ }).check();
  await register.click();
  await announced(page, "Resource https://notes.example/api registered");
  const row = page.getByRole("table", { name: /Resources of shop/ }).getByRole("row").filter({ hasText: "https://notes.example/api" });
  await row.waitFor();
  t.regex((await row.textContent()) ?? "", /Notes API.*notes\.items\.read.*notes\.items\.write/);
  t.like((await listed())[0], { uri: "https://notes.example/api", name: "Notes API", scopes: ["notes.items.read", "notes.items.write"] });
  t.deepEqual(await axeViolations(page), []);

  await row.getByRole("button", { name: "Delete https://notes.example/api" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete the resource https://notes.example/api?" });
  t.regex((await dialog.textContent()) ?? "", /Clients can no longer ask tokens for https:\/\/notes\.example\/api \(invalid_target\)/);
  await dialog.getByRole("button", { name: "Delete resource" }).click();
  await announced(page, "Resource https://notes.example/api deleted");
  await row.waitFor({ state: "detached" });
  t.deepEqual(await listed(), []);
  t.deepEqual(problems, []);
});
