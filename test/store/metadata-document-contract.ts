/**
 * The contract of client ID metadata documents in the store: the projects'
 * `clientIdMetadataDocuments`, the clients' `metadataDocument`, and the
 * administrators' rules (ClientMetadataDocumentRuleStore), as tests that any
 * backend must pass: `metadataDocumentContract(backend)` registers them,
 * titled `${name}: ...`, beside the store contract (contract.ts). Not a test
 * file itself.
 */
import { METADATA_DOCUMENT_CLIENTS_KEPT_IDLE } from "../../core/store/retention.js";
import type { ProjectRef, Store } from "../../core/store/types.js";
import { clientRecord, codeRecord, grantRecord, requestRecord, contractTests, type StoreBackend } from "./contract.js";
import { pushedRecord, seedProject } from "./par-contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** A project of another organization with the same project id. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };
const URL_A = "https://agent.example/client.json";

export function metadataDocumentContract(backend: StoreBackend): void {
  const it = contractTests(backend, async (store) => {
    await seedProject(store, A);
    await seedProject(store, B);
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

  it("a project's document clients are counted, and no other client", async (t, store) => {
    t.is(await store.countMetadataDocumentClients(A), 0);
    await store.createClient({ ...clientRecord(A, URL_A), metadataDocument: true });
    await store.createClient({ ...clientRecord(A, "https://b.example/client.json"), metadataDocument: true });
    await store.createClient({ ...clientRecord(B, URL_A), metadataDocument: true });
    await store.createClient(clientRecord(A, "https://c.example/admin-made"));
    t.is(await store.countMetadataDocumentClients(A), 2);
    t.is(await store.countMetadataDocumentClients(B), 1);
  });

  it("purgeExpired deletes a document's client a day after its admission once nothing refers to it, never another client", async (t, store) => {
    const now = 1_000_000;
    const old = now - METADATA_DOCUMENT_CLIENTS_KEPT_IDLE - 1;
    const doc = (ref: ProjectRef, id: string, createdAt = old) => store.createClient({ ...clientRecord(ref, id), type: "public", secretHash: null, metadataDocument: true, createdAt });
    const url = (name: string) => `https://agent.example/${name}.json`;
    await doc(A, url("idle"));
    await doc(B, url("idle"));
    await doc(A, url("young"), now - METADATA_DOCUMENT_CLIENTS_KEPT_IDLE);
    for (const name of ["granted", "coded", "requested", "pushed"]) await doc(A, url(name));
    await store.createClient(clientRecord(A, "admin-made", { createdAt: 0 }));
    // What refers to them, alive at `now`, gone by `later` (a code is kept an hour past its expiry).
    await store.createGrant(grantRecord(A, "g1", { clientId: url("granted"), expiresAt: now + 10 }));
    await store.createAuthorizationCode(codeRecord(A, "c1", { clientId: url("coded"), expiresAt: now + 10 }));
    await store.createAuthorizationRequest(requestRecord(A, "r1", { clientId: url("requested"), expiresAt: now + 10 }));
    await store.createPushedAuthorizationRequest(pushedRecord(A, "p1", { clientId: url("pushed"), expiresAt: now + 10 }));

    t.like(await store.purgeExpired(now), { metadata_document_clients: 2 });
    t.is(await store.getClient(A, url("idle")), undefined);
    t.is(await store.getClient(B, url("idle")), undefined);
    for (const name of ["young", "granted", "coded", "requested", "pushed"]) t.truthy(await store.getClient(A, url(name)), name);
    t.like(await store.purgeExpired(now), { metadata_document_clients: 0 });

    const later = now + 3_600 + 11;
    t.like(await store.purgeExpired(later), { grants: 1, authorization_codes: 1, authorization_requests: 1, pushed_authorization_requests: 1, metadata_document_clients: 5 });
    t.is(await store.countMetadataDocumentClients(A), 0);
    t.truthy(await store.getClient(A, "admin-made"), "a client an administrator made is never purged");
    t.truthy(await store.getClient(A, "web"));
  });

  it("a project's rules go with the project", async (t, store) => {
    await store.putClientMetadataDocumentRule({ ...A, url: URL_A, action: "block", document: "", createdAt: 10 });
    t.true(await store.deleteProject(A));
    await seedProject(store, A);
    t.deepEqual(await store.listClientMetadataDocumentRules(A), []);
  });
}
