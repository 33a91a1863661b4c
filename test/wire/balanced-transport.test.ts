import { readdirSync } from "node:fs";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import type { DescFile, DescMethod } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import test, { type ExecutionContext } from "ava";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { AuditService } from "../../gen/iam/v1/audit_pb.js";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuthorizationService } from "../../gen/iam/v1/authorization_pb.js";
import { RegistrationService } from "../../gen/iam/v1/registration_pb.js";
import { TokenService } from "../../gen/iam/v1/token_pb.js";
import { startCoreServer, type RunningServer } from "../../core/server/listen.js";
import { createBalancedTransport, isRepeatable, type BalancedTransportOptions } from "../../wire/balanced-transport.js";
import { ADMIN_CLIENT_SECRET, DEFAULT, startTestCore, type TestCore } from "../helpers.js";

/**
 * A real core (its own temporary database) served on a loopback HTTP/2 port
 * that can be closed (connections are then refused) and opened again.
 */
interface Replica {
  url: string;
  core: TestCore;
  /** RPCs of `method` (e.g. "iam.v1.TokenService/GetJwks") this core has handled. */
  calls(method: string): Promise<number>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Ports for replicas and refusing URLs, taken in turn from below the kernel's
 * ephemeral range (32768 and up), which `listen(0)` never hands out: a port
 * this file frees when it stops a replica is taken by no other server, here
 * or in another test process, so that its URL keeps refusing connections
 * until that same replica starts again. With ports from `listen(0)`, a
 * stopped replica's URL could reach another test's core.
 */
let nextPort = 20_000 + Math.floor(Math.random() * 10_000);

/** Runs `listen` on the next free port of this file's range; answers the port. */
async function onOwnPort<T>(listen: (port: number) => Promise<T>): Promise<{ port: number; listening: T }> {
  for (;;) {
    const port = nextPort++;
    try {
      return { port, listening: await listen(port) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    }
  }
}

async function startReplica(t: ExecutionContext): Promise<Replica> {
  const core = await startTestCore();
  const first = await onOwnPort((port) => startCoreServer(core.core.routes, "127.0.0.1", port));
  let server: RunningServer | undefined = first.listening;
  const port = first.port;
  const replica: Replica = {
    url: `http://127.0.0.1:${port}`,
    core,
    async calls(method) {
      const { values } = await core.core.deps.metrics.rpcs.get();
      return values.filter((v) => v.labels.method === method).reduce((sum, v) => sum + v.value, 0);
    },
    async stop() {
      await server?.close(0);
      server = undefined;
    },
    async start() {
      server ??= await startCoreServer(core.core.routes, "127.0.0.1", port);
    },
  };
  t.teardown(async () => {
    await replica.stop();
    await core.close();
  });
  return replica;
}

/** A port nothing listens on (it was free, and no other server is given it): connecting to it is refused. */
async function refusingUrl(): Promise<string> {
  const { port, listening: probe } = await onOwnPort(async (port) => {
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(port, "127.0.0.1", resolve);
    });
    return probe;
  });
  await new Promise((resolve) => probe.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/**
 * A raw HTTP/2 server that takes each request in whole and then breaks the
 * connection under it (the replica died mid-call: it may have acted on it),
 * or answers it with a gRPC status of its own.
 */
async function brokenServer(
  t: ExecutionContext,
  behaviour: "destroy-session" | "reset-socket" | "unavailable",
  delayMs = 0,
): Promise<{ url: string; streams: string[] }> {
  const streams: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http2.createServer();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("error", () => {});
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    streams.push(String(headers[":path"]));
    stream.on("error", () => {});
    stream.resume();
    stream.on("end", () => (delayMs > 0 ? setTimeout(answer, delayMs) : answer()));
    const answer = () => {
      if (behaviour === "unavailable") {
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "14", "grpc-message": "draining" }, { endStream: true });
      } else if (behaviour === "destroy-session") {
        stream.session?.destroy();
      } else {
        for (const socket of sockets) socket.resetAndDestroy();
      }
    };
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    for (const session of sessions) session.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, streams };
}

/** A raw HTTP/2 server that takes each request and never answers it; `timeouts` are the requests' grpc-timeout. */
async function silentServer(t: ExecutionContext): Promise<{ url: string; timeouts: string[] }> {
  const timeouts: string[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("error", () => {});
    session.on("close", () => sessions.delete(session));
  });
  server.on("stream", (stream, headers) => {
    timeouts.push(String(headers["grpc-timeout"]));
    stream.on("error", () => {});
    stream.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(async () => {
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeouts };
}

/**
 * The RPCs the balanced transport repeated when it kept its own list, before
 * the .proto files declared `idempotency_level`: what it reads from the
 * descriptors must be exactly this set, no more and no less.
 */
const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  "iam.v1.TokenService/VerifyToken",
  "iam.v1.TokenService/Introspect",
  "iam.v1.TokenService/UserInfo",
  "iam.v1.TokenService/GetJwks",
  "iam.v1.TokenService/GetServerMetadata",
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/List",
  "grpc.health.v1.Health/Watch",
  "iam.v1.AdminService/GetOrganization",
  "iam.v1.AdminService/ListOrganizations",
  "iam.v1.AdminService/GetProject",
  "iam.v1.AdminService/ListProjects",
  "iam.v1.AdminService/GetClient",
  "iam.v1.AdminService/ListClients",
  "iam.v1.AdminService/ListClientMetadataDocumentRules",
  "iam.v1.AdminService/GetUser",
  "iam.v1.AdminService/ListUsers",
  "iam.v1.AdminService/ListUserConsents",
  // Added since: it reads a user's sign-in sessions, as ListUserConsents reads their consents.
  "iam.v1.AdminService/ListUserSessions",
  // Added since: a user's second factors and a project's multi-factor policy, read as sessions are.
  "iam.v1.AdminService/ListUserFactors",
  "iam.v1.AdminService/GetMfaPolicy",
  "iam.v1.AdminService/ListPermissions",
  "iam.v1.AdminService/ListRoles",
  // Added since: what an administration console shows of a project, its counts and its keys' states.
  "iam.v1.AdminService/GetProjectSummary",
  "iam.v1.AdminService/ListSigningKeys",
  // Added since: the audit trail is read, never written, by its readers.
  "iam.v1.AuditService/ListEvents",
  "iam.v1.AuditService/StreamEvents",
  // Added since: a project's protected resources (RFC 8707) and initial access tokens (RFC 7591), and a
  // client's own registration (RFC 7592), each read as clients are.
  "iam.v1.AdminService/GetResource",
  "iam.v1.AdminService/ListResources",
  "iam.v1.AdminService/ListInitialAccessTokens",
  "iam.v1.RegistrationService/GetClientRegistration",
]);

const JWKS = "iam.v1.TokenService/GetJwks";
const TOKEN = "iam.v1.TokenService/Token";

function balanced(urls: string[], options?: BalancedTransportOptions) {
  const transport = createBalancedTransport(urls, options);
  return {
    transport,
    tokens: createClient(TokenService, transport),
    health: createClient(Health, transport),
  };
}

/** A client_credentials token request of admin-client: not safe to repeat once delivered. */
const clientCredentials = {
  ...DEFAULT,
  grantType: "client_credentials",
  basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET },
};

async function rejection(t: ExecutionContext, promise: Promise<unknown>): Promise<ConnectError> {
  const err = await t.throwsAsync(promise);
  t.true(err instanceof ConnectError, String(err));
  return err as ConnectError;
}

test("calls go round-robin over the replicas", async (t) => {
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  const { tokens, health } = balanced([a!.url, b!.url]);
  const kids = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const { keys } = await tokens.getJwks(DEFAULT);
    kids.add(keys[0]!.kid);
  }
  t.is(await a!.calls(JWKS), 5);
  t.is(await b!.calls(JWKS), 5);
  // Each core has a key of its own: both answered.
  t.is(kids.size, 2);
  for (let i = 0; i < 4; i++) t.is((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
  t.is(await a!.calls("grpc.health.v1.Health/Check"), 2);
  t.is(await b!.calls("grpc.health.v1.Health/Check"), 2);
});

test("with one replica closed, every read-only call still succeeds and the closed one leaves the rotation", async (t) => {
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  await b!.stop();
  const changes: string[] = [];
  const { transport, tokens, health } = balanced([b!.url, a!.url], {
    backoffMs: 60_000,
    onReplicaChange: (c) => changes.push(`${c.url} ${c.up ? "up" : "down"}`),
  });
  for (let i = 0; i < 4; i++) t.is((await tokens.getJwks(DEFAULT)).keys.length, 2);
  t.false((await tokens.verifyToken({ token: "not-a-token" })).active);
  t.false((await tokens.introspect({ ...DEFAULT, token: "not-a-token", client: clientCredentials.basic })).active);
  t.is((await tokens.getServerMetadata(DEFAULT)).issuer, "http://iam.test/services/oauth2/iam-admins/iam-admins");
  t.is((await health.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
  // The error is the live core's answer, not the closed one's absence.
  t.is((await rejection(t, tokens.userInfo({ ...DEFAULT, token: "not-a-token" }))).code, Code.Unauthenticated);
  t.is(await a!.calls(JWKS), 4);
  t.is(await a!.calls("iam.v1.TokenService/UserInfo"), 1);
  t.deepEqual(
    transport.replicas().map((r) => r.up),
    [false, true],
  );
  t.deepEqual(changes, [`${b!.url} down`]);
});

test("a server stream (health Watch) fails over too, its input sent again", async (t) => {
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  await b!.stop();
  const { health } = balanced([b!.url, a!.url]);
  const abort = new AbortController();
  for await (const answer of health.watch({ service: "" }, { signal: abort.signal })) {
    t.is(answer.status, HealthCheckResponse_ServingStatus.SERVING);
    abort.abort();
    break;
  }
});

test("a server stream whose connection dies before its response is sent again, input and all", async (t) => {
  const a = await startReplica(t);
  const broken = await brokenServer(t, "destroy-session");
  const { health } = balanced([broken.url, a.url]);
  const abort = new AbortController();
  const statuses: HealthCheckResponse_ServingStatus[] = [];
  // An unknown service: SERVICE_UNKNOWN, where an empty (lost) input message would be the server's SERVING.
  for await (const answer of health.watch({ service: "iam.v1.NoSuchService" }, { signal: abort.signal })) {
    statuses.push(answer.status);
    abort.abort();
    break;
  }
  t.deepEqual(statuses, [HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN]);
  // The broken replica got the whole request (its one input message) before it died.
  t.deepEqual(broken.streams, ["/grpc.health.v1.Health/Watch"]);
});

test("a call that is not safe to repeat is still sent to another replica when the connection was refused", async (t) => {
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  await b!.stop();
  // A fresh transport: its first call goes to the closed replica.
  const { transport, tokens } = balanced([b!.url, a!.url], { backoffMs: 60_000 });
  const answer = await tokens.token(clientCredentials);
  t.truthy(answer.accessToken);
  t.is(await a!.calls(TOKEN), 1);
  t.false(transport.replicas()[0]!.up);
  // Revoke too (an unknown token is no error).
  const c = await startReplica(t);
  await c.stop();
  const other = balanced([c.url, a!.url]);
  await other.tokens.revoke({ ...DEFAULT, token: "unknown", client: clientCredentials.basic });
  t.is(await a!.calls("iam.v1.TokenService/Revoke"), 1);
});

for (const behaviour of ["destroy-session", "reset-socket"] as const) {
  test(`a call not safe to repeat is not sent again when the connection dies mid-request (${behaviour})`, async (t) => {
    const a = await startReplica(t);
    const broken = await brokenServer(t, behaviour);
    const { transport, tokens } = balanced([broken.url, a.url], { backoffMs: 60_000 });
    const err = await rejection(t, tokens.token(clientCredentials));
    // Not retried: UNAVAILABLE, saying it may have been carried out, with the broken connection's error as its cause.
    // (Connect says CANCELED when it sees the HTTP/2 session go first, ABORTED for the socket's ECONNRESET.)
    t.is(err.code, Code.Unavailable, err.message);
    t.regex(err.message, /may have been carried out; not repeated/);
    const cause = ConnectError.from(err.cause);
    t.true(cause.code === Code.Canceled || cause.code === Code.Aborted, cause.message);
    t.notRegex(err.message, /no replica of the core answered/);
    t.deepEqual(broken.streams, [`/${TOKEN}`]);
    t.is(await a.calls(TOKEN), 0, "the other replica never saw the token request");
    t.false(transport.replicas()[0]!.up, "the broken replica left the rotation");
    // An authorization code exchange likewise (the request reaches the broken replica in whole).
    const again = balanced([broken.url, a.url]);
    await rejection(t, again.tokens.token({ ...DEFAULT, grantType: "authorization_code", code: "some-code", clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET }));
    t.is(await a.calls(TOKEN), 0);
    t.is(broken.streams.length, 2);
  });

  test(`a read-only call is sent to the next replica when the connection dies mid-request (${behaviour})`, async (t) => {
    const a = await startReplica(t);
    const broken = await brokenServer(t, behaviour);
    const { tokens } = balanced([broken.url, a.url]);
    t.is((await tokens.getJwks(DEFAULT)).keys.length, 2);
    t.deepEqual(broken.streams, [`/${JWKS}`]);
    t.is(await a.calls(JWKS), 1);
  });
}

test("login, consent and authorize are not repeated after a broken connection either", async (t) => {
  const a = await startReplica(t);
  const broken = await brokenServer(t, "destroy-session");
  const authorization = createClient(AuthorizationService, createBalancedTransport([broken.url, a.url]));
  await rejection(t, authorization.login({ requestId: "r", username: "admin", password: "x" }));
  const authorization2 = createClient(AuthorizationService, createBalancedTransport([broken.url, a.url]));
  await rejection(t, authorization2.consent({ requestId: "r", scopes: [] }));
  const authorization3 = createClient(AuthorizationService, createBalancedTransport([broken.url, a.url]));
  await rejection(t, authorization3.authorize({ ...DEFAULT, responseType: "code", clientId: "admin-client" }));
  t.is(broken.streams.length, 3);
  for (const method of ["Login", "Consent", "Authorize"]) t.is(await a.calls(`iam.v1.AuthorizationService/${method}`), 0, method);
});

test("a replica answering UNAVAILABLE leaves the rotation; only read-only calls are sent again", async (t) => {
  const a = await startReplica(t);
  const draining = await brokenServer(t, "unavailable");
  const first = balanced([draining.url, a.url], { backoffMs: 60_000 });
  t.is((await first.tokens.getJwks(DEFAULT)).keys.length, 2);
  t.false(first.transport.replicas()[0]!.up);
  const second = balanced([draining.url, a.url]);
  const err = await rejection(t, second.tokens.token(clientCredentials));
  t.is(err.code, Code.Unavailable);
  t.is(err.rawMessage, "draining", "the replica's own answer");
  t.is(await a.calls(TOKEN), 0);
  t.deepEqual(draining.streams, [`/${JWKS}`, `/${TOKEN}`]);
});

test("a replica that comes back gets calls again once its back-off is over", async (t) => {
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  const { transport, tokens } = balanced([a!.url, b!.url], { backoffMs: 1500 });
  await b!.stop();
  // Taken before the failure that starts the back-off: the time since is never shorter than the back-off's own.
  const failingFrom = performance.now();
  for (let i = 0; i < 2; i++) await tokens.getJwks(DEFAULT);
  const states = transport.replicas();
  const elapsed = performance.now() - failingFrom;
  t.deepEqual(
    states.map((r) => r.backoffMs),
    [0, 1500],
  );
  t.true(states[0]!.up);
  // The state is a function of the clock: on a loaded machine the two calls can outlast the back-off itself.
  if (elapsed < 1500) t.false(states[1]!.up, "out of the rotation while its back-off lasts");
  await b!.start();
  for (let i = 0; i < 4; i++) await tokens.getJwks(DEFAULT);
  // Inside its back-off, the replica is left alone even though it is back.
  if (performance.now() - failingFrom < 1400) t.is(await b!.calls(JWKS), 0);
  while (!transport.replicas()[1]!.up) await new Promise((resolve) => setTimeout(resolve, 50));
  const before = { a: await a!.calls(JWKS), b: await b!.calls(JWKS) };
  for (let i = 0; i < 6; i++) await tokens.getJwks(DEFAULT);
  t.is((await a!.calls(JWKS)) - before.a, 3);
  t.is((await b!.calls(JWKS)) - before.b, 3);
  t.deepEqual(transport.replicas()[1], { url: b!.url, up: true, backoffMs: 0 }, "its first answer ends the back-off");
});

test("the back-off doubles with each failure in a row, up to its cap", async (t) => {
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  await b!.stop();
  const { transport, tokens } = balanced([b!.url, a!.url], { backoffMs: 200, maxBackoffMs: 600 });
  const seen: number[] = [];
  for (let i = 0; i < 4; i++) {
    while (!transport.replicas()[0]!.up) await new Promise((resolve) => setTimeout(resolve, 20));
    // Two calls: whichever turn it is, one of them tries the closed replica.
    for (let j = 0; j < 2; j++) await tokens.getJwks(DEFAULT);
    seen.push(transport.replicas()[0]!.backoffMs);
  }
  t.deepEqual(seen, [200, 400, 600, 600]);
});

test("when every replica is down a call fails UNAVAILABLE, naming how many it tried", async (t) => {
  const [a, b] = await Promise.all([startReplica(t), startReplica(t)]);
  await Promise.all([a!.stop(), b!.stop()]);
  const { transport, tokens } = balanced([a!.url, b!.url], { backoffMs: 60_000 });
  const safe = await rejection(t, tokens.getJwks(DEFAULT));
  t.is(safe.code, Code.Unavailable);
  t.regex(safe.message, /no replica of the core answered: tried 2 of 2; last: .*ECONNREFUSED/);
  t.deepEqual(
    transport.replicas().map((r) => r.up),
    [false, false],
  );
  // Refused connections prove the token request was never delivered: both are tried.
  const unsafe = await rejection(t, tokens.token(clientCredentials));
  t.is(unsafe.code, Code.Unavailable);
  t.regex(unsafe.message, /tried 2 of 2/);
  // The core is reached again as soon as one replica is back, back-off or not.
  await a!.start();
  t.truthy((await tokens.token(clientCredentials)).accessToken);
  t.is(await a!.calls(TOKEN), 1);
});

test("with some replicas down, the error says how many were skipped", async (t) => {
  const a = await startReplica(t);
  const broken = await brokenServer(t, "destroy-session");
  const refused = await refusingUrl();
  const { tokens } = balanced([refused, a.url, broken.url], { backoffMs: 60_000 });
  await tokens.getJwks(DEFAULT); // takes the refusing replica out, answered by a
  await a.stop();
  // Tries the broken replica (its turn), then a: both fail; the refusing one is skipped.
  const err = await rejection(t, tokens.getJwks(DEFAULT));
  t.is(err.code, Code.Unavailable);
  t.regex(err.message, /tried 2 of 3 \(1 skipped, being down\)/);
});

test("the caller's timeout covers every attempt", async (t) => {
  const a = await startReplica(t);
  // A replica that takes the request and never answers.
  const silent = (await silentServer(t)).url;
  const { tokens } = balanced([silent, a.url]);
  const started = performance.now();
  const err = await rejection(t, tokens.getJwks(DEFAULT, { timeoutMs: 300 }));
  t.is(err.code, Code.DeadlineExceeded);
  t.true(performance.now() - started < 2000);
  t.is(await a.calls(JWKS), 0, "a timed-out call is not sent again");
});

test("the timeout is one budget for all attempts, given per call or as the transport's default", async (t) => {
  const BUDGET_MS = 6000;
  const check = async (variant: "per call" | "default") => {
    // The first replica takes 600 ms to die; the second never answers. The budget leaves the first
    // replica ample time to die even on a loaded machine: what is checked is what the second is given.
    const broken = await brokenServer(t, "destroy-session", 600);
    const silent = await silentServer(t);
    const { tokens } =
      variant === "per call"
        ? balanced([broken.url, silent.url])
        : balanced([broken.url, silent.url], { transport: { defaultTimeoutMs: BUDGET_MS } });
    const err = await rejection(t, variant === "per call" ? tokens.getJwks(DEFAULT, { timeoutMs: BUDGET_MS }) : tokens.getJwks(DEFAULT));
    t.is(err.code, Code.DeadlineExceeded, `${variant}: ${err.message}`);
    t.is(broken.streams.length, 1);
    // The second attempt is given what is left of the budget (at most budget − 600 ms), not the budget again.
    t.is(silent.timeouts.length, 1, variant);
    const left = /^(\d+)m$/.exec(silent.timeouts[0]!);
    t.truthy(left, silent.timeouts[0]);
    t.true(Number(left![1]) <= BUDGET_MS - 600, `${variant}: grpc-timeout ${silent.timeouts[0]}`);
  };
  await Promise.all([check("per call"), check("default")]);
});

test("a call the caller cancels is not sent again", async (t) => {
  const a = await startReplica(t);
  const silent = (await silentServer(t)).url;
  const { transport, tokens } = balanced([silent, a.url]);
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 100);
  const err = await rejection(t, tokens.getJwks(DEFAULT, { signal: abort.signal }));
  t.is(err.code, Code.Canceled);
  t.is(await a.calls(JWKS), 0);
  t.true(transport.replicas()[0]!.up, "a cancelled call says nothing about its replica");
});

test("with one URL it is a plain gRPC transport", async (t) => {
  const a = await startReplica(t);
  const { transport, tokens } = balanced([a.url]);
  t.is((await tokens.getJwks(DEFAULT)).keys.length, 2);
  await a.stop();
  const err = await rejection(t, tokens.getJwks(DEFAULT));
  // Connect's own error for a refused connection, not the balancer's.
  t.is(err.code, Code.Unavailable);
  t.regex(err.message, /ECONNREFUSED/);
  t.notRegex(err.message, /replica/);
  t.deepEqual(transport.replicas(), [{ url: a.url, up: true, backoffMs: 0 }]);
  await a.start();
  t.is((await tokens.getJwks(DEFAULT)).keys.length, 2);
});

test("createBalancedTransport refuses no URL and the same URL twice", (t) => {
  t.throws(() => createBalancedTransport([]), { instanceOf: TypeError });
  t.throws(() => createBalancedTransport(["http://127.0.0.1:1", "http://127.0.0.1:1/"]), { instanceOf: TypeError, message: /listed twice/ });
});

test("the read-only list names real methods, and none that writes", (t) => {
  const services = [TokenService, Health, AdminService, AuthorizationService, AuditService, RegistrationService];
  const methods = new Map<string, DescMethod>(services.flatMap((s) => s.methods.map((m) => [`${s.typeName}/${m.name}`, m] as const)));
  for (const name of READ_ONLY_METHODS) t.true(methods.has(name), `${name} is a method of the core`);
  const repeatable = [...methods].filter(([, m]) => isRepeatable(m)).map(([name]) => name);
  t.deepEqual(repeatable.sort(), [...READ_ONLY_METHODS].sort());
  for (const name of [
    TOKEN,
    "iam.v1.TokenService/Revoke",
    "iam.v1.AuthorizationService/Authorize",
    "iam.v1.AuthorizationService/Login",
    "iam.v1.AuthorizationService/Consent",
    "iam.v1.AdminService/CreateClient",
    "iam.v1.AdminService/RotateClientSecret",
    "iam.v1.AdminService/RotateSigningKey",
    "iam.v1.AdminService/RevokeUserConsent",
  ]) {
    t.false(isRepeatable(methods.get(name)!), name);
  }
  // Every AdminService method that is not a Get or List writes.
  for (const m of AdminService.methods) t.is(isRepeatable(m), /^(Get|List)/.test(m.name), m.name);
});

/** Every method of every service generated in gen/, by its full name ("iam.v1.TokenService/Token"). */
async function generatedMethods(): Promise<Map<string, DescMethod>> {
  const gen = new URL("../../gen/", import.meta.url);
  const methods = new Map<string, DescMethod>();
  for (const path of readdirSync(gen, { recursive: true, encoding: "utf8" }).filter((p) => p.endsWith("_pb.ts")).sort()) {
    const module = (await import(new URL(path, gen).href)) as Record<string, unknown>;
    const files = Object.values(module).filter((v): v is DescFile => (v as { kind?: unknown } | null)?.kind === "file");
    for (const service of files.flatMap((f) => f.services)) {
      for (const m of service.methods) methods.set(`${service.typeName}/${m.name}`, m);
    }
  }
  return methods;
}

test("what the protos declare repeatable is exactly what the transport repeated before, in every generated service", async (t) => {
  const methods = await generatedMethods();
  t.deepEqual([...new Set([...methods.values()].map((m) => m.parent.typeName))].sort(), [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "iam.v1.AdminService",
    "iam.v1.AuditService",
    "iam.v1.AuthorizationService",
    "iam.v1.RegistrationService",
    "iam.v1.TokenService",
  ]);
  const repeatable = [...methods].filter(([, m]) => isRepeatable(m)).map(([name]) => name);
  t.deepEqual(repeatable.sort(), [...READ_ONLY_METHODS].sort());
  // Outside the vendored health protocol, the declaration alone decides.
  for (const [name, m] of methods) {
    if (m.parent.typeName === "grpc.health.v1.Health") continue;
    t.is(isRepeatable(m), m.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN, name);
  }
});

test("a bidi stream (reflection) is sent once: not even to another replica when its own refused the connection", async (t) => {
  const a = await startReplica(t);
  const transport = createBalancedTransport([await refusingUrl(), a.url], { backoffMs: 60_000 });
  const reflection = createClient(ServerReflection, transport);
  const listServices = async () => {
    const names: string[] = [];
    const requests = createAsyncIterable([{ messageRequest: { case: "listServices" as const, value: "" } }]);
    for await (const answer of reflection.serverReflectionInfo(requests)) {
      if (answer.messageResponse.case === "listServicesResponse") names.push(...answer.messageResponse.value.service.map((s) => s.name));
    }
    return names;
  };
  // A fresh transport: the first call goes to the refusing replica, and fails there.
  t.is((await rejection(t, listServices())).code, Code.Unavailable);
  t.is(await a.calls("grpc.reflection.v1.ServerReflection/ServerReflectionInfo"), 0);
  t.deepEqual(
    transport.replicas().map((r) => r.up),
    [false, true],
  );
  // The next call goes to the replica that is up, and is carried as any stream.
  t.true((await listServices()).includes("iam.v1.TokenService"));
});

// Used by the type check only: the balanced transport is a Connect Transport.
const _isTransport: (urls: string[]) => Transport = createBalancedTransport;
void _isTransport;
