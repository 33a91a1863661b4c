/**
 * The contract of protected resources (ResourceStore, RFC 8707) as tests any
 * backend must pass: `resourceContract(backend)` registers them, titled
 * `${name}: ...`. Not a test file itself.
 */
import { AlreadyExists, type ProjectRef, type ResourceRecord } from "../../core/store/types.js";
import { seedProject } from "./par-contract.js";
import { clientRecord, codeRecord, grantRecord, requestRecord, userRecord, contractTests, type StoreBackend } from "./contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** A project of another organization with the same project id. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };


const resource = (ref: ProjectRef, uri: string, scopes = ["notes.items.read"]): ResourceRecord => ({ ...ref, uri, name: `API ${uri}`, scopes, createdAt: 3 });

export function resourceContract(backend: StoreBackend): void {
  const it = contractTests(backend, async (store) => {
    await seedProject(store, A, []);
    await seedProject(store, B, []);
  });

  it("a resource is read back as written, listed by URI a page at a time, updated and deleted", async (t, store) => {
    await store.createResource(resource(A, "https://b.example/mcp", ["notes.items.read", "notes.items.write"]));
    await store.createResource(resource(A, "https://a.example/api"));
    await store.createResource(resource(A, "https://c.example"));
    t.deepEqual(await store.getResource(A, "https://b.example/mcp"), resource(A, "https://b.example/mcp", ["notes.items.read", "notes.items.write"]));
    t.is(await store.getResource(B, "https://b.example/mcp"), undefined, "another project's resource is not found");
    const first = await store.listResources(A, { after: "", limit: 2 });
    t.deepEqual(first.map((r) => r.uri), ["https://a.example/api", "https://b.example/mcp"]);
    const rest = await store.listResources(A, { after: first[1]!.uri, limit: 2 });
    t.deepEqual(rest.map((r) => r.uri), ["https://c.example"]);
    t.deepEqual(await store.listResources(B, { after: "", limit: 10 }), []);

    t.true(await store.updateResource({ ...resource(A, "https://a.example/api", ["notes.items.write"]), name: "Renamed" }));
    t.like(await store.getResource(A, "https://a.example/api"), { name: "Renamed", scopes: ["notes.items.write"], createdAt: 3 });
    t.false(await store.updateResource(resource(B, "https://a.example/api")), "no such resource in B");

    t.true(await store.deleteResource(A, "https://a.example/api"));
    t.false(await store.deleteResource(A, "https://a.example/api"));
    t.is(await store.getResource(A, "https://a.example/api"), undefined);
  });

  it("a URI names one resource across projects: registering it again, anywhere, is AlreadyExists", async (t, store) => {
    await store.createResource(resource(A, "https://mcp.example/"));
    await t.throwsAsync(store.createResource(resource(A, "https://mcp.example/")), { instanceOf: AlreadyExists });
    await t.throwsAsync(store.createResource(resource(B, "https://mcp.example/")), { instanceOf: AlreadyExists });
    t.is(await store.getResource(B, "https://mcp.example/"), undefined, "the refused one left nothing");
  });

  it("a resource moves the change epoch (what is kept in memory of it is dropped), and goes with its project", async (t, store) => {
    const before = await store.getChangeEpoch();
    await store.createResource(resource(A, "https://mcp.example/"));
    const afterCreate = await store.getChangeEpoch();
    t.not(afterCreate, before);
    // Read through the cache, then changed: the next read sees the change.
    t.deepEqual((await store.getResource(A, "https://mcp.example/"))?.scopes, ["notes.items.read"]);
    await store.updateResource(resource(A, "https://mcp.example/", ["notes.items.write"]));
    t.deepEqual((await store.getResource(A, "https://mcp.example/"))?.scopes, ["notes.items.write"]);
    await store.deleteProject(A);
    t.is(await store.getResource(A, "https://mcp.example/"), undefined);
    await store.createResource(resource(B, "https://mcp.example/"));
    t.like(await store.getResource(B, "https://mcp.example/"), { organization: "org-b" });
  });

  it("an authorization request, its code and its grant keep the resources they are for, in order; none by default", async (t, store) => {
    await store.createClient(clientRecord(A, "web"));
    await store.createUser(userRecord(A, "alice"));
    const resources = ["https://b.example/mcp", "https://a.example/api"];
    await store.createAuthorizationRequest(requestRecord(A, "req-1", { resources }));
    await store.createAuthorizationRequest(requestRecord(A, "req-2"));
    t.deepEqual((await store.getAuthorizationRequest("req-1"))?.resources, resources);
    t.deepEqual((await store.getAuthorizationRequest("req-2"))?.resources, []);
    await store.createAuthorizationCode(codeRecord(A, "code-1", { resources }));
    await store.createAuthorizationCode(codeRecord(A, "code-2"));
    t.deepEqual((await store.getAuthorizationCode("code-1"))?.resources, resources);
    t.deepEqual((await store.getAuthorizationCode("code-2"))?.resources, []);
    await store.createGrant(grantRecord(A, "grant-1", { resources }));
    await store.createGrant(grantRecord(A, "grant-2"));
    t.deepEqual((await store.getGrant("grant-1"))?.resources, resources);
    t.deepEqual((await store.getGrant("grant-2"))?.resources, []);
  });
}
