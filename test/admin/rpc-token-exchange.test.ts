/**
 * AdminService: a client's token exchange settings (RFC 8693): the grant
 * type for confidential clients only (secret or private_key_jwt, never
 * public), the policy (subject clients, resources, impersonation) and the
 * `may_act` client, set by CreateClient, replaced by UpdateClient through its
 * mask, shown by GetClient, checked for form, and recorded in the trail.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { TOKEN_EXCHANGE_GRANT } from "../../core/protocol/token-exchange.js";
import { clientKey, jwksOf } from "../client-auth/_assertion.js";
import { ACME, createTenant, expectCode, startAdmin, type AdminTest } from "./rpc-support.js";

const MCP = "https://mcp.acme.example/mcp";
const POLICY = {
  tokenExchangeSubjectClients: ["web", "mobile"],
  tokenExchangeResources: [MCP],
  tokenExchangeImpersonation: false,
  mayActClient: "",
};

async function tenant(t: import("ava").ExecutionContext): Promise<AdminTest> {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  return c;
}

const agent = (overrides: Record<string, unknown> = {}) => ({
  ...ACME,
  clientId: "agent",
  type: ClientType.CONFIDENTIAL,
  grantTypes: ["client_credentials", TOKEN_EXCHANGE_GRANT],
  ...POLICY,
  ...overrides,
});

test("CreateClient gives a confidential client token exchange and its policy; GetClient shows them", async (t) => {
  const c = await tenant(t);
  const created = await c.admin.createClient(agent({ mayActClient: "agent-2" }), c.auth);
  t.like(created.client, { grantTypes: ["client_credentials", TOKEN_EXCHANGE_GRANT], ...POLICY, mayActClient: "agent-2" });
  t.like((await c.admin.getClient({ ...ACME, clientId: "agent" }, c.auth)).client, { ...POLICY, mayActClient: "agent-2" });
  // A client registered without them has none: no subject, no resource, no impersonation.
  const plain = await c.admin.createClient({ ...ACME, clientId: "web", type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"] }, c.auth);
  t.like(plain.client, { tokenExchangeSubjectClients: [], tokenExchangeResources: [], tokenExchangeImpersonation: false, mayActClient: "" });
});

test("token exchange is for confidential clients, by secret or private_key_jwt; a public client is refused", async (t) => {
  const c = await tenant(t);
  const key = await clientKey("ES256");
  const keyed = await c.admin.createClient(agent({ clientId: "keyed-agent", tokenEndpointAuthMethod: "private_key_jwt", jwks: jwksOf(key) }), c.auth);
  t.true(keyed.client!.grantTypes.includes(TOKEN_EXCHANGE_GRANT));
  t.is(keyed.secret, "");
  await expectCode(
    t,
    c.admin.createClient({ ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: ["https://spa.example/cb"], grantTypes: ["authorization_code", TOKEN_EXCHANGE_GRANT] }, c.auth),
    Code.InvalidArgument,
    "public client",
  );
  await c.admin.createClient({ ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: ["https://spa.example/cb"], grantTypes: ["authorization_code"] }, c.auth);
  await expectCode(
    t,
    c.admin.updateClient({ ...ACME, clientId: "spa", grantTypes: ["authorization_code", TOKEN_EXCHANGE_GRANT], updateMask: { paths: ["grant_types"] } }, c.auth),
    Code.InvalidArgument,
    "public client updated",
  );
});

test("UpdateClient replaces the policy fields its mask names and keeps the others", async (t) => {
  const c = await tenant(t);
  await c.admin.createClient(agent(), c.auth);
  const updated = await c.admin.updateClient(
    { ...ACME, clientId: "agent", tokenExchangeResources: [MCP, "https://files.acme.example"], tokenExchangeImpersonation: true, updateMask: { paths: ["token_exchange_resources", "token_exchange_impersonation"] } },
    c.auth,
  );
  t.like(updated.client, { tokenExchangeSubjectClients: POLICY.tokenExchangeSubjectClients, tokenExchangeResources: [MCP, "https://files.acme.example"], tokenExchangeImpersonation: true });
  const cleared = await c.admin.updateClient(
    { ...ACME, clientId: "agent", tokenExchangeSubjectClients: [], mayActClient: "agent-2", updateMask: { paths: ["token_exchange_subject_clients", "may_act_client"] } },
    c.auth,
  );
  t.like(cleared.client, { tokenExchangeSubjectClients: [], tokenExchangeImpersonation: true, mayActClient: "agent-2" });

  const events = await c.core.deps.store.listAuditEvents(ACME, {}, { after: 0, limit: 1000 });
  const update = events.filter((e) => e.action === "CLIENT_UPDATED")[0]!;
  t.deepEqual(
    update.changes.map((ch) => ch.field),
    ["token_exchange_resources", "token_exchange_impersonation"],
  );
});

test("the policy's entries are checked: client ids, resource URIs without fragment or user info, no repeats", async (t) => {
  const c = await tenant(t);
  const cases: [Record<string, unknown>, string][] = [
    [{ tokenExchangeSubjectClients: ["has space"] }, "a subject client id with a space"],
    [{ tokenExchangeSubjectClients: ["web", "web"] }, "a repeated subject client"],
    [{ tokenExchangeResources: [`${MCP}#frag`] }, "a resource with a fragment"],
    [{ tokenExchangeResources: ["https://user@mcp.acme.example/"] }, "a resource with user info"],
    [{ tokenExchangeResources: ["tools"] }, "a logical name"],
    [{ tokenExchangeResources: [MCP, MCP] }, "a repeated resource"],
    [{ mayActClient: "bad id" }, "a may_act client id with a space"],
  ];
  for (const [fields, what] of cases) {
    await expectCode(t, c.admin.createClient(agent(fields), c.auth), Code.InvalidArgument, what);
  }
  await expectCode(t, c.admin.getClient({ ...ACME, clientId: "agent" }, c.auth), Code.NotFound, "nothing created");
});
