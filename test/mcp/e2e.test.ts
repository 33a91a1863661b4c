/**
 * The whole MCP authorization exchange, end to end, with the official MCP
 * SDK's client as it is (no iam-core code on the client's side):
 *
 * 1. The client calls the notes MCP server (examples/mcp-server) without a
 *    token and is answered 401 naming the server's protected resource
 *    metadata (RFC 9728) and the scope to ask for.
 * 2. It reads that document, then iam-core's authorization server metadata
 *    (RFC 8414), which says client ID metadata documents are supported.
 * 3. Never registered anywhere, it names the HTTPS URL of its metadata
 *    document as its client_id; iam-core fetches and validates the document.
 * 4. A person signs in through iam-core's pages in chromium and approves; the
 *    consent page shows the client's name and the host its document came from.
 * 5. The client redeems the code with PKCE and `resource` (RFC 8707): the
 *    token is for exactly that MCP server, with the scope it asked.
 * 6. A tool that needs more is refused 403 `insufficient_scope`; the client
 *    steps up (a new authorization for the scopes named), the person
 *    approves again without signing in again, and the tool call succeeds.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import test from "ava";
import { decodeJwt } from "jose";
import type { Page } from "playwright-core";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { READ, startMcpServer, WRITE } from "../../examples/mcp-server/server.js";
import { globalAdminToken } from "../admin/rpc-support.js";
import { useBrowser } from "../browser/_browser.js";
import { documentServer, json } from "../client-metadata/_documents.js";
import { startTestServer } from "../helpers.js";

const browser = useBrowser(test);

const ACME = { organization: "acme", project: "notes" };
const ALICE = { id: "alice", password: "alice-password-1" };

/** What the SDK keeps between calls, and the authorization URLs it sent the person to. */
class Provider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = "";
  readonly authorizations: URL[] = [];
  constructor(
    /** The URL of its client ID metadata document; none for a client that registers itself. */
    readonly clientMetadataUrl: string | undefined,
    readonly redirectUrl: string,
  ) {}
  get clientMetadata() {
    return { client_name: "Notes Agent", redirect_uris: [this.redirectUrl], grant_types: ["authorization_code"], token_endpoint_auth_method: "none" };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizations.push(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** The client's redirect URI: a loopback server that keeps the codes it is sent (RFC 8252 §7.3). */
async function callbackServer(t: import("ava").ExecutionContext): Promise<{ url: string; codes: URLSearchParams[] }> {
  const codes: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    // The browser also asks for a favicon: only the redirect to the callback counts.
    if (url.pathname === "/callback") codes.push(url.searchParams);
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<p>You may close this window.</p>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`, codes };
}

/** Follows an authorization URL in the browser: signs in when asked, approves, and answers the consent page's text. */
async function approve(page: Page, url: URL, signIn: boolean): Promise<string> {
  await page.goto(url.href);
  if (signIn) {
    await page.locator("#username").fill(ALICE.id);
    await page.locator("#password").fill(ALICE.password);
    await Promise.all([page.waitForLoadState(), page.locator("#sign-in").click()]);
  }
  const consent = (await page.locator("body").textContent()) ?? "";
  await Promise.all([page.waitForURL(/\/callback\?/), page.locator("#approve").click()]);
  return consent;
}

/** iam-core with a project for the notes MCP server, the server itself registered as a resource, a browser page, and the client's redirect URI. */
async function world(t: import("ava").ExecutionContext, how: { documents: boolean; registration: boolean }) {
  const docs = await documentServer(t);
  const s = await startTestServer({ localhost: true, config: { clientMetadataPrivateNetworks: true } });
  t.teardown(() => s.close());
  s.core.deps.clientMetadata.trustedCa = docs.cert;
  const admin = createClient(AdminService, s.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(s)}` } };

  // The project: two permissions, a user holding both, how clients may come, and the MCP server registered as a resource.
  await admin.createOrganization({ id: ACME.organization }, auth);
  const project = (await admin.createProject({ organization: ACME.organization, id: ACME.project }, auth)).project!;
  await admin.updateProject(
    {
      ...ACME,
      clientIdMetadataDocuments: how.documents,
      clientRegistration: how.registration ? "open" : "",
      updateMask: create(FieldMaskSchema, { paths: ["client_id_metadata_documents", "client_registration"] }),
    },
    auth,
  );
  for (const permissionId of [READ, WRITE]) await admin.createPermission({ ...ACME, permissionId, description: permissionId === READ ? "Read your notes" : "Write notes" }, auth);
  await admin.createRole({ ...ACME, roleId: "writer", permissions: [READ, WRITE] }, auth);
  await admin.createUser({ ...ACME, userId: ALICE.id, password: ALICE.password, name: "Alice" }, auth);
  await admin.assignRole({ ...ACME, roleId: "writer", subject: { case: "userId", value: ALICE.id } }, auth);
  const mcp = await startMcpServer({ coreUrl: s.grpcUrl, issuer: project.issuer, ...ACME });
  t.teardown(() => mcp.close());
  await admin.createResource({ ...ACME, uri: mcp.resource, name: "Notes (MCP)", scopes: [READ, WRITE] }, auth);
  const callback = await callbackServer(t);
  const page = await (await browser().newContext()).newPage();
  return { docs, s, admin, auth, project, mcp, callback, page };
}

/** The SDK's client connected to the MCP server, and how a person's approval is carried back to it. */
function sdkClient(mcpResource: string, provider: Provider, page: Page, callback: { codes: URLSearchParams[] }) {
  const connect = async () => {
    const client = new Client({ name: "notes-agent", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpResource), { authProvider: provider }));
    return client;
  };
  const finish = async (signIn: boolean) => {
    const consent = await approve(page, provider.authorizations.at(-1)!, signIn);
    const code = callback.codes.at(-1)!.get("code");
    if (code === null) throw new Error(`no code: ${callback.codes.at(-1)!.toString()}`);
    await new StreamableHTTPClientTransport(new URL(mcpResource), { authProvider: provider }).finishAuth(code);
    return consent;
  };
  return { connect, finish };
}

test("an MCP client with no registration discovers the server, signs a person in through iam-core, gets a token for exactly that server, and steps up on insufficient_scope", async (t) => {
  t.timeout(120_000);
  const { docs, project, mcp, callback, page } = await world(t, { documents: true, registration: false });

  // The client's identity: the HTTPS URL of its metadata document, and nothing registered.
  const documentUrl = `${docs.origin}/agents/notes.json`;
  docs.serve("/agents/notes.json", json({ client_id: documentUrl, client_name: "Notes Agent", redirect_uris: [callback.url], grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "none" }));
  const provider = new Provider(documentUrl, callback.url);
  const { connect, finish } = sdkClient(mcp.resource, provider, page, callback);

  // 1-3: unauthorized, then discovery, ending in the authorization request of a document's client.
  await t.throwsAsync(connect(), { instanceOf: UnauthorizedError });
  t.is(docs.hits("/agents/notes.json"), 0, "iam-core has not fetched the document yet: the browser has not come");
  const first = provider.authorizations[0]!;
  t.is(`${first.origin}${first.pathname}`, `${project.issuer}/authorize`);
  t.is(first.searchParams.get("client_id"), documentUrl);
  t.is(first.searchParams.get("resource"), mcp.resource);
  t.is(first.searchParams.get("scope"), READ, "the scope the 401 named");
  t.is(first.searchParams.get("code_challenge_method"), "S256");

  // 4: the person signs in and approves; the consent page says who asks, and from where.
  const consent = await finish(true);
  t.true(docs.hits("/agents/notes.json") >= 1, "iam-core fetched the document");
  t.regex(consent, /Notes Agent/);
  t.regex(consent, new RegExp(new URL(docs.origin).host.replace(/\./g, "\\.")));

  // 5: a token for exactly this server and scope; the tools answer.
  const token = decodeJwt(provider.saved!.access_token);
  t.is(token.aud, mcp.resource);
  t.is(token.client_id, documentUrl);
  t.is(token.scope, READ);
  const client = await connect();
  t.deepEqual((await client.listTools()).tools.map((tool) => tool.name).sort(), ["add_note", "list_notes"]);
  t.like(await client.callTool({ name: "list_notes", arguments: {} }), { content: [{ type: "text", text: "[]" }] });

  // 6: writing needs more: 403 insufficient_scope, a new authorization for both scopes, approved without a password.
  await t.throwsAsync(client.callTool({ name: "add_note", arguments: { text: "buy milk" } }), { instanceOf: UnauthorizedError });
  const stepUp = provider.authorizations[1]!;
  t.deepEqual(stepUp.searchParams.get("scope")?.split(" ").sort(), [READ, WRITE]);
  t.is(stepUp.searchParams.get("resource"), mcp.resource);
  await finish(false);
  const stronger = decodeJwt(provider.saved!.access_token);
  t.is(stronger.aud, mcp.resource);
  t.deepEqual(String(stronger.scope).split(" ").sort(), [READ, WRITE]);
  const again = await connect();
  t.like(await again.callTool({ name: "add_note", arguments: { text: "buy milk" } }), { content: [{ type: "text", text: "added; 1 notes" }] });
  t.like(await again.callTool({ name: "list_notes", arguments: {} }), { content: [{ type: "text", text: '["buy milk"]' }] });
});

test("an older MCP client registers itself (RFC 7591) where the project allows it, and gets a token for exactly that server", async (t) => {
  t.timeout(120_000);
  const { s, admin, auth, project, mcp, callback, page } = await world(t, { documents: false, registration: true });
  const provider = new Provider(undefined, callback.url);
  const { connect, finish } = sdkClient(mcp.resource, provider, page, callback);

  await t.throwsAsync(connect(), { instanceOf: UnauthorizedError });
  const clientId = provider.client?.client_id ?? "";
  t.truthy(clientId, "the SDK registered at the discovered registration_endpoint");
  const registered = (await admin.getClient({ ...ACME, clientId }, auth)).client!;
  t.like(registered, { dynamicallyRegistered: true, name: "Notes Agent", redirectUris: [callback.url] });
  const first = provider.authorizations[0]!;
  t.is(first.searchParams.get("client_id"), clientId);
  t.is(first.searchParams.get("resource"), mcp.resource);

  await finish(true);
  const token = decodeJwt(provider.saved!.access_token);
  t.is(token.aud, mcp.resource);
  t.is(token.client_id, clientId);
  const client = await connect();
  t.like(await client.callTool({ name: "list_notes", arguments: {} }), { content: [{ type: "text", text: "[]" }] });
  t.is(project.issuer, `${s.httpUrl}/services/oauth2/acme/notes`);
});
