/** The core's own port (gRPC, gRPC-Web and Connect) bounds what a caller may send. */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import test from "ava";
import { startCoreServer } from "../../core/server/listen.js";
import { TokenService } from "../../gen/iam/v1/token_pb.js";
import { startTestCore } from "../helpers.js";

test("the core port refuses request bodies over 64 KiB", async (t) => {
  const c = await startTestCore();
  t.teardown(() => c.close());
  const server = await startCoreServer(c.core.routes, "127.0.0.1", 0);
  // The refused upload's stream is reset as soon as its answer is out; close()
  // ends what remains of the connection on timers that do not keep the
  // process alive: this file holds it until then.
  t.teardown(async () => {
    const hold = setInterval(() => {}, 1000);
    await server.close(100);
    clearInterval(hold);
  });
  const client = createClient(TokenService, createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: "2" }));
  const err = await t.throwsAsync(client.verifyToken({ token: "x".repeat(100 * 1024) }), { instanceOf: ConnectError });
  t.is(err?.code, Code.ResourceExhausted);
  t.false((await client.verifyToken({ token: "x".repeat(1024) })).active);
});
