/**
 * `iam console-client ORG PROJECT`: adds the client the administration
 * console signs in with where it is missing, says so where it is there, and
 * refuses, changing nothing, where a client or user of that id is something
 * else.
 */
import { join } from "node:path";
import test from "ava";
import { BASE_URL, tempDir } from "../helpers.js";
import { iam } from "./_support.js";

/** The console's client in `org/project` as `iam client list --json` shows it (its creation time aside). */
const consoleClient = (organization: string, project: string) => ({
  organization,
  project,
  id: "iam-console",
  name: "iam-core console",
  type: "CLIENT_TYPE_PUBLIC",
  redirectUris: [`${BASE_URL}/admin/callback`],
  grantTypes: ["authorization_code", "refresh_token"],
  pkceRequired: true,
  rememberConsent: true,
  accessTokenTtl: "300",
  refreshTokenTtl: "28800",
  postLogoutRedirectUris: [`${BASE_URL}/admin/`],
  idTokenSignedResponseAlg: "RS256",
  webOrigins: [BASE_URL],
});

type Listed = { clients: (Record<string, unknown> & { id: string; createdAt: string })[] };

/** The client `id` of `org/project`, without its creation time, or undefined. */
function listed(db: string, org: string, project: string, id = "iam-console") {
  const result = iam(db, ["client", "list", org, project, "--json"]);
  // --json leaves out an empty list, as the JSON form of protobuf does.
  const client = ((JSON.parse(result.stdout) as Partial<Listed>).clients ?? []).find((c) => c.id === id);
  if (client === undefined) return undefined;
  const { createdAt: _createdAt, ...rest } = client;
  return rest;
}

/** Runs `iam`, failing the test with its stderr when the exit code is not `code`. */
function run(t: import("ava").ExecutionContext, db: string, args: string[], code = 0, input?: string) {
  const result = iam(db, args, input);
  t.is(result.code, code, `iam ${args.join(" ")}: ${result.stderr}`);
  return result;
}

test("iam console-client says so where the client is there, adds it where it was deleted, as the first start made it, and is idempotent", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");

  // The first command creates the default tenant, its console client with it.
  const first = run(t, db, ["console-client", "iam-admins", "iam-admins"]);
  t.is(first.stdout, "client iam-console already exists in iam-admins/iam-admins with the console's settings; nothing changed\n");
  const made = listed(db, "iam-admins", "iam-admins");
  t.deepEqual(made, consoleClient("iam-admins", "iam-admins"));

  // A database made before the console has none: the server says how to add it.
  run(t, db, ["client", "delete", "iam-admins", "iam-admins", "iam-console"]);
  const added = run(t, db, ["console-client", "iam-admins", "iam-admins"]);
  t.regex(added.stderr, /no client iam-console .*add it with: iam console-client iam-admins iam-admins/, "the warning of a database without it");
  t.is(added.stdout, `created client iam-console in iam-admins/iam-admins: its administrators can sign in to the console at ${BASE_URL}/admin/\n`);
  t.deepEqual(listed(db, "iam-admins", "iam-admins"), made, "the same client as the first start made");

  const again = run(t, db, ["console-client", "iam-admins", "iam-admins", "--json"]);
  t.like(JSON.parse(again.stdout), { client: consoleClient("iam-admins", "iam-admins") });
  t.notRegex(again.stderr, /iam-console/, "no warning once it is there");

  // Its creation is in the audit trail, as the operator's.
  const events = run(t, db, ["audit", "export", "--organization", "iam-admins", "--project", "iam-admins"])
    .stdout.trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { action: string; outcome: string; actor?: { kind: string }; target?: { id: string } });
  const created = events.filter((e) => e.action === "AUDIT_ACTION_CLIENT_CREATED" && e.target?.id === "iam-console");
  t.is(created.length, 1);
  t.like(created[0], { outcome: "AUDIT_OUTCOME_SUCCESS", actor: { kind: "AUDIT_PARTY_KIND_OPERATOR" } });
});

test("iam console-client refuses, changing nothing, a client of that id with other settings, a user of that id, a missing project", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  run(t, db, ["org", "create", "acme"]);
  run(t, db, ["project", "create", "acme", "shop"]);
  t.deepEqual(listed(db, "acme", "shop"), consoleClient("acme", "shop"), "CreateProject made it");

  run(t, db, ["client", "delete", "acme", "shop", "iam-console"]);
  run(t, db, ["client", "create", "acme", "shop", "iam-console", "--public", "--redirect-uri", "https://elsewhere.example/cb"]);
  const other = listed(db, "acme", "shop");
  const refused = run(t, db, ["console-client", "acme", "shop"], 1);
  t.is(
    refused.stderr.split("\n").find((line) => line.startsWith("iam: ")),
    "iam: AlreadyExists: a client iam-console with other settings (name, redirect_uris, remember_consent, access_token_ttl, refresh_token_ttl, post_logout_redirect_uris, web_origins) exists in acme/shop; nothing changed. " +
      "To make it the console's, delete it (iam client delete acme shop iam-console) and run this again",
  );
  t.deepEqual(listed(db, "acme", "shop"), other, "the other client is left as it is");

  run(t, db, ["client", "delete", "acme", "shop", "iam-console"]);
  run(t, db, ["user", "create", "acme", "shop", "iam-console", "--password-stdin"], 0, "a long enough password\n");
  const user = run(t, db, ["console-client", "acme", "shop"], 1);
  t.regex(user.stderr, /^iam: AlreadyExists: a user iam-console exists in acme\/shop, and a client cannot have a user's id .*; nothing changed\./m);
  t.is(listed(db, "acme", "shop"), undefined);

  t.regex(run(t, db, ["console-client", "acme", "nope"], 1).stderr, /^iam: NotFound: project acme\/nope not found$/m);
  t.regex(run(t, db, ["console-client", "acme"], 2).stderr, /"console-client" takes ORG PROJECT/);
});
