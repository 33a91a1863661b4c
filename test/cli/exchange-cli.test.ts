/** `iam client` options of token exchange (RFC 8693): the grant, the policy and may_act, set, shown and replaced. */
import { join } from "node:path";
import test from "ava";
import { tempDir } from "../helpers.js";
import { iam } from "./_support.js";

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const MCP = "https://mcp.notes.example/mcp";

test("iam client create and update set a client's token exchange policy; a public client is refused the grant", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "notes"]).code, 0);

  const created = iam(db, [
    "client", "create", "acme", "notes", "agent", "--grant", "client_credentials", "--grant", GRANT,
    "--exchange-subject-client", "web", "--exchange-resource", MCP,
  ]);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /created client agent, may act for users of web at https:\/\/mcp\.notes\.example\/mcp/);

  const updated = iam(db, ["client", "update", "acme", "notes", "agent", "--exchange-impersonation", "true", "--may-act", "agent-2", "--json"]);
  t.is(updated.code, 0, updated.stderr);
  t.like(JSON.parse(updated.stdout).client, {
    tokenExchangeSubjectClients: ["web"],
    tokenExchangeResources: [MCP],
    tokenExchangeImpersonation: true,
    mayActClient: "agent-2",
  });

  const publicClient = iam(db, ["client", "create", "acme", "notes", "spa", "--public", "--redirect-uri", "https://spa.example/cb", "--grant", "authorization_code", "--grant", GRANT]);
  t.is(publicClient.code, 1);
  t.regex(publicClient.stderr, /InvalidArgument: a public client cannot use token exchange/);
  const badResource = iam(db, ["client", "update", "acme", "notes", "agent", "--exchange-resource", `${MCP}#x`]);
  t.is(badResource.code, 1);
  t.regex(badResource.stderr, /token_exchange_resources: .* it has a fragment/);
});
