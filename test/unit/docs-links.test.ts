import test from "ava";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The pages a reader navigates: the front door, the map of the core, and docs/. */
const PAGES = [
  "README.md",
  "core/README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => `docs/${name}`),
];

/** Paths .gitignore keeps out of a clone (dist/, data/, *.db…): a page may name them, nothing checks them. */
const IGNORED = readFileSync(join(ROOT, ".gitignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));
const ignored = (path: string) =>
  IGNORED.some((rule) =>
    rule.startsWith("*") ? path.endsWith(rule.slice(1)) : `${path}/`.startsWith(rule.endsWith("/") ? rule : `${rule}/`),
  );

/** A page's prose: fenced code blocks left out (their `#` lines are comments, not headings). */
function prose(markdown: string): string[] {
  const lines: string[] = [];
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) lines.push(line);
  }
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");

function anchors(page: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(readFileSync(join(ROOT, page), "utf8"))) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** Markdown links of a page's prose (inline code left out), as written. */
function links(page: string): string[] {
  const text = prose(readFileSync(join(ROOT, page), "utf8"))
    .join("\n")
    .replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/** Where a relative link leads, or what is wrong with it; undefined when it holds. */
function brokenLink(page: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto:: not a file of the repository
  const [file, anchor] = target.split("#", 2) as [string, string | undefined];
  const path = file === "" ? page : relative(ROOT, join(ROOT, dirname(page), decodeURI(file)));
  if (path.startsWith("..")) return `${target} leaves the repository`;
  if (!existsSync(join(ROOT, path))) return `${target}: no file ${path}`;
  if (anchor !== undefined && path.endsWith(".md") && !anchors(path).has(anchor)) return `${target}: no heading #${anchor} in ${path}`;
  return undefined;
}

/**
 * Inline code that names a file or folder of the repository: no spaces or
 * placeholders, and a first segment that is an entry of the repository root
 * (`core/rpc/token.ts`, `.ci/run`) or, for a page inside a folder, of that
 * folder (`rpc/token.ts` in core/README.md).
 */
function repositoryPaths(page: string): { written: string; path: string }[] {
  const rootEntries = new Set(readdirSync(ROOT));
  const pageDir = dirname(page);
  const pageEntries = pageDir === "." ? new Set<string>() : new Set(readdirSync(join(ROOT, pageDir)));
  const found: { written: string; path: string }[] = [];
  for (const line of prose(readFileSync(join(ROOT, page), "utf8"))) {
    for (const [, code] of line.matchAll(/`([^`\n]+)`/g)) {
      const written = code!.trim();
      if (!written.includes("/") || /[\s*<>{}…$:?=&,|]/.test(written) || written.startsWith("/")) continue;
      const first = written.split("/")[0]!;
      const path = rootEntries.has(first) ? written : pageEntries.has(first) ? `${pageDir}/${written}` : undefined;
      if (path === undefined) continue;
      found.push({ written, path: path.replace(/\/+$/, "") });
    }
  }
  return found;
}

for (const page of PAGES) {
  test(`${page}: every relative link leads to a file (and heading) that exists`, (t) => {
    t.true(existsSync(join(ROOT, page)), `${page} exists`);
    const broken = links(page)
      .map((target) => brokenLink(page, target))
      .filter((problem): problem is string => problem !== undefined);
    t.deepEqual(broken, []);
  });

  test(`${page}: every repository path written in backticks exists`, (t) => {
    const missing = repositoryPaths(page)
      .filter(({ path }) => !ignored(path) && !existsSync(join(ROOT, path)))
      .map(({ written, path }) => (written === path ? written : `${written} (${path})`));
    t.deepEqual(missing, []);
  });
}

test("the checks see what they check: links and paths are found on the pages", (t) => {
  t.true(
    PAGES.some((page) => links(page).some((target) => target.startsWith("docs/") || target.endsWith(".md"))),
    "some page links another",
  );
  t.true(
    PAGES.some((page) => repositoryPaths(page).length > 0),
    "some page names a repository path",
  );
  t.is(slug("On the database file: the `iam` command"), "on-the-database-file-the-iam-command");
  t.is(slug("The gateway's balancing"), "the-gateways-balancing");
  t.true(ignored("dist/bin/iam.js") && ignored("data/iam.db") && ignored("bench/results/latest.json"));
  t.false(ignored("core/rpc/token.ts"));
});
