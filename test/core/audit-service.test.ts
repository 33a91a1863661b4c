/**
 * The audit trail through AuditService.ListEvents: the events of sign-in
 * (succeeded, failed, locked out) with where they came from, the filters and
 * pages, the tenant bounds of who may read which chain, and the exact error
 * of each bad request.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type CallOptions } from "@connectrpc/connect";
import test from "ava";
import { AuditAction, AuditOutcome, AuditPartyKind, AuditService, ListEventsRequestSchema } from "../../gen/iam/v1/audit_pb.js";
import { eventHash, GENESIS_HASH } from "../../core/lib/audit-chain.js";
import { auditSecretLeaks, DEFAULT, startTestCore, type TestCore } from "../helpers.js";
import { expectCode, globalAdminToken } from "../admin/rpc-support.js";
import { A, B, openWorld } from "../admin/isolation-support.js";
import { ALICE, authorizeRequest, CAROL, setup } from "./flow.js";

const bearer = (token: string): CallOptions => ({ headers: { authorization: `Bearer ${token}` } });

async function signIn(c: TestCore, username: string, password: string) {
  const { requestId } = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  return c.authorization.login({ ...DEFAULT, requestId, username, password, clientAddress: "198.51.100.7", userAgent: "Mozilla/5.0 (audit test)" });
}

async function auditOf(c: TestCore) {
  const audit = createClient(AuditService, c.transport);
  const auth = bearer(await globalAdminToken(c));
  const list = async (init: Parameters<typeof audit.listEvents>[0] = {}) => (await audit.listEvents({ ...DEFAULT, pageSize: 1000, ...init }, auth)).events;
  return { audit, auth, list };
}

const signIns = (events: Awaited<ReturnType<Awaited<ReturnType<typeof auditOf>>["list"]>>) =>
  events.filter((e) => e.action === AuditAction.SIGN_IN || e.action === AuditAction.SIGN_IN_LOCKED_OUT);

test("a sign-in records who, from where, with which browser and request; each refusal records why, without a password", async (t) => {
  const c = await setup(t, { loginFailureDelayMs: 0 });
  const { list } = await auditOf(c);
  await signIn(c, ALICE.id, ALICE.password);
  await t.throwsAsync(signIn(c, ALICE.id, "not-alices-password"));
  await t.throwsAsync(signIn(c, "mallory", "whatever-password"));
  await t.throwsAsync(signIn(c, CAROL.id, CAROL.password));

  const events = signIns(await list());
  t.is(events.length, 4);
  const [ok, wrong, unknown, disabled] = events;
  t.like(ok, {
    organization: DEFAULT.organization,
    project: DEFAULT.project,
    action: AuditAction.SIGN_IN,
    outcome: AuditOutcome.SUCCESS,
    reason: "",
    clientAddress: "198.51.100.7",
    userAgent: "Mozilla/5.0 (audit test)",
  });
  t.like(ok!.actor, { kind: AuditPartyKind.USER, id: ALICE.id });
  t.like(ok!.target, { kind: AuditPartyKind.USER, id: ALICE.id });
  t.regex(ok!.requestId, /^[A-Za-z0-9._:-]{1,64}$/);
  t.true(ok!.time!.seconds > 0n);
  t.like(wrong, { action: AuditAction.SIGN_IN, outcome: AuditOutcome.FAILURE, reason: "wrong password", actor: undefined });
  t.like(wrong!.target, { kind: AuditPartyKind.USER, id: ALICE.id });
  t.like(unknown, { outcome: AuditOutcome.FAILURE, reason: "unknown user" });
  t.is(unknown!.target!.id, "mallory");
  t.like(disabled, { outcome: AuditOutcome.FAILURE, reason: "user disabled" });

  const all = JSON.stringify((await list()).map((e) => ({ ...e, sequence: String(e.sequence), time: String(e.time?.seconds) })));
  for (const secret of [ALICE.password, "not-alices-password", "whatever-password", CAROL.password]) t.false(all.includes(secret), secret);
});

test("a locked username's attempts are recorded as locked out, after the failure that locked it", async (t) => {
  const c = await setup(t, { loginMaxFailuresPerUser: 2, loginMaxFailuresPerAddress: 1000, loginFailureDelayMs: 0 });
  const { list } = await auditOf(c);
  await t.throwsAsync(signIn(c, ALICE.id, "wrong-1"));
  await t.throwsAsync(signIn(c, ALICE.id, "wrong-2"));
  await t.throwsAsync(signIn(c, ALICE.id, ALICE.password), undefined, "locked: even the right password is refused");
  const events = signIns(await list());
  t.deepEqual(
    events.map((e) => [AuditAction[e.action], AuditOutcome[e.outcome], e.reason]),
    [
      ["SIGN_IN", "FAILURE", "wrong password"],
      ["SIGN_IN", "FAILURE", "wrong password; sign-in now locked"],
      ["SIGN_IN_LOCKED_OUT", "FAILURE", "sign-in locked"],
    ],
  );
});

test("a chain's events are numbered without gaps and each hashes its predecessor", async (t) => {
  const c = await setup(t, { loginFailureDelayMs: 0 });
  const { list } = await auditOf(c);
  await signIn(c, ALICE.id, ALICE.password);
  await t.throwsAsync(signIn(c, ALICE.id, "wrong"));
  const events = await list();
  t.true(events.length >= 2);
  let previous = GENESIS_HASH;
  events.forEach((e, i) => {
    t.is(e.sequence, BigInt(i + 1));
    t.is(e.previousHash, previous);
    previous = e.hash;
  });
  const stored = await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 });
  for (const e of stored) t.is(e.hash, eventHash(e.previousHash, e, e.sequence));
});

test("ListEvents filters by action, outcome, target and time, and pages by its token or after a sequence", async (t) => {
  const c = await setup(t, { loginFailureDelayMs: 0 });
  const { list, audit, auth } = await auditOf(c);
  await signIn(c, ALICE.id, ALICE.password);
  await t.throwsAsync(signIn(c, ALICE.id, "wrong"));
  c.clock.advance(60);
  await t.throwsAsync(signIn(c, "mallory", "wrong"));
  const all = await list();
  const failures = await list({ actions: [AuditAction.SIGN_IN], outcome: AuditOutcome.FAILURE });
  t.deepEqual(failures.map((e) => e.target?.id), [ALICE.id, "mallory"]);
  t.deepEqual((await list({ targetId: "mallory" })).map((e) => e.reason), ["unknown user"]);
  t.deepEqual((await list({ actorId: ALICE.id })).map((e) => e.outcome), [AuditOutcome.SUCCESS]);
  const late = await list({ since: timestampFromMs(c.clock.now() - 1_000) });
  t.deepEqual(late.map((e) => e.target?.id), ["mallory"]);
  t.is((await list({ until: timestampFromMs(c.clock.now() - 1_000) })).length, all.length - 1);

  const seen: bigint[] = [];
  let pageToken = "";
  do {
    const page = await audit.listEvents({ ...DEFAULT, pageSize: 1, pageToken }, auth);
    t.true(page.events.length <= 1);
    seen.push(...page.events.map((e) => e.sequence));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  t.deepEqual(seen, all.map((e) => e.sequence));
  t.deepEqual((await list({ afterSequence: all.at(-2)!.sequence })).map((e) => e.sequence), [all.at(-1)!.sequence]);
  t.deepEqual(await list({ afterSequence: 1_000_000n }), [], "after the head: nothing yet");
});

test("bad ListEvents requests are INVALID_ARGUMENT and say which field", async (t) => {
  const c = await setup(t);
  const { audit, auth } = await auditOf(c);
  const bad = async (init: Parameters<typeof audit.listEvents>[0], pattern: RegExp) => {
    const err = await expectCode(t, audit.listEvents(create(ListEventsRequestSchema, { ...DEFAULT, ...init } as never), auth), Code.InvalidArgument);
    t.regex(err?.rawMessage ?? "", pattern);
  };
  await bad({ actions: [AuditAction.UNSPECIFIED] }, /actions/);
  await bad({ actions: [9999 as AuditAction] }, /actions/);
  await bad({ outcome: 77 as AuditOutcome }, /outcome/);
  await bad({ project: "" }, /organization and project/);
  await bad({ pageSize: -1 }, /page_size/);
  await bad({ pageToken: "not-a-token" }, /page_token/);
  await bad({ since: timestampFromMs(2_000), until: timestampFromMs(1_000) }, /until/);
});

test("a project administrator reads their project's chain only; the server's chain and other projects' are PERMISSION_DENIED; no token is UNAUTHENTICATED", async (t) => {
  const w = await openWorld(t);
  const audit = createClient(AuditService, w.c.transport);
  const asA = bearer(w.tokens.adminA);
  t.true(Array.isArray((await audit.listEvents({ ...A }, asA)).events));
  await expectCode(t, audit.listEvents({ ...B }, asA), Code.PermissionDenied, "another organization's project");
  await expectCode(t, audit.listEvents({ organization: "", project: "" }, asA), Code.PermissionDenied, "the server's chain");
  await expectCode(t, audit.listEvents({ ...A }, bearer(w.tokens.plainClientA)), Code.PermissionDenied, "a token without administration");
  await expectCode(t, audit.listEvents({ ...A }), Code.Unauthenticated, "no token");
  const global = bearer(w.tokens.global);
  const server = await audit.listEvents({ organization: "", project: "", pageSize: 1000 }, global);
  t.true(server.events.every((e) => e.organization === "" && e.project === ""), "a global administrator reads the server's chain");
  const other = await audit.listEvents({ ...B, pageSize: 1000 }, global);
  t.true(other.events.every((e) => e.organization === B.organization && e.project === B.project), "and any project's");
});

test("every test core's close searches its audit trail for the fixtures' secrets and signed tokens, and fails on one", async (t) => {
  const c = await startTestCore();
  const base = { ...DEFAULT, timeMs: 1, outcome: "failure" as const, actor: null, target: null, clientAddress: "", userAgent: "", requestId: "", changes: [], grantType: "", scopes: [] };
  await c.core.deps.store.appendAuditEvent({ ...base, action: "SIGN_IN", reason: "wrong password" });
  t.deepEqual(await auditSecretLeaks(c.core.deps.store), [], "an event without a secret passes");
  await c.core.deps.store.appendAuditEvent({ ...base, action: "SIGN_IN", reason: `typed ${ALICE.password} as the username` });
  await c.core.deps.store.appendAuditEvent({ ...base, action: "TOKEN_ISSUED", reason: "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln" });
  t.is((await auditSecretLeaks(c.core.deps.store)).length, 2);
  await t.throwsAsync(c.close(), { message: /secrets reached the audit trail: iam-admins\/iam-admins #\d+ SIGN_IN holds "alice-password"; .* TOKEN_ISSUED holds a signed token/ });
});
