/**
 * The `iam` command's administration of multi-factor sign-in, on the
 * database file: `iam project mfa-policy` shows and changes a project's
 * policy, `iam user factors` lists a user's factors and recovery codes,
 * `iam user factors remove` and `reset` take them away; a server started on
 * the file follows each change. Bad input exits 2 (usage) or 1 (refused) and
 * changes nothing.
 */
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { totpCode } from "../../core/factors/totp.js";
import { BASE_URL, startTestServer, tempDir, TestClock, type TestServer } from "../helpers.js";
import { SoftAuthenticator } from "../factors/_authenticator.js";
import { iam } from "./_support.js";

const ref = { organization: "acme", project: "shop" };
const ALICE = { id: "alice", password: "alice-password-1" };
const BOB = { id: "bob", password: "bob-password-1" };

/** A password sign-in on the server: the request id and the second step Login asked for. */
async function passwordStep(s: TestServer, user: { id: string; password: string }) {
  const auth = await s.authorization.authorize({ ...ref, responseType: "code", clientId: "web", redirectUri: "https://shop.example/cb", scope: "openid", nonce: "n" });
  const login = await s.authorization.login({ ...ref, requestId: auth.requestId, username: user.id, password: user.password });
  const signIn = { ...ref, requestId: auth.requestId };
  return { signIn, step: login.secondFactor };
}

/** acme/shop with the client `web`, alice and bob holding the role `staff`. */
function tenant(db: string) {
  for (const args of [
    ["org", "create", "acme"],
    ["project", "create", "acme", "shop"],
    ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://shop.example/cb"],
    ["user", "create", "acme", "shop", ALICE.id, "--password", ALICE.password],
    ["user", "create", "acme", "shop", BOB.id, "--password", BOB.password],
    ["role", "create", "acme", "shop", "staff"],
    ["role", "assign", "acme", "shop", "staff", "--user", ALICE.id],
    ["role", "assign", "acme", "shop", "staff", "--user", BOB.id],
  ]) {
    const result = iam(db, args);
    if (result.code !== 0) throw new Error(`iam ${args.join(" ")}: ${result.stderr}`);
  }
}

test("iam project mfa-policy shows the policy with no option, and changes the fields its options name", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  tenant(db);

  const policy = (...options: string[]) => iam(db, ["project", "mfa-policy", "acme", "shop", ...options]);
  t.is(policy().stdout, "required\toptional\nroles\t-\npasswordless\tfalse\n");
  const roles = policy("--required", "roles", "--roles", "staff");
  t.is(roles.code, 0, roles.stderr);
  t.is(roles.stdout, "required\troles\nroles\tstaff\npasswordless\tfalse\n");
  t.is(policy("--passwordless", "true").stdout, "required\troles\nroles\tstaff\npasswordless\ttrue\n", "the other fields kept");
  t.deepEqual(JSON.parse(policy("--json").stdout), {
    policy: { organization: "acme", project: "shop", required: "MFA_REQUIREMENT_ROLES", roles: ["staff"], passwordless: true },
  });

  const refusals: { options: string[]; code: number; message: string }[] = [
    { options: ["--required", "sometimes"], code: 2, message: "iam: --required must be optional, everyone or roles\n" },
    { options: ["--passwordless", "yes"], code: 2, message: "iam: --passwordless must be true or false\n" },
    { options: ["--roles", "staff,nope"], code: 1, message: "iam: InvalidArgument: unknown role nope: create it in the project first\n" },
    { options: ["--roles", ""], code: 1, message: "iam: InvalidArgument: MFA_REQUIREMENT_ROLES needs at least one role in roles\n" },
    { options: ["--required", "everyone", "--roles", "staff"], code: 1, message: "iam: InvalidArgument: roles apply only when required is MFA_REQUIREMENT_ROLES\n" },
  ];
  for (const r of refusals) {
    const result = policy(...r.options);
    t.is(result.code, r.code, r.options.join(" "));
    t.true(result.stderr.endsWith(r.message), `${r.options.join(" ")}: ${result.stderr}`);
  }
  t.is(policy().stdout, "required\troles\nroles\tstaff\npasswordless\ttrue\n", "the refusals changed nothing");
  const missing = iam(db, ["project", "mfa-policy", "acme", "nope"]);
  t.is(missing.code, 1);
  t.true(missing.stderr.endsWith("iam: NotFound: project acme/nope not found\n"), missing.stderr);

  t.is(policy("--required", "everyone").stdout, "required\teveryone\nroles\t-\npasswordless\ttrue\n", "roles go with ROLES");
  const help = iam(db, ["--help"]).stdout;
  for (const line of [
    "iam project mfa-policy ORG ID [--required optional|everyone|roles] [--roles ROLE,...] [--passwordless true|false]",
    "iam user factors ORG PROJECT ID\n",
    "iam user factors remove ORG PROJECT ID FACTOR\n",
    "iam user factors reset ORG PROJECT ID ",
  ]) {
    t.true(help.includes(line), line);
  }
});

test("iam user factors lists a user's factors and recovery codes; remove takes one away, reset all; the server then asks to enrol again", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  tenant(db);
  t.is(iam(db, ["project", "mfa-policy", "acme", "shop", "--required", "roles", "--roles", "staff"]).code, 0);
  t.is(iam(db, ["user", "factors", "acme", "shop", ALICE.id]).stdout, "(none)\nrecovery codes: none\n");

  // The command reads the time of the machine: the server enrols now.
  const clock = new TestClock();
  clock.ms = Date.now();
  const s = await startTestServer({ dbPath: db, clock });
  const alice = await passwordStep(s, ALICE);
  t.is(alice.step?.stage, "enrol", "alice holds staff");
  const totp = await s.authorization.startTotpEnrolment({ signIn: alice.signIn });
  await s.authorization.finishEnrolment({ signIn: alice.signIn, factorId: totp.factorId, totpCode: totpCode(totp.secret, clock.now()) });
  // Bob names his passkey with a terminal escape sequence: enrolment keeps no control character.
  const bob = await passwordStep(s, BOB);
  const key = new SoftAuthenticator(BASE_URL);
  const { optionsJson } = await s.authorization.startPasskey({ signIn: bob.signIn, purpose: "register" });
  await s.authorization.finishEnrolment({ signIn: bob.signIn, passkeyResponse: key.register(optionsJson), name: "Key \u001b[31mred\u001b[0m" });
  await s.close();
  const stored = new Database(db);
  const [bobsKey] = stored.prepare("SELECT name FROM factors WHERE user_id = ?").all(BOB.id) as { name: string }[];
  t.is(bobsKey!.name, "Key [31mred[0m");
  // A name written by other means still reaches no terminal raw.
  stored.prepare("UPDATE factors SET name = ? WHERE user_id = ?").run("Key \u001b[31mred\u001b[0m", BOB.id);
  stored.close();

  const listed = iam(db, ["user", "factors", "acme", "shop", ALICE.id]);
  t.is(listed.code, 0, listed.stderr);
  const [row, codes, ...rest] = listed.stdout.trimEnd().split("\n");
  t.deepEqual(rest, []);
  const cells = row!.split("\t");
  t.deepEqual([cells[0], cells[1], cells[2], cells[3], cells[6]], [totp.factorId, "totp", "Authenticator app", "confirmed", "-"]);
  t.regex(cells[4]!, /^enrolled \d{4}-\d\d-\d\dT/);
  t.regex(cells[5]!, /^last used \d{4}-\d\d-\d\dT/);
  t.regex(codes!, /^recovery codes: 10 of 10 left, issued \d{4}-\d\d-\d\dT/);
  t.false(listed.stdout.includes(totp.secret), "never the secret");

  const credential = key.credentials[0]!.id.toString("base64url");
  const bobs = iam(db, ["user", "factors", "acme", "shop", BOB.id]);
  const bobCells = bobs.stdout.split("\n")[0]!.split("\t");
  t.deepEqual([bobCells[1], bobCells[2], bobCells[3]], ["passkey", "Key ?[31mred?[0m", "confirmed"], "no control character reaches the terminal");
  t.is(bobCells[6], `credential ${credential.slice(0, 8)}… singleDevice not backed up internal`);
  t.false(bobs.stdout.includes(credential), "never the whole credential id");
  const json = JSON.parse(iam(db, ["user", "factors", "acme", "shop", BOB.id, "--json"]).stdout) as { factors: { kind: string; name: string; credentialIdPrefix: string }[]; recoveryCodes: { total: number; left: number } };
  t.deepEqual(json.factors.map((f) => [f.kind, f.name, f.credentialIdPrefix]), [["passkey", "Key \u001b[31mred\u001b[0m", credential.slice(0, 8)]]);
  t.like(json.recoveryCodes, { total: 10, left: 10 });

  const remove = iam(db, ["user", "factors", "remove", "acme", "shop", ALICE.id, totp.factorId]);
  t.is(remove.code, 0, remove.stderr);
  t.is(remove.stdout, "factor removed; the user's sessions stay open (iam user end-sessions ends them)\n");
  t.is(iam(db, ["user", "factors", "acme", "shop", ALICE.id]).stdout.split("\n")[0], "(none)");
  const again = iam(db, ["user", "factors", "remove", "acme", "shop", ALICE.id, totp.factorId]);
  t.is(again.code, 1);
  t.true(again.stderr.endsWith(`iam: NotFound: factor ${totp.factorId} of user alice in acme/shop not found\n`), again.stderr);
  const usage = iam(db, ["user", "factors", "remove", "acme", "shop", ALICE.id]);
  t.is(usage.code, 2);
  t.true(usage.stderr.startsWith('iam: "user factors remove" takes ORG PROJECT ID FACTOR\n'), usage.stderr);

  const reset = iam(db, ["user", "factors", "reset", "acme", "shop", BOB.id]);
  t.is(reset.code, 0, reset.stderr);
  const passkeyId = reset.stdout.match(/^removed 1 factor\(s\): (\S+) and 10 unspent recovery code\(s\)\n/)?.[1];
  t.truthy(passkeyId, reset.stdout);
  t.true(reset.stdout.endsWith("their sessions stay open (iam user end-sessions ends them)\n"));
  t.is(iam(db, ["user", "factors", "acme", "shop", BOB.id]).stdout, "(none)\nrecovery codes: none\n");
  t.is(iam(db, ["user", "factors", "reset", "acme", "shop", BOB.id]).stdout.split("\n")[0], "removed 0 factor(s) and 0 unspent recovery code(s)");

  // An organization called `reset`: `user factors reset shop dave` lists dave's factors there.
  t.is(iam(db, ["org", "create", "reset"]).code, 0);
  t.is(iam(db, ["project", "create", "reset", "shop"]).code, 0);
  t.is(iam(db, ["user", "create", "reset", "shop", "dave", "--password", "dave-password-1"]).code, 0);
  t.is(iam(db, ["user", "factors", "reset", "shop", "dave"]).stdout, "(none)\nrecovery codes: none\n");

  // A server started on the file: both enrol again, and the trail names the operator.
  const later = await startTestServer({ dbPath: db, clock });
  t.teardown(() => later.close());
  t.is((await passwordStep(later, ALICE)).step?.stage, "enrol");
  t.is((await passwordStep(later, BOB)).step?.stage, "enrol");
  const events = await later.core.deps.store.listAuditEvents(ref, { actions: ["FACTOR_REMOVED"], outcome: "success" }, { after: 0, limit: 10 });
  t.deepEqual(
    events.map((e) => [e.actor?.kind, e.target?.id, e.changes.map((c) => c.field)]),
    [
      ["operator", ALICE.id, ["factor"]],
      ["operator", BOB.id, ["factor", "recovery_codes"]],
      ["operator", BOB.id, []],
    ],
  );
});
