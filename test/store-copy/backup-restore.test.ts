/**
 * `iam backup` of a running server and `iam restore`: the backup is taken
 * while a client keeps requesting tokens, none of which fails; it restores
 * row for row into an empty database that serves the tokens issued before
 * it. A backup that is damaged, cut short, from a newer schema, or of
 * another deployment, and a target that is not empty, are each refused with
 * one line, and the target is left as it was.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import test from "ava";
import { tempDir } from "../helpers.js";
import { backupWhileWriting, clientCredentials, codeFlow, dump, iam, introspect, refresh, startServer, startWithApp } from "./_support.js";

test.serial("a backup taken while the server issues tokens verifies, and restores into an empty database that serves the tokens issued before it", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "live.db");
  const server = await startWithApp(db);
  t.teardown(() => server.stop());
  const user = await codeFlow(server.url);

  const file = join(dir, "live.backup");
  const { backup, failures, issuedDuring } = await backupWhileWriting(db, server.url, file);
  t.is(backup.code, 0, backup.stderr);
  t.deepEqual(failures, [], "no token request failed during the backup");
  t.true(issuedDuring > 0, "tokens were issued while the backup ran");
  t.regex(backup.stdout, /^backup written to .* \d+ tables, \d+ rows, \d+ bytes, sqlite schema \d+, deployment [0-9a-f]{32}/);
  t.is(statSync(file).mode & 0o777, 0o600);

  const restored = join(dir, "restored.db");
  const restore = iam(restored, ["restore", file]);
  t.is(restore.code, 0, restore.stderr);
  t.regex(restore.stdout, /checksum verified/);
  const copy = await startServer(restored);
  t.teardown(() => copy.stop());
  t.like(await introspect(copy.url, user.access_token), { active: true, sub: "admin" });
  t.is((await refresh(copy.url, user.refresh_token)).status, 200);
  t.is(iam(restored, ["audit", "verify"]).code, 0);
});

test.serial("a SQLite backup restores row for row, every table", async (t) => {
  t.timeout(180_000);
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "a.db");
  const server = await startWithApp(db);
  await codeFlow(server.url);
  await clientCredentials(server.url);
  await server.stop();
  t.is(iam(db, ["backup", join(dir, "a.backup")]).code, 0);
  t.is(iam(join(dir, "b.db"), ["restore", join(dir, "a.backup")]).code, 0);
  const [before, after] = [await dump(db), await dump(join(dir, "b.db"))];
  t.true(Object.keys(before).length > 20);
  t.deepEqual(after, before);
});

/** A backup of a fresh deployment (its own file), and a live database of another deployment with a token issued. */
async function fixture(t: import("ava").ExecutionContext) {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const source = join(dir, "source.db");
  await (await startServer(source)).stop();
  const file = join(dir, "source.backup");
  t.is(iam(source, ["backup", file]).code, 0);
  const live = join(dir, "live.db");
  const server = await startServer(live);
  await clientCredentials(server.url);
  await server.stop();
  return { dir, source, file, live };
}

/** Rewrites a backup's content (gzip'd again, so that only the change is wrong; with `reseal`, its checksum too). */
function rewrite(file: string, to: string, edit: (text: string) => string, reseal = false): string {
  let text = edit(gunzipSync(readFileSync(file)).toString("utf8"));
  if (reseal) {
    const lines = text.trimEnd().split("\n");
    const trailer = JSON.parse(lines.pop()!) as { sha256: string };
    const body = lines.map((l) => l + "\n").join("");
    trailer.sha256 = createHash("sha256").update(body).digest("hex");
    text = body + JSON.stringify(trailer) + "\n";
  }
  writeFileSync(to, gzipSync(text));
  return to;
}

const refusals: [string, (f: Awaited<ReturnType<typeof fixture>>) => { file: string; args?: string[]; target?: "empty" | "live" }, RegExp][] = [
  [
    "a byte changed in the middle",
    ({ dir, file }) => {
      const bytes = readFileSync(file);
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x55;
      writeFileSync(join(dir, "corrupt.backup"), bytes);
      return { file: join(dir, "corrupt.backup") };
    },
    /^iam: the backup .*corrupt\.backup is (damaged|truncated)/,
  ],
  [
    "a file cut short",
    ({ dir, file }) => {
      const bytes = readFileSync(file);
      writeFileSync(join(dir, "short.backup"), bytes.subarray(0, bytes.length - 40));
      return { file: join(dir, "short.backup") };
    },
    /^iam: the backup .*short\.backup is truncated/,
  ],
  [
    "rows altered, the gzip stream intact",
    ({ dir, file }) => ({ file: rewrite(file, join(dir, "altered.backup"), (text) => text.replace('"iam-admins"', '"iam-admin5"')) }),
    /^iam: the backup .* is damaged: its checksum does not match its content/,
  ],
  [
    "a backup from a newer schema",
    ({ dir, file }) => ({
      file: rewrite(file, join(dir, "newer.backup"), (text) => text.replace(/"schema_version":\d+/, '"schema_version":999'), true),
      target: "empty",
    }),
    /^iam: the backup is at sqlite schema 999, newer than this iam-core knows \(\d+\): use the iam-core that wrote it, or a newer one$/m,
  ],
  ["a target that is not empty, without --force", ({ file }) => ({ file, target: "live" }), /^iam: the target .*live\.db is not empty: \d+ tables hold rows/],
  [
    "another deployment's backup over a live one, with --force",
    ({ file }) => ({ file, target: "live", args: ["--force"] }),
    /^iam: the target .*live\.db belongs to deployment [0-9a-f]{32}, the backup to [0-9a-f]{32}: .*--replace-deployment/,
  ],
  ["a file that is not a backup", ({ source }) => ({ file: source }), /^iam: the backup .* is damaged or not an iam-core backup/],
];

for (const [name, make, message] of refusals) {
  test.serial(`restore refuses ${name}, exit 1, and the target is unchanged`, async (t) => {
    t.timeout(180_000);
    const f = await fixture(t);
    const { file, args = [], target = "live" } = make(f);
    const db = target === "live" ? f.live : join(f.dir, "empty.db");
    const before = target === "live" ? await dump(db) : undefined;
    const refused = iam(db, ["restore", file, ...args]);
    t.is(refused.code, 1, refused.stdout);
    t.regex(refused.stderr, message);
    t.is(refused.stderr.trim().split("\n").length, 1, refused.stderr);
    if (before !== undefined) t.deepEqual(await dump(db), before);
    else t.throws(() => statSync(db), undefined, "no database file is left behind");
  });
}

test.serial("a backup of the same deployment replaces it with --force, and one of another with --force --replace-deployment", async (t) => {
  t.timeout(180_000);
  const f = await fixture(t);
  const mine = join(f.dir, "live.backup");
  t.is(iam(f.live, ["backup", mine]).code, 0);
  t.is(iam(f.live, ["restore", mine, "--force"]).code, 0);
  const replaced = iam(f.live, ["restore", f.file, "--force", "--replace-deployment"]);
  t.is(replaced.code, 0, replaced.stderr);
  t.deepEqual(await dump(f.live), await dump(f.source));
});

test.serial("backup refuses to overwrite a file unless --force, and usage errors exit 2", async (t) => {
  t.timeout(180_000);
  const f = await fixture(t);
  const again = iam(f.source, ["backup", f.file]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^iam: .*source\.backup exists: name another file, or give --force to replace it\n$/);
  t.is(iam(f.source, ["backup", f.file, "--force"]).code, 0);
  t.is(iam(f.source, ["backup"]).code, 2);
  t.is(iam(f.source, ["restore", f.file, "--replace-deployment"]).code, 2);
  t.is(iam(f.source, ["migrate-store", "--from", f.source]).code, 2);
});

test.serial("restore refuses a backup whose sealed keys the configured KEK cannot open, and writes nothing", async (t) => {
  t.timeout(180_000);
  const f = await fixture(t);
  const db = join(f.dir, "elsewhere.db");
  const refused = iam(db, ["restore", f.file], { IAM_KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64") });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^iam: the configured key-encryption key cannot open what was copied: the private key \S+ is encrypted with key [0-9a-f]{16}, which is not configured/);
  t.throws(() => statSync(db));
});
