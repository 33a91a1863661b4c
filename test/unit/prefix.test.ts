import test from "ava";
import { prefixRange } from "../../core/lib/prefix.js";

/** Code point order, as SQLite's BINARY and PostgreSQL's "C" collations compare UTF-8 text (JS's `<` compares UTF-16 units). */
function compare(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

const inRange = (value: string, range: { from: string; to: string }) => compare(range.from, value) <= 0 && compare(value, range.to) < 0;

const VALUES = [
  "",
  "a",
  "al",
  "alice",
  "alice@example.com",
  "alicf",
  "alz",
  "am",
  "Alice",
  "b",
  "al~",
  "al\u007f",
  "jö",
  "jörg@example.de",
  "jõ",
  "j\u00f6\uffff",
  "\ud7ff",
  "\ud7ffx",
  "\ue000",
  "😀",
  "😀x",
  "\u{10ffff}",
  "\u{10ffff}\u{10ffff}",
  "a\u{10ffff}",
  "a\u{10ffff}z",
  "b\u{10ffff}",
];

const PREFIXES: [string, string][] = [
  ["an ASCII prefix", "al"],
  ["a prefix ending in the last ASCII character", "al~"],
  ["a one-letter prefix", "a"],
  ["a prefix ending in a non-ASCII letter", "jö"],
  ["a prefix ending before the surrogates", "\ud7ff"],
  ["a prefix outside the Basic Multilingual Plane", "😀"],
  ["a prefix ending in U+10FFFF", "a\u{10ffff}"],
  ["a prefix of U+10FFFF alone", "\u{10ffff}"],
  ["a whole value", "alice@example.com"],
];

for (const [what, prefix] of PREFIXES) {
  test(`prefixRange holds exactly the values that begin with ${what}`, (t) => {
    const range = prefixRange(prefix, 254);
    t.is(range.from, prefix);
    for (const value of VALUES) t.is(inRange(value, range), value.startsWith(prefix), JSON.stringify(value));
  });
}

test("prefixRange raises the last character, skipping the surrogates and dropping a trailing U+10FFFF", (t) => {
  t.deepEqual(prefixRange("al", 254), { from: "al", to: "am" });
  t.deepEqual(prefixRange("\ud7ff", 254), { from: "\ud7ff", to: "\ue000" });
  t.deepEqual(prefixRange("😀", 254), { from: "😀", to: "😁" });
  t.deepEqual(prefixRange("a\u{10ffff}", 254), { from: "a\u{10ffff}", to: "b" });
});

test("prefixRange of U+10FFFF alone ends past every value of the longest length", (t) => {
  const range = prefixRange("\u{10ffff}", 3);
  t.true(inRange("\u{10ffff}".repeat(3), range));
  t.false(inRange("\u{10ffff}".repeat(4), range), "longer than the column holds: past the end");
});
