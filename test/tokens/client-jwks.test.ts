/**
 * The keys that verify a client's private_key_jwt assertions (RFC 7523 §2.2,
 * OpenID Connect Core §9), registered inline (`jwks`, RFC 7591 §2): what a
 * registration may hold, and which key an assertion's header designates.
 * The fetched ones (`jwks_uri`) are in client-jwks-fetch.test.ts.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import test from "ava";
import type { JWK } from "jose";
import { checkJwksUri, ClientKeysError, parseClientJwks } from "../../core/tokens/client-jwks.js";
import { client, clientKeys, ecKey, edKey, rsaKey, setOf, verifies, type TestKey } from "./_support.js";

const refusal = (message: string | RegExp) => ({ instanceOf: ClientKeysError, message });

test("with a kid, the key of that kid verifies the assertion, and no other key does", async (t) => {
  const { keys } = clientKeys();
  const a = ecKey("P-256", { kid: "a" });
  const b = ecKey("P-256", { kid: "b" });
  const svc = client({ jwks: setOf(a, b) });
  const key = await keys.keyFor(svc, { alg: "ES256", kid: "b" });
  t.true(await verifies(key, b, "ES256"));
  t.false(await verifies(key, a, "ES256"), "a's signature does not verify with b's key");
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: "c" }), refusal("the client has no key with the assertion's kid"));
});

test("without a kid, the one key whose type and curve fit alg is used, for each supported key type", async (t) => {
  const { keys } = clientKeys();
  const p256 = ecKey("P-256");
  const p384 = ecKey("P-384");
  const p521 = ecKey("P-521");
  const rsa = rsaKey();
  const ed = edKey();
  const svc = client({ jwks: setOf(p256, p384, p521, rsa, ed) });
  const cases: [string, TestKey][] = [
    ["ES256", p256],
    ["ES384", p384],
    ["ES512", p521],
    ["RS256", rsa],
    ["PS256", rsa],
    ["RS512", rsa],
    ["EdDSA", ed],
    ["Ed25519", ed],
  ];
  for (const [alg, signer] of cases) t.true(await verifies(await keys.keyFor(svc, { alg }), signer, alg), alg);
  const ecOnly = client({ jwks: setOf(p256) });
  await t.throwsAsync(keys.keyFor(ecOnly, { alg: "RS256" }), refusal("the client has no key for RS256"));
});

test("without a kid, two keys that fit alg are ambiguous and refused; naming one by kid resolves it", async (t) => {
  const { keys } = clientKeys();
  const a = ecKey("P-256", { kid: "a" });
  const b = ecKey("P-256", { kid: "b" });
  const svc = client({ jwks: setOf(a, b, rsaKey()) });
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES256" }), refusal("the client has 2 keys for ES256: the assertion must name one by kid"));
  t.true(await verifies(await keys.keyFor(svc, { alg: "ES256", kid: "a" }), a, "ES256"));
});

test("a key registered for one alg is refused for another, and a kid naming a key of another type is refused", async (t) => {
  const { keys } = clientKeys();
  const rsa = rsaKey(2048, { kid: "r", alg: "RS256" });
  const ec = ecKey("P-256", { kid: "e" });
  const svc = client({ jwks: setOf(rsa, ec) });
  await t.throwsAsync(keys.keyFor(svc, { alg: "PS256", kid: "r" }), refusal("the client's key is registered for RS256, not PS256"));
  await t.throwsAsync(keys.keyFor(svc, { alg: "PS256" }), refusal("the client's key is registered for RS256, not PS256"));
  await t.throwsAsync(keys.keyFor(svc, { alg: "RS256", kid: "e" }), refusal("the client's key with the assertion's kid is an EC P-256 key, which does not verify RS256"));
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES384", kid: "e" }), refusal("the client's key with the assertion's kid is an EC P-256 key, which does not verify ES384"));
  t.true(await verifies(await keys.keyFor(svc, { alg: "RS256", kid: "r" }), rsa, "RS256"));
});

test("an assertion signed with a MAC or none, or a client with no keys or both kinds, gets a ClientKeysError", async (t) => {
  const { keys } = clientKeys();
  const svc = client({ jwks: setOf(ecKey()) });
  for (const alg of ["HS256", "none", "ES256K", ""]) {
    await t.throwsAsync(keys.keyFor(svc, { alg }), refusal(/^the assertion's alg must be one of RS256, /), alg);
  }
  await t.throwsAsync(keys.keyFor(client({}), { alg: "ES256" }), refusal("the client has no registered keys (jwks or jwks_uri)"));
  await t.throwsAsync(keys.keyFor(client({ jwks: "", jwksUri: "" }), { alg: "ES256" }), refusal("the client has no registered keys (jwks or jwks_uri)"));
  await t.throwsAsync(
    keys.keyFor(client({ jwks: setOf(ecKey()), jwksUri: "https://keys.example/jwks" }), { alg: "ES256" }),
    refusal("the client has both jwks and jwks_uri registered"),
  );
});

test("a registered set is imported once; a changed registration is read afresh", async (t) => {
  const { keys } = clientKeys();
  const before = ecKey("P-256", { kid: "k" });
  const after = ecKey("P-256", { kid: "k" });
  const first = await keys.keyFor(client({ jwks: setOf(before) }), { alg: "ES256", kid: "k" });
  t.is(await keys.keyFor(client({ jwks: setOf(before) }), { alg: "ES256", kid: "k" }), first, "the same key object: not imported again");
  const changed = await keys.keyFor(client({ jwks: setOf(after) }), { alg: "ES256", kid: "k" });
  t.true(await verifies(changed, after, "ES256"));
  t.false(await verifies(changed, before, "ES256"), "the old key is not used for the new registration");
});

test("a stored set that breaks the rules (a private key written past registration) is refused, not used", async (t) => {
  const { keys, lines } = clientKeys();
  const key = ecKey();
  const svc = client({ jwks: JSON.stringify({ keys: [{ ...key.jwk, d: "AAAA" }] }) });
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES256" }), refusal("the client's registered jwks is not a valid key set"));
  t.true(lines.some((line) => line.includes("a client's registered jwks is not a valid key set") && line.includes("is a private or secret key")));
});

/** A valid key, then the member changes that make it refused. */
const ec = ecKey("P-256").jwk;
const rsa = rsaKey().jwk;
const with_ = (base: JWK, change: Record<string, unknown>) => JSON.stringify({ keys: [{ ...base, ...change }] });

const REFUSED: [string, string, string][] = [
  ["not JSON", "{keys: []}", "jwks is not JSON"],
  ["a JSON array", "[]", 'jwks must be a JSON object with a "keys" array (RFC 7517 §5)'],
  ["an object without keys", "{}", 'jwks must be a JSON object with a "keys" array (RFC 7517 §5)'],
  ["keys not an array", '{"keys": {}}', 'jwks must be a JSON object with a "keys" array (RFC 7517 §5)'],
  ["no key", '{"keys": []}', "jwks must hold at least one key"],
  ["21 keys", JSON.stringify({ keys: Array.from({ length: 21 }, () => ec) }), "jwks must hold at most 20 keys"],
  ["more than 64 KiB", JSON.stringify({ keys: [ec], pad: "x".repeat(65536) }), "jwks must be at most 65536 bytes"],
  ["a key that is not an object", '{"keys": ["AQAB"]}', "jwks key 0 is not a JSON object"],
  ["an EC private key", with_(ec, { d: "AAAA" }), 'jwks key 0 is a private or secret key (it has "d"): register public keys only'],
  ["an RSA private key's factors", with_(rsa, { p: "AAAA", q: "AAAA" }), 'jwks key 0 is a private or secret key (it has "p"): register public keys only'],
  ["an RSA private key's CRT values", with_(rsa, { dp: "AAAA" }), 'jwks key 0 is a private or secret key (it has "dp"): register public keys only'],
  ["other primes", with_(rsa, { oth: [] }), 'jwks key 0 is a private or secret key (it has "oth"): register public keys only'],
  ["a symmetric key", JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }), 'jwks key 0 is a private or secret key (it has "k"): register public keys only'],
  ["kty oct", JSON.stringify({ keys: [{ kty: "oct" }] }), "jwks key 0: kty oct (a shared secret) cannot verify private_key_jwt; register an RSA, EC or OKP public key"],
  ["an unknown kty", with_(ec, { kty: "AKP" }), "jwks key 0: kty must be RSA, EC (P-256, P-384, P-521) or OKP (Ed25519)"],
  ["no kty", JSON.stringify({ keys: [{ x: "AAAA" }] }), "jwks key 0: kty must be RSA, EC (P-256, P-384, P-521) or OKP (Ed25519)"],
  ["an EC curve not supported", with_(ec, { crv: "secp256k1" }), "jwks key 0: an EC key's crv must be P-256, P-384, P-521"],
  ["an OKP key for key agreement", JSON.stringify({ keys: [{ kty: "OKP", crv: "X25519", x: "AAAA" }] }), "jwks key 0: an OKP key's crv must be Ed25519"],
  ["an RSA exponent other than 65537", with_(rsa, { e: "Aw" }), "jwks key 0: an RSA key's exponent e must be AQAB (65537)"],
  ["an RSA key of 1024 bits", JSON.stringify({ keys: [rsaKey(1024).jwk] }), "jwks key 0: an RSA key must have 2048 to 4096 bits, not 1024"],
  ["an RSA key of 4104 bits", with_(rsa, { n: Buffer.concat([Buffer.from([0xff]), Buffer.alloc(512, 0x11)]).toString("base64url") }), "jwks key 0: an RSA key must have 2048 to 4096 bits, not 4104"],
  ["a key for encryption", with_(ec, { use: "enc" }), "jwks key 0: use must be sig"],
  ["key_ops without verify", with_(ec, { key_ops: ["sign"] }), "jwks key 0: key_ops must be an array of strings that includes verify"],
  ["key_ops not an array", with_(ec, { key_ops: "verify" }), "jwks key 0: key_ops must be an array of strings that includes verify"],
  ["a kid that is not a string", with_(ec, { kid: 7 }), "jwks key 0: kid must be a string"],
  ["an alg that is not a signature algorithm", with_(ec, { alg: "ECDH-ES" }), "jwks key 0: alg must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519"],
  ["an alg of a MAC", with_(ec, { alg: "HS256" }), "jwks key 0: alg must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519"],
  ["an alg of another curve", with_(ec, { alg: "ES384" }), "jwks key 0: alg ES384 does not sign with an EC P-256 key"],
  ["an alg of another key type", with_(rsa, { alg: "ES256" }), "jwks key 0: alg ES256 does not sign with an RSA key"],
  ["a point not on the curve", with_(ec, { y: ec.x }), "jwks key 0 is not a valid EC P-256 public key"],
  ["an EC key without y", with_(ec, { y: undefined }), "jwks key 0 is not a valid EC P-256 public key"],
  ["an Ed25519 key of the wrong length", JSON.stringify({ keys: [{ kty: "OKP", crv: "Ed25519", x: "AAAA" }] }), "jwks key 0 is not a valid OKP Ed25519 public key"],
  [
    "two keys with one kid",
    JSON.stringify({ keys: [{ ...ec, kid: "k" }, { ...rsa, kid: "x" }, { ...ecKey().jwk, kid: "k" }] }),
    "jwks keys 0 and 2 have the same kid; each kid must name one key",
  ],
  ["a bad second key", JSON.stringify({ keys: [ec, { ...ec, use: "enc" }] }), "jwks key 1: use must be sig"],
];

test("parseClientJwks refuses each fault with a message that names it (and the key, by its place)", (t) => {
  for (const [what, json, message] of REFUSED) {
    const err = t.throws(() => parseClientJwks(json), undefined, what);
    t.is(err?.message, message, what);
  }
});

test("parseClientJwks accepts public RSA, EC and Ed25519 keys with their optional members, and answers them as given", (t) => {
  const keys = [
    { ...ec, kid: "ec", use: "sig", alg: "ES256" },
    { ...rsa, kid: "rsa", key_ops: ["verify"], alg: "PS256" },
    { ...rsaKey(4096).jwk, kid: "rsa-4096" },
    { ...ecKey("P-521").jwk, alg: "ES512" },
    { ...edKey().jwk, alg: "EdDSA", x5t: "ignored" },
    { ...rsa, kid: "same key, another kid" },
  ];
  t.deepEqual(parseClientJwks(JSON.stringify({ keys })), { keys });
});

/** The option named in refusals of non-public hosts. */
const ALLOW = "the server fetches keys there only when its operator sets IAM_JWKS_URI_PRIVATE_NETWORKS=true";

const URI_REFUSED: [string, string][] = [
  ["", "a jwks_uri must not be empty"],
  [`https://keys.example/${"a".repeat(2048)}`, "a jwks_uri must be at most 2048 characters"],
  ["https://keys.example/jwks#main", "jwks_uri https://keys.example/jwks#main must not have a fragment"],
  ["https://keys.example/j wks", "jwks_uri https://keys.example/j wks must not contain white space"],
  ["/jwks", "jwks_uri /jwks is not an absolute URI"],
  ["https://user:pw@keys.example/jwks", "jwks_uri https://user:pw@keys.example/jwks must not carry credentials"],
  ["https://user@keys.example/jwks", "jwks_uri https://user@keys.example/jwks must not carry credentials"],
  ["http://keys.example/jwks", "jwks_uri http://keys.example/jwks: http is allowed only for loopback hosts"],
  ["ftp://keys.example/jwks", "jwks_uri ftp://keys.example/jwks: the scheme must be https, or http on a loopback host"],
  ["file:///etc/jwks.json", "jwks_uri file:///etc/jwks.json: the scheme must be https, or http on a loopback host"],
  ["https://localhost/jwks", `jwks_uri https://localhost/jwks: localhost is a loopback name; ${ALLOW}`],
  ["https://keys.localhost/jwks", `jwks_uri https://keys.localhost/jwks: keys.localhost is a loopback name; ${ALLOW}`],
  ["http://127.0.0.1:8080/jwks", `jwks_uri http://127.0.0.1:8080/jwks: 127.0.0.1 is a loopback address; ${ALLOW}`],
  ["https://[::1]/jwks", `jwks_uri https://[::1]/jwks: [::1] is a loopback address; ${ALLOW}`],
  ["https://10.1.2.3/jwks", `jwks_uri https://10.1.2.3/jwks: 10.1.2.3 is a private address; ${ALLOW}`],
  ["https://192.168.0.10/jwks", `jwks_uri https://192.168.0.10/jwks: 192.168.0.10 is a private address; ${ALLOW}`],
  ["https://169.254.169.254/latest/meta-data", `jwks_uri https://169.254.169.254/latest/meta-data: 169.254.169.254 is a link-local address; ${ALLOW}`],
  ["https://[fd00::1]/jwks", `jwks_uri https://[fd00::1]/jwks: [fd00::1] is a unique-local address; ${ALLOW}`],
  ["https://100.64.0.1/jwks", `jwks_uri https://100.64.0.1/jwks: 100.64.0.1 is a shared (carrier-grade NAT) address; ${ALLOW}`],
  ["https://0x7f.1/jwks", `jwks_uri https://0x7f.1/jwks: 127.0.0.1 is a loopback address; ${ALLOW}`],
];

test("checkJwksUri refuses each fault with INVALID_ARGUMENT and a message that names it", (t) => {
  for (const [uri, message] of URI_REFUSED) {
    const err = t.throws(() => checkJwksUri(uri, false), { instanceOf: ConnectError }, uri) as ConnectError | undefined;
    t.is(err?.code, Code.InvalidArgument, uri);
    t.is(err?.rawMessage, message, uri);
  }
});

test("checkJwksUri accepts https to a public host; with private networks allowed, loopback and private hosts and http on loopback too", (t) => {
  for (const uri of ["https://keys.example/jwks", "https://keys.example:8443/.well-known/jwks.json?tenant=1", "https://172.32.0.1/jwks", "https://[2001:db8::1]/jwks"]) {
    t.is(checkJwksUri(uri, false), uri);
  }
  for (const uri of ["http://127.0.0.1:8080/jwks", "http://localhost:9000/jwks", "https://10.1.2.3/jwks", "http://[::1]/jwks"]) {
    t.is(checkJwksUri(uri, true), uri);
  }
  const err = t.throws(() => checkJwksUri("http://keys.example/jwks", true)) as ConnectError | undefined;
  t.is(err?.rawMessage, "jwks_uri http://keys.example/jwks: http is allowed only for loopback hosts", "plain http to another host, never");
});
