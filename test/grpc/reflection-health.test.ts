import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import test from "ava";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { ADMIN_CLIENT_SECRET, startTestServer } from "../helpers.js";

const bufPath = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));

/** Runs buf without blocking this process, whose event loop serves the core buf calls. */
function buf(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bufPath, args, { encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ status: err === null ? 0 : typeof err.code === "number" ? err.code : 1, stdout, stderr }),
    );
  });
}

test("buf curl lists every service and calls an RPC with no --schema, over reflection v1 and v1alpha", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const list = await buf(["curl", "--http2-prior-knowledge", "--list-services", s.grpcUrl]);
  t.is(list.status, 0, list.stderr);
  t.deepEqual(list.stdout.trim().split("\n"), [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "iam.v1.AdminService",
    "iam.v1.AuditService",
    "iam.v1.AuthorizationService",
    "iam.v1.RegistrationService",
    "iam.v1.TokenService",
  ]);
  for (const protocol of ["grpc-v1", "grpc-v1alpha"]) {
    const call = await buf([
      "curl", "--http2-prior-knowledge", "--reflect-protocol", protocol,
      "-d", '{"organization":"iam-admins","project":"iam-admins"}', `${s.grpcUrl}/iam.v1.TokenService/GetJwks`,
    ]);
    t.is(call.status, 0, call.stderr);
    t.is((JSON.parse(call.stdout) as { keys: { alg: string }[] }).keys[0]?.alg, "ES256", protocol);
  }
  // A method whose request uses a well-known type (FieldMask): its dependency is served too.
  const describe = await buf(["curl", "--http2-prior-knowledge", "--list-methods", s.grpcUrl]);
  t.true(describe.stdout.includes("iam.v1.AdminService/UpdateProject"), describe.stderr);
});

test("reflection answers a method's file with its dependencies once per stream, and NOT_FOUND for unknown symbols", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  for (const service of [v1.ServerReflection, v1alpha.ServerReflection]) {
    const client = createClient(service as typeof v1.ServerReflection, createGrpcTransport({ baseUrl: s.grpcUrl }));
    const requests = [
      { messageRequest: { case: "fileContainingSymbol" as const, value: "iam.v1.AdminService.UpdateProject" } },
      { messageRequest: { case: "fileContainingSymbol" as const, value: "iam.v1.UpdateProjectRequest" } },
      { messageRequest: { case: "fileByFilename" as const, value: "iam/v1/token.proto" } },
      { messageRequest: { case: "fileContainingSymbol" as const, value: "iam.v1.Nope" } },
    ];
    const answers: v1.ServerReflectionResponse[] = [];
    for await (const answer of client.serverReflectionInfo((async function* () { yield* requests; })())) answers.push(answer);
    t.is(answers.length, 4);
    const names = (i: number) => {
      const r = answers[i]!.messageResponse;
      return r.case === "fileDescriptorResponse" ? r.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name) : [];
    };
    t.deepEqual(names(0), ["iam/v1/admin.proto", "google/protobuf/field_mask.proto"]);
    t.deepEqual(names(1), [], "the same file is not sent twice on one stream");
    t.deepEqual(names(2), ["iam/v1/token.proto"]);
    const error = answers[3]!.messageResponse;
    t.is(error.case, "errorResponse");
    t.is(error.case === "errorResponse" ? error.value.errorCode : 0, 5);
  }
});

test("health: Check and List answer SERVING, an unknown service is NOT_FOUND, and Watch reports NOT_SERVING when draining", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const health = createClient(Health, createGrpcTransport({ baseUrl: s.grpcUrl }));
  t.is((await health.check({ service: "" })).status, Status.SERVING);
  t.is((await health.check({ service: "iam.v1.TokenService" })).status, Status.SERVING);
  const unknown = await t.throwsAsync(health.check({ service: "iam.v1.Nope" }), { instanceOf: ConnectError });
  t.is(unknown?.code, Code.NotFound);
  t.deepEqual(Object.keys((await health.list({})).statuses).sort(), ["", "iam.v1.AdminService", "iam.v1.AuditService", "iam.v1.AuthorizationService", "iam.v1.RegistrationService", "iam.v1.TokenService"]);

  const abort = new AbortController();
  const seen: Status[] = [];
  const watching = (async () => {
    try {
      for await (const update of health.watch({ service: "" }, { signal: abort.signal })) {
        seen.push(update.status);
        if (seen.length === 1) s.core.health.drain();
        if (seen.length === 2) abort.abort();
      }
    } catch (err) {
      if (!(err instanceof ConnectError && err.code === Code.Canceled)) throw err;
    }
  })();
  await watching;
  t.deepEqual(seen, [Status.SERVING, Status.NOT_SERVING]);
  t.is((await health.check({ service: "" })).status, Status.NOT_SERVING);
});

test("the gateway's /healthz answers while the process runs, /readyz only while the core is serving", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const live = await fetch(`${s.httpUrl}/healthz`);
  t.is(live.status, 200);
  const ready = await fetch(`${s.httpUrl}/readyz`);
  t.is(ready.status, 200);
  t.deepEqual(await ready.json(), { status: "ready" });
  s.core.health.drain();
  t.is((await fetch(`${s.httpUrl}/readyz`)).status, 503);
  t.is((await fetch(`${s.httpUrl}/healthz`)).status, 200);
});

test("buf curl with no --schema: VerifyToken of a real token and of garbage, health Check, and a Watch that sees the drain", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const issued = await buf([
    "curl", "--http2-prior-knowledge", "--protocol", "grpc",
    "-d", JSON.stringify({ organization: "iam-admins", project: "iam-admins", grant_type: "client_credentials", client_id: "admin-client", client_secret: ADMIN_CLIENT_SECRET }),
    `${s.grpcUrl}/iam.v1.TokenService/Token`,
  ]);
  t.is(issued.status, 0, issued.stderr);
  const { accessToken } = JSON.parse(issued.stdout) as { accessToken: string };
  const verified = await buf([
    "curl", "--http2-prior-knowledge", "--protocol", "grpc",
    "-d", JSON.stringify({ token: accessToken, organization: "iam-admins", project: "iam-admins" }),
    `${s.grpcUrl}/iam.v1.TokenService/VerifyToken`,
  ]);
  t.is(verified.status, 0, verified.stderr);
  const answer = JSON.parse(verified.stdout) as Record<string, unknown>;
  t.is(answer.active, true);
  t.is(answer.clientId, "admin-client");
  t.is(answer.subject, "admin-client");
  const garbage = await buf(["curl", "--http2-prior-knowledge", "-d", '{"token":"garbage"}', `${s.grpcUrl}/iam.v1.TokenService/VerifyToken`]);
  t.deepEqual(JSON.parse(garbage.stdout), { failure: "TOKEN_FAILURE_INVALID" });

  const check = await buf(["curl", "--http2-prior-knowledge", "--protocol", "grpc", "-d", "{}", `${s.grpcUrl}/grpc.health.v1.Health/Check`]);
  t.deepEqual(JSON.parse(check.stdout), { status: "SERVING" });

  // Watch streams until cancelled: read its messages as they come, drain the core after the first.
  const watch = spawn(bufPath, ["curl", "--http2-prior-knowledge", "--protocol", "grpc", "-d", "{}", `${s.grpcUrl}/grpc.health.v1.Health/Watch`]);
  t.teardown(() => watch.kill());
  const statuses = await new Promise<string[]>((resolve, reject) => {
    let out = "";
    watch.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const seen = [...out.matchAll(/"status":\s*"([A-Z_]+)"/g)].map((m) => m[1]!);
      if (seen.length === 1) s.core.health.drain();
      if (seen.length === 2) resolve(seen);
    });
    watch.on("exit", (code) => reject(new Error(`buf curl Watch exited ${code}: ${out}`)));
  });
  t.deepEqual(statuses, ["SERVING", "NOT_SERVING"]);
});
