/**
 * What the client ID metadata document tests share: a real HTTPS server on
 * loopback port 0 that serves documents (and counts every request it
 * receives), with a self-signed certificate made at test time by the
 * `openssl` binary and trusted by the core under test through its
 * fetcher's `trustedCa` (no process-wide NODE_EXTRA_CA_CERTS); a core and
 * gateway whose default project accepts documents; and the code flow of a
 * document's client through the gateway's JSON endpoints.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient, type CallOptions, type Client } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { Config } from "../../core/server/config.js";
import { globalAdminToken } from "../admin/rpc-support.js";
import { ALICE, seedFixtures } from "../core/flow.js";
import { authorizeUrl, getJson, postJson, token } from "../gateway/_support.js";
import { DEFAULT, pkcePair, startTestServer, tempDir, type TestServer } from "../helpers.js";

/** How a path of the document server answers. */
export type Answer = (req: IncomingMessage, res: ServerResponse) => void;

export interface DocumentServer {
  origin: string;
  /** The PEM certificate the server presents (self-signed, for 127.0.0.1). */
  cert: string;
  /** Sets what `path` answers. */
  serve(path: string, answer: Answer): void;
  /** Requests received for `path` (any path when omitted). */
  hits(path?: string): number;
}

let certificate: { key: string; cert: string } | undefined;

/** A self-signed certificate for 127.0.0.1, made once per test process. */
function selfSigned(): { key: string; cert: string } {
  if (certificate !== undefined) return certificate;
  const { dir, cleanup } = tempDir();
  try {
    const key = join(dir, "key.pem");
    const cert = join(dir, "cert.pem");
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
      "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    ], { stdio: "ignore" });
    certificate = { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
    return certificate;
  } finally {
    cleanup();
  }
}

/** An HTTPS server on 127.0.0.1 port 0, closed at teardown; unknown paths answer 404. */
export async function documentServer(t: ExecutionContext): Promise<DocumentServer> {
  const { key, cert } = selfSigned();
  const answers = new Map<string, Answer>();
  const counted = new Map<string, number>();
  const server: Server = createServer({ key, cert }, (req, res) => {
    const path = req.url ?? "";
    counted.set(path, (counted.get(path) ?? 0) + 1);
    const answer = answers.get(path);
    if (answer === undefined) {
      res.statusCode = 404;
      res.end();
      return;
    }
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    cert,
    serve: (path, answer) => void answers.set(path, answer),
    hits: (path) => (path === undefined ? [...counted.values()].reduce((a, b) => a + b, 0) : (counted.get(path) ?? 0)),
  };
}

/** Answers `body` as JSON with these headers. */
export const json = (body: unknown, headers: Record<string, string> = {}): Answer => (_req, res) => {
  res.writeHead(200, { "content-type": "application/json", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
};

/** A document for `clientId` with one redirect URI, and whatever `extra` adds or overrides. */
export const documentFor = (clientId: string, extra: Record<string, unknown> = {}) => ({
  client_id: clientId,
  client_name: "Example Agent",
  redirect_uris: [REDIRECT_URI],
  ...extra,
});

export const REDIRECT_URI = "https://agent.example/callback";

export interface DocumentTest {
  s: TestServer;
  docs: DocumentServer;
  admin: Client<typeof AdminService>;
  auth: CallOptions;
}

/**
 * A core and gateway with the fixtures, documents accepted by the default
 * project (through UpdateProject), the document server's certificate
 * trusted and, unless the test says otherwise, private networks allowed.
 */
export async function setup(t: ExecutionContext, config: Partial<Config> = {}, accept = true): Promise<DocumentTest> {
  const docs = await documentServer(t);
  const s = await startTestServer({ config: { clientMetadataPrivateNetworks: true, clientMetadataTimeout: 10, ...config } });
  t.teardown(() => s.close());
  await seedFixtures(s);
  s.core.deps.clientMetadata.trustedCa = docs.cert;
  const admin = createClient(AdminService, s.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(s)}` } };
  if (accept) {
    await admin.updateProject(
      { ...DEFAULT, clientIdMetadataDocuments: true, updateMask: create(FieldMaskSchema, { paths: ["client_id_metadata_documents"] }) },
      auth,
    );
  }
  return { s, docs, admin, auth };
}

/** The authorization request of a document's client (JSON), with PKCE S256. */
export function authorize(s: TestServer, clientId: string, extra: Record<string, string> = {}) {
  const { challenge } = pkcePair();
  return getJson(
    authorizeUrl(s, {
      response_type: "code",
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      scope: "openid",
      state: "st",
      code_challenge: challenge,
      code_challenge_method: "S256",
      ...extra,
    }),
  );
}

/** A code for alice through the JSON flow; throws when a step fails. */
export async function codeFor(s: TestServer, clientId: string): Promise<{ code: string; verifier: string }> {
  const { verifier } = pkcePair();
  const start = await authorize(s, clientId);
  if (start.status !== 200) throw new Error(`authorize: ${start.status} ${await start.text()}`);
  const { request_id } = (await start.json()) as { request_id: string };
  const login = await postJson(`${s.project}/authorize`, { request_id, username: ALICE.id, password: ALICE.password });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const consent = (await (await postJson(`${s.project}/consent`, { request_id, scopes: ["openid"] })).json()) as { redirect_to: string };
  const back = new URL(consent.redirect_to);
  if (`${back.origin}${back.pathname}` !== REDIRECT_URI) throw new Error(`redirected to ${consent.redirect_to}`);
  return { code: back.searchParams.get("code")!, verifier };
}

export const exchange = (s: TestServer, clientId: string, code: string, verifier: string) =>
  token(s, { grant_type: "authorization_code", client_id: clientId, code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
