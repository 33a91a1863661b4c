/**
 * AdminService and Dynamic Client Registration: a project's
 * client_registration (created off, changed only under its mask path,
 * answered by Get and List, recorded), and initial access tokens bounded
 * to the caller's project like every project operation.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { ACME, createTenant, expectCode, projectAdminAuth, startAdmin } from "./rpc-support.js";

const OTHER = { organization: "acme", project: "other" };
const mask = (...paths: string[]) => ({ paths });

test("a project's client_registration: off at creation, set by UpdateProject only with its mask path, answered by Get and List, recorded with the project's fields", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  t.is((await c.admin.getProject(ACME, c.auth)).project!.clientRegistration, "");
  await c.admin.updateProject({ ...ACME, name: "Shop", clientRegistration: "open", updateMask: mask("name") }, c.auth);
  t.is((await c.admin.getProject(ACME, c.auth)).project!.clientRegistration, "", "not in the mask: unchanged");
  const updated = await c.admin.updateProject({ ...ACME, clientRegistration: "initial_access_token", updateMask: mask("client_registration") }, c.auth);
  t.is(updated.project!.clientRegistration, "initial_access_token");
  t.is((await c.admin.listProjects({ organization: "acme", pageSize: 10 }, c.auth)).projects.find((p) => p.id === "shop")!.clientRegistration, "initial_access_token");
  await expectCode(t, c.admin.updateProject({ ...ACME, clientRegistration: "OPEN", updateMask: mask("client_registration") }, c.auth), Code.InvalidArgument);
  const events = await c.core.deps.store.listAuditEvents(ACME, { actions: ["PROJECT_UPDATED"] }, { after: 0, limit: 10 });
  const change = events.flatMap((e) => e.changes).find((x) => x.field === "client_registration");
  t.deepEqual(change, { field: "client_registration", before: '""', after: '"initial_access_token"' });
});

test("initial access tokens are a project's own: its administrators manage them, another project's administrators cannot, even knowing the id", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await createTenant(c, OTHER);
  const shopAdmin = await projectAdminAuth(c, ACME);
  const otherAdmin = await projectAdminAuth(c, OTHER);
  const made = await c.admin.createInitialAccessToken({ ...ACME, description: "by the shop's admin" }, shopAdmin);
  t.is((await c.admin.listInitialAccessTokens(ACME, shopAdmin)).initialAccessTokens.length, 1);
  await expectCode(t, c.admin.createInitialAccessToken({ ...ACME }, otherAdmin), Code.PermissionDenied, "create in another project");
  await expectCode(t, c.admin.listInitialAccessTokens(ACME, otherAdmin), Code.PermissionDenied, "list another project's");
  await expectCode(t, c.admin.revokeInitialAccessToken({ ...ACME, id: made.initialAccessToken!.id }, otherAdmin), Code.PermissionDenied, "revoke another's");
  await expectCode(t, c.admin.revokeInitialAccessToken({ ...OTHER, id: made.initialAccessToken!.id }, otherAdmin), Code.NotFound, "its id in the wrong project");
  t.deepEqual((await c.admin.listInitialAccessTokens(OTHER, otherAdmin)).initialAccessTokens, []);
  t.is((await c.admin.listInitialAccessTokens(ACME, c.auth)).initialAccessTokens.length, 1, "still there");
  await expectCode(t, c.admin.createInitialAccessToken({ organization: "acme", project: "nope" }, c.auth), Code.NotFound);
});
