/**
 * The console's roles and permissions, signing keys and multi-factor policy
 * screens in headless chromium, signed in as the global administrator, on a
 * project made through the AdminService (acme/shop). What the screens did is
 * checked over the same API, and the core's refusals are read where the
 * console shows them.
 */
import test from "ava";
import { MfaRequirement, SigningKeyState } from "../../../gen/iam/v1/admin_pb.js";
import { useBrowser } from "../_browser.js";
import { axeViolations } from "./_console.js";
import { announced, open, serve as serveShop, SHOP, type Served } from "./_shop.js";

const browser = useBrowser(test);
const serve = (t: Parameters<typeof serveShop>[0]) => serveShop(t, browser());

const permissionIds = async ({ admin, auth }: Served) => (await admin.listPermissions({ ...SHOP, pageSize: 1000 }, auth)).permissions.map((p) => p.id);

test("a permission with a bad id shows the core's message at the field and creates nothing; a permission and a role holding it are created, then the role deleted", async (t) => {
  const served = await serve(t);
  const { admin, auth } = served;
  const { page, problems } = served.console;
  await open(page, "Roles and permissions");
  t.deepEqual(await axeViolations(page), []);
  const before = await permissionIds(served);

  const permissionForm = page.getByRole("form", { name: "New permission" });
  await permissionForm.getByLabel("Id").fill("Shop.Orders.Read");
  await permissionForm.getByRole("button", { name: "Create permission" }).click();
  const idError = page.locator("#create-permission-acme-shop-permission_id-error");
  await idError.waitFor();
  t.is(await idError.textContent(), "permission_id must be service.resource.action, each part 1-63 lowercase letters, digits and '-', starting with a letter");
  t.is(await permissionForm.getByLabel("Id").getAttribute("aria-invalid"), "true");
  t.deepEqual(await permissionIds(served), before, "nothing was created");

  await permissionForm.getByLabel("Id").fill("shop.orders.read");
  await permissionForm.getByLabel("Description").fill("Read the shop's orders");
  await permissionForm.getByRole("button", { name: "Create permission" }).click();
  await announced(page, "Permission shop.orders.read created");
  await page.getByRole("table", { name: /Permissions of shop/ }).getByRole("cell", { name: "shop.orders.read", exact: true }).waitFor();
  const { permissions } = await admin.listPermissions({ ...SHOP, pageSize: 1000 }, auth);
  t.like(
    permissions.find((p) => p.id === "shop.orders.read"),
    { description: "Read the shop's orders" },
  );

  const roleForm = page.getByRole("form", { name: "New role" });
  await roleForm.getByLabel("Id").fill("clerk");
  await roleForm.getByLabel("Description").fill("Works the counter");
  await roleForm.getByRole("checkbox", { name: /shop\.orders\.read/ }).check();
  await roleForm.getByRole("button", { name: "Create role" }).click();
  await announced(page, "Role clerk created");
  const roleRow = page.getByRole("table", { name: /Roles of shop/ }).getByRole("row").filter({ hasText: "clerk" });
  await roleRow.waitFor();
  t.like((await admin.listRoles({ ...SHOP, pageSize: 1000 }, auth)).roles.find((r) => r.id === "clerk"), {
    description: "Works the counter",
    permissions: ["shop.orders.read"],
  });
  t.deepEqual(await axeViolations(page), []);

  await roleRow.getByRole("button", { name: "Delete clerk" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete the role clerk?" });
  t.regex((await dialog.textContent()) ?? "", /Every user and client holding clerk loses it, and with it the permissions it grants them \(shop\.orders\.read\)/);
  await dialog.getByRole("button", { name: "Delete role" }).click();
  await announced(page, "Role clerk deleted");
  await roleRow.waitFor({ state: "detached" });
  t.false((await admin.listRoles({ ...SHOP, pageSize: 1000 }, auth)).roles.some((r) => r.id === "clerk"));
  t.deepEqual(problems, []);
});

test("the multi-factor policy is set to a role's holders and back, naming only what changed; the role it names cannot be deleted, and the core's reason shows", async (t) => {
  const served = await serve(t);
  const { admin, auth } = served;
  const { page, problems } = served.console;
  await admin.createRole({ ...SHOP, roleId: "staff", description: "Everyone at the shop" }, auth);
  await open(page);
  const policyForm = page.getByRole("form", { name: "Multi-factor policy" });
  const save = policyForm.getByRole("button", { name: "Save multi-factor policy" });
  await policyForm.getByLabel("Who must sign in with a second factor").selectOption(String(MfaRequirement.ROLES));

  // Holders of roles, but none chosen: the core's refusal, at the roles.
  await save.click();
  const rolesError = page.locator("#mfa-policy-acme-shop-roles-error");
  await rolesError.waitFor();
  t.is(await rolesError.textContent(), "MFA_REQUIREMENT_ROLES needs at least one role in roles");
  t.is((await admin.getMfaPolicy(SHOP, auth)).policy?.required, MfaRequirement.OPTIONAL, "nothing changed");

  await policyForm.getByRole("checkbox", { name: /staff/ }).check();
  t.deepEqual(await axeViolations(page), []);
  await save.click();
  await announced(page, "Multi-factor policy saved");
  t.like((await admin.getMfaPolicy(SHOP, auth)).policy, { required: MfaRequirement.ROLES, roles: ["staff"], passwordless: false });

  await open(page, "Roles and permissions");
  const staffRow = page.getByRole("table", { name: /Roles of shop/ }).getByRole("row").filter({ hasText: "staff" });
  await staffRow.getByRole("button", { name: "Delete staff" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete the role staff?" });
  await dialog.getByRole("button", { name: "Delete role" }).click();
  const refusal = dialog.getByRole("alert");
  await refusal.waitFor();
  t.is(
    await refusal.textContent(),
    "the project's multi-factor policy requires a second factor of role staff's holders: take it out of the policy first (UpdateMfaPolicy)",
  );
  await dialog.getByRole("button", { name: "Cancel" }).click();
  t.true((await admin.listRoles({ ...SHOP, pageSize: 1000 }, auth)).roles.some((r) => r.id === "staff"), "the role is still there");

  await open(page);
  await policyForm.getByRole("checkbox", { name: /staff/ }).waitFor();
  // Another administrator lets passkeys sign in alone meanwhile: saving the requirement alone leaves that as they set it.
  await admin.updateMfaPolicy({ ...SHOP, passwordless: true, updateMask: { paths: ["passwordless"] } }, auth);
  await policyForm.getByLabel("Who must sign in with a second factor").selectOption(String(MfaRequirement.OPTIONAL));
  await save.click();
  await announced(page, "Multi-factor policy saved");
  t.like((await admin.getMfaPolicy(SHOP, auth)).policy, { required: MfaRequirement.OPTIONAL, roles: [], passwordless: true });
  // The form is filled again from the core's answer after the announcement: wait for it before reading it.
  const passwordless = policyForm.getByLabel("A passkey alone signs in");
  await passwordless.and(page.locator(":checked")).waitFor({ timeout: 5_000 }).catch(() => undefined);
  t.true(await passwordless.isChecked(), "the form shows the policy saved");
  t.deepEqual(problems, []);
});

test("rotating the signing keys makes a new key of each algorithm current, announced by its kid, while the keys it replaces are listed as retiring", async (t) => {
  const served = await serve(t);
  const { admin, auth } = served;
  const { page, problems } = served.console;
  const currentKids = async () => (await admin.listSigningKeys(SHOP, auth)).keys.filter((k) => k.state === SigningKeyState.CURRENT).map((k) => k.kid);
  const before = await currentKids();
  t.is(before.length, 2, "a key of each algorithm");
  await open(page, "Signing keys");
  const rowOf = (kid: string) => page.getByRole("table", { name: /Signing keys of shop/ }).getByRole("row").filter({ hasText: kid });
  for (const kid of before) t.regex((await rowOf(kid).textContent()) ?? "", /Current/, kid);
  t.deepEqual(await axeViolations(page), []);

  await page.getByRole("button", { name: "Rotate signing keys" }).click();
  const dialog = page.getByRole("dialog", { name: "Rotate the signing keys of acme/shop?" });
  t.regex((await dialog.textContent()) ?? "", /keep verifying the tokens they signed until those expire/);
  await dialog.getByRole("button", { name: "Rotate signing keys" }).click();
  await announced(page, "Signing keys rotated");
  const after = await currentKids();
  t.is(after.length, 2);
  t.false(after.some((kid) => before.includes(kid)), "new keys are current");
  t.is(await page.getByRole("status").textContent(), `Signing keys rotated: the new current keys are ${after.join(" and ")}`);
  for (const kid of after) {
    await rowOf(kid).waitFor();
    t.regex((await rowOf(kid).textContent()) ?? "", /Current/, kid);
  }
  for (const kid of before) t.regex((await rowOf(kid).textContent()) ?? "", /Retiring/, kid);
  t.deepEqual(await axeViolations(page), []);
  t.deepEqual(problems, []);
});
