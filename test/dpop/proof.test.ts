/**
 * RFC 9449 §4.3: each check of a DPoP proof that needs no storage, with the
 * refusal it makes; a good proof of every allowed algorithm gives the key's
 * RFC 7638 thumbprint.
 */
import { generateKeyPairSync } from "node:crypto";
import test from "ava";
import { checkProof, DpopProofError, DPOP_MAX_AGE, type ProofExpectation } from "../../core/dpop/proof.js";
import { athOf, forgedProof, makeProof, proofKey, rsaSignedProof, thumbprintOf } from "./_proof.js";

const URL_ = "https://id.example.com/services/oauth2/acme/shop/token";
const NOW = Math.floor(Date.now() / 1000);
const expect = (extra: Partial<ProofExpectation> = {}): ProofExpectation => ({ method: "POST", url: URL_, now: NOW, ...extra });

function refusal(t: import("ava").ExecutionContext, run: () => unknown, error: "invalid_dpop_proof" | "use_dpop_nonce", message: RegExp): void {
  const err = t.throws(run, { instanceOf: DpopProofError });
  t.is(err?.error, error);
  t.regex(err?.message ?? "", message);
}

for (const [alg, options] of [["ES256", {}], ["ES384", {}], ["PS256", {}], ["PS384", {}], ["RS256", {}], ["EdDSA", {}], ["Ed25519", {}]] as const) {
  test(`a proof signed with ${alg} passes and names its key's thumbprint`, async (t) => {
    const key = await proofKey(alg, options);
    const proof = await makeProof(key, URL_, { now: NOW });
    const checked = checkProof(proof, expect());
    t.is(checked.jkt, await thumbprintOf(key.publicJwk));
    t.is(checked.iat, NOW);
  });
}

test("htu is compared without query and fragment, scheme and host in any case, the default port implied", async (t) => {
  const key = await proofKey();
  for (const htu of [`${URL_}?x=1`, `${URL_}#f`, "HTTPS://ID.EXAMPLE.COM/services/oauth2/acme/shop/token", "https://id.example.com:443/services/oauth2/acme/shop/token"]) {
    t.is(checkProof(await makeProof(key, htu, { now: NOW }), expect()).jkt, await thumbprintOf(key.publicJwk), htu);
  }
});

test("each malformed or mismatched proof is invalid_dpop_proof, naming what is wrong", async (t) => {
  const key = await proofKey();
  const other = await proofKey();
  const good = { now: NOW };
  const cases: [string, Promise<string> | string, RegExp, Partial<ProofExpectation>?][] = [
    ["empty", "", /missing/],
    ["not a JWT", "a.b", /compact/],
    ["header not JSON", `${Buffer.from("{").toString("base64url")}.e30.c2ln`, /header is not JSON/],
    ["typ JWT", makeProof(key, URL_, { ...good, header: { typ: "JWT" } }), /typ must be dpop\+jwt/],
    ["typ missing", makeProof(key, URL_, { ...good, header: { typ: undefined } }), /typ must be dpop\+jwt/],
    ["alg none", forgedProof({ typ: "dpop+jwt", alg: "none", jwk: key.publicJwk }, { jti: "abcdefgh", htm: "POST", htu: URL_, iat: NOW }), /alg must be one of/],
    ["alg HS256", forgedProof({ typ: "dpop+jwt", alg: "HS256", jwk: key.publicJwk }, { jti: "abcdefgh", htm: "POST", htu: URL_, iat: NOW }), /alg must be one of/],
    ["no jwk", makeProof(key, URL_, { ...good, header: { jwk: undefined } }), /no jwk/],
    ["private jwk", makeProof(key, URL_, { ...good, header: { jwk: { ...key.publicJwk, d: "AAAA" } } }), /must be a public key/],
    ["jwk of another type than alg", forgedProof({ typ: "dpop+jwt", alg: "RS256", jwk: key.publicJwk }, { jti: "abcdefgh", htm: "POST", htu: URL_, iat: NOW }), /must be a RSA key for RS256/],
    ["signed by another key than its jwk", makeProof(key, URL_, { ...good, header: { jwk: other.publicJwk } }), /signature does not verify/],
    ["htm GET", makeProof(key, URL_, { ...good, method: "GET" }), /htm must be POST/],
    ["htu of another endpoint", makeProof(key, URL_.replace("/token", "/userinfo"), good), /htu must be/],
    ["htu of another host", makeProof(key, URL_.replace("id.example.com", "id.example.org"), good), /htu must be/],
    ["htu not a URL", makeProof(key, "token", good), /htu must be/],
    ["jti missing", makeProof(key, URL_, { ...good, claims: { jti: undefined } }), /jti must be/],
    ["jti too short", makeProof(key, URL_, { ...good, claims: { jti: "1" } }), /jti must be/],
    ["iat missing", makeProof(key, URL_, { ...good, claims: { iat: undefined } }), /iat must be/],
    ["iat a string", makeProof(key, URL_, { ...good, claims: { iat: String(NOW) } }), /iat must be/],
    ["iat in the future", makeProof(key, URL_, { now: NOW + 120 }), /in the future/],
    ["iat too old", makeProof(key, URL_, { now: NOW - DPOP_MAX_AGE - 1 }), /older than/],
    ["ath missing for a token", makeProof(key, URL_, good), /must carry ath/, { accessToken: "the-token" }],
    ["ath of another token", makeProof(key, URL_, { ...good, claims: { ath: athOf("another-token") } }), /ath is not the hash/, { accessToken: "the-token" }],
  ];
  for (const [what, proof, message, extra] of cases) {
    const text = await proof;
    const err = t.throws(() => checkProof(text, expect(extra)), { instanceOf: DpopProofError }, what);
    t.is(err?.error, "invalid_dpop_proof", what);
    t.regex(err?.message ?? "", message, what);
  }
});

test("a clock a little off either way is accepted: iat five minutes ago, or a minute ahead (FAPI 2.0 asks for 10 s and 8 s at least)", async (t) => {
  const key = await proofKey();
  for (const now of [NOW - DPOP_MAX_AGE, NOW - 10, NOW + 8, NOW + 60]) t.truthy(checkProof(await makeProof(key, URL_, { now }), expect()).jkt, String(now - NOW));
});

test("an RSA key of fewer than 2048 bits is refused", (t) => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const jwk = publicKey.export({ format: "jwk" });
  const proof = rsaSignedProof(privateKey, { typ: "dpop+jwt", alg: "RS256", jwk }, { jti: "weak-key-proof", htm: "POST", htu: URL_, iat: NOW });
  refusal(t, () => checkProof(proof, expect()), "invalid_dpop_proof", /at least 2048 bits/);
});

test("a proof with the presented token's ath passes; the nonce it carries is reported for the caller to check", async (t) => {
  const key = await proofKey();
  const withAth = await makeProof(key, URL_, { now: NOW, claims: { ath: athOf("the-token") } });
  t.is(checkProof(withAth, expect({ accessToken: "the-token" })).nonce, undefined);
  t.is(checkProof(await makeProof(key, URL_, { now: NOW, claims: { nonce: "n-1" } }), expect()).nonce, "n-1");
});

test("an algorithm outside a narrowed list is refused", async (t) => {
  const key = await proofKey("RS256");
  const proof = await makeProof(key, URL_, { now: NOW });
  refusal(t, () => checkProof(proof, expect({ algorithms: ["PS256", "ES256", "EdDSA"] })), "invalid_dpop_proof", /alg must be one of PS256, ES256, EdDSA/);
});
