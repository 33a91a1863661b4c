/**
 * The audit trail's retention: events older than the retention are deleted
 * a chain at a time, a signed checkpoint is kept in their place, the purge
 * records itself in the chain, and verification goes on from the checkpoint,
 * naming a checkpoint or a remaining event that was tampered with.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import test from "ava";
import { AuditService } from "../../gen/iam/v1/audit_pb.js";
import { globalAdminToken } from "../admin/rpc-support.js";
import Database from "better-sqlite3";
import { checkCheckpoint, purgeAuditTrail } from "../../core/audit/retention.js";
import { verifyChain } from "../../core/audit/verify.js";
import { DEFAULT, type TestCore } from "../helpers.js";
import { ALICE, authorizeRequest, setup } from "./flow.js";

const DAY_MS = 86_400_000;

async function signIn(c: TestCore, password: string) {
  const { requestId } = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  await c.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password }).catch(() => undefined);
}

/** A chain with old events (3 sign-ins, then two days later 2 more). */
async function agedChain(t: Parameters<typeof setup>[0]) {
  const c = await setup(t, { loginFailureDelayMs: 0 });
  for (const password of [ALICE.password, "wrong", ALICE.password]) await signIn(c, password);
  const old = await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 });
  c.clock.advance(2 * 86_400);
  for (const password of ["wrong", ALICE.password]) await signIn(c, password);
  const check = (cp: Parameters<typeof checkCheckpoint>[1]) => checkCheckpoint(c.core.deps, cp);
  const sql = (statement: string) => {
    const db = new Database(c.dbPath);
    try {
      db.exec(statement);
    } finally {
      db.close();
    }
  };
  return { c, old, check, sql };
}

test("events past the retention go, a signed checkpoint stays, the purge is itself an event, and the chain still verifies", async (t) => {
  const { c, old, check } = await agedChain(t);
  const store = c.core.deps.store;
  const purged = await purgeAuditTrail(c.core.deps, c.clock.now(), 1);
  t.true(purged >= old.length, `${purged} events went`);
  const remaining = await store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 });
  const checkpoint = (await store.getAuditCheckpoint(DEFAULT))!;
  t.true(remaining.every((e) => e.timeMs >= c.clock.now() - DAY_MS), "only recent events remain");
  t.is(remaining[0]!.sequence, checkpoint.sequence + 1);
  t.is(remaining[0]!.previousHash, checkpoint.hash);
  t.is(await check(checkpoint), "valid");
  const record = remaining.at(-1)!;
  t.like(record, { action: "AUDIT_EVENTS_PURGED", outcome: "success", actor: { kind: "server", id: "", project: "" } });
  t.deepEqual(record.changes.map((x) => x.field), ["purged_through", "checkpoint"]);
  t.is(record.changes[0]!.after, String(checkpoint.sequence));
  t.is(JSON.parse(record.changes[1]!.after), checkpoint.signature);
  const report = await verifyChain(store, DEFAULT, check);
  t.is(report.broken, undefined, JSON.stringify(report));
  t.deepEqual(report.checkpoint, { sequence: checkpoint.sequence, signature: "valid" });
  t.is(await purgeAuditTrail(c.core.deps, c.clock.now(), 1), 0, "nothing more is old enough");
});

test("a stream resumed where the retention purged events is FAILED_PRECONDITION naming where to resume; resumed there, it goes on", async (t) => {
  const { c } = await agedChain(t);
  const token = await globalAdminToken(c);
  await purgeAuditTrail(c.core.deps, c.clock.now(), 1);
  const { sequence: through } = (await c.core.deps.store.getAuditCheckpoint(DEFAULT))!;
  const audit = createClient(AuditService, c.transport);
  const first = async (afterSequence: number) => {
    const abort = new AbortController();
    try {
      for await (const res of audit.streamEvents({ ...DEFAULT, afterSequence: BigInt(afterSequence) }, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal })) {
        return res.event!.sequence;
      }
      return undefined;
    } finally {
      abort.abort();
    }
  };
  const purged = await first(through - 1).catch((err: unknown) => ConnectError.from(err));
  t.true(purged instanceof ConnectError);
  t.is((purged as ConnectError).code, Code.FailedPrecondition);
  t.regex((purged as ConnectError).rawMessage, new RegExp(`resume after ${through}$`));
  t.is(await first(through), BigInt(through + 1), "from the checkpoint, the first remaining event");
});

test("a retention of 0 keeps every event", async (t) => {
  const { c, old } = await agedChain(t);
  t.is(await purgeAuditTrail(c.core.deps, c.clock.now(), 0), 0);
  t.is((await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 }))[0]!.sequence, old[0]!.sequence);
});

test("a checkpoint moved in the database (more events deleted behind it) no longer holds its signature: a break at it", async (t) => {
  const { c, check, sql } = await agedChain(t);
  await purgeAuditTrail(c.core.deps, c.clock.now(), 1);
  const checkpoint = (await c.core.deps.store.getAuditCheckpoint(DEFAULT))!;
  const next = (await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1 }))[0]!;
  sql(`DELETE FROM audit_events WHERE organization_id = 'iam-admins' AND sequence = ${next.sequence};
    UPDATE audit_checkpoints SET sequence = ${next.sequence}, hash = '${next.hash}' WHERE organization_id = 'iam-admins'`);
  const report = await verifyChain(c.core.deps.store, DEFAULT, check);
  t.is(report.checkpoint?.signature, "invalid");
  t.is(report.broken?.sequence, next.sequence);
  t.regex(report.broken!.problem, /checkpoint .* was altered/);
  t.not(checkpoint.sequence, next.sequence);
});

test("an event removed just after the checkpoint is named as missing", async (t) => {
  const { c, check, sql } = await agedChain(t);
  await purgeAuditTrail(c.core.deps, c.clock.now(), 1);
  const next = (await c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1 }))[0]!;
  sql(`DELETE FROM audit_events WHERE organization_id = 'iam-admins' AND sequence = ${next.sequence}`);
  const report = await verifyChain(c.core.deps.store, DEFAULT, check);
  t.is(report.checkpoint?.signature, "valid");
  t.is(report.broken?.sequence, next.sequence);
  t.regex(report.broken!.problem, /is missing/);
});

test("a checkpoint whose claims were altered, or that is no JWS at all, is invalid", async (t) => {
  const { c, check, sql } = await agedChain(t);
  await purgeAuditTrail(c.core.deps, c.clock.now(), 1);
  const checkpoint = (await c.core.deps.store.getAuditCheckpoint(DEFAULT))!;
  const [header, payload, signature] = checkpoint.signature.split(".");
  const forged = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
  forged.sequence = checkpoint.sequence + 1;
  sql(`UPDATE audit_checkpoints SET signature = '${header}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${signature}'`);
  t.is(await check((await c.core.deps.store.getAuditCheckpoint(DEFAULT))!), "invalid");
  sql(`UPDATE audit_checkpoints SET signature = 'not-a-jws'`);
  t.is(await check((await c.core.deps.store.getAuditCheckpoint(DEFAULT))!), "invalid");
});

test("the purge job applies the retention on its own, at IAM_PURGE_INTERVAL, and logs how many events went", async (t) => {
  const c = await setup(t, { loginFailureDelayMs: 0, purgeInterval: 1, auditRetentionDays: 1 });
  for (const password of [ALICE.password, "wrong"]) await signIn(c, password);
  c.clock.advance(2 * 86_400);
  await signIn(c, ALICE.password);
  // The job logs once its transaction has committed; a read may see the checkpoint a moment before that.
  const logged = () => c.lines.some((l) => l.includes("purged audit events past their retention"));
  const started = Date.now();
  while (((await c.core.deps.store.getAuditCheckpoint(DEFAULT)) === undefined || !logged()) && Date.now() - started < 5_000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const checkpoint = await c.core.deps.store.getAuditCheckpoint(DEFAULT);
  t.truthy(checkpoint, "a checkpoint within a few intervals");
  t.true(logged(), "and its log line");
  t.is((await verifyChain(c.core.deps.store, DEFAULT, (cp) => checkCheckpoint(c.core.deps, cp))).broken, undefined);
});
