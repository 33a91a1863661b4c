/**
 * The contract of client ID metadata documents in the store: the projects'
 * `clientIdMetadataDocuments`, the clients' `metadataDocument`, and the
 * administrators' rules (ClientMetadataDocumentRuleStore), as tests that any
 * backend must pass: `metadataDocumentContract(backend)` registers them,
 * titled `${name}: ...`, beside the store contract (contract.ts). Not a test
 * file itself.
 */
import test, { type ExecutionContext } from "ava";
import type { ProjectRef, Store } from "../../core/store/types.js";
import { clientRecord, type StoreBackend } from "./contract.js";
import { seedProject } from "./par-contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** A project of another organization with the same project id. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };
const URL_A = "https://agent.example/client.json";

export function metadataDocumentContract(backend: StoreBackend): void {
  const it = (title: string, body: (t: ExecutionContext, store: Store) => Promise<void>) =>
    test(`${backend.name}: ${title}`, async (t) => {
      const store = await backend.open(t);
      await seedProject(store, A);
      await seedProject(store, B);
      await body(t, store);
    });

  it("a project accepts metadata documents only once updateProject says so, and keeps it through other updates", async (t, store) => {
    t.falsy((await store.getProject(A))!.clientIdMetadataDocuments);
    t.true(await store.updateProject(A, { name: "A", audience: "https://api.example/a", clientIdMetadataDocuments: true }));
    t.true((await store.getProject(A))!.clientIdMetadataDocuments);
    t.true(await store.updateProject(A, { name: "A2", audience: "https://api.example/a" }));
    t.true((await store.getProject(A))!.clientIdMetadataDocuments);
    t.falsy((await store.getProject(B))!.clientIdMetadataDocuments);
  });

  it("a client is a metadata document's as created, and stays so through updateClient", async (t, store) => {
    await store.createClient({ ...clientRecord(A, URL_A), metadataDocument: true });
    t.true((await store.getClient(A, URL_A))!.metadataDocument);
    t.falsy((await store.getClient(A, "web"))!.metadataDocument);
    t.true(await store.updateClient({ ...(await store.getClient(A, URL_A))!, name: "Renamed", metadataDocument: false }));
    const after = (await store.getClient(A, URL_A))!;
    t.is(after.name, "Renamed");
    t.true(after.metadataDocument);
  });

  it("a URL's rule is set, replaced, listed by URL, read and deleted, in its project only", async (t, store) => {
    const later = "https://b.example/client.json";
    await store.putClientMetadataDocumentRule({ ...A, url: later, action: "block", document: "", createdAt: 10 });
    await store.putClientMetadataDocumentRule({ ...A, url: URL_A, action: "block", document: "", createdAt: 11 });
    await store.putClientMetadataDocumentRule({ ...A, url: URL_A, action: "pin", document: '{"client_id":"x"}', createdAt: 12 });
    t.deepEqual(await store.getClientMetadataDocumentRule(A, URL_A), { ...A, url: URL_A, action: "pin", document: '{"client_id":"x"}', createdAt: 12 });
    t.deepEqual((await store.listClientMetadataDocumentRules(A)).map((r) => [r.url, r.action]), [
      [URL_A, "pin"],
      [later, "block"],
    ]);
    t.is(await store.getClientMetadataDocumentRule(B, URL_A), undefined);
    t.deepEqual(await store.listClientMetadataDocumentRules(B), []);
    t.false(await store.deleteClientMetadataDocumentRule(B, URL_A));
    t.true(await store.deleteClientMetadataDocumentRule(A, URL_A));
    t.false(await store.deleteClientMetadataDocumentRule(A, URL_A));
    t.is(await store.getClientMetadataDocumentRule(A, URL_A), undefined);
  });

  it("a project's rules go with the project", async (t, store) => {
    await store.putClientMetadataDocumentRule({ ...A, url: URL_A, action: "block", document: "", createdAt: 10 });
    t.true(await store.deleteProject(A));
    await seedProject(store, A);
    t.deepEqual(await store.listClientMetadataDocumentRules(A), []);
  });
}
