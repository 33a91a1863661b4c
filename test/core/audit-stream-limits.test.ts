/**
 * What open audit streams may cost a process: a cap per caller and in all
 * (RESOURCE_EXHAUSTED past either, the place given back when a stream
 * ends), and one watch per chain, however many streams follow it: idle
 * streams make no reads of their own.
 */
import { Code, ConnectError, createClient, type CallOptions } from "@connectrpc/connect";
import test from "ava";
import { AuditService } from "../../gen/iam/v1/audit_pb.js";
import type { AuditStore } from "../../core/store/types.js";
import { DEFAULT } from "../helpers.js";
import { ACME, createTenant, globalAdminToken, projectAdminAuth, startAdmin, type AdminTest } from "../admin/rpc-support.js";
import { ALICE, authorizeRequest, seedFixtures } from "./flow.js";

interface Opened {
  /** Settles when the stream ends: undefined when stopped, its error otherwise. */
  ended: Promise<ConnectError | undefined>;
  /** Events received so far. */
  received: () => number;
  stop: () => void;
}

/** Opens a stream of `chain` and waits until it is either following (its past events read) or refused. */
async function open(c: AdminTest, options: CallOptions, chain = { organization: "", project: "" }): Promise<Opened> {
  const audit = createClient(AuditService, c.transport);
  const abort = new AbortController();
  let count = 0;
  let started: () => void = () => {};
  const following = new Promise<void>((resolve) => (started = resolve));
  const ended = (async () => {
    try {
      // after_sequence 0 and a chain with events: the first event proves the stream was let in.
      for await (const _ of audit.streamEvents(chain, { ...options, signal: abort.signal })) {
        count += 1;
        started();
      }
      return undefined;
    } catch (err) {
      return ConnectError.from(err);
    }
  })();
  await Promise.race([following, ended]);
  return { ended, received: () => count, stop: () => abort.abort() };
}

async function refusal(opened: Opened): Promise<ConnectError | undefined> {
  return Promise.race([opened.ended, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1_000))]);
}

test("one caller may have IAM_AUDIT_STREAMS_PER_CALLER streams open: the next is RESOURCE_EXHAUSTED, another caller is not counted with it, and a stream that ends gives its place back", async (t) => {
  const c = await startAdmin(t, { auditStreamsPerCaller: 2 });
  await createTenant(c, ACME);
  const other = await projectAdminAuth(c, ACME);
  const first = await open(c, c.auth);
  const second = await open(c, c.auth);
  t.teardown(() => [first, second].forEach((s) => s.stop()));
  t.true(first.received() > 0 && second.received() > 0, "both follow");

  // Another token of the same client is the same caller.
  const again = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  const third = await open(c, again);
  const refused = await refusal(third);
  t.is(refused?.code, Code.ResourceExhausted);
  t.regex(refused?.rawMessage ?? "", /already follows 2 audit streams.*IAM_AUDIT_STREAMS_PER_CALLER/);

  // Another caller (a project's administrator, on its project's chain) has places of its own.
  const theirs = await open(c, other, ACME);
  t.teardown(theirs.stop);
  t.true(theirs.received() > 0);
  t.is(await refusal(theirs), undefined);

  // The first stream ends: its place is free again at once.
  first.stop();
  await first.ended;
  const fourth = await open(c, c.auth);
  t.teardown(fourth.stop);
  t.true(fourth.received() > 0);
  t.is(await refusal(fourth), undefined);
});

test("a process serves IAM_AUDIT_STREAMS_MAX streams in all: past it RESOURCE_EXHAUSTED for any caller", async (t) => {
  const c = await startAdmin(t, { auditStreamsMax: 2 });
  await createTenant(c, ACME);
  const other = await projectAdminAuth(c, ACME);
  const streams = [await open(c, c.auth), await open(c, other, ACME)];
  t.teardown(() => streams.forEach((s) => s.stop()));
  const refused = await refusal(await open(c, c.auth));
  t.is(refused?.code, Code.ResourceExhausted);
  t.regex(refused?.rawMessage ?? "", /already serves 2 audit streams.*IAM_AUDIT_STREAMS_MAX/);
});

test("twenty idle streams of one chain cost one look every 250 ms, not a read each; a new event still reaches every one", async (t) => {
  const c = await startAdmin(t, { auditStreamsPerCaller: 50, loginFailureDelayMs: 0 });
  await seedFixtures(c);
  const store = c.core.deps.store as AuditStore;
  const streams: Opened[] = [];
  for (let i = 0; i < 20; i++) streams.push(await open(c, c.auth, DEFAULT));
  t.teardown(() => streams.forEach((s) => s.stop()));
  const before = streams.map((s) => s.received());

  // Count the audit reads of two idle seconds (nothing is committed meanwhile).
  const read = store.listAuditEvents.bind(store);
  let reads = 0;
  store.listAuditEvents = (...args) => {
    reads += 1;
    return read(...args);
  };
  t.teardown(() => void (store.listAuditEvents = read));
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const looks = Math.floor((Date.now() - started) / 250) + 1;
  t.log(`${reads} audit reads in ${Date.now() - started} ms by 20 idle streams`);
  t.true(reads <= looks, `${reads} reads, at most ${looks} looks of the chain's watch`);

  // A failed sign-in is recorded: every stream gets it.
  const { requestId } = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  await c.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password: "wrong" }).catch(() => undefined);
  const deadline = Date.now() + 2_000;
  while (streams.some((s, i) => s.received() <= before[i]!) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(
    streams.map((s, i) => s.received() > before[i]!),
    streams.map(() => true),
  );
});

