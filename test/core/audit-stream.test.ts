/**
 * AuditService.StreamEvents: a chain's past events, then each new one within
 * a second of its commit; resumable from a sequence; filtered; ended when the
 * caller's token stops being valid; refused for a chain the caller may not
 * read, and for a resume point beyond the chain's end.
 */
import { Code, ConnectError, createClient, type CallOptions } from "@connectrpc/connect";
import test from "ava";
import { AuditAction, AuditOutcome, AuditService, type AuditEvent } from "../../gen/iam/v1/audit_pb.js";
import { DEFAULT, type TestCore } from "../helpers.js";
import { expectCode, globalAdminToken } from "../admin/rpc-support.js";
import { A, B, OPS, openWorld } from "../admin/isolation-support.js";
import { ALICE, authorizeRequest, setup } from "./flow.js";

const bearer = (token: string): CallOptions => ({ headers: { authorization: `Bearer ${token}` } });

async function signIn(c: TestCore, password: string) {
  const { requestId } = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  return c.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password }).catch(() => undefined);
}

/** Reads a stream into an array as it comes; `stop()` ends the call. */
function follow(c: TestCore, token: string, init: Parameters<ReturnType<typeof createClient<typeof AuditService>>["streamEvents"]>[0]) {
  const audit = createClient(AuditService, c.transport);
  const abort = new AbortController();
  const events: AuditEvent[] = [];
  const ended = (async () => {
    try {
      for await (const res of audit.streamEvents(init, { ...bearer(token), signal: abort.signal })) events.push(res.event!);
      return undefined;
    } catch (err) {
      return ConnectError.from(err);
    }
  })();
  return { events, ended, stop: () => abort.abort() };
}

/** Waits until `check` holds, at most `ms`; answers how long it took. */
async function within(ms: number, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

test("a stream sends the chain's events, then a new one within a second of its commit, in order and without gaps", async (t) => {
  const c = await setup(t, { loginFailureDelayMs: 0 });
  const token = await globalAdminToken(c);
  await signIn(c, ALICE.password);
  const stream = follow(c, token, { ...DEFAULT });
  t.teardown(stream.stop);
  const before = (await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 })).length;
  await within(2_000, () => stream.events.length === before);
  await signIn(c, "a-wrong-password");
  const took = await within(1_000, () => stream.events.length === before + 1);
  t.log(`delivered ${took} ms after the commit`);
  t.like(stream.events.at(-1), { action: AuditAction.SIGN_IN, outcome: AuditOutcome.FAILURE, reason: "wrong password" });
  t.deepEqual(stream.events.map((e) => e.sequence), stream.events.map((_, i) => BigInt(i + 1)));
  stream.stop();
  t.is((await stream.ended)?.code, Code.Canceled, "the caller ended it");
});

test("a stream resumes after the sequence it is given, and filters by action and outcome", async (t) => {
  const c = await setup(t, { loginFailureDelayMs: 0 });
  const token = await globalAdminToken(c);
  await signIn(c, ALICE.password);
  await signIn(c, "wrong-1");
  const all = await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 });
  const from = all.at(-2)!.sequence;
  const resumed = follow(c, token, { ...DEFAULT, afterSequence: BigInt(from) });
  const failures = follow(c, token, { ...DEFAULT, actions: [AuditAction.SIGN_IN], outcome: AuditOutcome.FAILURE });
  t.teardown(() => (resumed.stop(), failures.stop()));
  await within(2_000, () => resumed.events.length === 1 && failures.events.length === 1);
  t.is(resumed.events[0]!.sequence, BigInt(from + 1));
  await signIn(c, "wrong-2");
  await signIn(c, ALICE.password);
  await within(2_000, () => failures.events.length === 2 && resumed.events.length === 3);
  t.deepEqual(failures.events.map((e) => e.reason), ["wrong password", "wrong password"]);
  t.deepEqual(resumed.events.map((e) => AuditOutcome[e.outcome]), ["FAILURE", "FAILURE", "SUCCESS"]);
});

test("a resume point beyond the chain's end is OUT_OF_RANGE; a bad filter INVALID_ARGUMENT", async (t) => {
  const c = await setup(t);
  const token = await globalAdminToken(c);
  const head = (await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 })).length;
  const future = follow(c, token, { ...DEFAULT, afterSequence: BigInt(head + 5) });
  t.is((await future.ended)?.code, Code.OutOfRange);
  t.deepEqual(future.events, []);
  const bad = follow(c, token, { ...DEFAULT, actions: [AuditAction.UNSPECIFIED] });
  t.is((await bad.ended)?.code, Code.InvalidArgument);
});

test("a stream is refused for a chain its token may not read, and ends when its token is revoked", async (t) => {
  const w = await openWorld(t);
  const audit = createClient(AuditService, w.c.transport);
  const refused = async (token: string | undefined, init: { organization: string; project: string }, code: Code) => {
    const options = token === undefined ? {} : bearer(token);
    await expectCode(t, (async () => {
      for await (const _ of audit.streamEvents(init, options)) void _;
    })(), code, `${init.organization}/${init.project}`);
  };
  await refused(w.tokens.adminA, B, Code.PermissionDenied);
  await refused(w.tokens.adminA, { organization: "", project: "" }, Code.PermissionDenied);
  await refused(undefined, A, Code.Unauthenticated);

  const stream = follow(w.c, w.tokens.adminA, { ...A });
  t.teardown(stream.stop);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await w.c.tokens.revoke({ ...A, token: w.tokens.adminA, client: { basic: { clientId: OPS.id, clientSecret: OPS.secret } } });
  t.false((await w.c.tokens.verifyToken({ token: w.tokens.adminA }).then((r) => r.active, () => false)), "revoked");
  const ended = await Promise.race([stream.ended, new Promise((resolve) => setTimeout(() => resolve("still open"), 2_000))]);
  t.is((ended as ConnectError | undefined)?.code, Code.Unauthenticated, "the revoked token's stream ended");
});
