import test from "ava";
import { isPkceValue, parseChallengeMethod, s256, verifyPkce } from "../../core/lib/pkce.js";

/** RFC 7636 Appendix B. */
const VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/** A verifier of `length` characters from the unreserved set. */
const verifierOf = (length: number): string => "aB3-._~xYz0".repeat(20).slice(0, length);

test("s256 reproduces the RFC 7636 Appendix B challenge", (t) => {
  t.is(s256(VERIFIER), CHALLENGE);
});

test("verifyPkce accepts the RFC 7636 Appendix B verifier against its S256 challenge", (t) => {
  t.true(verifyPkce("S256", CHALLENGE, VERIFIER));
});

test("verifyPkce with plain accepts a verifier equal to the challenge", (t) => {
  t.true(verifyPkce("plain", VERIFIER, VERIFIER));
});

test("verifyPkce with plain refuses a verifier that differs from the challenge", (t) => {
  t.false(verifyPkce("plain", VERIFIER, verifierOf(43)));
});

test("verifyPkce refuses a wrong verifier against an S256 challenge", (t) => {
  t.false(verifyPkce("S256", CHALLENGE, verifierOf(43)));
  // One character changed.
  t.false(verifyPkce("S256", CHALLENGE, VERIFIER.slice(0, -1) + "j"));
});

test("presenting the S256 challenge itself as the verifier fails", (t) => {
  // An attacker who saw the challenge (a "plain" verifier) cannot redeem an S256 code with it.
  t.false(verifyPkce("S256", CHALLENGE, CHALLENGE));
});

test("an empty verifier is refused", (t) => {
  t.false(isPkceValue(""));
  t.false(verifyPkce("plain", "", ""));
});

const lengths: [number, boolean][] = [
  [42, false],
  [43, true],
  [128, true],
  [129, false],
];
for (const [length, valid] of lengths) {
  test(`a verifier of ${length} characters is ${valid ? "accepted" : "refused"}`, (t) => {
    const verifier = verifierOf(length);
    t.is(verifier.length, length);
    t.is(isPkceValue(verifier), valid);
    t.is(verifyPkce("S256", s256(verifier), verifier), valid);
    t.is(verifyPkce("plain", verifier, verifier), valid);
  });
}

const disallowed: [string, string][] = [
  ["a space", " "],
  ["a plus sign", "+"],
  ["a slash", "/"],
  ["an equals sign", "="],
  ["a non-ASCII letter", "é"],
  ["a non-BMP character", "😀"],
  ["a newline", "\n"],
  ["a NUL", "\u0000"],
];
for (const [name, char] of disallowed) {
  test(`a verifier containing ${name} is refused`, (t) => {
    const inside = verifierOf(20) + char + verifierOf(22);
    const trailing = verifierOf(43) + char;
    for (const verifier of [inside, trailing]) {
      t.false(isPkceValue(verifier));
      t.false(verifyPkce("S256", s256(verifier), verifier));
      t.false(verifyPkce("plain", verifier, verifier));
    }
  });
}

test("every unreserved character is allowed in a verifier", (t) => {
  const all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
  t.true(isPkceValue(all));
  t.true(verifyPkce("S256", s256(all), all));
});

const methods: [string, "S256" | "plain" | undefined][] = [
  ["", "plain"],
  ["plain", "plain"],
  ["S256", "S256"],
  ["s256", undefined],
  ["PLAIN", undefined],
  ["S512", undefined],
  [" S256", undefined],
];
for (const [raw, expected] of methods) {
  test(`parseChallengeMethod(${JSON.stringify(raw)}) is ${expected ?? "refused"}`, (t) => {
    t.is(parseChallengeMethod(raw), expected);
  });
}
