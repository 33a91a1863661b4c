/**
 * The console's API streams: AuditService.StreamEvents through the gateway's
 * /admin/api, in the Connect protocol over HTTP/1.1 as a browser's fetch
 * speaks it, with the core in the gateway's process (`npm start`): past
 * events, then a new one as it is committed; the call ends when the caller
 * goes away, and the core's refusals arrive with their codes.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import test from "ava";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuditAction, AuditService, type AuditEvent } from "../../gen/iam/v1/audit_pb.js";
import { ADMIN_CLIENT_SECRET, startTestServer, type TestServer } from "../helpers.js";

async function globalAdminToken(s: TestServer): Promise<string> {
  const res = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`admin-client:${ADMIN_CLIENT_SECRET}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials",
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

function consoleTransport(s: TestServer, token: string) {
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
  return createConnectTransport({ baseUrl: `${s.httpUrl}/admin/api`, httpVersion: "1.1", interceptors: [bearer] });
}

test("StreamEvents through /admin/api sends the chain's events, then each new one, until the caller aborts", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const transport = consoleTransport(s, await globalAdminToken(s));
  const admin = createClient(AdminService, transport);
  const audit = createClient(AuditService, transport);
  await admin.createOrganization({ id: "first", name: "First" });

  const abort = new AbortController();
  const seen: AuditEvent[] = [];
  const stream = audit.streamEvents({ organization: "", project: "" }, { signal: abort.signal })[Symbol.asyncIterator]();
  const next = async () => {
    const { value, done } = await stream.next();
    if (done === true) throw new Error("the stream ended");
    seen.push(value.event!);
    return value.event!;
  };
  t.like(await next(), { sequence: 1n, action: AuditAction.ORGANIZATION_CREATED, target: { id: "first" } });

  // Made while the stream is open: it arrives on it, next in its chain.
  await admin.createOrganization({ id: "second", name: "Second" });
  t.like(await next(), { sequence: 2n, action: AuditAction.ORGANIZATION_CREATED, target: { id: "second" } });

  abort.abort();
  const ended = await stream.next().then(
    () => undefined,
    (err: unknown) => ConnectError.from(err),
  );
  t.is(ended?.code, Code.Canceled);
  t.deepEqual(seen.map((e) => e.target?.id), ["first", "second"]);
  // The core's stream stops reading too (it ends as the caller's signal aborts): its one log line is written when it ends.
  const endOf = () => s.lines.map((line) => JSON.parse(line) as { rpc?: string; status?: string }).find((line) => line.rpc === "iam.v1.AuditService/StreamEvents");
  while (endOf() === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(["ok", "canceled"].includes(endOf()?.status ?? ""), endOf()?.status);
});

test("a stream the core refuses ends with the core's code and message", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const audit = createClient(AuditService, consoleTransport(s, await globalAdminToken(s)));
  const read = async () => {
    for await (const _ of audit.streamEvents({ organization: "", project: "", afterSequence: 5n })) return;
  };
  const err = ConnectError.from(await t.throwsAsync(read()));
  t.is(err.code, Code.OutOfRange);
  t.is(err.rawMessage, "after_sequence 5 is beyond the chain's last event");

  const anonymous = createClient(AuditService, createConnectTransport({ baseUrl: `${s.httpUrl}/admin/api`, httpVersion: "1.1" }));
  const refused = ConnectError.from(
    await t.throwsAsync(async () => {
      for await (const _ of anonymous.streamEvents({ organization: "", project: "" })) return;
    }),
  );
  t.is(refused.code, Code.Unauthenticated);
});
