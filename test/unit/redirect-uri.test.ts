import test from "ava";
import { isRegisteredRedirectUri, withQuery } from "../../core/lib/redirect-uri.js";

const REGISTERED = "https://client.example/cb/path";
const OTHER = "http://127.0.0.1:9000/callback?tenant=a";

test("a presented redirect URI equal to a registered one is accepted", (t) => {
  t.true(isRegisteredRedirectUri([REGISTERED, OTHER], REGISTERED));
  t.true(isRegisteredRedirectUri([REGISTERED, OTHER], OTHER));
});

test("no redirect URI is accepted when none is registered", (t) => {
  t.false(isRegisteredRedirectUri([], REGISTERED));
});

const nearMisses: [string, string][] = [
  ["a trailing slash", "https://client.example/cb/path/"],
  ["an upper-case host", "https://CLIENT.EXAMPLE/cb/path"],
  ["an upper-case scheme", "HTTPS://client.example/cb/path"],
  ["an upper-case path", "https://client.example/CB/path"],
  ["an extra query", "https://client.example/cb/path?x=1"],
  ["an empty query", "https://client.example/cb/path?"],
  ["a fragment", "https://client.example/cb/path#frag"],
  ["an empty fragment", "https://client.example/cb/path#"],
  ["user info before the host", "https://user@client.example/cb/path"],
  ["the registered host as user info", "https://client.example@evil.example/cb/path"],
  ["a percent-encoded unreserved character", "https://client.example/cb/%70ath"],
  ["a percent-encoded slash", "https://client.example/cb%2Fpath"],
  ["another port", "https://client.example:8443/cb/path"],
  ["the default port written out", "https://client.example:443/cb/path"],
  ["another scheme", "http://client.example/cb/path"],
  ["a longer path", "https://client.example/cb/path/more"],
  ["a prefix of the path", "https://client.example/cb"],
  ["a dot segment", "https://client.example/cb/./path"],
  ["a suffix on the host", "https://client.example.evil.example/cb/path"],
  ["a trailing dot on the host", "https://client.example./cb/path"],
  ["surrounding white space", ` ${REGISTERED} `],
  ["the empty string", ""],
];
for (const [name, presented] of nearMisses) {
  test(`a redirect URI with ${name} is refused`, (t) => {
    t.false(isRegisteredRedirectUri([REGISTERED], presented));
  });
}

test("the empty string is refused even if it were registered", (t) => {
  t.false(isRegisteredRedirectUri([""], ""));
});

test("withQuery adds a query to a URI without one", (t) => {
  t.is(withQuery("https://client.example/cb", { code: "abc", state: "xyz" }), "https://client.example/cb?code=abc&state=xyz");
});

test("withQuery keeps an existing query and appends after it", (t) => {
  t.is(withQuery(OTHER, { code: "abc" }), "http://127.0.0.1:9000/callback?tenant=a&code=abc");
});

test("withQuery does not add a second separator after a trailing ? or &", (t) => {
  t.is(withQuery("https://client.example/cb?", { code: "abc" }), "https://client.example/cb?code=abc");
  t.is(withQuery("https://client.example/cb?a=1&", { code: "abc" }), "https://client.example/cb?a=1&code=abc");
});

test("withQuery keeps the parameters in the order given", (t) => {
  t.is(withQuery("https://c.example/cb", { state: "s", code: "c", iss: "i" }), "https://c.example/cb?state=s&code=c&iss=i");
});

test("withQuery URL-encodes the values", (t) => {
  const state = "a b&c=d/é?#+%";
  const iss = "http://iam.test/services/oauth2/org/proj";
  const uri = withQuery("https://client.example/cb?tenant=a", { state, iss });
  const query = uri.slice(uri.indexOf("?") + 1);
  t.is(query, "tenant=a&state=a+b%26c%3Dd%2F%C3%A9%3F%23%2B%25&iss=http%3A%2F%2Fiam.test%2Fservices%2Foauth2%2Forg%2Fproj");
  const parsed = new URL(uri).searchParams;
  t.is(parsed.get("state"), state);
  t.is(parsed.get("iss"), iss);
  t.is(parsed.get("tenant"), "a");
});

test("withQuery skips undefined and empty values", (t) => {
  t.is(withQuery("https://client.example/cb", { code: "abc", state: undefined, iss: "" }), "https://client.example/cb?code=abc");
});

test("withQuery leaves the registered part byte for byte as registered", (t) => {
  const registered = "HTTPS://Client.Example:443/a/../b/%7euser?x=%41&y";
  const uri = withQuery(registered, { code: "abc" });
  t.is(uri, `${registered}&code=abc`);
});
