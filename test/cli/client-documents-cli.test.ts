/**
 * `iam project update --client-documents` and `iam client-document`: the
 * project's switch, and the administrator's block and pin of client ID
 * metadata document URLs, on the database, audited as the AdminService's.
 */
import { join } from "node:path";
import test from "ava";
import { tempDir } from "../helpers.js";
import { iam } from "./_support.js";

const URL = "https://agent.example/client.json";

test("iam turns client ID metadata documents on, blocks, pins, lists and removes document URLs, refusing a pin that breaks the rules", (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  const run = (args: string[], code = 0) => {
    const result = iam(db, args);
    t.is(result.code, code, `iam ${args.join(" ")}: ${result.stderr}`);
    return result;
  };
  const updated = JSON.parse(run(["project", "update", "iam-admins", "iam-admins", "--client-documents", "true", "--json"]).stdout) as {
    project: { clientIdMetadataDocuments?: boolean };
  };
  t.true(updated.project.clientIdMetadataDocuments);
  t.is(run(["client-document", "block", "iam-admins", "iam-admins", URL]).stdout, `blocked ${URL}\n`);
  const bad = run(["client-document", "pin", "iam-admins", "iam-admins", URL, "--document", JSON.stringify({ client_id: URL, redirect_uris: ["https://agent.example/cb"], client_secret: "s" })], 1);
  t.regex(bad.stderr, /client_secret/);
  const pin = JSON.stringify({ client_id: URL, redirect_uris: ["https://agent.example/cb"] });
  t.is(run(["client-document", "pin", "iam-admins", "iam-admins", URL, "--document", pin]).stdout, `pinned ${URL}\n`);
  t.is(run(["client-document", "list", "iam-admins", "iam-admins"]).stdout, `${URL}\tpinned\n`);
  t.is(run(["client-document", "remove", "iam-admins", "iam-admins", URL]).stdout, "removed\n");
  t.is(run(["client-document", "list", "iam-admins", "iam-admins"]).stdout, "(none)\n");
});
