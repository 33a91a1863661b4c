/**
 * Plain gRPC unary calls on the core's port are answered straight off the
 * HTTP/2 stream (core/server/grpc-unary.ts); the same call sent so that it
 * falls back to connect-node (`grpc-encoding: gzip`) must be answered alike:
 * the same status, message, details, OAuth error and request id, the same
 * message, the same metrics. Malformed calls get connect-node's codes, nothing
 * is logged as an unexpected error, and the port keeps serving.
 */
import http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import test, { type ExecutionContext } from "ava";
import { createConnectRouter } from "@connectrpc/connect";
import type { AddressInfo } from "node:net";
import { recordUnaryMethods, serveGrpcUnary } from "../../core/server/grpc-unary.js";
import { startCoreServer, type RunningServer } from "../../core/server/listen.js";
import { CreateOrganizationRequestSchema } from "../../gen/iam/v1/admin_pb.js";
import { LoginRequestSchema } from "../../gen/iam/v1/authorization_pb.js";
import { IntrospectRequestSchema, VerifyTokenRequestSchema } from "../../gen/iam/v1/token_pb.js";
import { ERROR_KEY } from "../../wire/errors.js";
import { parsePrometheus, total } from "../observe/_prometheus.js";
import { ADMIN_CLIENT_SECRET, DEFAULT, startTestCore, type TestCore } from "../helpers.js";
import { authorizeRequest, seedFixtures, ALICE } from "./flow.js";

/** What came back for one call: headers and trailers merged (a Trailers-Only answer has no trailers), the messages, the reset code. */
interface Answer {
  status: number | undefined;
  metadata: Record<string, string>;
  messages: Buffer[];
  rstCode: number;
}

/** The parts of an answer that depend on the path it took, not on the call: the message encoding, the date. */
const TRANSPORT_HEADERS = new Set([":status", "date", "grpc-encoding", "grpc-accept-encoding", "content-length"]);

function envelope(bytes: Uint8Array, flag = 0): Buffer {
  const b = Buffer.alloc(5 + bytes.length);
  b[0] = flag;
  b.writeUInt32BE(bytes.length, 1);
  b.set(bytes, 5);
  return b;
}

function messagesOf(body: Buffer, encoding: string | undefined): Buffer[] {
  const messages: Buffer[] = [];
  for (let i = 0; i + 5 <= body.length; ) {
    const length = body.readUInt32BE(i + 1);
    const bytes = body.subarray(i + 5, i + 5 + length);
    messages.push((body[i]! & 1) === 1 && encoding === "gzip" ? gunzipSync(bytes) : bytes);
    i += 5 + length;
  }
  return messages;
}

/** One call with a raw node:http2 client: `body` is sent as is. */
function rawCall(session: http2.ClientHttp2Session, path: string, body: Buffer, headers: http2.OutgoingHttpHeaders = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...headers });
    const metadata: Record<string, string> = {};
    let status: number | undefined;
    const chunks: Buffer[] = [];
    const keep = (fields: http2.IncomingHttpHeaders) => {
      for (const [name, value] of Object.entries(fields)) if (value !== undefined) metadata[name] = String(value);
    };
    req.on("response", (fields) => {
      status = fields[":status"];
      keep(fields);
    });
    req.on("trailers", keep);
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", () => {});
    req.on("close", () => resolve({ status, metadata, messages: messagesOf(Buffer.concat(chunks), metadata["grpc-encoding"]), rstCode: req.rstCode }));
    req.end(body);
  });
}

/** The same call on the fast path (plain gRPC) and on connect-node's (gzip-compressed). */
async function bothPaths(session: http2.ClientHttp2Session, path: string, message: Uint8Array, headers: http2.OutgoingHttpHeaders = {}) {
  const fast = await rawCall(session, path, envelope(message), headers);
  const connect = await rawCall(session, path, envelope(gzipSync(message), 1), { ...headers, "grpc-encoding": "gzip" });
  return { fast, connect };
}

function callPart(answer: Answer): Record<string, string> {
  return Object.fromEntries(Object.entries(answer.metadata).filter(([name]) => !TRANSPORT_HEADERS.has(name)));
}

interface Harness {
  c: TestCore;
  server: RunningServer;
  session: http2.ClientHttp2Session;
  adminToken: string;
  metrics(): Promise<ReturnType<typeof parsePrometheus>>;
}

async function start(t: ExecutionContext): Promise<Harness> {
  const c = await startTestCore();
  t.teardown(() => c.close());
  await seedFixtures(c);
  const server = await startCoreServer(c.core.routes, "127.0.0.1", 0);
  t.teardown(() => server.close(100));
  const session = http2.connect(`http://127.0.0.1:${server.port}`);
  session.on("error", () => {});
  t.teardown(() => session.close());
  const { accessToken } = await c.tokens.token({
    organization: "iam-admins",
    project: "iam-admins",
    grantType: "client_credentials",
    basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET },
  });
  return {
    c,
    server,
    session,
    adminToken: accessToken,
    metrics: async () => parsePrometheus((await c.core.deps.metrics.render()).body),
  };
}

const bytesOf = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) => toBinary(schema, create(schema, init));

const VERIFY = "/iam.v1.TokenService/VerifyToken";

/** The calls both paths must answer alike. */
const CALLS: {
  name: string;
  call: (h: Harness) => Promise<{ path: string; message: Uint8Array; headers?: http2.OutgoingHttpHeaders }>;
  status: string;
  error?: string;
}[] = [
  {
    name: "VerifyToken of an active token",
    call: async (h) => ({ path: VERIFY, message: bytesOf(VerifyTokenRequestSchema, { token: h.adminToken, organization: "iam-admins", project: "iam-admins" }) }),
    status: "0",
  },
  {
    name: "VerifyToken of a garbage token (inactive)",
    call: async () => ({ path: VERIFY, message: bytesOf(VerifyTokenRequestSchema, { token: "not-a-token" }) }),
    status: "0",
  },
  {
    name: "Introspect without client credentials (UNAUTHENTICATED)",
    call: async (h) => ({ path: "/iam.v1.TokenService/Introspect", message: bytesOf(IntrospectRequestSchema, { ...DEFAULT, token: h.adminToken }) }),
    status: "16",
    error: "invalid_client",
  },
  {
    name: "an AdminService call with a bad argument (INVALID_ARGUMENT)",
    call: async (h) => ({
      path: "/iam.v1.AdminService/CreateOrganization",
      message: bytesOf(CreateOrganizationRequestSchema, { id: "Not An Id!" }),
      headers: { authorization: `Bearer ${h.adminToken}` },
    }),
    status: "3",
  },
  {
    name: "a Login with a wrong password (typed details in grpc-status-details-bin)",
    call: async (h) => {
      const { requestId } = await h.c.authorization.authorize(authorizeRequest());
      return {
        path: "/iam.v1.AuthorizationService/Login",
        message: bytesOf(LoginRequestSchema, { ...DEFAULT, requestId, username: ALICE.id, password: "wrong" }),
      };
    },
    status: "7",
    error: "access_denied",
  },
];

for (const { name, call, status, error } of CALLS) {
  test(`the fast path and connect-node answer alike: ${name}`, async (t) => {
    const h = await start(t);
    // Each path gets its own request (a Login's pending request counts its failures).
    const first = await call(h);
    const second = await call(h);
    const headers = { ...first.headers, "x-request-id": "trace-4bf92f3577b34da6" };
    const fast = await rawCall(h.session, first.path, envelope(first.message), headers);
    const connect = await rawCall(h.session, second.path, envelope(gzipSync(second.message), 1), { ...second.headers, "x-request-id": "trace-4bf92f3577b34da6", "grpc-encoding": "gzip" });
    t.is(fast.status, 200);
    t.is(connect.status, 200);
    t.is(connect.metadata["grpc-encoding"], "gzip", "the second call went to connect-node");
    t.is(fast.metadata["grpc-encoding"], undefined);
    t.deepEqual(callPart(fast), callPart(connect));
    t.is(fast.metadata["grpc-status"], status);
    t.is(fast.metadata[ERROR_KEY], error);
    t.is(fast.metadata["x-request-id"], "trace-4bf92f3577b34da6", "the caller's request id is answered");
    if (name.includes("Login")) t.truthy(fast.metadata["grpc-status-details-bin"]);
    t.deepEqual(fast.messages, connect.messages);
    t.is(fast.messages.length, status === "0" ? 1 : 0);
    // Counted alike, under the same status.
    const code = { "0": "ok", "3": "invalid_argument", "7": "permission_denied", "16": "unauthenticated" }[status]!;
    const method = first.path.slice(1);
    t.is(total(await h.metrics(), "iam_rpc_requests_total", { method, code }), 2);
  });
}

test("an unacceptable request id is replaced with a new one on both paths", async (t) => {
  const h = await start(t);
  const message = bytesOf(VerifyTokenRequestSchema, { token: "x" });
  const { fast, connect } = await bothPaths(h.session, VERIFY, message, { "x-request-id": "<script>" });
  for (const answer of [fast, connect]) t.regex(answer.metadata["x-request-id"] ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  t.not(fast.metadata["x-request-id"], connect.metadata["x-request-id"]);
});

const good = () => bytesOf(VerifyTokenRequestSchema, { token: "a-token-of-some-length" });
const MALFORMED: { name: string; body: () => Buffer; headers?: http2.OutgoingHttpHeaders; status: string; fastOnly?: boolean }[] = [
  { name: "an empty body", body: () => Buffer.alloc(0), status: "12" },
  { name: "an envelope cut short in its header", body: () => Buffer.from([0, 0, 0]), status: "3" },
  { name: "an envelope cut short in its message", body: () => envelope(good()).subarray(0, 8), status: "3" },
  { name: "bytes that are not the message", body: () => envelope(Buffer.from([0xff, 0xff, 0xff, 0xff])), status: "3" },
  { name: "an envelope over 64 KiB", body: () => envelope(Buffer.alloc(70 * 1024)), status: "8" },
  { name: "an envelope that says it is over 64 KiB", body: () => Buffer.from([0, 0, 1, 0, 1, 0x0a]), status: "8" },
  { name: "two messages", body: () => Buffer.concat([envelope(good()), envelope(good())]), status: "12" },
  { name: "two messages, the second not the message", body: () => Buffer.concat([envelope(good()), envelope(Buffer.from([0xff, 0xff]))]), status: "3" },
  { name: "an invalid grpc-timeout", body: () => envelope(good()), headers: { "grpc-timeout": "1x" }, status: "3" },
  { name: "the compressed flag without grpc-encoding", body: () => envelope(good(), 1), status: "3", fastOnly: true },
];

test("malformed calls get connect-node's status and message on the fast path; nothing is logged as unexpected and the port keeps serving", async (t) => {
  const h = await start(t);
  for (const { name, body, headers, status, fastOnly } of MALFORMED) {
    const fast = await rawCall(h.session, VERIFY, body(), headers);
    t.is(fast.metadata["grpc-status"], status, `${name}: ${fast.metadata["grpc-message"]}`);
    t.is(fast.rstCode, http2.constants.NGHTTP2_NO_ERROR, name);
    if (fastOnly === true) continue;
    // The same bytes, uncompressed (flag 0), sent to connect-node.
    const connect = await rawCall(h.session, VERIFY, body(), { ...headers, "grpc-encoding": "gzip" });
    t.is(connect.metadata["grpc-status"], status, `${name} (connect-node): ${connect.metadata["grpc-message"]}`);
    t.is(fast.metadata["grpc-message"], connect.metadata["grpc-message"], name);
  }
  t.false(h.c.lines.some((line) => line.includes("unexpected error")));
  const ok = await rawCall(h.session, VERIFY, envelope(good()));
  t.is(ok.metadata["grpc-status"], "0");
  t.is(ok.messages.length, 1);
});

test("a call past its grpc-timeout is DEADLINE_EXCEEDED; one within it is answered", async (t) => {
  const h = await start(t);
  const slow = await rawCall(h.session, VERIFY, envelope(good()), { "grpc-timeout": "1n" });
  t.true(["0", "4"].includes(slow.metadata["grpc-status"] ?? ""), `status ${slow.metadata["grpc-status"]}`);
  const ok = await rawCall(h.session, VERIFY, envelope(good()), { "grpc-timeout": "5S" });
  t.is(ok.metadata["grpc-status"], "0");
});

test("callers cancelling mid-call leave nothing behind: each call is counted completed or cancelled, no timer is left, the port keeps serving", async (t) => {
  const h = await start(t);
  const message = envelope(bytesOf(VerifyTokenRequestSchema, { token: h.adminToken }));
  await rawCall(h.session, VERIFY, message);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  const before = timers();
  const before2 = await h.metrics();
  const counted = (m: typeof before2) => total(m, "iam_rpc_requests_total", { method: VERIFY.slice(1) });
  const N = 60;
  await Promise.all(
    Array.from({ length: N }, (_, i) => {
      const req = h.session.request({ ":method": "POST", ":path": VERIFY, "content-type": "application/grpc", te: "trailers", "grpc-timeout": "30S" });
      req.on("error", () => {});
      // Cancelled at once, after the body, or a moment later: before, during or after the implementation runs.
      if (i % 3 === 0) {
        req.write(message.subarray(0, 7));
        setImmediate(() => req.close(http2.constants.NGHTTP2_CANCEL));
      } else {
        req.end(message);
        setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), i % 3 === 1 ? 0 : 2);
      }
      return new Promise((resolve) => req.on("close", resolve));
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = await h.metrics();
  const byCode = ["ok", "canceled"].map((code) => total(after, "iam_rpc_requests_total", { method: VERIFY.slice(1), code }) - total(before2, "iam_rpc_requests_total", { method: VERIFY.slice(1), code }));
  t.true(counted(after) - counted(before2) <= N);
  t.is(byCode[0]! + byCode[1]!, counted(after) - counted(before2), "every call counted is ok or canceled");
  t.true(timers() <= before, "no deadline timer is left");
  t.false(h.c.lines.some((line) => line.includes("unexpected error")));
  const ok = await rawCall(h.session, VERIFY, message);
  t.is(ok.metadata["grpc-status"], "0");
});

/** A @grpc/grpc-js TokenService client, as a resource server makes one; `gzip` compresses its requests (connect-node's path). */
function grpcJsClient(t: ExecutionContext, port: number, gzip: boolean) {
  const definition = protoLoader.loadSync(["iam/v1/token.proto"], {
    includeDirs: [fileURLToPath(new URL("../../proto", import.meta.url))],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const Service = (grpc.loadPackageDefinition(definition) as unknown as { iam: { v1: { TokenService: grpc.ServiceClientConstructor } } }).iam.v1.TokenService;
  const client = new Service(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
    gzip ? { "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip } : {},
  );
  t.teardown(() => client.close());
  return (method: string, request: object, metadata: Record<string, string> = {}) =>
    new Promise<{ err: grpc.ServiceError | null; response: unknown; headers: grpc.Metadata | undefined }>((resolve) => {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      let headers: grpc.Metadata | undefined;
      const call = (client[method] as (r: object, m: grpc.Metadata, cb: (err: grpc.ServiceError | null, response: unknown) => void) => grpc.ClientUnaryCall)(
        request,
        md,
        (err, response) => resolve({ err, response, headers }),
      );
      call.on("metadata", (m: grpc.Metadata) => (headers = m));
    });
}

test("a @grpc/grpc-js client given a default compression sends grpc-encoding: gzip (so the core hands its calls to connect-node)", async (t) => {
  const seen: http2.IncomingHttpHeaders[] = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    seen.push(headers);
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "12" }));
    stream.resume();
    stream.on("end", () => stream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  const answer = await grpcJsClient(t, port, true)("VerifyToken", { token: "x" });
  t.is(answer.err?.code, grpc.status.UNIMPLEMENTED);
  t.is(seen[0]?.["grpc-encoding"], "gzip");
});

test("@grpc/grpc-js clients get the same answers, errors and metadata from the fast path and from connect-node", async (t) => {
  const h = await start(t);
  const plain = grpcJsClient(t, h.server.port, false);
  const gzipped = grpcJsClient(t, h.server.port, true);
  const id = { "x-request-id": "rs-7" };
  for (const [method, request] of [
    ["VerifyToken", { token: h.adminToken, organization: "iam-admins", project: "iam-admins" }],
    ["VerifyToken", { token: "garbage" }],
    ["Introspect", { ...DEFAULT, token: h.adminToken }],
  ] as const) {
    const a = await plain(method, request, id);
    const b = await gzipped(method, request, id);
    t.deepEqual(a.response, b.response, method);
    t.is(a.err?.code, b.err?.code, method);
    t.is(a.err?.details, b.err?.details, method);
    t.deepEqual(a.err?.metadata.get(ERROR_KEY), b.err?.metadata.get(ERROR_KEY), method);
    t.deepEqual(a.headers?.get("x-request-id"), ["rs-7"]);
    t.deepEqual(b.headers?.get("x-request-id"), ["rs-7"]);
  }
  const introspect = await plain("Introspect", { ...DEFAULT, token: h.adminToken });
  t.is(introspect.err?.code, grpc.status.UNAUTHENTICATED);
  t.deepEqual(introspect.err?.metadata.get(ERROR_KEY), ["invalid_client"]);
  const active = await plain("VerifyToken", { token: h.adminToken, organization: "iam-admins", project: "iam-admins" });
  t.is((active.response as { active: boolean }).active, true);
});

test("@grpc/grpc-js: an envelope over 64 KiB is RESOURCE_EXHAUSTED on both paths, and the channel keeps serving", async (t) => {
  const h = await start(t);
  for (const gzip of [false, true]) {
    const call = grpcJsClient(t, h.server.port, gzip);
    const big = await call("VerifyToken", { token: "x".repeat(100 * 1024) });
    t.is(big.err?.code, grpc.status.RESOURCE_EXHAUSTED, `gzip ${gzip}: ${big.err?.details}`);
    const small = await call("VerifyToken", { token: "x".repeat(1024) });
    t.is(small.err, null);
    t.is((small.response as { active: boolean }).active, false);
  }
});

test("the fast path itself answers plain unary gRPC calls, and leaves every other call untouched for connect-node", async (t) => {
  const c = await startTestCore();
  t.teardown(() => c.close());
  // A port with the fast path alone: whatever it does not take is answered 404 here.
  const { router, methods } = recordUnaryMethods(createConnectRouter());
  c.core.routes(router);
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    if (!serveGrpcUnary(methods, stream, headers, 64 * 1024)) {
      stream.respond({ ":status": 404 });
      stream.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  session.on("error", () => {});
  t.teardown(() => session.close());

  const verify = toBinary(VerifyTokenRequestSchema, create(VerifyTokenRequestSchema, { token: "garbage" }));
  const taken = await rawCall(session, "/iam.v1.TokenService/VerifyToken", envelope(verify));
  t.is(taken.status, 200);
  t.is(taken.metadata["grpc-status"], "0");
  t.is(taken.messages.length, 1, "answered with the message");
  t.is(taken.metadata["content-type"], "application/grpc+proto");
  t.truthy(taken.metadata["x-request-id"], "through the instrumented implementation");

  const left = [
    ["compressed", "/iam.v1.TokenService/VerifyToken", envelope(gzipSync(verify), 1), { "grpc-encoding": "gzip" }],
    ["gRPC-Web", "/iam.v1.TokenService/VerifyToken", envelope(verify), { "content-type": "application/grpc-web+proto" }],
    ["JSON", "/iam.v1.TokenService/VerifyToken", envelope(Buffer.from('{"token":"garbage"}')), { "content-type": "application/grpc+json" }],
    ["Connect", "/iam.v1.TokenService/VerifyToken", Buffer.from(verify), { "content-type": "application/proto" }],
    ["a server stream", "/grpc.health.v1.Health/Watch", envelope(new Uint8Array()), {}],
    ["an unknown method", "/iam.v1.TokenService/Nothing", envelope(verify), {}],
  ] as const;
  for (const [name, path, body, headers] of left) {
    t.is((await rawCall(session, path, body, headers)).status, 404, `${name} is left to connect-node`);
  }
});
