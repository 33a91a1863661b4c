/**
 * The contract of what DPoP (RFC 9449) keeps (core/store/token-types.ts):
 * proofs seen, each accepted once whatever the concurrency, purged once they
 * could no longer be accepted; and the key an authorization request, its
 * code and a grant are bound to. `dpopContract(backend)` registers the
 * tests, titled `${name}: ...`, beside the store contract. Not a test file
 * itself.
 */
import test, { type ExecutionContext } from "ava";
import type { ProjectRef, Store } from "../../core/store/types.js";
import { clientRecord, codeRecord, grantRecord, requestRecord, seedProject, userRecord, type StoreBackend } from "./contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
const JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

export function dpopContract(backend: StoreBackend): void {
  const it = (title: string, body: (t: ExecutionContext, store: Store) => Promise<void>) =>
    test(`${backend.name}: ${title}`, async (t) => {
      const store = await backend.open(t);
      await body(t, store);
    });

  it("a DPoP proof is recorded once: the same hash again is a replay, another hash is not", async (t, store) => {
    t.true(await store.recordSingleUse("proof-1", 1_060));
    t.false(await store.recordSingleUse("proof-1", 1_060));
    t.false(await store.recordSingleUse("proof-1", 9_999), "a later expiry changes nothing");
    t.true(await store.recordSingleUse("proof-2", 1_060));
  });

  it("of ten recordings of one proof at once, exactly one is first", async (t, store) => {
    const firsts = await Promise.all(Array.from({ length: 10 }, () => store.recordSingleUse("proof-race", 1_060)));
    t.is(firsts.filter(Boolean).length, 1);
  });

  it("the purge removes the proofs that could no longer be accepted, and keeps the others", async (t, store) => {
    await store.recordSingleUse("proof-old", 1_000);
    await store.recordSingleUse("proof-live", 2_000);
    const purged = await store.purgeExpired(1_500);
    t.is(purged.dpop_proofs, 1);
    t.false(await store.recordSingleUse("proof-live", 2_000), "still known");
    t.true(await store.recordSingleUse("proof-old", 3_000), "forgotten once it could no longer be accepted");
  });

  it("the DPoP key of an authorization request, its code and a grant round-trips", async (t, store) => {
    await seedProject(store, A);
    await store.createClient(clientRecord(A, "web"));
    await store.createUser(userRecord(A, "alice"));
    await store.createAuthorizationRequest(requestRecord(A, "request-bound", { dpopJkt: JKT }));
    t.is((await store.getAuthorizationRequest("request-bound"))?.dpopJkt, JKT);
    await store.createAuthorizationCode(codeRecord(A, "code-bound", { dpopJkt: JKT }));
    t.is((await store.getAuthorizationCode("code-bound"))?.dpopJkt, JKT);
    await store.createGrant(grantRecord(A, "grant-bound", { dpopJkt: JKT }));
    t.is((await store.getGrant("grant-bound"))?.dpopJkt, JKT);
    await store.createGrant(grantRecord(A, "grant-unbound"));
    t.is((await store.getGrant("grant-unbound"))?.dpopJkt, "");
  });
}
