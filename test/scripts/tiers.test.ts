/**
 * The test tiers (scripts/test-tiers.mjs): every test file runs in exactly
 * one, and the fast tier stays what its name says.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import test from "ava";
// @ts-expect-error: a script of the repository, plain JavaScript without declarations
import { filesOf, placeOf, POSTGRES_PASS, problems, testFiles, TIERS } from "../../scripts/test-tiers.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const files: string[] = testFiles();
const tiers = Object.keys(TIERS) as string[];

test("every test file is in exactly one tier, and every entry of the tiers places a file", (t) => {
  t.true(files.length > 50);
  t.deepEqual(problems(files), []);
  const placed = tiers.flatMap((tier) => filesOf(tier, files) as string[]);
  t.deepEqual([...placed].sort(), files, "the tiers together run every file once");
});

test("a file named in a folder of another tier is placed by its own entry", (t) => {
  t.is(placeOf("test/core/core-port-limits.test.ts").tier, "integration");
  t.is(placeOf("test/core/token-code.test.ts").tier, "fast");
  t.is(placeOf("test/replicas/replicas.test.ts").tier, "process");
  t.is(placeOf("test/nowhere/new.test.ts"), undefined);
});

/** What starts a server, a process or a browser, as the test files write it. */
const STARTS =
  /from ["']node:child_process["']|\b(?:startTestServer|startStandardServer|startCoreServer|startGatewayServer|startExtraGateway|startResourceServer|createServer|useBrowser|postgresSuite)\(|\.listen\(|\bserve\(t\)/;

test("a file of the fast tier starts no server, no process, no browser and needs no PostgreSQL", (t) => {
  for (const file of filesOf("fast", files) as string[]) {
    const source = readFileSync(`${root}${file}`, "utf8");
    t.false(STARTS.test(source), `${file} starts something (${STARTS.exec(source)?.[0]}): place it in the integration or process tier`);
  }
});

test("the PostgreSQL pass reruns files of the tiers, each once, each with its reason", (t) => {
  const passFiles = (POSTGRES_PASS as { file: string; why: string }[]).map((p) => p.file);
  t.deepEqual([...new Set(passFiles)], passFiles);
  for (const p of POSTGRES_PASS as { file: string; why: string }[]) {
    t.not(placeOf(p.file), undefined, p.file);
    t.true(p.why.length > 0, p.file);
  }
});
