import test from "ava";
import { epochSeconds, systemClock } from "../../core/lib/clock.js";
import { constantEquals, randomToken, sha256 } from "../../core/lib/crypto.js";

const comparisons: [string, string, string, boolean][] = [
  ["equal strings", "s3cr3t-value", "s3cr3t-value", true],
  ["two empty strings", "", "", true],
  ["strings differing in the last character", "s3cr3t-value", "s3cr3t-valuf", false],
  ["strings of different lengths", "s3cr3t", "s3cr3t-value", false],
  ["a prefix and the whole", "abc", "abcd", false],
  ["an empty and a non-empty string", "", "x", false],
  ["strings differing only in case", "Token", "token", false],
];
for (const [name, a, b, expected] of comparisons) {
  test(`constantEquals: ${name} ${expected ? "are" : "are not"} equal`, (t) => {
    t.is(constantEquals(a, b), expected);
    t.is(constantEquals(b, a), expected);
  });
}

test("sha256 of \"abc\" is the FIPS 180-2 vector, base64url", (t) => {
  t.is(sha256("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
});

test("sha256 of the empty string is the known vector, base64url", (t) => {
  t.is(sha256(""), "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
});

test("sha256 output is unpadded base64url of 32 bytes", (t) => {
  const digest = sha256("some refresh token");
  t.regex(digest, /^[A-Za-z0-9_-]{43}$/);
  t.is(Buffer.from(digest, "base64url").length, 32);
});

test("randomToken gives 43 base64url characters for the default 32 bytes", (t) => {
  const token = randomToken();
  t.regex(token, /^[A-Za-z0-9_-]{43}$/);
  t.is(Buffer.from(token, "base64url").length, 32);
});

test("randomToken honours a byte count", (t) => {
  t.regex(randomToken(16), /^[A-Za-z0-9_-]{22}$/);
});

test("randomToken values are distinct", (t) => {
  const tokens = new Set(Array.from({ length: 1000 }, () => randomToken()));
  t.is(tokens.size, 1000);
});

test("epochSeconds floors the clock's milliseconds", (t) => {
  t.is(epochSeconds({ now: () => 1_700_000_000_999 }), 1_700_000_000);
  t.is(epochSeconds({ now: () => 1_700_000_000_000 }), 1_700_000_000);
});

test("systemClock follows Date.now", (t) => {
  const before = Date.now();
  const now = systemClock.now();
  t.true(now >= before && now <= Date.now());
});

test("randomToken draws from a pool without ever handing out a byte twice, across refills, and above the pool's size", (t) => {
  // 16-byte tokens over several 4 KiB pools: 1,000 of them span four refills.
  const tokens = Array.from({ length: 1000 }, () => Buffer.from(randomToken(16), "base64url"));
  const chunks = new Set(tokens.map((b) => b.toString("hex")));
  t.is(chunks.size, tokens.length);
  // Bytes are not reused: no 8-byte window of one token appears in another (a reused slice would).
  const windows = new Map<string, number>();
  tokens.forEach((b, i) => {
    for (let j = 0; j + 8 <= b.length; j++) {
      const w = b.subarray(j, j + 8).toString("hex");
      t.true(windows.get(w) === undefined || windows.get(w) === i, "a window seen in another token");
      windows.set(w, i);
    }
  });
  // Odd sizes straddle a refill; a request larger than the pool is drawn on its own.
  t.regex(randomToken(4095), /^[A-Za-z0-9_-]{5460}$/);
  t.regex(randomToken(5000), /^[A-Za-z0-9_-]{6667}$/);
  // Every bit is used about as often as not (a pool left unfilled would be zeros).
  const bits = Buffer.concat(tokens).reduce((n, byte) => n + byte.toString(2).split("1").length - 1, 0);
  const total = tokens.length * 16 * 8;
  t.true(Math.abs(bits / total - 0.5) < 0.02, `${bits} of ${total} bits set`);
});
