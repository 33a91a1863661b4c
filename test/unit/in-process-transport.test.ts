/**
 * The in-process transport builds a lean handler context: what a handler can
 * read and set must still be what Connect's own context gives it.
 */
import test from "ava";
import { Code, ConnectError, createClient, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { createInProcessTransport } from "../../wire/in-process-transport.js";

function healthWith(check: (request: { service: string }, context: HandlerContext) => unknown) {
  const routes = (router: ConnectRouter) => router.service(Health, { check: check as never });
  return createClient(Health, createInProcessTransport(routes));
}

test("a handler reads the caller's headers and answers headers and trailers of its own", async (t) => {
  const client = healthWith((request, context) => {
    t.is(context.requestHeader.get("x-probe"), "42");
    t.is(context.protocolName, "in-process");
    t.is(context.method.name, "Check");
    context.responseHeader.set("x-answer", "yes");
    context.responseTrailer.set("x-trailer", "done");
    return { status: request.service === "" ? HealthCheckResponse_ServingStatus.SERVING : HealthCheckResponse_ServingStatus.UNKNOWN };
  });
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const answer = await client.check({}, { headers: { "x-probe": "42" }, onHeader: (h) => (header = h), onTrailer: (h) => (trailer = h) });
  t.is(answer.status, HealthCheckResponse_ServingStatus.SERVING, "request defaults filled in");
  t.is(header?.get("x-answer"), "yes");
  t.is(trailer?.get("x-trailer"), "done");
});

test("a call with a timeout gives the handler its remaining time; without one, none", async (t) => {
  const seen: (number | undefined)[] = [];
  const client = healthWith((_request, context) => {
    seen.push(context.timeoutMs());
    return {};
  });
  await client.check({}, { timeoutMs: 5_000 });
  await client.check({});
  t.true(seen[0]! > 4_000 && seen[0]! <= 5_000, String(seen[0]));
  t.is(seen[1], undefined);
});

test("the caller's signal reaches the handler; a handler's error arrives as a ConnectError with its code", async (t) => {
  const controller = new AbortController();
  const client = healthWith((_request, context) => {
    t.is(context.signal, controller.signal);
    throw new ConnectError("no such service", Code.NotFound);
  });
  const err = await t.throwsAsync(client.check({ service: "x" }, { signal: controller.signal }));
  t.true(err instanceof ConnectError);
  t.is((err as ConnectError).code, Code.NotFound);
});

test("a call whose timeout passes ends with DEADLINE_EXCEEDED, its handler's signal aborted; one that ends in time is answered", async (t) => {
  let aborted: Promise<unknown> | undefined;
  const slow = healthWith(
    (_request, context) =>
      new Promise((resolve) => {
        aborted = new Promise((done) => context.signal.addEventListener("abort", () => done(context.signal.reason)));
        setTimeout(() => resolve({}), 2_000).unref();
      }),
  );
  const err = await t.throwsAsync(slow.check({}, { timeoutMs: 50 }));
  t.is(ConnectError.from(err).code, Code.DeadlineExceeded);
  t.is(ConnectError.from(await aborted).code, Code.DeadlineExceeded, "the handler was told");
  const quick = healthWith(() => ({ status: HealthCheckResponse_ServingStatus.SERVING }));
  t.is((await quick.check({}, { timeoutMs: 1_000 })).status, HealthCheckResponse_ServingStatus.SERVING);
});
