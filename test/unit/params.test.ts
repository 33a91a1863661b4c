import test from "ava";
import { parseParams } from "../../gateway/http.js";

test("get returns the value of a parameter", (t) => {
  const params = parseParams("response_type=code&client_id=app");
  t.is(params.get("response_type"), "code");
  t.is(params.get("client_id"), "app");
});

test("get returns the empty string for a missing parameter", (t) => {
  const params = parseParams("client_id=app");
  t.is(params.get("state"), "");
  t.is(parseParams("").get("state"), "");
});

test("get returns the empty string for a parameter without a value", (t) => {
  t.is(parseParams("state=&scope").get("state"), "");
  t.is(parseParams("state=&scope").get("scope"), "");
});

test("values are form-decoded", (t) => {
  const params = parseParams("redirect_uri=https%3A%2F%2Fclient.example%2Fcb%3Fa%3D1&scope=openid+profile&state=%C3%A9%20x");
  t.is(params.get("redirect_uri"), "https://client.example/cb?a=1");
  t.is(params.get("scope"), "openid profile");
  t.is(params.get("state"), "é x");
});

test("a leading ? is ignored", (t) => {
  t.is(parseParams("?code=abc").get("code"), "abc");
});

test("no parameter is reported repeated when each appears once", (t) => {
  const params = parseParams("a=1&b=2&c=3");
  t.deepEqual(params.repeated, []);
  t.is(params.size, 3);
});

const repeats: [string, string, readonly string[], string[]][] = [
  ["a name given twice", "client_id=a&client_id=b", [], ["client_id"]],
  ["a name given three times, once", "state=1&state=2&state=3", [], ["state"]],
  ["each of several repeated names once, in order", "b=1&a=1&b=2&a=2&c=1&a=3", [], ["b", "a"]],
  ["a repeated name even with empty values", "scope=&scope=", [], ["scope"]],
  ["a repeat spelled with percent-encoding", "code=1&%63ode=2", [], ["code"]],
  ["nothing for a name allowed to repeat", "resource=a&resource=b", ["resource"], []],
  ["only the names not allowed to repeat", "resource=a&state=1&resource=b&state=2", ["resource"], ["state"]],
];
for (const [name, text, mayRepeat, expected] of repeats) {
  test(`repeated reports ${name}`, (t) => {
    t.deepEqual(parseParams(text, mayRepeat).repeated, expected);
  });
}

test("size counts distinct names", (t) => {
  t.is(parseParams("a=1&a=2&b=3").size, 2);
  t.is(parseParams("").size, 0);
});

test("get returns the first value of a repeated parameter and getAll returns all in order", (t) => {
  const params = parseParams("resource=a&x=1&resource=b&resource=c", ["resource"]);
  t.is(params.get("resource"), "a");
  t.deepEqual(params.getAll("resource"), ["a", "b", "c"]);
  t.deepEqual(params.getAll("x"), ["1"]);
  t.deepEqual(params.getAll("missing"), []);
});
