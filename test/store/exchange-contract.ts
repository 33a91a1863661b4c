/**
 * The contract of what token exchange (RFC 8693) stores, as tests any
 * backend must pass: a client's exchange policy and `may_act` client, and
 * the subject's grant an exchanged grant hangs off. `exchangeContract(backend)`
 * registers them, titled `${name}: ...`. Not a test file itself.
 */
import test from "ava";
import type { ProjectRef } from "../../core/store/types.js";
import { clientRecord, grantRecord, type StoreBackend } from "./contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };

export function exchangeContract(backend: StoreBackend): void {
  test(`${backend.name}: a client's token exchange policy is read back as written, defaults to none, and is replaced by updateClient`, async (t) => {
    const store = await backend.open(t);
    await store.createOrganization({ id: A.organization, name: "A", createdAt: 1 });
    await store.createProject({ ...A, name: "A", audience: "https://api.example/a", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false,
    clientRegistration: "", createdAt: 2 });
    const plain = clientRecord(A, "web");
    await store.createClient(plain);
    t.like(await store.getClient(A, "web"), { tokenExchangeSubjectClients: [], tokenExchangeResources: [], tokenExchangeImpersonation: false, mayActClient: "" });

    const policy = {
      tokenExchangeSubjectClients: ["web", "mobile"],
      tokenExchangeResources: ["https://mcp.example/tools", "https://files.example"],
      tokenExchangeImpersonation: true,
      mayActClient: "agent-2",
    };
    await store.createClient(clientRecord(A, "agent", policy));
    t.like(await store.getClient(A, "agent"), policy);
    t.true(await store.updateClient({ ...(await store.getClient(A, "agent"))!, tokenExchangeSubjectClients: ["mobile"], tokenExchangeImpersonation: false, mayActClient: "" }));
    t.like(await store.getClient(A, "agent"), { tokenExchangeSubjectClients: ["mobile"], tokenExchangeResources: policy.tokenExchangeResources, tokenExchangeImpersonation: false, mayActClient: "" });
  });

  test(`${backend.name}: an exchanged grant keeps the grant it hangs off; another has none`, async (t) => {
    const store = await backend.open(t);
    await store.createOrganization({ id: A.organization, name: "A", createdAt: 1 });
    await store.createProject({ ...A, name: "A", audience: "https://api.example/a", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false,
    clientRegistration: "", createdAt: 2 });
    await store.createClient(clientRecord(A, "web"));
    await store.createClient(clientRecord(A, "agent"));
    await store.createGrant(grantRecord(A, "subject-grant", { clientId: "web" }));
    await store.createGrant(grantRecord(A, "exchanged-grant", { clientId: "agent", parentGrantId: "subject-grant" }));
    t.is((await store.getGrant("exchanged-grant"))?.parentGrantId, "subject-grant");
    t.is((await store.getGrant("subject-grant"))?.parentGrantId, "");
  });
}
