/**
 * The core's port as an HTTP/2 server under abuse (RFC 9113): after a
 * connection error it sends GOAWAY and closes the TCP connection (§5.4.1);
 * requests that never arrive whole are reset, silent connections closed, idle
 * ones closed gracefully; streams per connection are bounded. A client here
 * writes frames by hand and reads what comes back; the times are made short
 * through startCoreServer's options.
 */
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import test, { type ExecutionContext } from "ava";
import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";
import { startCoreServer, type RunningServer } from "../../core/server/listen.js";
import type { Http2Limits } from "../../core/server/http2-connections.js";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../gen/grpc/health/v1/health_pb.js";
import { VerifyTokenRequestSchema } from "../../gen/iam/v1/token_pb.js";
import { startTestCore, type TestCore } from "../helpers.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const enum Type {
  DATA = 0x0,
  HEADERS = 0x1,
  RST_STREAM = 0x3,
  SETTINGS = 0x4,
  PING = 0x6,
  GOAWAY = 0x7,
  WINDOW_UPDATE = 0x8,
}
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
/** Error codes (RFC 9113 §7). */
const NO_ERROR = 0x0;
const PROTOCOL_ERROR = 0x1;
const INTERNAL_ERROR = 0x2;
const FRAME_SIZE_ERROR = 0x6;
const REFUSED_STREAM = 0x7;
const CANCEL = 0x8;
const COMPRESSION_ERROR = 0x9;

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
  /** performance.now() when it was read. */
  at: number;
}

function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

/** A header block of literal fields, never indexed and not Huffman-coded (RFC 7541 §6.2.3): names and values under 127 bytes. */
function headerBlock(fields: [string, string][]): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of fields) {
    bytes.push(0x10, name.length, ...Buffer.from(name, "latin1"), value.length, ...Buffer.from(value, "latin1"));
  }
  return Buffer.from(bytes);
}

/** A gRPC call's request headers to `path` (gRPC over HTTP/2) or a Connect unary call's. */
function requestHeaders(path: string, protocol: "grpc" | "connect" = "grpc"): Buffer {
  return headerBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1"],
    ["content-type", protocol === "grpc" ? "application/grpc" : "application/proto"],
    ...(protocol === "grpc" ? ([["te", "trailers"]] as [string, string][]) : []),
  ]);
}

/**
 * An HTTP/2 client that writes frames by hand. It acknowledges the server's
 * SETTINGS and PINGs unless told to stay mute, and keeps its side of the TCP
 * connection open after the server ends its own (allowHalfOpen), so that only
 * the server's close is seen.
 */
class RawClient {
  readonly frames: Frame[] = [];
  /** performance.now() when the server ended or closed the TCP connection. */
  closedAt: number | undefined;
  mute = false;
  readonly #socket: net.Socket;
  #buffer = Buffer.alloc(0);
  readonly #waiters = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#read(chunk));
    const closed = () => {
      this.closedAt ??= performance.now();
      this.#wake();
    };
    socket.on("end", closed);
    socket.on("close", closed);
    socket.on("error", () => {});
  }

  static async connect(t: ExecutionContext, port: number, options: { mute?: boolean } = {}): Promise<RawClient> {
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    t.teardown(() => socket.destroy());
    const client = new RawClient(socket);
    client.mute = options.mute ?? false;
    client.write(Buffer.concat([PREFACE, frame(Type.SETTINGS, 0, 0)]));
    await client.next((f) => f.type === Type.SETTINGS && (f.flags & ACK) === 0);
    return client;
  }

  write(bytes: Buffer): void {
    this.#socket.write(bytes);
  }

  send(type: number, flags: number, stream: number, payload?: Buffer): void {
    this.write(frame(type, flags, stream, payload));
  }

  /** The first frame (read so far or to come) that matches, within `ms`. */
  async next(match: (f: Frame) => boolean, ms = 5_000): Promise<Frame> {
    const deadline = performance.now() + ms;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.closedAt !== undefined) throw new Error("the connection closed before the frame came");
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no such frame within ${ms} ms; got ${this.frames.map((f) => f.type).join(",")}`);
      await this.#wait(left);
    }
  }

  /** When the server closed the connection, waiting for it at most `ms`. */
  async closed(ms = 10_000): Promise<number> {
    const deadline = performance.now() + ms;
    while (this.closedAt === undefined) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`the server kept the connection open for ${ms} ms`);
      await this.#wait(left);
    }
    return this.closedAt;
  }

  #wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      const f: Frame = {
        type: this.#buffer[3]!,
        flags: this.#buffer[4]!,
        stream: this.#buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buffer.subarray(9, 9 + length),
        at: performance.now(),
      };
      this.#buffer = this.#buffer.subarray(9 + length);
      this.frames.push(f);
      if (!this.mute && (f.flags & ACK) === 0 && f.type === Type.SETTINGS) this.send(Type.SETTINGS, ACK, 0);
      if (!this.mute && (f.flags & ACK) === 0 && f.type === Type.PING) this.send(Type.PING, ACK, 0, f.payload);
    }
    this.#wake();
  }
}

const goawayCode = (f: Frame) => f.payload.readUInt32BE(4);
const goawayLastStream = (f: Frame) => f.payload.readUInt32BE(0) & 0x7fffffff;
const rstCode = (f: Frame) => f.payload.readUInt32BE(0);
/** SETTINGS parameters by identifier (RFC 9113 §6.5.1). */
function settingsOf(f: Frame): Map<number, number> {
  const values = new Map<number, number>();
  for (let i = 0; i + 6 <= f.payload.length; i += 6) values.set(f.payload.readUInt16BE(i), f.payload.readUInt32BE(i + 2));
  return values;
}

/** Slack for timers on a busy 2-core machine. */
const SLACK_MS = 1_500;

async function startCore(t: ExecutionContext, http2: Partial<Http2Limits> = {}): Promise<{ c: TestCore; server: RunningServer }> {
  const c = await startTestCore();
  t.teardown(() => c.close());
  const server = await startCoreServer(c.core.routes, "127.0.0.1", 0, { http2 });
  t.teardown(() => server.close(100));
  return { c, server };
}

/** A plain gRPC unary call answers on a fresh connection: the port still serves. */
async function stillServes(t: ExecutionContext, server: RunningServer): Promise<void> {
  const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` });
  const health = createClient(Health, transport);
  t.is((await health.check({})).status, Serving.SERVING);
}

const VERIFY = "/iam.v1.TokenService/VerifyToken";
const verifyEnvelope = (() => {
  const message = toBinary(VerifyTokenRequestSchema, create(VerifyTokenRequestSchema, { token: "x" }));
  const bytes = Buffer.alloc(5 + message.length);
  bytes.writeUInt32BE(message.length, 1);
  bytes.set(message, 5);
  return bytes;
})();

const FAST_PROBE = { silenceMs: 300, pingTimeoutMs: 300 };

for (const [name, bytes, code] of [
  ["a DATA frame on stream 0", frame(Type.DATA, 0, 0, Buffer.from("x")), PROTOCOL_ERROR],
  ["a frame larger than SETTINGS_MAX_FRAME_SIZE", frame(Type.DATA, 0, 1, Buffer.alloc(16_385)), FRAME_SIZE_ERROR],
  ["a header block that does not decode", frame(Type.HEADERS, END_HEADERS | END_STREAM, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])), COMPRESSION_ERROR],
] as const) {
  test(`after a connection error (${name}) the core sends GOAWAY with its code and closes the TCP connection within silence + PING timeout`, async (t) => {
    const { server } = await startCore(t, FAST_PROBE);
    const client = await RawClient.connect(t, server.port);
    client.write(bytes);
    const goaway = await client.next((f) => f.type === Type.GOAWAY);
    t.is(goawayCode(goaway), code);
    const closedAt = await client.closed();
    t.true(closedAt - goaway.at <= FAST_PROBE.silenceMs + FAST_PROBE.pingTimeoutMs + SLACK_MS, `closed ${Math.round(closedAt - goaway.at)} ms after the GOAWAY`);
    await stillServes(t, server);
  });
}

test("a silent connection (frames neither sent nor acknowledged) is sent a PING, then closed", async (t) => {
  const { server } = await startCore(t, FAST_PROBE);
  const opened = performance.now();
  const client = await RawClient.connect(t, server.port, { mute: true });
  const ping = await client.next((f) => f.type === Type.PING && (f.flags & ACK) === 0);
  t.true(ping.at - opened >= FAST_PROBE.silenceMs - 50, `PING after ${Math.round(ping.at - opened)} ms`);
  const closedAt = await client.closed();
  t.true(closedAt - ping.at >= FAST_PROBE.pingTimeoutMs - 50, `closed ${Math.round(closedAt - ping.at)} ms after the PING`);
  t.true(closedAt - ping.at <= FAST_PROBE.pingTimeoutMs + SLACK_MS, `closed ${Math.round(closedAt - ping.at)} ms after the PING`);
});

test("a connection that answers PINGs but opens no stream is closed gracefully (GOAWAY NO_ERROR) after the idle time, and cut off if it keeps its side open", async (t) => {
  const limits = { silenceMs: 200, pingTimeoutMs: 300, idleTimeoutMs: 1_000 };
  const { server } = await startCore(t, limits);
  const opened = performance.now();
  const client = await RawClient.connect(t, server.port);
  const goaway = await client.next((f) => f.type === Type.GOAWAY, limits.idleTimeoutMs + SLACK_MS);
  t.is(goawayCode(goaway), NO_ERROR);
  t.is(goawayLastStream(goaway), 0);
  t.true(goaway.at - opened >= limits.idleTimeoutMs - 50, `GOAWAY after ${Math.round(goaway.at - opened)} ms`);
  t.true(client.frames.some((f) => f.type === Type.PING), "the silent stretch was probed");
  // The client does not close its side: the server does, after the PING timeout.
  const closedAt = await client.closed();
  t.true(closedAt - goaway.at <= limits.pingTimeoutMs + SLACK_MS, `closed ${Math.round(closedAt - goaway.at)} ms after the GOAWAY`);
});

for (const [name, protocol, body] of [
  ["a gRPC call's headers without END_STREAM", "grpc", undefined],
  ["a gRPC call's body never ended", "grpc", verifyEnvelope],
  ["a Connect call's body never ended (connect-node)", "connect", Buffer.from([0x0a, 0x01])],
] as const) {
  test(`a request that does not arrive whole within the request timeout is reset (RST_STREAM CANCEL): ${name}`, async (t) => {
    const limits = { requestTimeoutMs: 500, ...FAST_PROBE };
    const { server } = await startCore(t, limits);
    const client = await RawClient.connect(t, server.port);
    const sent = performance.now();
    client.send(Type.HEADERS, END_HEADERS, 1, requestHeaders(VERIFY, protocol));
    if (body !== undefined) client.send(Type.DATA, 0, 1, body);
    const reset = await client.next((f) => f.type === Type.RST_STREAM && f.stream === 1, limits.requestTimeoutMs + SLACK_MS);
    t.is(rstCode(reset), CANCEL);
    t.true(reset.at - sent >= limits.requestTimeoutMs - 50, `reset after ${Math.round(reset.at - sent)} ms`);
    t.false(client.frames.some((f) => f.type === Type.HEADERS && f.stream === 1), "nothing was answered");
    // The connection itself is fine: the next call on it is answered.
    client.send(Type.HEADERS, END_HEADERS, 3, requestHeaders(VERIFY));
    client.send(Type.DATA, END_STREAM, 3, verifyEnvelope);
    const answer = await client.next((f) => f.type === Type.HEADERS && f.stream === 3 && (f.flags & END_STREAM) !== 0);
    t.truthy(answer);
    t.is(client.closedAt, undefined);
  });
}

test("a request trickled in, byte by byte, is reset at the request timeout though the connection is never silent", async (t) => {
  const limits = { requestTimeoutMs: 600, ...FAST_PROBE };
  const { server } = await startCore(t, limits);
  const client = await RawClient.connect(t, server.port);
  const sent = performance.now();
  client.send(Type.HEADERS, END_HEADERS, 1, requestHeaders(VERIFY));
  let i = 0;
  const trickle = setInterval(() => client.send(Type.DATA, 0, 1, verifyEnvelope.subarray(i, ++i)), 50);
  t.teardown(() => clearInterval(trickle));
  const reset = await client.next((f) => f.type === Type.RST_STREAM && f.stream === 1, limits.requestTimeoutMs + SLACK_MS);
  clearInterval(trickle);
  t.is(rstCode(reset), CANCEL);
  t.true(reset.at - sent >= limits.requestTimeoutMs - 50);
});

test("a health Watch stream outlives the request timeout and the idle time once its request has arrived", async (t) => {
  const limits = { requestTimeoutMs: 300, idleTimeoutMs: 300, silenceMs: 200, pingTimeoutMs: 300 };
  const { c, server } = await startCore(t, limits);
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
  const watch = health.watch({})[Symbol.asyncIterator]();
  t.is((await watch.next()).value?.status, Serving.SERVING);
  await new Promise((resolve) => setTimeout(resolve, 3 * limits.requestTimeoutMs));
  c.core.health.drain();
  t.is((await watch.next()).value?.status, Serving.NOT_SERVING);
  await watch.return?.();
});

test("the core advertises SETTINGS_MAX_CONCURRENT_STREAMS 100", async (t) => {
  const { server } = await startCore(t);
  const client = await RawClient.connect(t, server.port);
  const settings = await client.next((f) => f.type === Type.SETTINGS && (f.flags & ACK) === 0);
  t.is(settingsOf(settings).get(0x3), 100);
});

test("streams beyond SETTINGS_MAX_CONCURRENT_STREAMS opened before the client acknowledged the SETTINGS are refused (RST_STREAM REFUSED_STREAM)", async (t) => {
  const { server } = await startCore(t, { maxConcurrentStreams: 2 });
  const client = await RawClient.connect(t, server.port, { mute: true });
  t.is(settingsOf(await client.next((f) => f.type === Type.SETTINGS && (f.flags & ACK) === 0)).get(0x3), 2);
  for (const stream of [1, 3, 5]) client.send(Type.HEADERS, END_HEADERS, stream, requestHeaders(VERIFY));
  const refused = await client.next((f) => f.type === Type.RST_STREAM);
  t.is(refused.stream, 5);
  t.is(rstCode(refused), REFUSED_STREAM);
  // The connection and the first two streams live on: one of them is answered.
  client.send(Type.DATA, END_STREAM, 1, verifyEnvelope);
  await client.next((f) => f.type === Type.HEADERS && f.stream === 1);
  t.false(client.frames.some((f) => f.type === Type.GOAWAY));
});

test("a client that acknowledged SETTINGS_MAX_CONCURRENT_STREAMS and opens more streams breaks the protocol: GOAWAY, and the connection is closed", async (t) => {
  const { server } = await startCore(t, { maxConcurrentStreams: 2, ...FAST_PROBE });
  const client = await RawClient.connect(t, server.port);
  t.is(settingsOf(await client.next((f) => f.type === Type.SETTINGS && (f.flags & ACK) === 0)).get(0x3), 2);
  await client.next((f) => f.type === Type.SETTINGS && (f.flags & ACK) !== 0);
  for (const stream of [1, 3, 5]) client.send(Type.HEADERS, END_HEADERS, stream, requestHeaders(VERIFY));
  const goaway = await client.next((f) => f.type === Type.GOAWAY);
  // nghttp2 finds a protocol error, upon which Node destroys the session: its GOAWAY says INTERNAL_ERROR.
  t.is(goawayCode(goaway), INTERNAL_ERROR);
  t.true(goawayLastStream(goaway) < 5, "the third stream was not processed");
  t.false(client.frames.some((f) => f.type === Type.HEADERS && f.stream === 5));
  await client.closed();
  await stillServes(t, server);
});

test("a client that read the server's SETTINGS queues calls beyond SETTINGS_MAX_CONCURRENT_STREAMS: every call is answered", async (t) => {
  const { server } = await startCore(t, { maxConcurrentStreams: 2 });
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
  // Streams opened before the client has the server's SETTINGS are refused
  // (REFUSED_STREAM, RFC 9113 §5.1.2): the first call opens the connection.
  await health.check({});
  const answers = await Promise.all(Array.from({ length: 20 }, () => health.check({})));
  t.true(answers.every((a) => a.status === Serving.SERVING));
});

/** A @grpc/grpc-js TokenService client, as a resource server makes one. */
function grpcJsTokenClient(t: ExecutionContext, port: number) {
  const definition = protoLoader.loadSync("iam/v1/token.proto", {
    includeDirs: [fileURLToPath(new URL("../../proto", import.meta.url))],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const { iam } = grpc.loadPackageDefinition(definition) as unknown as {
    iam: { v1: { TokenService: new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & Record<string, grpc.requestCallback<unknown>> } };
  };
  const client = new iam.v1.TokenService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const verify = (token: string) =>
    new Promise<{ active: boolean; failure: string }>((resolve, reject) =>
      (client as unknown as { VerifyToken: (r: unknown, cb: (err: Error | null, res: { active: boolean; failure: string }) => void) => void }).VerifyToken(
        { token },
        (err, res) => (err === null ? resolve(res) : reject(err)),
      ),
    );
  return { client, verify };
}

test("a @grpc/grpc-js channel keeps working across the idle close: it reconnects when it next calls", async (t) => {
  const limits = { idleTimeoutMs: 400, silenceMs: 200, pingTimeoutMs: 300 };
  const { server } = await startCore(t, limits);
  const { client, verify } = grpcJsTokenClient(t, server.port);
  t.false((await verify("not a token")).active);
  t.is(client.getChannel().getConnectivityState(false), grpc.connectivityState.READY);
  // The server's GOAWAY puts the channel back to IDLE.
  const deadline = performance.now() + limits.idleTimeoutMs + SLACK_MS;
  while (client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.not(client.getChannel().getConnectivityState(false), grpc.connectivityState.READY, "the idle connection was closed");
  for (let i = 0; i < 3; i++) t.false((await verify("not a token")).active);
});

test("a connect-node gRPC transport (the gateway's, iam-core/client's) keeps working across the idle close", async (t) => {
  const limits = { idleTimeoutMs: 400, silenceMs: 200, pingTimeoutMs: 300 };
  const { server } = await startCore(t, limits);
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
  t.is((await health.check({})).status, Serving.SERVING);
  await new Promise((resolve) => setTimeout(resolve, limits.idleTimeoutMs + limits.pingTimeoutMs + 300));
  for (let i = 0; i < 3; i++) t.is((await health.check({})).status, Serving.SERVING);
});
