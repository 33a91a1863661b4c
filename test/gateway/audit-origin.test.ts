/**
 * Where an audited request came from, on real ports: the browser's address
 * and User-Agent as the gateway saw them, and the TCP peer and User-Agent of
 * a call on the core's port, over gRPC (served off the HTTP/2 stream) and
 * over Connect (served by connect-node), with the request id of its log line.
 */
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import test from "ava";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuditAction, AuditOutcome, AuditService } from "../../gen/iam/v1/audit_pb.js";
import { DEFAULT } from "../helpers.js";
import { adminBasic, adminRequest, authorizeUrl, getJson, postJson, serve, token } from "./_support.js";
import { ADMIN_PASSWORD } from "../helpers.js";

const LOOPBACK = /^(::ffff:)?127\.0\.0\.1$/;

test("a sign-in through the gateway records the browser's address, its User-Agent and the request id the gateway answered", async (t) => {
  const s = await serve(t);
  const start = await getJson(authorizeUrl(s, adminRequest()));
  const { request_id } = (await start.json()) as { request_id: string };
  const headers = { "user-agent": "Mozilla/5.0 (AuditOrigin)", "x-request-id": "audit-origin-1" };
  const login = await postJson(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, headers);
  t.is(login.status, 200);
  t.is(login.headers.get("x-request-id"), "audit-origin-1");
  const refused = await postJson(`${s.project}/authorize`, { request_id, username: "admin", password: "not-the-password" }, headers);
  t.is(refused.status, 401);

  const events = (await s.core.deps.store.listAuditEvents(DEFAULT, { actions: ["SIGN_IN"] }, { after: 0, limit: 100 })).slice(-2);
  t.deepEqual(events.map((e) => e.outcome), ["success", "failure"]);
  for (const e of events) {
    t.regex(e.clientAddress, LOOPBACK);
    t.is(e.userAgent, "Mozilla/5.0 (AuditOrigin)");
    t.is(e.requestId, "audit-origin-1");
  }
});

test("a call on the core's port records its TCP peer and User-Agent, over gRPC and over Connect", async (t) => {
  const s = await serve(t);
  const tokenRes = await token(s, { grant_type: "client_credentials" }, adminBasic());
  const { access_token } = (await tokenRes.json()) as { access_token: string };
  const as = (agent: string): Interceptor => (next) => (req) => {
    req.header.set("authorization", `Bearer ${access_token}`);
    req.header.set("user-agent", agent);
    return next(req);
  };
  const transports = {
    grpc: createGrpcTransport({ baseUrl: s.grpcUrl, interceptors: [as("audit-origin-grpc/1")] }),
    connect: createConnectTransport({ baseUrl: s.grpcUrl, httpVersion: "2", interceptors: [as("audit-origin-connect/1")] }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    const admin = createClient(AdminService, transport);
    await t.throwsAsync(admin.deleteOrganization({ id: `missing-${name}` }), undefined, name);
  }
  const audit = createClient(AuditService, transports.grpc);
  const refused = (await audit.listEvents({ organization: "", project: "", actions: [AuditAction.ORGANIZATION_DELETED], outcome: AuditOutcome.FAILURE })).events;
  t.deepEqual(refused.map((e) => [e.target?.id, e.reason]), [
    ["missing-grpc", "not_found"],
    ["missing-connect", "not_found"],
  ]);
  t.regex(refused[0]!.clientAddress, LOOPBACK);
  t.regex(refused[1]!.clientAddress, LOOPBACK);
  t.regex(refused[0]!.userAgent, /audit-origin-grpc\/1/);
  t.regex(refused[1]!.userAgent, /audit-origin-connect\/1/);
  t.regex(refused[0]!.requestId, /^[A-Za-z0-9._:-]{1,64}$/);
  t.like(refused[0]!.actor, { id: "admin-client", project: "iam-admins/iam-admins" });
});
