/**
 * AdminService: organizations and projects (Create/Get/List/Update/Delete),
 * as a global administrator, through the in-memory Connect transport.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import type { ProjectRef } from "../../core/store/types.js";
import {
  ACME,
  ALICE,
  clientToken,
  createApp,
  createTenant,
  expectCode,
  expectOAuth,
  fullTenant,
  issuerOf,
  refresh,
  startAdmin,
  userTokens,
  verify,
  type AdminTest,
} from "./rpc-support.js";

const nowSeconds = (c: AdminTest) => BigInt(Math.floor(c.clock.now() / 1000));

/** Ids that break `1-63 lowercase letters, digits and '-', starting with a letter or digit`. */
const BAD_TENANT_IDS: [string, string][] = [
  ["empty", ""],
  ["leading hyphen", "-acme"],
  ["uppercase", "Acme"],
  ["underscore", "ac_me"],
  ["dot", "ac.me"],
  ["space", "ac me"],
  ["slash", "ac/me"],
  ["non-ASCII letter", "acmé"],
  ["trailing newline", "acme\n"],
  ["64 characters", "a".repeat(64)],
];
const GOOD_TENANT_IDS = ["a", "0rg", "a-", "x-1-y", "a".repeat(63)];

// --- organizations ---------------------------------------------------------

test("CreateOrganization creates an organization that GetOrganization answers; the name defaults to the id", async (t) => {
  const c = await startAdmin(t);
  const created = await c.admin.createOrganization({ id: "acme", name: "Acme Corp" }, c.auth);
  t.is(created.organization?.id, "acme");
  t.is(created.organization?.name, "Acme Corp");
  t.is(created.organization?.createdAt, nowSeconds(c));
  const got = await c.admin.getOrganization({ id: "acme" }, c.auth);
  t.is(got.organization?.id, "acme");
  t.is(got.organization?.name, "Acme Corp");
  t.is(got.organization?.createdAt, nowSeconds(c));

  const unnamed = await c.admin.createOrganization({ id: "globex" }, c.auth);
  t.is(unnamed.organization?.name, "globex");
  t.is((await c.admin.getOrganization({ id: "globex" }, c.auth)).organization?.name, "globex");
});

test("CreateOrganization refuses ids that break the rules with InvalidArgument and accepts those that keep them", async (t) => {
  const c = await startAdmin(t);
  for (const [what, id] of BAD_TENANT_IDS) {
    await expectCode(t, c.admin.createOrganization({ id }, c.auth), Code.InvalidArgument, `organization id ${what}`);
  }
  for (const id of GOOD_TENANT_IDS) {
    const res = await c.admin.createOrganization({ id }, c.auth);
    t.is(res.organization?.id, id);
  }
  const listed = (await c.admin.listOrganizations({ pageSize: 1000 }, c.auth)).organizations.map((o) => o.id);
  t.deepEqual(listed, [...GOOD_TENANT_IDS, "iam-admins"].sort(), "only the valid ones were created");
});

test("CreateOrganization of an existing id is AlreadyExists", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await expectCode(t, c.admin.createOrganization({ id: "acme", name: "Other" }, c.auth), Code.AlreadyExists, "acme again");
  await expectCode(t, c.admin.createOrganization({ id: "iam-admins" }, c.auth), Code.AlreadyExists, "iam-admins");
  t.is((await c.admin.getOrganization({ id: "acme" }, c.auth)).organization?.name, "acme", "the first one is kept");
});

test("GetOrganization of a missing organization is NotFound", async (t) => {
  const c = await startAdmin(t);
  await expectCode(t, c.admin.getOrganization({ id: "nope" }, c.auth), Code.NotFound);
  t.is((await c.admin.getOrganization({ id: "iam-admins" }, c.auth)).organization?.id, "iam-admins");
});

test("UpdateOrganization changes the name; a missing organization is NotFound", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme", name: "Acme" }, c.auth);
  const created = (await c.admin.getOrganization({ id: "acme" }, c.auth)).organization!;
  c.clock.advance(100);
  const updated = await c.admin.updateOrganization({ id: "acme", name: "Acme Corporation" }, c.auth);
  t.is(updated.organization?.id, "acme");
  t.is(updated.organization?.name, "Acme Corporation");
  t.is(updated.organization?.createdAt, created.createdAt, "creation time unchanged");
  t.is((await c.admin.getOrganization({ id: "acme" }, c.auth)).organization?.name, "Acme Corporation");
  await expectCode(t, c.admin.updateOrganization({ id: "nope", name: "Nope" }, c.auth), Code.NotFound);
});

test("DeleteOrganization refuses iam-admins with FailedPrecondition; a missing organization is NotFound", async (t) => {
  const c = await startAdmin(t);
  await expectCode(t, c.admin.deleteOrganization({ id: "iam-admins" }, c.auth), Code.FailedPrecondition);
  t.is((await c.admin.getOrganization({ id: "iam-admins" }, c.auth)).organization?.id, "iam-admins", "still there");
  t.true((await verify(c, c.adminToken)).active, "global administration still works");
  await expectCode(t, c.admin.deleteOrganization({ id: "nope" }, c.auth), Code.NotFound);
});

test("DeleteOrganization removes the organization", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await c.admin.createOrganization({ id: "globex" }, c.auth);
  await c.admin.deleteOrganization({ id: "acme" }, c.auth);
  await expectCode(t, c.admin.getOrganization({ id: "acme" }, c.auth), Code.NotFound);
  const listed = (await c.admin.listOrganizations({}, c.auth)).organizations.map((o) => o.id);
  t.deepEqual(listed, ["globex", "iam-admins"]);
  await expectCode(t, c.admin.deleteOrganization({ id: "acme" }, c.auth), Code.NotFound, "deleting twice");
});

test("ListOrganizations is ordered by id and paginated: 8 organizations, page_size 3, three pages", async (t) => {
  const c = await startAdmin(t);
  const ids = ["delta", "alpha", "golf", "charlie", "echo", "bravo", "foxtrot"];
  for (const id of ids) await c.admin.createOrganization({ id }, c.auth);
  const all = [...ids, "iam-admins"].sort();

  const pages: string[][] = [];
  const tokens: string[] = [];
  let pageToken = "";
  do {
    const res = await c.admin.listOrganizations({ pageSize: 3, pageToken }, c.auth);
    pages.push(res.organizations.map((o) => o.id));
    tokens.push(res.nextPageToken);
    pageToken = res.nextPageToken;
  } while (pageToken !== "" && pages.length < 10);

  t.is(pages.length, 3);
  t.deepEqual(
    pages.map((p) => p.length),
    [3, 3, 2],
  );
  t.not(tokens[0], "");
  t.not(tokens[1], "");
  t.not(tokens[0], tokens[1]);
  t.is(tokens[2], "", "the last page has no next_page_token");
  const flat = pages.flat();
  t.deepEqual(flat, all, "ordered by id, every one once");
  t.is(new Set(flat).size, flat.length, "no duplicates");
});

test("ListOrganizations: a page ending on the last organization has an empty token; default and large page sizes answer all", async (t) => {
  const c = await startAdmin(t);
  for (const id of ["b", "c", "d", "e", "f", "g", "h"]) await c.admin.createOrganization({ id }, c.auth);
  // 8 organizations with iam-admins.
  const first = await c.admin.listOrganizations({ pageSize: 4 }, c.auth);
  t.deepEqual(
    first.organizations.map((o) => o.id),
    ["b", "c", "d", "e"],
  );
  t.not(first.nextPageToken, "");
  const second = await c.admin.listOrganizations({ pageSize: 4, pageToken: first.nextPageToken }, c.auth);
  t.deepEqual(
    second.organizations.map((o) => o.id),
    ["f", "g", "h", "iam-admins"],
  );
  t.is(second.nextPageToken, "");

  const exact = await c.admin.listOrganizations({ pageSize: 8 }, c.auth);
  t.is(exact.organizations.length, 8);
  t.is(exact.nextPageToken, "");

  const byDefault = await c.admin.listOrganizations({}, c.auth);
  t.is(byDefault.organizations.length, 8);
  t.is(byDefault.nextPageToken, "");

  const huge = await c.admin.listOrganizations({ pageSize: 5000 }, c.auth);
  t.is(huge.organizations.length, 8, "a page_size above 1000 is capped, not refused");
  t.is(huge.nextPageToken, "");
});

test("ListOrganizations refuses a negative page_size and a page_token it did not issue with InvalidArgument", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await expectCode(t, c.admin.listOrganizations({ pageSize: -1 }, c.auth), Code.InvalidArgument, "page_size -1");
  for (const pageToken of ["!!!", "not a token", Buffer.from("bad id!").toString("base64url"), "YWNtZQ==", Buffer.from("a".repeat(201)).toString("base64url")]) {
    await expectCode(t, c.admin.listOrganizations({ pageToken }, c.auth), Code.InvalidArgument, `page_token ${pageToken}`);
  }
});

// --- projects --------------------------------------------------------------

test("CreateProject creates a project with its signing keys (ES256 and RS256), the iam.project.admin permission and the project-admin role", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await expectCode(t, c.tokens.getJwks(ACME), Code.NotFound, "no key before");
  const res = await c.admin.createProject({ organization: "acme", id: "shop" }, c.auth);
  const issuer = issuerOf(ACME);
  t.like(res.project, { organization: "acme", id: "shop", name: "shop", audience: issuer, issuer, accessTokenSigningAlg: "ES256", createdAt: nowSeconds(c) });

  const got = await c.admin.getProject(ACME, c.auth);
  t.like(got.project, { organization: "acme", id: "shop", name: "shop", audience: issuer, issuer, accessTokenSigningAlg: "ES256" });

  const jwks = await c.tokens.getJwks(ACME);
  t.is(jwks.keys.length, 2);
  t.like(jwks.keys[0], { kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
  t.like(jwks.keys[1], { kty: "RSA", alg: "RS256", use: "sig" });
  t.truthy(jwks.keys[0]?.kid);
  t.truthy(jwks.keys[1]?.kid);

  const permissions = await c.admin.listPermissions(ACME, c.auth);
  t.deepEqual(
    permissions.permissions.map((p) => p.id),
    ["iam.project.admin"],
  );
  const roles = await c.admin.listRoles(ACME, c.auth);
  t.deepEqual(
    roles.roles.map((r) => [r.id, r.permissions]),
    [["project-admin", ["iam.project.admin"]]],
  );
});

test("CreateProject takes a name and an audience", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  const res = await c.admin.createProject({ organization: "acme", id: "shop", name: "The Shop", audience: "https://api.shop.example" }, c.auth);
  t.like(res.project, { name: "The Shop", audience: "https://api.shop.example", issuer: issuerOf(ACME) });
  t.like((await c.admin.getProject(ACME, c.auth)).project, { name: "The Shop", audience: "https://api.shop.example" });
});

test("CreateProject refuses project ids that break the rules with InvalidArgument and accepts those that keep them", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  for (const [what, id] of BAD_TENANT_IDS) {
    await expectCode(t, c.admin.createProject({ organization: "acme", id }, c.auth), Code.InvalidArgument, `project id ${what}`);
  }
  for (const id of GOOD_TENANT_IDS) {
    const res = await c.admin.createProject({ organization: "acme", id }, c.auth);
    t.is(res.project?.id, id);
  }
  const listed = (await c.admin.listProjects({ organization: "acme", pageSize: 1000 }, c.auth)).projects.map((p) => p.id);
  t.deepEqual(listed, [...GOOD_TENANT_IDS].sort());
});

test("CreateProject in a missing organization is NotFound; a duplicate is AlreadyExists; the same id elsewhere is another project", async (t) => {
  const c = await startAdmin(t);
  await expectCode(t, c.admin.createProject({ organization: "nope", id: "shop" }, c.auth), Code.NotFound, "missing organization");
  await createTenant(c, ACME);
  const kids = (await c.tokens.getJwks(ACME)).keys.map((k) => k.kid);
  const key = kids[0]!;
  await expectCode(t, c.admin.createProject({ organization: "acme", id: "shop" }, c.auth), Code.AlreadyExists, "duplicate");
  await expectCode(t, c.admin.createProject({ organization: "iam-admins", id: "iam-admins" }, c.auth), Code.AlreadyExists, "iam-admins");
  t.deepEqual(
    (await c.tokens.getJwks(ACME)).keys.map((k) => k.kid),
    kids,
    "the refused duplicate added no key",
  );
  t.deepEqual(
    (await c.admin.listRoles(ACME, c.auth)).roles.map((r) => r.id),
    ["project-admin"],
  );

  await c.admin.createOrganization({ id: "globex" }, c.auth);
  const other = await c.admin.createProject({ organization: "globex", id: "shop" }, c.auth);
  t.is(other.project?.issuer, issuerOf({ organization: "globex", project: "shop" }));
  const otherKey = (await c.tokens.getJwks({ organization: "globex", project: "shop" })).keys[0]!.kid;
  t.not(otherKey, key, "each project has its own key");
});

test("GetProject of a missing project or organization is NotFound", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await expectCode(t, c.admin.getProject({ organization: "acme", project: "nope" }, c.auth), Code.NotFound, "missing project");
  await expectCode(t, c.admin.getProject({ organization: "nope", project: "shop" }, c.auth), Code.NotFound, "missing organization");
  t.is((await c.admin.getProject({ organization: "iam-admins", project: "iam-admins" }, c.auth)).project?.id, "iam-admins");
});

test("ListProjects answers an organization's projects ordered by id, paginated; a missing organization is NotFound", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await c.admin.createOrganization({ id: "globex" }, c.auth);
  const ids = ["p5", "p1", "p4", "p2", "p3"];
  for (const id of ids) await c.admin.createProject({ organization: "acme", id }, c.auth);
  await c.admin.createProject({ organization: "globex", id: "p0" }, c.auth);

  const seen: string[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const res = await c.admin.listProjects({ organization: "acme", pageSize: 2, pageToken }, c.auth);
    t.true(res.projects.length <= 2);
    for (const p of res.projects) {
      t.is(p.organization, "acme");
      t.is(p.issuer, issuerOf({ organization: "acme", project: p.id }));
    }
    seen.push(...res.projects.map((p) => p.id));
    pageToken = res.nextPageToken;
    pages++;
  } while (pageToken !== "" && pages < 10);
  t.is(pages, 3);
  t.deepEqual(seen, ["p1", "p2", "p3", "p4", "p5"]);

  t.deepEqual(
    (await c.admin.listProjects({ organization: "globex" }, c.auth)).projects.map((p) => p.id),
    ["p0"],
  );
  await expectCode(t, c.admin.listProjects({ organization: "nope" }, c.auth), Code.NotFound, "missing organization");
  await expectCode(t, c.admin.listProjects({ organization: "acme", pageSize: -5 }, c.auth), Code.InvalidArgument, "negative page_size");
  await expectCode(t, c.admin.listProjects({ organization: "acme", pageToken: "%%%" }, c.auth), Code.InvalidArgument, "bad page_token");
});

test("UpdateProject with update_mask name changes only the name", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const res = await c.admin.updateProject(
    { ...ACME, name: "The Shop", audience: "https://ignored.example", updateMask: { paths: ["name"] } },
    c.auth,
  );
  t.like(res.project, { organization: "acme", id: "shop", name: "The Shop", audience: issuerOf(ACME) });
  t.like((await c.admin.getProject(ACME, c.auth)).project, { name: "The Shop", audience: issuerOf(ACME) });
});

test("UpdateProject audience changes the aud of new access tokens", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const app = await createApp(c, ACME, { grantTypes: ["client_credentials"], redirectUris: [] });
  const before = await clientToken(c, ACME, app.id, app.secret);
  t.is(decodeJwt(before.accessToken).aud, issuerOf(ACME));

  const res = await c.admin.updateProject({ ...ACME, audience: "https://api.shop.example", updateMask: { paths: ["audience"] } }, c.auth);
  t.like(res.project, { name: "shop", audience: "https://api.shop.example" });
  t.like((await c.admin.getProject(ACME, c.auth)).project, { name: "shop", audience: "https://api.shop.example" });

  const after = await clientToken(c, ACME, app.id, app.secret);
  t.is(decodeJwt(after.accessToken).aud, "https://api.shop.example");
  const verified = await c.tokens.verifyToken({ token: after.accessToken, audience: "https://api.shop.example" });
  t.true(verified.active);
  t.deepEqual(verified.audience, ["https://api.shop.example"]);
  const old = await c.tokens.verifyToken({ token: after.accessToken, audience: issuerOf(ACME) });
  t.false(old.active);
  t.is(old.failure, TokenFailure.AUDIENCE);

  const both = await c.admin.updateProject({ ...ACME, name: "Shop", audience: "urn:shop", updateMask: { paths: ["name", "audience"] } }, c.auth);
  t.like(both.project, { name: "Shop", audience: "urn:shop" });
});

test("a project's access tokens are ES256 unless it chooses RS256 at creation or by UpdateProject; tokens of the other algorithm keep verifying", async (t) => {
  const c = await startAdmin(t);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  const created = await c.admin.createProject({ organization: "acme", id: "shop", accessTokenSigningAlg: "RS256" }, c.auth);
  t.is(created.project?.accessTokenSigningAlg, "RS256");
  t.is((await c.admin.getProject(ACME, c.auth)).project?.accessTokenSigningAlg, "RS256");
  t.deepEqual(
    (await c.admin.listProjects({ organization: "acme" }, c.auth)).projects.map((p) => [p.id, p.accessTokenSigningAlg]),
    [["shop", "RS256"]],
  );
  const app = await createApp(c, ACME, { grantTypes: ["client_credentials"], redirectUris: [] });
  const [es256, rs256] = (await c.tokens.getJwks(ACME)).keys;
  const rsToken = (await clientToken(c, ACME, app.id, app.secret)).accessToken;
  t.like(decodeProtectedHeader(rsToken), { alg: "RS256", kid: rs256!.kid });
  t.true((await verify(c, rsToken)).active);

  const updated = await c.admin.updateProject({ ...ACME, accessTokenSigningAlg: "ES256", updateMask: { paths: ["access_token_signing_alg"] } }, c.auth);
  t.like(updated.project, { name: "shop", audience: issuerOf(ACME), accessTokenSigningAlg: "ES256" });
  const esToken = (await clientToken(c, ACME, app.id, app.secret)).accessToken;
  t.like(decodeProtectedHeader(esToken), { alg: "ES256", kid: es256!.kid });
  t.true((await verify(c, esToken)).active);
  t.true((await verify(c, rsToken)).active, "a token of the former algorithm verifies until it expires");

  await c.admin.updateProject({ ...ACME, accessTokenSigningAlg: "RS256", updateMask: { paths: ["access_token_signing_alg"] } }, c.auth);
  const reset = await c.admin.updateProject({ ...ACME, accessTokenSigningAlg: "", updateMask: { paths: ["access_token_signing_alg"] } }, c.auth);
  t.is(reset.project?.accessTokenSigningAlg, "ES256", "empty means the default");
  const other = await c.admin.updateProject({ ...ACME, name: "Shop", accessTokenSigningAlg: "RS256", updateMask: { paths: ["name"] } }, c.auth);
  t.like(other.project, { name: "Shop", accessTokenSigningAlg: "ES256" }, "outside the mask the algorithm stays");

  await c.admin.createProject({ organization: "acme", id: "plain" }, c.auth);
  t.is((await c.admin.getProject({ organization: "acme", project: "plain" }, c.auth)).project?.accessTokenSigningAlg, "ES256");
});

test("CreateProject and UpdateProject refuse an access token algorithm other than ES256 and RS256 with InvalidArgument, changing nothing", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  for (const alg of ["HS256", "none", "rs256", "PS256", "EdDSA", " RS256"]) {
    const create = await expectCode(
      t,
      c.admin.createProject({ organization: "acme", id: "other", accessTokenSigningAlg: alg }, c.auth),
      Code.InvalidArgument,
      `create ${alg}`,
    );
    t.is(create?.rawMessage, "access_token_signing_alg must be RS256 or ES256");
    const update = await expectCode(
      t,
      c.admin.updateProject({ ...ACME, accessTokenSigningAlg: alg, updateMask: { paths: ["access_token_signing_alg"] } }, c.auth),
      Code.InvalidArgument,
      `update ${alg}`,
    );
    t.is(update?.rawMessage, "access_token_signing_alg must be RS256 or ES256");
  }
  await expectCode(t, c.admin.getProject({ organization: "acme", project: "other" }, c.auth), Code.NotFound, "no project was created");
  t.is((await c.admin.getProject(ACME, c.auth)).project?.accessTokenSigningAlg, "ES256");
});

test("UpdateProject refuses a missing or unknown update_mask with InvalidArgument; a missing project is NotFound", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await expectCode(t, c.admin.updateProject({ ...ACME, name: "X" }, c.auth), Code.InvalidArgument, "no update_mask");
  await expectCode(t, c.admin.updateProject({ ...ACME, name: "X", updateMask: { paths: [] } }, c.auth), Code.InvalidArgument, "empty update_mask");
  await expectCode(t, c.admin.updateProject({ ...ACME, name: "X", updateMask: { paths: ["id"] } }, c.auth), Code.InvalidArgument, "mask id");
  await expectCode(
    t,
    c.admin.updateProject({ ...ACME, name: "X", updateMask: { paths: ["name", "issuer"] } }, c.auth),
    Code.InvalidArgument,
    "mask issuer",
  );
  t.like((await c.admin.getProject(ACME, c.auth)).project, { name: "shop" }, "nothing changed");
  await expectCode(
    t,
    c.admin.updateProject({ organization: "acme", project: "nope", name: "X", updateMask: { paths: ["name"] } }, c.auth),
    Code.NotFound,
    "missing project",
  );
});

test("DeleteProject refuses iam-admins/iam-admins with FailedPrecondition; a missing project is NotFound", async (t) => {
  const c = await startAdmin(t);
  await expectCode(t, c.admin.deleteProject({ organization: "iam-admins", project: "iam-admins" }, c.auth), Code.FailedPrecondition);
  t.is((await c.tokens.getJwks({ organization: "iam-admins", project: "iam-admins" })).keys.length, 2);
  t.true((await verify(c, c.adminToken)).active);
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await expectCode(t, c.admin.deleteProject({ organization: "acme", project: "nope" }, c.auth), Code.NotFound, "missing project");
  await expectCode(t, c.admin.deleteProject({ organization: "nope", project: "shop" }, c.auth), Code.NotFound, "missing organization");
});

/** Every way the deleted tenant's objects must be gone. */
async function assertTenantGone(t: import("ava").ExecutionContext, c: AdminTest, ref: ProjectRef) {
  await expectCode(t, c.admin.getProject(ref, c.auth), Code.NotFound, "GetProject");
  await expectCode(t, c.admin.getClient({ ...ref, clientId: "web" }, c.auth), Code.NotFound, "GetClient");
  await expectCode(t, c.admin.getUser({ ...ref, userId: ALICE.id }, c.auth), Code.NotFound, "GetUser");
  await expectCode(t, c.admin.deleteRole({ ...ref, roleId: "reader" }, c.auth), Code.NotFound, "DeleteRole");
  await expectCode(t, c.admin.listRoles(ref, c.auth), Code.NotFound, "ListRoles");
  await expectCode(t, c.tokens.getJwks(ref), Code.NotFound, "GetJwks");
}

test("DeleteProject cascades: its clients, users and roles are gone, its tokens stop verifying, its JWKS is NotFound", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const user = await userTokens(c, app, ALICE);
  const machine = await clientToken(c, ACME, app.id, app.secret);
  t.true((await verify(c, user.accessToken)).active);
  t.true((await verify(c, machine.accessToken)).active);
  // A second project of the same organization is untouched.
  const SIDE = { organization: "acme", project: "side" };
  const side = await fullTenant(c, SIDE);
  const sideToken = await userTokens(c, side, ALICE);

  await c.admin.deleteProject(ACME, c.auth);

  await assertTenantGone(t, c, ACME);
  for (const [what, token] of [
    ["user access token", user.accessToken],
    ["client_credentials token", machine.accessToken],
  ] as const) {
    const res = await verify(c, token);
    t.false(res.active, what);
    t.not(res.failure, TokenFailure.UNSPECIFIED, what);
  }
  await t.throwsAsync(refresh(c, app, user.refreshToken), undefined, "the refresh token no longer works");
  await expectCode(t, c.admin.deleteProject(ACME, c.auth), Code.NotFound, "deleting twice");

  t.true((await verify(c, sideToken.accessToken)).active, "the other project's tokens still verify");
  t.is((await c.admin.getUser({ ...SIDE, userId: ALICE.id }, c.auth)).user?.id, ALICE.id);
  t.is((await c.admin.getOrganization({ id: "acme" }, c.auth)).organization?.id, "acme", "the organization stays");
});

test("a project recreated with the same id gets a new key, and the deleted project's tokens still do not verify", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const oldKid = (await c.tokens.getJwks(ACME)).keys[0]!.kid;
  const user = await userTokens(c, app, ALICE);
  const machine = await clientToken(c, ACME, app.id, app.secret);
  t.is(decodeProtectedHeader(user.accessToken).kid, oldKid);

  await c.admin.deleteProject(ACME, c.auth);
  await c.admin.createProject({ organization: "acme", id: "shop" }, c.auth);

  const keys = (await c.tokens.getJwks(ACME)).keys;
  t.is(keys.length, 2, "one key of each algorithm");
  t.not(keys[0]!.kid, oldKid, "a new key");
  for (const token of [user.accessToken, machine.accessToken]) {
    const res = await verify(c, token);
    t.false(res.active);
    t.is(res.failure, TokenFailure.INVALID);
  }
  // Nothing of the old project came back with the new one.
  await expectCode(t, c.admin.getClient({ ...ACME, clientId: "web" }, c.auth), Code.NotFound, "GetClient");
  await expectCode(t, c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth), Code.NotFound, "GetUser");
  t.deepEqual(
    (await c.admin.listRoles(ACME, c.auth)).roles.map((r) => r.id),
    ["project-admin"],
  );
  t.deepEqual(
    (await c.admin.listPermissions(ACME, c.auth)).permissions.map((p) => p.id),
    ["iam.project.admin"],
  );

  // The same client id and secret again: the old refresh token is still dead.
  await createApp(c, ACME, { secret: app.secret });
  await expectOAuth(t, refresh(c, app, user.refreshToken), "invalid_grant", Code.FailedPrecondition, "old refresh token");
  const fresh = await clientToken(c, ACME, app.id, app.secret);
  t.is(decodeProtectedHeader(fresh.accessToken).kid, keys[0]!.kid, "new tokens are signed by the new key");
  t.true((await verify(c, fresh.accessToken)).active);
});

test("DeleteOrganization cascades to all its projects: objects gone, tokens stop verifying, JWKS NotFound, even once recreated", async (t) => {
  const c = await startAdmin(t);
  const SECOND: ProjectRef = { organization: "acme", project: "second" };
  const app = await fullTenant(c, ACME);
  const app2 = await fullTenant(c, SECOND);
  const tokens = [
    (await userTokens(c, app, ALICE)).accessToken,
    (await clientToken(c, ACME, app.id, app.secret)).accessToken,
    (await userTokens(c, app2, ALICE)).accessToken,
    (await clientToken(c, SECOND, app2.id, app2.secret)).accessToken,
  ];
  const oldKids = [(await c.tokens.getJwks(ACME)).keys[0]!.kid, (await c.tokens.getJwks(SECOND)).keys[0]!.kid];
  for (const token of tokens) t.true((await verify(c, token)).active);
  // Another organization is untouched.
  const OTHER: ProjectRef = { organization: "globex", project: "shop" };
  const other = await fullTenant(c, OTHER);
  const otherToken = (await userTokens(c, other, ALICE)).accessToken;

  await c.admin.deleteOrganization({ id: "acme" }, c.auth);

  await expectCode(t, c.admin.getOrganization({ id: "acme" }, c.auth), Code.NotFound, "GetOrganization");
  await expectCode(t, c.admin.listProjects({ organization: "acme" }, c.auth), Code.NotFound, "ListProjects");
  await assertTenantGone(t, c, ACME);
  await assertTenantGone(t, c, SECOND);
  for (const token of tokens) t.false((await verify(c, token)).active, "a token of the deleted organization");
  t.true((await verify(c, otherToken)).active, "another organization's token");
  t.is((await c.admin.getClient({ ...OTHER, clientId: "web" }, c.auth)).client?.id, "web");

  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await c.admin.createProject({ organization: "acme", id: "shop" }, c.auth);
  await c.admin.createProject({ organization: "acme", id: "second" }, c.auth);
  const newKids = [(await c.tokens.getJwks(ACME)).keys[0]!.kid, (await c.tokens.getJwks(SECOND)).keys[0]!.kid];
  t.false(newKids.some((kid) => oldKids.includes(kid)), "new keys");
  for (const token of tokens) {
    const res = await verify(c, token);
    t.false(res.active, "old token under the recreated tenant");
    t.is(res.failure, TokenFailure.INVALID);
  }
  t.deepEqual((await c.admin.listPermissions(ACME, c.auth)).permissions.map((p) => p.id), ["iam.project.admin"]);
});
