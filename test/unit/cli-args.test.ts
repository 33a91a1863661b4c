/**
 * The iam command's options take values that begin with "-" (base64url ids:
 * one in 64 does), as their `--option=value` form would, and still catch a
 * forgotten value.
 */
import test from "ava";
import { withDashValues } from "../../bin/admin-cli.js";

test("a value beginning with - after an option that takes one is that option's value", (t) => {
  t.deepEqual(withDashValues(["user", "end-sessions", "acme", "shop", "alice", "--session", "-Xq1"]), ["user", "end-sessions", "acme", "shop", "alice", "--session=-Xq1"]);
  t.deepEqual(withDashValues(["--session", "--Xq1"]), ["--session=--Xq1"], "not an option of the command: a value");
});

test("an option after an option that takes a value is left for parseArgs to refuse; flags and -- are left as they are", (t) => {
  t.deepEqual(withDashValues(["--name", "--public"]), ["--name", "--public"]);
  t.deepEqual(withDashValues(["--public", "-x"]), ["--public", "-x"]);
  t.deepEqual(withDashValues(["--session", "--"]), ["--session", "--"]);
  t.deepEqual(withDashValues(["--session"]), ["--session"]);
});
