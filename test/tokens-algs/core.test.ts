/**
 * The algorithms of a project's tokens, through the core's RPCs: ID tokens
 * with the client's registered algorithm (RS256 unless it chose ES256),
 * access tokens with the project's (ES256 unless it chose RS256), both
 * accepted by VerifyToken and Introspect, both rotated, no algorithm
 * confusion, an older project's RS256 key made once, and the ID token hints
 * the authorization and logout endpoints accept.
 */
import { createHmac, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { createLocalJWKSet, decodeJwt, jwtVerify, type JSONWebKeySet } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import type { ProjectRef, SigningAlg } from "../../core/store/types.js";
import { verifyIdTokenHint } from "../../core/tokens/id-token-hint.js";
import { generateSigningKey, signJwt } from "../../core/tokens/keys.js";
import { DEFAULT, seedClient, seedUser, type TestCore } from "../helpers.js";
import { ALICE, exchangeRequest, ISSUER, issuerOf, nowSeconds, obtainCode, OTHER, READ, seedOtherProject, WEB } from "../core/flow.js";
import { globalAdminToken } from "../admin/rpc-support.js";
import { createClient } from "@connectrpc/connect";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { expectedAtHash, headerOf, m2mToken, standardCore, verifyIdToken } from "../standards/core-support.js";

/** A client of the default project whose ID tokens are ES256. */
const WEB_ES = { id: "web-es", secret: "web-es-secret" } as const;

async function core(t: ExecutionContext): Promise<TestCore> {
  const c = await standardCore(t);
  await seedClient(c.core, { id: WEB_ES.id, secret: WEB_ES.secret, redirectUris: [WEB.redirectUri], idTokenSignedResponseAlg: "ES256" });
  return c;
}

/** The code flow of WEB (or another confidential client on WEB's redirect URI) for alice with `openid`: its tokens. */
async function idTokens(c: TestCore, client: { id: string; secret: string } = WEB, ref: ProjectRef = DEFAULT) {
  const { code } = await obtainCode(c, { authorize: { ...ref, clientId: client.id, scope: `openid ${READ}` } });
  return c.tokens.token(exchangeRequest(code, { ...ref, basic: { clientId: client.id, clientSecret: client.secret } }));
}

async function setAccessTokenAlg(c: TestCore, ref: ProjectRef, alg: SigningAlg): Promise<void> {
  const project = (await c.core.deps.store.getProject(ref))!;
  await c.core.deps.store.updateProject(ref, { name: project.name, audience: project.audience, accessTokenSigningAlg: alg });
}

const jwksOf = async (c: TestCore, ref: ProjectRef = DEFAULT) => (await c.tokens.getJwks(ref)).keys;

/** The project's current private keys, by algorithm. */
async function privateKeys(c: TestCore, ref: ProjectRef = DEFAULT): Promise<Record<SigningAlg, { kid: string; key: KeyObject }>> {
  const records = (await c.core.deps.store.listSigningKeys(ref)).filter((r) => r.retiredAt === null);
  const of = (alg: SigningAlg) => {
    const record = records.find((r) => r.alg === alg)!;
    return { kid: record.kid, key: createPrivateKey({ key: JSON.parse(record.privateJwk), format: "jwk" }) };
  };
  return { ES256: of("ES256"), RS256: of("RS256") };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A JWS with any header, HMAC-SHA256 signed with `secret` (what a forger would send with the public key as secret). */
function hs256(header: Record<string, unknown>, payload: Record<string, unknown>, secret: Buffer | string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

const unsecured = (header: Record<string, unknown>, payload: Record<string, unknown>) => `${b64(header)}.${b64(payload)}.`;

// ------------------------------------------------------------------ ID tokens

test("an ID token for a client that registered no algorithm is RS256 (Registration §2), signed by the project's current RS256 key", async (t) => {
  const c = await core(t);
  const tokens = await idTokens(c);
  const header = headerOf(tokens.idToken);
  t.is(header.alg, "RS256");
  t.is(header.typ, "JWT");
  const rsa = (await jwksOf(c)).find((k) => k.alg === "RS256")!;
  t.is(header.kid, rsa.kid);
  const { payload } = await verifyIdToken(c, tokens.idToken, WEB.id);
  t.is(payload.sub, ALICE.id);
  // Core §3.1.3.6: at_hash with the hash of RS256, SHA-256, as for ES256.
  t.is(payload.at_hash, expectedAtHash(tokens.accessToken));
  // The access token stays ES256: the project did not choose otherwise.
  t.is(headerOf(tokens.accessToken).alg, "ES256");
});

test("a client created through the AdminService without an algorithm gets RS256 ID tokens; one registered ES256 gets ES256", async (t) => {
  const c = await core(t);
  const admin = createClient(AdminService, c.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  const base = { ...DEFAULT, type: 1, redirectUris: [WEB.redirectUri], grantTypes: ["authorization_code"] };
  const plain = await admin.createClient({ ...base, clientId: "rp-plain" }, auth);
  const es = await admin.createClient({ ...base, clientId: "rp-es", idTokenSignedResponseAlg: "ES256" }, auth);
  t.is(plain.client!.idTokenSignedResponseAlg, "RS256");
  t.is(es.client!.idTokenSignedResponseAlg, "ES256");

  const plainTokens = await idTokens(c, { id: "rp-plain", secret: plain.secret });
  const esTokens = await idTokens(c, { id: "rp-es", secret: es.secret });
  t.is(headerOf(plainTokens.idToken).alg, "RS256");
  t.is(headerOf(esTokens.idToken).alg, "ES256");
  await t.notThrowsAsync(verifyIdToken(c, plainTokens.idToken, "rp-plain"));
  await t.notThrowsAsync(verifyIdToken(c, esTokens.idToken, "rp-es"));
});

test("a client registered ES256 gets ES256 ID tokens, signed by the project's ES256 key, at_hash by SHA-256", async (t) => {
  const c = await core(t);
  const tokens = await idTokens(c, WEB_ES);
  const header = headerOf(tokens.idToken);
  t.is(header.alg, "ES256");
  t.is(header.kid, (await jwksOf(c)).find((k) => k.alg === "ES256")!.kid);
  const { payload } = await verifyIdToken(c, tokens.idToken, WEB_ES.id);
  t.is(payload.at_hash, expectedAtHash(tokens.accessToken));
});

test("a refresh issues the new ID token with the client's algorithm too", async (t) => {
  const c = await core(t);
  for (const client of [WEB, WEB_ES]) {
    const first = await idTokens(c, client);
    const refreshed = await c.tokens.token({
      ...DEFAULT,
      grantType: "refresh_token",
      refreshToken: first.refreshToken,
      basic: { clientId: client.id, clientSecret: client.secret },
    });
    t.is(headerOf(refreshed.idToken).alg, client === WEB ? "RS256" : "ES256");
    await t.notThrowsAsync(verifyIdToken(c, refreshed.idToken, client.id));
  }
});

// -------------------------------------------------------------- access tokens

test("access tokens are ES256 by default and RS256 for a project that says so; VerifyToken and Introspect accept both", async (t) => {
  const c = await core(t);
  const es = await m2mToken(c);
  t.is(headerOf(es.accessToken).alg, "ES256");
  await setAccessTokenAlg(c, DEFAULT, "RS256");
  const rs = await m2mToken(c);
  const header = headerOf(rs.accessToken);
  t.is(header.alg, "RS256");
  t.is(header.typ, "at+jwt");
  t.is(header.kid, (await jwksOf(c)).find((k) => k.alg === "RS256")!.kid);

  for (const token of [es.accessToken, rs.accessToken]) {
    const verified = await c.tokens.verifyToken({ token });
    t.true(verified.active, headerOf(token).alg as string);
    t.is(verified.clientId, "m2m-app");
    const introspected = await c.tokens.introspect({ ...DEFAULT, token, client: { basic: { clientId: WEB.id, clientSecret: WEB.secret } } });
    t.true(introspected.active);
  }
  // A resource server verifying locally with the JWKS, as RFC 9068 §4 describes.
  const jwks = createLocalJWKSet({ keys: (await jwksOf(c)).map((k) => ({ ...k })) } as unknown as JSONWebKeySet);
  const { payload } = await jwtVerify(rs.accessToken, jwks, {
    issuer: ISSUER,
    algorithms: ["RS256"],
    typ: "at+jwt",
    currentDate: new Date(c.clock.now()),
  });
  t.is(payload.client_id, "m2m-app");
});

test("rotation rotates both keys: new tokens carry the new kids, tokens of both algorithms signed before keep verifying until they expire", async (t) => {
  const c = await core(t);
  const admin = createClient(AdminService, c.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  const before = await privateKeys(c);
  const esAccess = await m2mToken(c);
  const rsId = await idTokens(c, WEB);
  const esId = await idTokens(c, WEB_ES);
  await setAccessTokenAlg(c, DEFAULT, "RS256");
  const rsAccess = await m2mToken(c);
  t.deepEqual(
    [esAccess.accessToken, rsAccess.accessToken, rsId.idToken, esId.idToken].map((jwt) => headerOf(jwt).kid),
    [before.ES256.kid, before.RS256.kid, before.RS256.kid, before.ES256.kid],
  );

  c.clock.advance(10);
  const rotated = await admin.rotateSigningKey(DEFAULT, auth);
  const after = await privateKeys(c);
  t.not(after.ES256.kid, before.ES256.kid);
  t.not(after.RS256.kid, before.RS256.kid);
  t.is(rotated.kid, after.ES256.kid);
  t.is(rotated.retiredKid, before.ES256.kid);
  const published = (await jwksOf(c)).map((k) => k.kid);
  t.deepEqual(published.slice(0, 2), [after.ES256.kid, after.RS256.kid], "the current keys first");
  t.deepEqual(published.slice(2).sort(), [before.ES256.kid, before.RS256.kid].sort());

  // New tokens: the new kids.
  t.is(headerOf((await m2mToken(c)).accessToken).kid, after.RS256.kid);
  t.is(headerOf((await idTokens(c, WEB)).idToken).kid, after.RS256.kid);
  t.is(headerOf((await idTokens(c, WEB_ES)).idToken).kid, after.ES256.kid);

  // Old ones: still good, with either algorithm.
  for (const token of [esAccess.accessToken, rsAccess.accessToken]) t.true((await c.tokens.verifyToken({ token })).active);
  await t.notThrowsAsync(verifyIdToken(c, rsId.idToken, WEB.id));
  await t.notThrowsAsync(verifyIdToken(c, esId.idToken, WEB_ES.id));

  // Until they expire: then they are refused as expired, with either algorithm.
  c.clock.ms = (Math.max(...[esAccess, rsAccess].map((r) => decodeJwt(r.accessToken).exp!)) + 1) * 1000;
  t.true(c.clock.ms < Number(rotated.retiredKeyExpiresAt) * 1000, "the old keys outlive their tokens");
  for (const token of [esAccess.accessToken, rsAccess.accessToken]) {
    t.is((await c.tokens.verifyToken({ token })).failure, TokenFailure.EXPIRED);
  }
  t.is(published.length, (await jwksOf(c)).length, "still published");
  // Past the expiry of everything the old keys signed, they are gone from the JWKS.
  c.clock.ms = Number(rotated.retiredKeyExpiresAt) * 1000;
  t.deepEqual((await jwksOf(c)).map((k) => k.kid), [after.ES256.kid, after.RS256.kid]);
});

// ----------------------------------------------------------- alg confusion

/**
 * Forgeries of a real token's claims, each refused: the one algorithm a key
 * verifies is the one its record names, whatever the header asks for
 * (RFC 8725 §2.1, §3.1).
 */
async function forgeries(c: TestCore, claims: Record<string, unknown>, typ: string): Promise<[string, string][]> {
  const keys = await privateKeys(c);
  const jwks = await jwksOf(c);
  const publicPem = (alg: SigningAlg) => createPublicKey(keys[alg].key).export({ type: "spki", format: "pem" }) as string;
  const publicJwk = (alg: SigningAlg) => JSON.stringify(jwks.find((k) => k.kid === keys[alg].kid));
  return [
    ["RS256 header on the ES256 kid, a valid RSA signature", signJwt({ alg: "RS256", typ, kid: keys.ES256.kid }, claims, keys.RS256.key)],
    ["ES256 header on the RS256 kid, a valid EC signature", signJwt({ alg: "ES256", typ, kid: keys.RS256.kid }, claims, keys.ES256.key)],
    ["alg none on the ES256 kid", unsecured({ alg: "none", typ, kid: keys.ES256.kid }, claims)],
    ["alg none on the RS256 kid", unsecured({ alg: "none", typ, kid: keys.RS256.kid }, claims)],
    ["alg none without a kid", unsecured({ alg: "none", typ }, claims)],
    ["HS256 keyed with the RSA public key (PEM)", hs256({ alg: "HS256", typ, kid: keys.RS256.kid }, claims, publicPem("RS256"))],
    ["HS256 keyed with the EC public key (PEM)", hs256({ alg: "HS256", typ, kid: keys.ES256.kid }, claims, publicPem("ES256"))],
    ["HS256 keyed with the RSA public JWK", hs256({ alg: "HS256", typ, kid: keys.RS256.kid }, claims, publicJwk("RS256"))],
    ["RS512 header on the RS256 kid", unsecured({ alg: "RS512", typ, kid: keys.RS256.kid }, claims) + "AAAA"],
    ["PS256 header on the RS256 kid", unsecured({ alg: "PS256", typ, kid: keys.RS256.kid }, claims) + "AAAA"],
    ["ES256 signed by a key of no project, naming the ES256 kid", signJwt({ alg: "ES256", typ, kid: keys.ES256.kid }, claims, stranger)],
  ];
}

const stranger = createPrivateKey({ key: JSON.parse(generateSigningKey(DEFAULT, 0).privateJwk), format: "jwk" });

test("VerifyToken refuses access tokens whose header names another algorithm than its key's: RS256 on an EC kid, ES256 on an RSA kid, none, HS256 keyed with the public key", async (t) => {
  const c = await core(t);
  const real = await m2mToken(c);
  const claims = decodeJwt(real.accessToken) as Record<string, unknown>;
  const keys = await privateKeys(c);
  // The harness is sound: the same claims signed the right way verify.
  for (const alg of ["ES256", "RS256"] as const) {
    const control = signJwt({ alg, typ: "at+jwt", kid: keys[alg].kid }, claims, keys[alg].key);
    t.true((await c.tokens.verifyToken({ token: control })).active, `control ${alg}`);
  }
  for (const [what, token] of await forgeries(c, claims, "at+jwt")) {
    const answer = await c.tokens.verifyToken({ token });
    t.false(answer.active, what);
    t.is(answer.failure, TokenFailure.INVALID, what);
    const introspected = await c.tokens.introspect({ ...DEFAULT, token, client: { basic: { clientId: WEB.id, clientSecret: WEB.secret } } });
    t.false(introspected.active, what);
  }
});

// ----------------------------------------------------------- id_token_hint

const hint = (c: TestCore, token: string, ref: ProjectRef = DEFAULT) => verifyIdTokenHint(c.core.deps, ref, token);

test("an ID token of the project is a valid hint: its sub, aud and sid; RS256 and ES256 alike", async (t) => {
  const c = await core(t);
  for (const client of [WEB, WEB_ES]) {
    const { idToken } = await idTokens(c, client);
    const claims = decodeJwt(idToken);
    const answer = await hint(c, idToken);
    t.deepEqual(answer, {
      sub: ALICE.id,
      aud: [client.id],
      ...(typeof claims.sid === "string" ? { sid: claims.sid } : {}),
    });
  }
});

test("an expired ID token is still a valid hint (Core §3.1.2.1); one with a bad signature never is", async (t) => {
  const c = await core(t);
  const { idToken } = await idTokens(c);
  c.clock.advance(30 * 24 * 3600);
  t.true(decodeJwt(idToken).exp! < nowSeconds(c), "expired");
  t.is((await hint(c, idToken))?.sub, ALICE.id);

  const [h, p, s] = idToken.split(".") as [string, string, string];
  const otherPayload = b64({ ...decodeJwt(idToken), sub: "mallory" });
  t.is(await hint(c, `${h}.${otherPayload}.${s}`), undefined, "claims changed");
  const flipped = s.slice(0, 10) + (s[10] === "A" ? "B" : "A") + s.slice(11);
  t.is(await hint(c, `${h}.${p}.${flipped}`), undefined, "signature changed");
  t.is(await hint(c, `${h}.${p}.`), undefined, "signature removed");
});

test("hints that are not this project's ID tokens are refused: another project's, another issuer, an access token, a logout token, garbage", async (t) => {
  const c = await core(t);
  await seedOtherProject(c);
  const { idToken, accessToken } = await idTokens(c);
  const claims = decodeJwt(idToken) as Record<string, unknown>;
  const keys = await privateKeys(c);
  const other = await idTokens(c, WEB, OTHER);
  t.is((await hint(c, other.idToken, OTHER))?.sub, ALICE.id, "valid in its own project");
  t.is(await hint(c, other.idToken), undefined, "another project's ID token");
  t.is(await hint(c, idToken, OTHER), undefined, "this project's ID token given to another");

  const resign = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
    signJwt({ alg: "RS256", kid: keys.RS256.kid, ...header }, payload, keys.RS256.key);
  t.is((await hint(c, resign({ typ: "JWT" }, claims)))?.sub, ALICE.id, "the harness: a re-signed ID token is accepted");
  t.is((await hint(c, resign({}, claims)))?.sub, ALICE.id, "typ absent is accepted");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, iss: issuerOf(OTHER) })), undefined, "another project's issuer");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, iss: "https://evil.example" })), undefined, "a foreign issuer");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, iss: undefined })), undefined, "no issuer");
  t.is(await hint(c, resign({ typ: "at+jwt" }, claims)), undefined, "typ at+jwt");
  t.is(await hint(c, resign({ typ: "logout+jwt" }, claims)), undefined, "typ logout+jwt");
  t.is(await hint(c, resign({ typ: "jwt+other" }, claims)), undefined, "another typ");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, events: { "http://schemas.openid.net/event/backchannel-logout": {} } })), undefined, "a logout token's claims");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, sub: "" })), undefined, "empty sub");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, sub: 42 })), undefined, "sub not a string");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, aud: [] })), undefined, "no audience");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, sid: 7 })), undefined, "sid not a string");
  t.is(await hint(c, resign({ typ: "JWT" }, { ...claims, exp: undefined })), undefined, "no exp");
  t.deepEqual((await hint(c, resign({ typ: "JWT" }, { ...claims, aud: ["a", "b"] })))?.aud, ["a", "b"]);
  t.is(await hint(c, accessToken), undefined, "an access token");
  t.is(await hint(c, resign({ typ: "JWT" }, decodeJwt(accessToken) as Record<string, unknown>)), undefined, "an access token's claims, typ JWT");
  for (const garbage of ["", "x", "a.b.c", "a.b", "...", `${idToken}.x`, "e30.e30.", "x".repeat(20_000)]) {
    t.is(await hint(c, garbage), undefined, garbage.slice(0, 20));
  }
});

test("an ID token hint refuses algorithm confusion: RS256 on an EC kid, none, HS256 keyed with the public key", async (t) => {
  const c = await core(t);
  const { idToken } = await idTokens(c);
  const claims = decodeJwt(idToken) as Record<string, unknown>;
  for (const [what, token] of await forgeries(c, claims, "JWT")) t.is(await hint(c, token), undefined, what);
});

test("a hint signed by a retired key is accepted while the key is published, and refused once it has expired", async (t) => {
  const c = await core(t);
  const admin = createClient(AdminService, c.transport);
  const auth = { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } };
  const { idToken } = await idTokens(c);
  const rotated = await admin.rotateSigningKey(DEFAULT, auth);
  t.is((await hint(c, idToken))?.sub, ALICE.id);
  c.clock.ms = Number(rotated.retiredKeyExpiresAt) * 1000;
  t.is(await hint(c, idToken), undefined);
});

// ----------------------------------------------------- an older database

test("a project of an older database, with only an ES256 key, gains its RS256 key at its first RS256 ID token, once; both are then published", async (t) => {
  const c = await core(t);
  const OLD: ProjectRef = { organization: DEFAULT.organization, project: "older" };
  const { store } = c.core.deps;
  await store.createProject({ ...OLD, name: "Older", audience: issuerOf(OLD), accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 0 });
  const es = generateSigningKey(OLD, 0);
  await store.addSigningKey(es);
  await seedClient(c.core, { ...OLD, id: WEB.id, secret: WEB.secret, redirectUris: [WEB.redirectUri] });
  await seedUser(c.core, { ...OLD, ...ALICE, permissions: [READ] });
  t.deepEqual((await jwksOf(c, OLD)).map((k) => k.kid), [es.kid]);

  // Tokens that need no RS256 key make none.
  const { code } = await obtainCode(c, { authorize: { ...OLD, scope: READ } });
  const plain = await c.tokens.token(exchangeRequest(code, { ...OLD }));
  t.is(headerOf(plain.accessToken).alg, "ES256");
  t.is(plain.idToken, "");
  t.is((await store.listSigningKeys(OLD)).length, 1);

  const first = await idTokens(c, WEB, OLD);
  const header = headerOf(first.idToken);
  t.is(header.alg, "RS256");
  const rsaKeys = (await store.listSigningKeys(OLD)).filter((k) => k.alg === "RS256");
  t.is(rsaKeys.length, 1);
  t.is(header.kid, rsaKeys[0]!.kid);
  await t.notThrowsAsync(verifyIdToken(c, first.idToken, WEB.id, OLD, issuerOf(OLD)));

  const second = await idTokens(c, WEB, OLD);
  t.is(headerOf(second.idToken).kid, rsaKeys[0]!.kid);
  t.is((await store.listSigningKeys(OLD)).length, 2, "made once");
  t.deepEqual((await jwksOf(c, OLD)).map((k) => [k.alg, k.kid]), [
    ["ES256", es.kid],
    ["RS256", rsaKeys[0]!.kid],
  ]);
  t.is(headerOf(second.accessToken).kid, es.kid, "access tokens keep the ES256 key");
});
