/** `iam resource`: protected resources (RFC 8707) registered, listed, changed and removed on the database file. */
import { join } from "node:path";
import test from "ava";
import { tempDir } from "../helpers.js";
import { iam } from "./_support.js";

test("iam resource create, update, list and delete; a URI with a fragment or a scope that is no permission is refused and leaves nothing", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "notes"]).code, 0);
  t.is(iam(db, ["permission", "create", "acme", "notes", "notes.items.read"]).code, 0);
  t.is(iam(db, ["permission", "create", "acme", "notes", "notes.items.write"]).code, 0);

  const created = iam(db, ["resource", "create", "acme", "notes", "https://mcp.notes.example/mcp", "--permission", "notes.items.read", "--name", "Notes MCP"]);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /registered resource https:\/\/mcp\.notes\.example\/mcp \(notes\.items\.read\)/);

  const fragment = iam(db, ["resource", "create", "acme", "notes", "https://mcp.notes.example/mcp#x", "--permission", "notes.items.read"]);
  t.is(fragment.code, 1);
  t.regex(fragment.stderr, /InvalidArgument: uri .* cannot name a resource: it has a fragment/);
  const unknown = iam(db, ["resource", "create", "acme", "notes", "https://api.notes.example", "--permission", "notes.items.delete"]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /unknown permission notes\.items\.delete/);

  const updated = iam(db, ["resource", "update", "acme", "notes", "https://mcp.notes.example/mcp", "--permission", "notes.items.read", "--permission", "notes.items.write"]);
  t.is(updated.code, 0, updated.stderr);
  const listed = iam(db, ["resource", "list", "acme", "notes"]);
  t.is(listed.stdout.trim(), "https://mcp.notes.example/mcp\tnotes.items.read notes.items.write\tNotes MCP");

  t.is(iam(db, ["resource", "delete", "acme", "notes", "https://mcp.notes.example/mcp"]).code, 0);
  const empty = iam(db, ["resource", "list", "acme", "notes", "--json"]);
  t.deepEqual(JSON.parse(empty.stdout), {}, "nothing left, the refused ones included");
});
