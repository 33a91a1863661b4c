/**
 * `iam audit verify` and `iam audit export` on the database file: a chain
 * whose row was edited, removed or moved in the database is named at the
 * first event that breaks it, and the export is one JSON event per line.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { BASE_URL, compiledIam, tempDir } from "../helpers.js";
import { iam } from "./_support.js";


/** A database whose server chain holds at least four events: refused operator changes record theirs. */
function withEvents(t: { teardown(fn: () => void): void }): string {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  for (const id of ["nope-1", "nope-2", "nope-3", "nope-4"]) {
    const refused = iam(db, ["org", "delete", id]);
    if (refused.code !== 1) throw new Error(`org delete ${id}: ${refused.code} ${refused.stderr}`);
  }
  return db;
}

const edit = (db: string, sql: string) => {
  const conn = new Database(db);
  try {
    conn.exec(sql);
  } finally {
    conn.close();
  }
};

test("a whole trail verifies, each chain with its head; the export is the events as JSON lines", (t) => {
  const db = withEvents(t);
  const verified = iam(db, ["audit", "verify"]);
  t.is(verified.code, 0, verified.stderr);
  t.regex(verified.stdout, /^ok {6}\(server\): \d+ events, head \d+ [0-9a-f]{64}$/m);

  const exported = iam(db, ["audit", "export", "--organization", "", "--project", ""]);
  t.is(exported.code, 0, exported.stderr);
  const events = exported.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  t.true(events.length >= 4);
  t.deepEqual(events.map((e) => e.sequence), events.map((_, i) => String(i + 1)));
  t.like(events[0], { action: "AUDIT_ACTION_ORGANIZATION_DELETED", outcome: "AUDIT_OUTCOME_FAILURE", reason: "not_found" });
  t.like(events[0]!.actor as object, { kind: "AUDIT_PARTY_KIND_OPERATOR" });
  t.like(events[0]!.target as object, { kind: "AUDIT_PARTY_KIND_ORGANIZATION", id: "nope-1" });
  t.is(events[0]!.previousHash, "0".repeat(64));

  const later = iam(db, ["audit", "export", "--organization", "", "--project", "", "--after", "2"]);
  t.is(JSON.parse(later.stdout.split("\n")[0]!).sequence, "3");
});

test("an event edited in the database is named: its fields no longer match its hash", (t) => {
  const db = withEvents(t);
  edit(db, "UPDATE audit_events SET reason = 'ok' WHERE organization_id = '' AND sequence = 2");
  const verified = iam(db, ["audit", "verify"]);
  t.is(verified.code, 1);
  t.regex(verified.stdout, /^BROKEN {2}\(server\) at event 2: event 2 was altered/m);
});

test("an event edited with its hash computed again is caught by the next, which names another predecessor", (t) => {
  const db = withEvents(t);
  edit(db, "UPDATE audit_events SET hash = '" + "a".repeat(64) + "' WHERE organization_id = '' AND sequence = 2");
  const verified = iam(db, ["audit", "verify", "--json"]);
  t.is(verified.code, 1);
  const server = verified.stdout.trim().split("\n").map((l) => JSON.parse(l) as { chain: { organization: string }; broken: { sequence: number } | null }).find((r) => r.chain.organization === "")!;
  t.is(server.broken?.sequence, 2);
});

test("an event removed from the middle of a chain is named as missing", (t) => {
  const db = withEvents(t);
  edit(db, "DELETE FROM audit_events WHERE organization_id = '' AND sequence = 3");
  const verified = iam(db, ["audit", "verify"]);
  t.is(verified.code, 1);
  t.regex(verified.stdout, /at event 3: event 3 is missing \(the next is 4\)/);
});

test("two events swapped in place break the chain at the first of them", (t) => {
  const db = withEvents(t);
  edit(db, `UPDATE audit_events SET sequence = 1000000 WHERE organization_id = '' AND sequence = 2;
    UPDATE audit_events SET sequence = 2 WHERE organization_id = '' AND sequence = 3;
    UPDATE audit_events SET sequence = 3 WHERE organization_id = '' AND sequence = 1000000;`);
  const verified = iam(db, ["audit", "verify"]);
  t.is(verified.code, 1);
  t.regex(verified.stdout, /at event 2: event 2 was altered/);
});

test("tail prints each new event as a JSON line as another process commits it, and stops on SIGINT", async (t) => {
  const db = withEvents(t);
  const child = spawn(process.execPath, [compiledIam(), "audit", "tail"], {
    env: { ...process.env, IAM_DB: db, IAM_BASE_URL: BASE_URL, IAM_ADMIN_PASSWORD: "cli-admin-password" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  const following = new Promise<void>((resolve) => child.stderr.on("data", (d) => ((stderr += d), /following/.test(stderr) && resolve())));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  t.teardown(() => child.kill("SIGKILL"));
  await following;
  t.is(stdout, "", "the events before it started are not printed");
  t.is(iam(db, ["org", "delete", "while-tailing"]).code, 1);
  const started = Date.now();
  while (!stdout.includes("while-tailing") && Date.now() - started < 5_000) await new Promise((resolve) => setTimeout(resolve, 50));
  const line = JSON.parse(stdout.trim().split("\n")[0]!) as { target: { id: string }; reason: string };
  t.like(line, { target: { id: "while-tailing" }, reason: "not_found" });
  child.kill("SIGINT");
  t.is(await exited, 0);
});

test("bad arguments are a usage error (exit code 2) that opens nothing", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  for (const args of [["audit"], ["audit", "delete"], ["audit", "verify", "--organization", "acme"], ["audit", "export", "--after", "x"], ["audit", "verify", "--after", "3"], ["audit", "tail", "--after", "3"]]) {
    const r = iam(db, args);
    t.is(r.code, 2, args.join(" "));
    t.regex(r.stderr, /iam audit verify/);
  }
});
