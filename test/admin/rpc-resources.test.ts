/**
 * AdminService: protected resources (RFC 8707): Create/Get/List/Update/Delete,
 * the rules on their URIs and scopes, who may register them, and the audit
 * trail of each change.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { ACME, createTenant, expectCode, projectAdminAuth, READ, startAdmin, WRITE, type AdminTest } from "./rpc-support.js";
import { BASE_URL } from "../helpers.js";

const OTHER = { organization: "acme", project: "other" };
const MCP = "https://mcp.acme.example/mcp";

async function tenant(t: import("ava").ExecutionContext): Promise<AdminTest> {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await createTenant(c, OTHER);
  for (const ref of [ACME, OTHER]) {
    await c.admin.createPermission({ ...ref, permissionId: READ, description: "Read orders" }, c.auth);
    await c.admin.createPermission({ ...ref, permissionId: WRITE, description: "Change orders" }, c.auth);
  }
  return c;
}

test("CreateResource registers a resource that Get and List answer, ordered by URI, a page at a time", async (t) => {
  const c = await tenant(t);
  const res = await c.admin.createResource({ ...ACME, uri: MCP, name: "Orders MCP", scopes: [WRITE, READ, READ] }, c.auth);
  t.like(res.resource, { organization: "acme", project: "shop", uri: MCP, name: "Orders MCP", scopes: [READ, WRITE] });
  t.true(res.resource!.createdAt > 0n);
  await c.admin.createResource({ ...ACME, uri: "https://api.acme.example", scopes: [READ] }, c.auth);
  await c.admin.createResource({ ...ACME, uri: "http://localhost:8080/mcp", scopes: [READ] }, c.auth);

  t.deepEqual((await c.admin.getResource({ ...ACME, uri: MCP }, c.auth)).resource?.scopes, [READ, WRITE]);
  const first = await c.admin.listResources({ ...ACME, pageSize: 2 }, c.auth);
  t.deepEqual(first.resources.map((r) => r.uri), ["http://localhost:8080/mcp", "https://api.acme.example"]);
  const rest = await c.admin.listResources({ ...ACME, pageSize: 2, pageToken: first.nextPageToken }, c.auth);
  t.deepEqual(rest.resources.map((r) => r.uri), [MCP]);
  t.is(rest.nextPageToken, "");
  t.deepEqual((await c.admin.listResources(OTHER, c.auth)).resources, [], "another project has none");
  await expectCode(t, c.admin.getResource({ ...OTHER, uri: MCP }, c.auth), Code.NotFound, "another project's resource");
});

test("a resource URI is refused unless absolute, https (http on loopback), canonical, without user info, query or fragment", async (t) => {
  const c = await tenant(t);
  const refused: [string, string][] = [
    ["", "empty"],
    ["mcp.acme.example/mcp", "relative"],
    ["https://mcp.acme.example/mcp#frag", "a fragment"],
    ["https://user:pw@mcp.acme.example/mcp", "user info"],
    ["https://user@mcp.acme.example/mcp", "a user name"],
    ["https://mcp.acme.example/mcp?tenant=a", "a query"],
    ["http://mcp.acme.example/mcp", "plain http on a public host"],
    ["ftp://mcp.acme.example/mcp", "another scheme"],
    ["urn:acme:orders", "a URN"],
    ["https://MCP.acme.example/mcp", "an uppercase host"],
    ["https://mcp.acme.example:443/mcp", "the default port"],
    ["https://mcp.acme.example/a/../mcp", "dot segments"],
    ["https://mcp.acme.example/m cp", "white space"],
    [`https://mcp.acme.example/${"a".repeat(2048)}`, "too long"],
    [`${BASE_URL}/services/oauth2/acme/shop`, "iam-core's own issuer"],
  ];
  for (const [uri, what] of refused) {
    const err = await expectCode(t, c.admin.createResource({ ...ACME, uri, scopes: [READ] }, c.auth), Code.InvalidArgument, what);
    t.regex(err?.rawMessage ?? "", /uri/, `${what}: the message names the field`);
  }
  t.deepEqual((await c.admin.listResources(ACME, c.auth)).resources, [], "nothing was registered");
});

test("a resource's scopes are known permissions of its project, at least one; a URI names one resource across projects", async (t) => {
  const c = await tenant(t);
  await expectCode(t, c.admin.createResource({ ...ACME, uri: MCP, scopes: [] }, c.auth), Code.InvalidArgument, "no scope");
  const unknown = await expectCode(t, c.admin.createResource({ ...ACME, uri: MCP, scopes: [READ, "shop.orders.ship"] }, c.auth), Code.InvalidArgument, "unknown");
  t.regex(unknown?.rawMessage ?? "", /shop\.orders\.ship/);
  await expectCode(t, c.admin.createResource({ ...ACME, uri: MCP, scopes: ["openid"] }, c.auth), Code.InvalidArgument, "an OpenID scope");
  await c.admin.createResource({ ...ACME, uri: MCP, scopes: [READ] }, c.auth);
  await expectCode(t, c.admin.createResource({ ...ACME, uri: MCP, scopes: [READ] }, c.auth), Code.AlreadyExists, "again");
  await expectCode(t, c.admin.createResource({ ...OTHER, uri: MCP, scopes: [READ] }, c.auth), Code.AlreadyExists, "in another project");
  await expectCode(t, c.admin.createResource({ organization: "acme", project: "nope", uri: "https://x.example", scopes: [READ] }, c.auth), Code.NotFound, "no project");
});

test("UpdateResource changes name and scopes as the mask says; DeleteResource removes it", async (t) => {
  const c = await tenant(t);
  await c.admin.createResource({ ...ACME, uri: MCP, name: "Orders", scopes: [READ] }, c.auth);
  const renamed = await c.admin.updateResource({ ...ACME, uri: MCP, name: "Orders API", scopes: [WRITE], updateMask: { paths: ["name"] } }, c.auth);
  t.like(renamed.resource, { name: "Orders API", scopes: [READ] });
  const rescoped = await c.admin.updateResource({ ...ACME, uri: MCP, scopes: [WRITE, READ], updateMask: { paths: ["scopes"] } }, c.auth);
  t.like(rescoped.resource, { name: "Orders API", scopes: [READ, WRITE] });
  await expectCode(t, c.admin.updateResource({ ...ACME, uri: MCP, scopes: [], updateMask: { paths: ["scopes"] } }, c.auth), Code.InvalidArgument, "no scopes");
  await expectCode(t, c.admin.updateResource({ ...ACME, uri: MCP, updateMask: { paths: ["uri"] } }, c.auth), Code.InvalidArgument, "the URI is not a field to change");
  await expectCode(t, c.admin.updateResource({ ...ACME, uri: "https://none.example", name: "x", updateMask: { paths: ["name"] } }, c.auth), Code.NotFound);
  await c.admin.deleteResource({ ...ACME, uri: MCP }, c.auth);
  await expectCode(t, c.admin.getResource({ ...ACME, uri: MCP }, c.auth), Code.NotFound);
  await expectCode(t, c.admin.deleteResource({ ...ACME, uri: MCP }, c.auth), Code.NotFound, "twice");
});

test("a project's administrator registers its resources and no other project's; each change is in the project's audit trail", async (t) => {
  const c = await tenant(t);
  const shopAdmin = await projectAdminAuth(c, ACME);
  await c.admin.createResource({ ...ACME, uri: MCP, scopes: [READ] }, shopAdmin);
  await expectCode(t, c.admin.createResource({ ...OTHER, uri: "https://other.example", scopes: [READ] }, shopAdmin), Code.PermissionDenied);
  await expectCode(t, c.admin.listResources(OTHER, shopAdmin), Code.PermissionDenied);
  await c.admin.updateResource({ ...ACME, uri: MCP, scopes: [READ, WRITE], updateMask: { paths: ["scopes"] } }, shopAdmin);
  await c.admin.deleteResource({ ...ACME, uri: MCP }, shopAdmin);

  const events = (await c.core.deps.store.listAuditEvents(ACME, {}, { after: 0, limit: 1000 })).filter((e) => e.action.startsWith("RESOURCE_"));
  t.deepEqual(
    events.map((e) => [e.action, e.outcome, e.target]),
    [
      ["RESOURCE_CREATED", "success", { kind: "resource", id: MCP, project: "" }],
      ["RESOURCE_UPDATED", "success", { kind: "resource", id: MCP, project: "" }],
      ["RESOURCE_DELETED", "success", { kind: "resource", id: MCP, project: "" }],
    ],
  );
  t.deepEqual(events[1]!.changes, [{ field: "scopes", before: JSON.stringify([READ]), after: JSON.stringify([READ, WRITE]) }]);
  const refused = (await c.core.deps.store.listAuditEvents(OTHER, {}, { after: 0, limit: 1000 })).filter((e) => e.action === "RESOURCE_CREATED");
  t.deepEqual(refused.map((e) => [e.outcome, e.reason]), [["failure", "permission_denied"]], "the refused attempt is in the other project's trail");
});
