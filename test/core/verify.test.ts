import test from "ava";
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type JWTPayload } from "jose";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT, type TestCore } from "../helpers.js";
import {
  ALICE,
  exchangeRequest,
  ISSUER,
  issuerOf,
  nowSeconds,
  obtainCode,
  obtainTokens,
  OTHER,
  READ,
  seedOtherProject,
  setup,
  WEB,
  WRITE,
} from "./flow.js";
import type { ProjectRef } from "../../core/store/types.js";

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Signs a payload with a project's real private key (as only the server could). */
async function signWithProjectKey(c: TestCore, ref: ProjectRef, payload: JWTPayload, header: { kid?: string; typ?: string } = {}) {
  const current = (await c.core.deps.store.listSigningKeys(ref)).find((k) => k.alg === "ES256" && k.retiredAt === null);
  const key = await importJWK(JSON.parse(current!.privateJwk), "ES256");
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "ES256", typ: header.typ ?? "at+jwt", kid: header.kid ?? current!.kid })
    .sign(key);
}

async function expectInactive(t: import("ava").ExecutionContext, c: TestCore, token: string, failure: TokenFailure, extra: { audience?: string; requiredScopes?: string[]; organization?: string; project?: string } = {}) {
  const res = await c.tokens.verifyToken({ token, ...extra });
  t.false(res.active);
  t.is(res.failure, failure, `failure is ${TokenFailure[failure]}, got ${TokenFailure[res.failure]}`);
  t.is(res.subject, "", "nothing about an inactive token is disclosed");
  t.is(res.clientId, "");
  t.deepEqual(res.scopes, []);
  return res;
}

test("an active token verifies with its subject, client, scopes, audience, times, tenant, id and issuer", async (t) => {
  const c = await setup(t);
  const tokens = await obtainTokens(c);
  const now = nowSeconds(c);
  const claims = decodeJwt(tokens.accessToken);
  const res = await c.tokens.verifyToken({ token: tokens.accessToken });
  t.true(res.active);
  t.is(res.failure, TokenFailure.UNSPECIFIED);
  t.is(res.subject, ALICE.id);
  t.is(res.clientId, WEB.id);
  t.deepEqual(res.scopes, [READ, WRITE]);
  t.deepEqual(res.audience, [ISSUER]);
  t.is(res.issuedAt, BigInt(now));
  t.is(res.expiresAt, BigInt(now + WEB.accessTokenTtl));
  t.is(res.organization, DEFAULT.organization);
  t.is(res.project, DEFAULT.project);
  t.truthy(claims.jti);
  t.is(res.tokenId, claims.jti!);
  t.is(res.issuer, ISSUER);
});

test("a token verifies with the audience and scopes it carries, and the project that issued it", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const res = await c.tokens.verifyToken({ token: accessToken, audience: ISSUER, requiredScopes: [WRITE, READ], ...DEFAULT });
  t.true(res.active);
  t.true((await c.tokens.verifyToken({ token: accessToken, requiredScopes: [READ] })).active);
  t.true((await c.tokens.verifyToken({ token: accessToken, requiredScopes: [] })).active);
});

test("a token is active until its expiry and EXPIRED after it", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  c.clock.advance(WEB.accessTokenTtl - 1);
  t.true((await c.tokens.verifyToken({ token: accessToken })).active);
  c.clock.advance(2);
  await expectInactive(t, c, accessToken, TokenFailure.EXPIRED);
});

test("a revoked token (its code was replayed) is REVOKED", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c);
  const first = await c.tokens.token(exchangeRequest(code));
  await t.throwsAsync(c.tokens.token(exchangeRequest(code)));
  await expectInactive(t, c, first.accessToken, TokenFailure.REVOKED);
});

test("an audience the token was not issued for is AUDIENCE", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  await expectInactive(t, c, accessToken, TokenFailure.AUDIENCE, { audience: "https://api.other.example" });
  await expectInactive(t, c, accessToken, TokenFailure.AUDIENCE, { audience: `${ISSUER}/` });
});

test("a required scope the token lacks is INSUFFICIENT_SCOPE", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c, { approve: [READ] });
  await expectInactive(t, c, accessToken, TokenFailure.INSUFFICIENT_SCOPE, { requiredScopes: [WRITE] });
  await expectInactive(t, c, accessToken, TokenFailure.INSUFFICIENT_SCOPE, { requiredScopes: [READ, WRITE] });
  await expectInactive(t, c, accessToken, TokenFailure.INSUFFICIENT_SCOPE, { requiredScopes: ["docs.files"] });
});

const tenantFilters: { title: string; filter: ProjectRef }[] = [
  { title: "another organization and project", filter: OTHER },
  { title: "the same organization, another project", filter: { organization: DEFAULT.organization, project: "elsewhere" } },
  { title: "another organization, the same project name", filter: { organization: "elsewhere", project: DEFAULT.project } },
  { title: "only an organization that differs", filter: { organization: "elsewhere", project: "" } },
];
for (const c0 of tenantFilters) {
  test(`a token required to come from ${c0.title} is INVALID`, async (t) => {
    const c = await setup(t);
    const { accessToken } = await obtainTokens(c);
    await expectInactive(t, c, accessToken, TokenFailure.INVALID, c0.filter);
  });
}

test("a token of project B verifies as B's, and not where A's tokens are required", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const a = await obtainTokens(c);
  const { code } = await obtainCode(c, { authorize: { ...OTHER, scope: READ } });
  const b = await c.tokens.token(exchangeRequest(code, { ...OTHER }));

  const resB = await c.tokens.verifyToken({ token: b.accessToken });
  t.true(resB.active);
  t.is(resB.organization, OTHER.organization);
  t.is(resB.project, OTHER.project);
  t.is(resB.issuer, issuerOf(OTHER));
  t.deepEqual(resB.audience, [issuerOf(OTHER)]);
  t.deepEqual(resB.scopes, [READ]);
  t.not(decodeProtectedHeader(b.accessToken).kid, decodeProtectedHeader(a.accessToken).kid, "each project signs with its own key");

  t.true((await c.tokens.verifyToken({ token: b.accessToken, ...OTHER })).active);
  await expectInactive(t, c, b.accessToken, TokenFailure.INVALID, DEFAULT);
  await expectInactive(t, c, a.accessToken, TokenFailure.INVALID, OTHER);
  await expectInactive(t, c, b.accessToken, TokenFailure.AUDIENCE, { audience: ISSUER });
});

// ---------------------------------------------------------------- forged and malformed tokens: never an error

const garbage: { title: string; token: string }[] = [
  { title: "an empty string", token: "" },
  { title: "a random word", token: "hello" },
  { title: "two dots", token: ".." },
  { title: "three garbage segments", token: "abc.def.ghi" },
  { title: "a JWT with a non-JSON payload", token: `${b64url({ alg: "ES256", typ: "at+jwt" })}.${Buffer.from("not json").toString("base64url")}.sig` },
  { title: "an opaque 43-character value", token: "A".repeat(43) },
  { title: "a very long string", token: "x".repeat(100_000) },
  { title: "a JWT with an issuer of another server", token: `${b64url({ alg: "ES256", typ: "at+jwt" })}.${b64url({ iss: "https://evil.example/services/oauth2/iam-admins/iam-admins", sub: "admin" })}.c2ln` },
  { title: "a JWT with an unknown project's issuer", token: `${b64url({ alg: "ES256", typ: "at+jwt" })}.${b64url({ iss: issuerOf({ organization: "ghost", project: "town" }), sub: "admin" })}.c2ln` },
  { title: "a JWT with a numeric issuer", token: `${b64url({ alg: "ES256" })}.${b64url({ iss: 42 })}.c2ln` },
  { title: "a JWT without an issuer", token: `${b64url({ alg: "ES256" })}.${b64url({ sub: "admin" })}.c2ln` },
  { title: "an issuer with an extra path segment", token: `${b64url({ alg: "ES256" })}.${b64url({ iss: `${ISSUER}/extra` })}.c2ln` },
];
for (const c0 of garbage) {
  test(`VerifyToken answers INVALID (not an error) to ${c0.title}`, async (t) => {
    const c = await setup(t);
    await expectInactive(t, c, c0.token, TokenFailure.INVALID);
  });
}

test("a token whose payload was tampered with is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const [header, payload, signature] = accessToken.split(".");
  const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
  const forged = [header, b64url({ ...claims, sub: "admin", scope: "iam.global.admin" }), signature].join(".");
  await expectInactive(t, c, forged, TokenFailure.INVALID);
  const stretched = [header, b64url({ ...claims, exp: claims.exp + 86400 }), signature].join(".");
  await expectInactive(t, c, stretched, TokenFailure.INVALID);
});

test("a token whose signature was altered is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const [header, payload, signature] = accessToken.split(".");
  const bytes = Buffer.from(signature!, "base64url");
  bytes[0] = bytes[0]! ^ 0xff;
  await expectInactive(t, c, [header, payload, bytes.toString("base64url")].join("."), TokenFailure.INVALID);
  await expectInactive(t, c, [header, payload, ""].join("."), TokenFailure.INVALID);
  await expectInactive(t, c, `${header}.${payload}`, TokenFailure.INVALID);
});

test("an unsigned token (alg none) is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const header = decodeProtectedHeader(accessToken);
  const claims = decodeJwt(accessToken);
  for (const alg of ["none", "None", "NONE"]) {
    const token = `${b64url({ ...header, alg })}.${b64url(claims)}.`;
    await expectInactive(t, c, token, TokenFailure.INVALID);
  }
});

test("a token signed with an HMAC over the public key (alg confusion) is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const { createHmac } = await import("node:crypto");
  const [current] = await c.core.deps.store.listSigningKeys(DEFAULT);
  const input = `${b64url({ alg: "HS256", typ: "at+jwt", kid: current!.kid })}.${accessToken.split(".")[1]}`;
  const mac = createHmac("sha256", current!.publicJwk).update(input).digest("base64url");
  await expectInactive(t, c, `${input}.${mac}`, TokenFailure.INVALID);
});

test("a token signed by another project's key but claiming this project's issuer is INVALID", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const { accessToken } = await obtainTokens(c);
  const claims = decodeJwt(accessToken);
  const [defaultKey] = await c.core.deps.store.listSigningKeys(DEFAULT);
  // With the other project's own kid, and with this project's kid.
  await expectInactive(t, c, await signWithProjectKey(c, OTHER, claims), TokenFailure.INVALID);
  await expectInactive(t, c, await signWithProjectKey(c, OTHER, claims, { kid: defaultKey!.kid }), TokenFailure.INVALID);
});

test("a token signed by a key the server never had is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const claims = decodeJwt(accessToken);
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const [defaultKey] = await c.core.deps.store.listSigningKeys(DEFAULT);
  const jwk = await exportJWK(publicKey);
  for (const header of [
    { alg: "ES256", typ: "at+jwt", kid: defaultKey!.kid },
    { alg: "ES256", typ: "at+jwt", kid: "made-up" },
    { alg: "ES256", typ: "at+jwt" },
    { alg: "ES256", typ: "at+jwt", jwk }, // an embedded key must not be trusted
  ]) {
    const token = await new SignJWT(claims).setProtectedHeader(header).sign(privateKey);
    await expectInactive(t, c, token, TokenFailure.INVALID);
  }
});

test("a correctly signed token of another type than at+jwt is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const claims = decodeJwt(accessToken);
  for (const typ of ["JWT", "id_token+jwt", "at+jw"]) {
    await expectInactive(t, c, await signWithProjectKey(c, DEFAULT, claims, { typ }), TokenFailure.INVALID);
  }
});

test("a correctly signed token naming no grant, or an unknown one, is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const { gid: _gid, ...claims } = decodeJwt(accessToken);
  await expectInactive(t, c, await signWithProjectKey(c, DEFAULT, claims), TokenFailure.INVALID);
  await expectInactive(t, c, await signWithProjectKey(c, DEFAULT, { ...claims, gid: "no-such-grant" }), TokenFailure.INVALID);
});

test("a correctly signed token lacking a required claim is INVALID", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const claims = decodeJwt(accessToken);
  for (const name of ["sub", "client_id", "exp", "iat", "jti"]) {
    const { [name]: _dropped, ...rest } = claims;
    await expectInactive(t, c, await signWithProjectKey(c, DEFAULT, rest), TokenFailure.INVALID);
  }
});

test("a token of another project's grant, re-signed by this project, is INVALID", async (t) => {
  const c = await setup(t);
  await seedOtherProject(c);
  const { code } = await obtainCode(c, { authorize: { ...OTHER, scope: READ } });
  const b = await c.tokens.token(exchangeRequest(code, { ...OTHER }));
  // Project A signs a token carrying B's grant id: the grant does not belong to A.
  const forged = await signWithProjectKey(c, DEFAULT, { ...decodeJwt(b.accessToken), iss: ISSUER, aud: ISSUER });
  await expectInactive(t, c, forged, TokenFailure.INVALID);
});

test("VerifyToken on an expired and forged token reports INVALID, not EXPIRED", async (t) => {
  const c = await setup(t);
  const { accessToken } = await obtainTokens(c);
  const [header, payload] = accessToken.split(".");
  c.clock.advance(WEB.accessTokenTtl + 10);
  await expectInactive(t, c, `${header}.${payload}.AAAA`, TokenFailure.INVALID);
});
