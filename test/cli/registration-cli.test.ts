/** `iam initial-access-token`: the tokens of Dynamic Client Registration (RFC 7591 §3) made, listed and revoked on the database file. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import Database from "better-sqlite3";
import { tempDir } from "../helpers.js";
import { iam } from "./_support.js";

test("iam initial-access-token create, list and revoke: the token is printed once and kept as its SHA-256; bad numbers are refused and leave nothing", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "notes", "--client-registration", "initial_access_token"]).code, 0);

  const created = iam(db, ["initial-access-token", "create", "acme", "notes", "--description", "MCP clients of team X", "--ttl", "3600", "--max-uses", "5"]);
  t.is(created.code, 0, created.stderr);
  const [, id] = /created initial access token (\S+), expires \S+, 5 of 5 uses left/.exec(created.stdout) ?? [];
  const [, token] = /^token: (\S+) {2}\(shown once\)$/m.exec(created.stdout) ?? [];
  t.truthy(id, created.stdout);
  t.truthy(token, created.stdout);

  const conn = new Database(db, { readonly: true });
  const row = conn.prepare("SELECT token_hash, expires_at - created_at AS ttl FROM initial_access_tokens WHERE id = ?").get(id) as { token_hash: string; ttl: number };
  conn.close();
  t.is(row.token_hash, createHash("sha256").update(token!).digest("base64url"), "the token printed is the one the registration endpoint takes");
  t.is(row.ttl, 3600);
  t.false(readFileSync(db).includes(token!), "the token itself is nowhere in the database");

  const listed = iam(db, ["initial-access-token", "list", "acme", "notes"]);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, new RegExp(`^${id}\\texpires \\S+\\t5 of 5 uses left\\tMCP clients of team X$`, "m"));
  t.false(listed.stdout.includes(token!), "a listing never shows a token");

  // Not a number: a usage error (2); out of range: the AdminService's refusal (1).
  const refusals: [string[], number, RegExp][] = [
    [["--ttl", "an hour"], 2, /--ttl takes a whole number of seconds/],
    [["--max-uses", "-1"], 2, /--max-uses takes a whole number of uses/],
    [["--ttl", "30"], 1, /InvalidArgument: .*ttl/],
    [["--max-uses", "2000000"], 1, /InvalidArgument: .*max_uses/],
  ];
  for (const [bad, code, message] of refusals) {
    const refused = iam(db, ["initial-access-token", "create", "acme", "notes", ...bad]);
    t.is(refused.code, code, bad.join(" "));
    t.regex(refused.stderr, message, bad.join(" "));
  }
  t.is(iam(db, ["initial-access-token", "list", "acme", "notes"]).stdout.trim().split("\n").length, 1, "the refused ones made nothing");

  t.is(iam(db, ["initial-access-token", "revoke", "acme", "notes", id!]).stdout.trim(), "revoked");
  t.is(iam(db, ["initial-access-token", "list", "acme", "notes"]).stdout.trim(), "(none)");
  const again = iam(db, ["initial-access-token", "revoke", "acme", "notes", id!]);
  t.is(again.code, 1);
  t.regex(again.stderr, /NotFound/);
});
