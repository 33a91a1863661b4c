import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** The repository folders that each TypeScript file under `folder` imports from ("core", "wire", "gen", …). */
function importedFolders(folder: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const path of readdirSync(join(root, folder), { recursive: true, encoding: "utf8" })) {
    if (!path.endsWith(".ts")) continue;
    const file = join(root, folder, path);
    const source = readFileSync(file, "utf8");
    const folders = new Set<string>();
    for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*"(\.[^"]*)"/g)) {
      folders.add(relative(root, resolve(dirname(file), specifier!)).split("/")[0]!);
    }
    found.set(`${folder}/${path}`, folders);
  }
  return found;
}

test("wire/ imports neither core/ nor gateway/: both sides may import it", (t) => {
  const files = importedFolders("wire");
  t.true(files.size > 0);
  for (const [file, folders] of files) {
    t.false(folders.has("core"), `${file} imports core/`);
    t.false(folders.has("gateway"), `${file} imports gateway/`);
  }
});

test("client/ imports neither core/ nor gateway/: what a resource server needs is in wire/ and gen/", (t) => {
  for (const [file, folders] of importedFolders("client")) {
    t.false(folders.has("core"), `${file} imports core/`);
    t.false(folders.has("gateway"), `${file} imports gateway/`);
  }
});

test("gateway/ imports nothing of core/: it reaches the core only through RPCs, wire/ and gen/", (t) => {
  const files = importedFolders("gateway");
  t.true(files.size > 0);
  for (const [file, folders] of files) t.false(folders.has("core"), `${file} imports core/`);
});

test("core/ never imports gateway/ or client/", (t) => {
  for (const [file, folders] of importedFolders("core")) {
    t.false(folders.has("gateway"), `${file} imports gateway/`);
    t.false(folders.has("client"), `${file} imports client/`);
  }
});
