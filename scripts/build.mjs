#!/usr/bin/env node
/**
 * Compiles the server (bin, core, gateway, gen, client, wire) from TypeScript to
 * JavaScript in dist/, one file for each, with source maps. `npm start` runs
 * the result: no TypeScript loader in the running process (it would hold
 * about 100 MB more and slow every start). Type checking is `npm run
 * typecheck`; this only strips types, in well under a second.
 */
import { readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const SOURCES = ["bin", "core", "gateway", "gen", "client", "wire"];

function* typescript(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* typescript(path);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) yield path;
  }
}

const entryPoints = SOURCES.flatMap((dir) => [...typescript(join(root, dir))]);
rmSync(join(root, "dist"), { recursive: true, force: true });
await build({
  entryPoints,
  outdir: join(root, "dist"),
  outbase: root,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
if (process.argv.includes("--verbose")) console.log(`built ${entryPoints.length} files into ${relative(process.cwd(), join(root, "dist"))}/`);
