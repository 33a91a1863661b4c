/**
 * Dynamic Client Registration's storage (RFC 7591, RFC 7592) as every
 * backend must keep it: `registrationContract(backend)` registers the tests,
 * titled `${name}: ...`, beside the store contract (contract.ts). Not a test
 * file itself.
 */
import { INITIAL_ACCESS_TOKENS_KEPT_EXPIRED } from "../../core/store/retention.js";
import { AlreadyExists, type InitialAccessTokenRecord, type ProjectRef } from "../../core/store/types.js";
import { seedProject } from "./par-contract.js";
import { clientRecord, contractTests, type StoreBackend } from "./contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** Another organization's project of the same id. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };


const iat = (ref: ProjectRef, id: string, over: Partial<InitialAccessTokenRecord> = {}): InitialAccessTokenRecord => ({
  ...ref,
  id,
  tokenHash: `hash-${id}`,
  description: `token ${id}`,
  createdAt: 100,
  expiresAt: 200,
  usesLeft: 2,
  maxUses: 2,
  ...over,
});

export function registrationContract(backend: StoreBackend): void {
  const it = contractTests(backend, async (store) => {
    await seedProject(store, A, []);
    await seedProject(store, B, []);
  });

  it("a project's client_registration is kept and changed by updateProject alone when given", async (t, store) => {
    t.is((await store.getProject(A))!.clientRegistration, "");
    await store.updateProject(A, { name: "A", audience: "https://api.example/org-a", clientRegistration: "initial_access_token" });
    t.is((await store.getProject(A))!.clientRegistration, "initial_access_token");
    await store.updateProject(A, { name: "A2", audience: "https://api.example/org-a" });
    t.is((await store.getProject(A))!.clientRegistration, "initial_access_token", "not given: kept");
    t.is((await store.getProject(B))!.clientRegistration, "");
  });

  it("a dynamically registered client is marked, counted per project, and its registration goes with it", async (t, store) => {
    await store.createClient(clientRecord(A, "admin-made"));
    await store.createClient(clientRecord(A, "dyn-1", { dynamicallyRegistered: true }));
    await store.createClient(clientRecord(A, "dyn-2", { dynamicallyRegistered: true }));
    await store.createClient(clientRecord(B, "dyn-1", { dynamicallyRegistered: true }));
    t.false((await store.getClient(A, "admin-made"))!.dynamicallyRegistered);
    t.true((await store.getClient(A, "dyn-1"))!.dynamicallyRegistered);
    t.deepEqual((await store.listClients(A, { after: "", limit: 10 })).map((c) => [c.id, c.dynamicallyRegistered]), [
      ["admin-made", false],
      ["dyn-1", true],
      ["dyn-2", true],
    ]);
    t.is(await store.countDynamicClients(A), 2);
    t.is(await store.countDynamicClients(B), 1);

    const registration = { ...A, clientId: "dyn-1", tokenHash: "h1", metadata: '{"application_type":"web"}' };
    await store.createClientRegistration(registration);
    await t.throwsAsync(store.createClientRegistration(registration), { instanceOf: AlreadyExists });
    t.deepEqual(await store.getClientRegistration(A, "dyn-1"), registration);
    t.is(await store.getClientRegistration(B, "dyn-1"), undefined, "another project's client of the same id has none");
    t.true(await store.updateClientRegistration({ ...registration, tokenHash: "h2", metadata: "{}" }));
    t.deepEqual(await store.getClientRegistration(A, "dyn-1"), { ...registration, tokenHash: "h2", metadata: "{}" });
    t.false(await store.updateClientRegistration({ ...registration, clientId: "dyn-2" }), "dyn-2 has no registration");

    t.true(await store.deleteClient(A, "dyn-1"));
    t.is(await store.getClientRegistration(A, "dyn-1"), undefined, "deleted with its client");
    t.is(await store.countDynamicClients(A), 1);
  });

  it("initial access tokens: listed newest first per project, found by hash, spent once per use until none is left", async (t, store) => {
    await store.createInitialAccessToken(iat(A, "t1"));
    await store.createInitialAccessToken(iat(A, "t2", { createdAt: 150, usesLeft: null, maxUses: 0 }));
    await store.createInitialAccessToken(iat(B, "t1", { tokenHash: "hash-b" }));
    await t.throwsAsync(store.createInitialAccessToken(iat(A, "t1", { tokenHash: "other" })), { instanceOf: AlreadyExists });
    t.deepEqual((await store.listInitialAccessTokens(A)).map((x) => x.id), ["t2", "t1"]);
    t.deepEqual(await store.findInitialAccessToken(A, "hash-t1"), iat(A, "t1"));
    t.is(await store.findInitialAccessToken(B, "hash-t1"), undefined, "a token of another project is not found");

    t.true(await store.spendInitialAccessToken(A, "hash-t1", 150));
    t.true(await store.spendInitialAccessToken(A, "hash-t1", 150));
    t.false(await store.spendInitialAccessToken(A, "hash-t1", 150), "its two uses are spent");
    t.is((await store.findInitialAccessToken(A, "hash-t1"))!.usesLeft, 0);
    for (let i = 0; i < 3; i++) t.true(await store.spendInitialAccessToken(A, "hash-t2", 199), "no limit but the expiry");
    t.is((await store.findInitialAccessToken(A, "hash-t2"))!.usesLeft, null);
    t.false(await store.spendInitialAccessToken(A, "hash-t2", 200), "expired at expires_at");
    t.false(await store.spendInitialAccessToken(B, "hash-t2", 150), "not in another project");

    t.true(await store.deleteInitialAccessToken(A, "t1"));
    t.false(await store.deleteInitialAccessToken(A, "t1"));
    t.deepEqual((await store.listInitialAccessTokens(A)).map((x) => x.id), ["t2"]);
    t.deepEqual((await store.listInitialAccessTokens(B)).map((x) => x.id), ["t1"]);
    t.true(await store.deleteProject(A));
    t.is(await store.findInitialAccessToken(A, "hash-t2"), undefined, "gone with its project");
  });

  it("initial access tokens: purged a week after they expire, never before; spent ones stay listed until then", async (t, store) => {
    await store.createInitialAccessToken(iat(A, "old", { expiresAt: 1_000 }));
    await store.createInitialAccessToken(iat(A, "spent", { expiresAt: 5_000, usesLeft: 0 }));
    await store.createInitialAccessToken(iat(B, "old", { tokenHash: "hash-b", expiresAt: 1_000 }));
    const edge = 1_000 + INITIAL_ACCESS_TOKENS_KEPT_EXPIRED;
    t.like(await store.purgeExpired(edge), { initial_access_tokens: 0 }, "kept until a week has passed");
    t.like(await store.purgeExpired(edge + 1), { initial_access_tokens: 2 }, "both projects' expired tokens");
    t.deepEqual((await store.listInitialAccessTokens(A)).map((x) => x.id), ["spent"]);
    t.deepEqual(await store.listInitialAccessTokens(B), []);
    t.like(await store.purgeExpired(5_000 + INITIAL_ACCESS_TOKENS_KEPT_EXPIRED + 1), { initial_access_tokens: 1 });
    t.deepEqual(await store.listInitialAccessTokens(A), []);
  });
}
