import test from "ava";
import { formatScope, isSubset, parseScope, selectScopes } from "../../core/lib/scopes.js";

const parsed: [string, string, string[]][] = [
  ["an empty parameter", "", []],
  ["only spaces", "   ", []],
  ["a single scope", "openid", ["openid"]],
  ["space-delimited scopes", "openid profile email", ["openid", "profile", "email"]],
  ["several spaces between scopes", "openid   profile", ["openid", "profile"]],
  ["leading and trailing spaces", "  openid profile ", ["openid", "profile"]],
  ["duplicates, keeping first-seen order", "b a b c a", ["b", "a", "c"]],
  ["the RFC 6749 §3.3 boundary characters", "! # [ ] ~ iam.global:admin/x", ["!", "#", "[", "]", "~", "iam.global:admin/x"]],
];
for (const [name, raw, expected] of parsed) {
  test(`parseScope splits ${name}`, (t) => {
    t.deepEqual(parseScope(raw), expected);
  });
}

const refused: [string, string][] = [
  ["a double quote", 'openid "profile"'],
  ["a backslash", "openid a\\b"],
  ["a tab", "openid\tprofile"],
  ["a newline", "openid\nprofile"],
  ["a NUL", "openid\u0000"],
  ["DEL", "openid\u007f"],
  ["a non-ASCII letter", "profil\u00e9"],
  ["a non-breaking space", "openid\u00a0profile"],
  ["an emoji", "openid 😀"],
];
for (const [name, raw] of refused) {
  test(`parseScope refuses a token with ${name}`, (t) => {
    t.is(parseScope(raw), undefined);
  });
}

test("selectScopes gives every held scope when none are requested", (t) => {
  t.deepEqual(selectScopes([], ["a", "b", "c"]), ["a", "b", "c"]);
});

test("selectScopes keeps the requested scopes that are held, in request order", (t) => {
  t.deepEqual(selectScopes(["c", "a"], ["a", "b", "c"]), ["c", "a"]);
});

test("selectScopes drops requested scopes that are not held", (t) => {
  t.deepEqual(selectScopes(["a", "unknown", "c"], ["a", "b", "c"]), ["a", "c"]);
  t.deepEqual(selectScopes(["unknown"], ["a"]), []);
});

test("selectScopes with nothing held gives nothing", (t) => {
  t.deepEqual(selectScopes([], []), []);
  t.deepEqual(selectScopes(["a"], []), []);
});

test("selectScopes returns a copy, not the held array", (t) => {
  const held = ["a"];
  const selected = selectScopes([], held);
  selected.push("b");
  t.deepEqual(held, ["a"]);
});

const subsets: [string[], string[], boolean][] = [
  [[], [], true],
  [[], ["a"], true],
  [["a"], ["a", "b"], true],
  [["b", "a"], ["a", "b"], true],
  [["a", "b"], ["a", "b"], true],
  [["a", "c"], ["a", "b"], false],
  [["a"], [], false],
];
for (const [subset, superset, expected] of subsets) {
  test(`isSubset(${JSON.stringify(subset)}, ${JSON.stringify(superset)}) is ${expected}`, (t) => {
    t.is(isSubset(subset, superset), expected);
  });
}

test("formatScope joins with single spaces", (t) => {
  t.is(formatScope(["openid", "profile"]), "openid profile");
  t.is(formatScope(["openid"]), "openid");
  t.is(formatScope([]), "");
});

test("formatScope and parseScope round-trip", (t) => {
  const scopes = ["openid", "iam.global.admin", "x:y"];
  t.deepEqual(parseScope(formatScope(scopes)), scopes);
});
