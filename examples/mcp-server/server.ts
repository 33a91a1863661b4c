/**
 * An example MCP server protected by iam-core: a notes server whose tools
 * need access tokens issued for it (RFC 8707: its URI in their `aud`), as the
 * Model Context Protocol's authorization specification asks.
 *
 * - It publishes its protected resource metadata (RFC 9728) at
 *   `/.well-known/oauth-protected-resource{path}`: its URI, the iam-core
 *   project's issuer, the scopes it understands.
 * - A request without a token is answered 401 with
 *   `WWW-Authenticate: Bearer resource_metadata="…", scope="notes.items.read"`:
 *   an MCP client that never met it learns where to sign in and what to ask.
 * - `list_notes` needs `notes.items.read`; `add_note` also `notes.items.write`.
 *   A token without it is answered 403 `insufficient_scope` naming both, and
 *   the client steps up: a new authorization asking for them.
 * - Every token is checked by the core's VerifyToken (iam-core/client): the
 *   signature, expiry, revocation, project, scopes, and that it was issued
 *   for this server's URI, not for another resource.
 *
 *   IAM_CORE_URL=http://127.0.0.1:50051 IAM_ISSUER=http://localhost:8080/services/oauth2/acme/notes \
 *     MCP_RESOURCE=http://127.0.0.1:3001/mcp node --import tsx examples/mcp-server/server.ts
 *
 * docs/mcp.md walks through the whole exchange.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";
import {
  bearerChallenge,
  createAccessTokenVerifier,
  presentedToken,
  protectedResourceMetadata,
  resourceMetadataPath,
  resourceMetadataUrl,
  type VerifyTokenResponse,
} from "iam-core/client";

export const READ = "notes.items.read";
export const WRITE = "notes.items.write";
const REALM = "notes-mcp";
/** The largest JSON-RPC request body read. */
const MAX_BODY = 64 * 1024;

export interface McpServerOptions {
  /** The core: `http://127.0.0.1:50051`. */
  coreUrl: string;
  /** The iam-core project's issuer: `{base_url}/services/oauth2/{organization}/{project}`. */
  issuer: string;
  organization: string;
  project: string;
  /**
   * Its own URI, as registered in the project (AdminService CreateResource):
   * `http://127.0.0.1:3001/mcp`. Default: `/mcp` on the port it listens on.
   */
  resource?: string;
  port?: number;
}

/** The scopes a JSON-RPC message needs: every request `READ`, a call of `add_note` also `WRITE`. */
function scopesFor(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const writes = messages.some((m) => {
    const message = m as { method?: unknown; params?: { name?: unknown } } | null;
    return message?.method === "tools/call" && message.params?.name === "add_note";
  });
  return writes ? [READ, WRITE] : [READ];
}

/** One MCP server per request (the transport's stateless mode), its tools acting on the token's user's notes. */
function notesServer(notes: Map<string, string[]>, user: string): McpServer {
  const server = new McpServer({ name: "iam-core-notes", version: "1.0.0" });
  const mine = () => notes.get(user) ?? [];
  server.registerTool("list_notes", { description: "Lists your notes" }, async () => ({
    content: [{ type: "text", text: JSON.stringify(mine()) }],
  }));
  server.registerTool("add_note", { description: "Adds a note", inputSchema: { text: z.string().max(500) } }, async ({ text }) => {
    notes.set(user, [...mine(), text]);
    return { content: [{ type: "text", text: `added; ${mine().length} notes` }] };
  });
  return server;
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new RangeError("request body too large");
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

/** Serves the notes MCP server; answers its resource URI (what clients connect to) and how to stop it. */
export async function startMcpServer(options: McpServerOptions): Promise<{ resource: string; close: () => Promise<void> }> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const resource = options.resource ?? `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  const verify = createAccessTokenVerifier({ coreUrl: options.coreUrl, organization: options.organization, project: options.project, resource });
  const metadata = protectedResourceMetadata({ resource, issuer: options.issuer, scopes: [READ, WRITE], name: "Notes (MCP)" });
  const challengeOptions = { resourceMetadata: resourceMetadataUrl(resource) };
  const path = new URL(resource).pathname;
  const notes = new Map<string, string[]>();

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
    res.end(JSON.stringify(body));
  };

  server.on("request", async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET" && url.pathname === resourceMetadataPath(resource)) return send(res, 200, metadata);
    if (url.pathname !== path) return send(res, 404, { error: "not_found" });
    // Stateless: no server-sent stream to resume, no session to end.
    if (req.method !== "POST") return send(res, 405, { error: "method_not_allowed" }, { allow: "POST" });
    let body: unknown;
    try {
      body = await readJson(req);
    } catch {
      return send(res, 400, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null });
    }
    const required = scopesFor(body);
    const presented = presentedToken(req.headers.authorization);
    const refuse = (challenge: ReturnType<typeof bearerChallenge>) => send(res, challenge.status, challenge.body, { "www-authenticate": challenge.header });
    if (presented === undefined) return refuse(bearerChallenge(REALM, { missing: true, scopes: [READ] }, challengeOptions));
    if (presented === null) return refuse(bearerChallenge(REALM, { malformed: true }, challengeOptions));
    let result: VerifyTokenResponse;
    try {
      result = await verify(presented.token, required, {}, { scheme: presented.scheme, dpopProof: String(req.headers.dpop ?? ""), method: "POST", url: resource });
    } catch {
      // The core is unreachable: fail closed, and say it is temporary.
      return send(res, 503, { error: "temporarily_unavailable" }, { "retry-after": "1" });
    }
    if (!result.active) return refuse(bearerChallenge(REALM, { result, requiredScopes: required, scheme: presented.scheme }, challengeOptions));
    const mcp = notesServer(notes, result.subject);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  return {
    resource,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// Run directly: the notes MCP server of one project, at MCP_RESOURCE.
if (import.meta.url === `file://${process.argv[1]}`) {
  const issuer = process.env.IAM_ISSUER ?? "http://localhost:8080/services/oauth2/acme/notes";
  const [organization = "", project = ""] = new URL(issuer).pathname.split("/").slice(-2);
  const resource = process.env.MCP_RESOURCE ?? "http://127.0.0.1:3001/mcp";
  const server = await startMcpServer({
    coreUrl: process.env.IAM_CORE_URL ?? "http://127.0.0.1:50051",
    issuer,
    organization,
    project,
    resource,
    port: Number(new URL(resource).port || 3001),
  });
  console.log(`notes MCP server at ${server.resource} (issuer ${issuer})`);
}
