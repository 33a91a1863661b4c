import test from "ava";
import { readFileSync } from "node:fs";
import { loadConfig, OPTIONS } from "../../core/server/config.js";
import { DOC_PATH, renderConfigurationDoc } from "../../scripts/config-docs.js";

test("docs/configuration.md is exactly what npm run docs:config generates from core/server/config.ts", (t) => {
  const page = readFileSync(DOC_PATH, "utf8");
  t.is(page, renderConfigurationDoc(), "docs/configuration.md is stale: run npm run docs:config and commit it");
});

test("the page has one row per option, with the default loadConfig applies", (t) => {
  const page = renderConfigurationDoc();
  const defaults = loadConfig({});
  for (const option of OPTIONS) {
    const row = page.split("\n").find((line) => line.startsWith(`| \`${option.env}\` |`));
    t.truthy(row, `${option.env} has a row`);
    const value = defaults[option.key];
    if (value === undefined) t.regex(row!, /^\| `[A-Z_]+` \| unset \|/, `${option.env}: unset`);
    else if (option.key !== "baseUrl") t.true(row!.includes(`| \`${Array.isArray(value) ? value.join(",") : String(value)}\` |`), `${option.env}: ${String(value)}`);
  }
  t.true(page.includes("| `IAM_BASE_URL` | `http://localhost:{IAM_HTTP_PORT}` |"), "a default derived from another option names its variable");
  t.true(page.includes("| `IAM_HTTP_PORT` | `8080` | a port number 0-65535 |"), "what the validator accepts, in its words");
});
