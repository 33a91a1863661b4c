/**
 * Attacks on tokens, on the refresh grant, and on the login and consent steps,
 * each run against a real core and gateway (loopback ports, a real SQLite
 * file, the movable TestClock shared by both), through the core RPCs a
 * resource server or the gateway uses and through the HTTP endpoints an
 * attacker would reach.
 *
 * One table, three parts. Every case names the attack, the defence (one
 * line) and the RFC / BCP section it rests on, and asserts the exact refusal
 * (HTTP status and RFC code, or Connect code and `oauth-error`, or VerifyToken's
 * failure) AND that nothing was issued or stored: row counts before and after,
 * tokens of a family inactive, a pending request not signed in. Where a
 * refusal could be mistaken for a broken fixture, a control shows the genuine
 * article is accepted.
 *
 * Some of these attacks are also covered, one transport at a time, in
 * test/core/verify.test.ts, token-refresh.test.ts, login-consent.test.ts and
 * test/standards/http-endpoints.test.ts; here each runs end to end at every
 * endpoint it applies to.
 */
import { createHmac, createPublicKey } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { decodeJwt, decodeProtectedHeader } from "jose";
import type { Config } from "../../core/server/config.js";
import type { ProjectRef } from "../../core/store/types.js";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { DEFAULT, queryOf, seedUser, startTestServer, type TestServer } from "../helpers.js";
import {
  ALICE,
  BOB,
  codeRecordOf,
  countRows,
  DELETE,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  issuerOf,
  obtainCode,
  obtainTokens,
  OTHER,
  pendingOf,
  READ,
  refreshRecordOf,
  seedFixtures,
  seedOtherProject,
  setUserEnabled,
  SPA,
  WEB,
  WEB2,
  WRITE,
} from "../core/flow.js";
import {
  assertErrorPage,
  assertJsonError,
  assertTokens,
  authorizeUrl,
  basic,
  browserCookie,
  get,
  postForm,
  postJson,
  requestIdOf,
  token as postToken,
  type TokenResponse,
} from "../gateway/_support.js";

// ------------------------------------------------------------------ fixtures

interface Case {
  attack: string;
  /** The defence, in one line. */
  defence: string;
  /** The RFC / BCP section the defence rests on. */
  reference: string;
  /** Core configuration of this case (testConfig already sets refreshTokenGrace 0). */
  config?: Partial<Config>;
  /**
   * Set (to the reason) only when iam-core is found NOT to refuse the attack:
   * the case is then registered with test.failing and reported.
   */
  vulnerable?: string;
  run(t: ExecutionContext, s: TestServer): Promise<void>;
}

/** Core and gateway with the clients and users of test/core/flow.ts, closed at teardown. */
async function serve(t: ExecutionContext, config: Partial<Config> = {}): Promise<TestServer> {
  const s = await startTestServer({ config });
  t.teardown(() => s.close());
  await seedFixtures(s);
  return s;
}

/** The HTTP base of a project at the test gateway. */
const baseOf = (s: TestServer, ref: ProjectRef) => `${s.httpUrl}/services/oauth2/${ref.organization}/${ref.project}`;
const webBasic = () => basic(WEB.id, WEB.secret);

/** With openid, so that /userinfo accepts the genuine token: a refusal is then the attack's doing. */
const OIDC_SCOPE = `openid ${READ} ${WRITE}`;

/** alice's tokens of WEB (access, refresh and ID token), by the core's code flow. */
const aliceTokens = (s: TestServer) => obtainTokens(s, { authorize: { scope: OIDC_SCOPE } });

const TABLES = ["authorization_requests", "authorization_codes", "grants", "refresh_tokens"] as const;
type Counts = Record<(typeof TABLES)[number], number>;
const rowCounts = async (s: TestServer): Promise<Counts> =>
  Object.fromEntries(await Promise.all(TABLES.map(async (table) => [table, await countRows(s, table)]))) as Counts;

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const partsOf = (jwt: string) => {
  const [header = "", payload = "", signature = ""] = jwt.split(".");
  return { header, payload, signature };
};

// ------------------------------------------------- resource-server checks

/** VerifyToken naming this project, as a resource server should: inactive with `failure`, and nothing disclosed. */
async function expectVerifyRefused(
  t: ExecutionContext,
  s: TestServer,
  token: string,
  failure: TokenFailure,
  request: { organization?: string; project?: string; audience?: string } = DEFAULT,
): Promise<void> {
  const res = await s.tokens.verifyToken({ token, ...request });
  t.false(res.active, "VerifyToken must not accept it");
  t.is(res.failure, failure, `VerifyToken failure ${TokenFailure[failure]}, got ${TokenFailure[res.failure]}`);
  t.is(res.subject, "", "nothing about a refused token is disclosed");
  t.is(res.clientId, "");
  t.deepEqual(res.scopes, []);
}

const userinfo = (base: string, token: string) => fetch(`${base}/userinfo`, { headers: { authorization: `Bearer ${token}` } });

/** /userinfo (RFC 6750 §3.1): 401 invalid_token with its challenge, and no claim released. */
async function expectUserinfoRefused(t: ExecutionContext, base: string, token: string): Promise<void> {
  const res = await userinfo(base, token);
  const challenge = res.headers.get("www-authenticate") ?? "";
  const body = (await assertJsonError(t, res, 401, "invalid_token")) as unknown as Record<string, unknown>;
  t.regex(challenge, /^Bearer realm="[^"]+", error="invalid_token"/);
  t.is(body.sub, undefined, "no claim released");
}

/** /introspect (RFC 7662 §2.2) as an authenticated confidential client; answers the JSON. */
async function introspect(t: ExecutionContext, base: string, token: string, headers = webBasic()): Promise<Record<string, unknown>> {
  const res = await postForm(`${base}/introspect`, { token }, headers);
  const text = await res.text();
  t.is(res.status, 200, text);
  t.is(res.headers.get("cache-control"), "no-store");
  return JSON.parse(text) as Record<string, unknown>;
}

async function expectIntrospectInactive(t: ExecutionContext, base: string, token: string, headers = webBasic()): Promise<void> {
  t.deepEqual(await introspect(t, base, token, headers), { active: false }, "introspection: exactly {active:false}");
}

/**
 * The token is refused by VerifyToken (naming this project), by /userinfo and
 * by /introspect of this project, and none of them stored anything.
 */
async function expectRefusedEverywhere(t: ExecutionContext, s: TestServer, token: string, failure: TokenFailure): Promise<void> {
  const before = await rowCounts(s);
  await expectVerifyRefused(t, s, token, failure);
  await expectUserinfoRefused(t, s.project, token);
  await expectIntrospectInactive(t, s.project, token);
  t.deepEqual(await rowCounts(s), before, "a refused token leaves nothing behind");
}

/** Control: the genuine access token is accepted everywhere (so a refusal is the attack's doing). */
async function expectAccepted(t: ExecutionContext, s: TestServer, token: string, subject: string = ALICE.id): Promise<void> {
  const verified = await s.tokens.verifyToken({ token, ...DEFAULT });
  t.true(verified.active, `control: the genuine token verifies (${TokenFailure[verified.failure]})`);
  t.is(verified.subject, subject);
  const res = await userinfo(s.project, token);
  t.is(res.status, 200, "control: /userinfo accepts the genuine token");
  t.is(((await res.json()) as { sub: string }).sub, subject);
  t.is((await introspect(t, s.project, token)).active, true, "control: introspection says active");
}

// ---------------------------------------------------------- /token checks

const refreshForm = (refreshToken: string, extra: Record<string, string> = {}) => ({
  grant_type: "refresh_token",
  refresh_token: refreshToken,
  ...extra,
});

/** POST /token refused with `status`/`error`, no token in the answer, and no row added or removed. */
async function expectTokenRefused(
  t: ExecutionContext,
  s: TestServer,
  form: Record<string, string>,
  error: string,
  headers: Record<string, string> = webBasic(),
  status = 400,
): Promise<void> {
  const before = await rowCounts(s);
  const res = await postToken(s, form, headers);
  const body = (await assertJsonError(t, res, status, error)) as unknown as Record<string, unknown>;
  t.is(body.access_token, undefined, "no access token issued");
  t.is(body.refresh_token, undefined, "no refresh token issued");
  t.deepEqual(await rowCounts(s), before, "nothing issued or stored");
}

/** A successful refresh by WEB over HTTP. */
async function refreshOk(t: ExecutionContext, s: TestServer, refreshToken: string, extra: Record<string, string> = {}): Promise<TokenResponse> {
  return assertTokens(t, await postToken(s, refreshForm(refreshToken, extra), webBasic()));
}

/** Every token of a revoked family is dead: access tokens REVOKED, refresh tokens invalid_grant and inactive. */
async function expectFamilyRevoked(
  t: ExecutionContext,
  s: TestServer,
  family: { accessTokens: string[]; refreshTokens: string[] },
): Promise<void> {
  for (const accessToken of family.accessTokens) {
    await expectVerifyRefused(t, s, accessToken, TokenFailure.REVOKED);
    await expectUserinfoRefused(t, s.project, accessToken);
  }
  for (const refreshToken of family.refreshTokens) {
    await expectIntrospectInactive(t, s.project, refreshToken);
    await expectTokenRefused(t, s, refreshForm(refreshToken), "invalid_grant");
  }
}

// ------------------------------------------------- login and consent steps

/** WEB's authorization request for READ and WRITE, as HTTP parameters. */
const webAuthorizeParams = (scope = `${READ} ${WRITE}`) => ({
  response_type: "code",
  client_id: WEB.id,
  redirect_uri: WEB.redirectUri,
  state: "st-sec",
  scope,
});

/** GET /authorize in a fresh browser: its iam_browser cookie and the pending request of its login page. */
async function startInBrowser(s: TestServer): Promise<{ cookie: string; requestId: string }> {
  const res = await get(authorizeUrl(s, webAuthorizeParams()));
  if (res.status !== 200) throw new Error(`GET /authorize: ${res.status} ${await res.text()}`);
  return { cookie: browserCookie(res), requestId: requestIdOf(await res.text()) };
}

const cookieHeader = (cookie: string | undefined): Record<string, string> => (cookie === undefined ? {} : { cookie });

/** The login form of a page, posted with the given cookie (or none). */
const formLogin = (s: TestServer, requestId: string, cookie?: string) =>
  postForm(`${s.project}/authorize`, { request_id: requestId, username: ALICE.id, password: ALICE.password }, cookieHeader(cookie));

/** The consent form of a page, "Allow" with these scopes, posted with the given cookie (or none). */
const formConsent = (s: TestServer, requestId: string, scopes: string[], cookie?: string) =>
  postForm(
    `${s.project}/consent`,
    [["request_id", requestId], ...scopes.map((scope): [string, string] => ["scope", scope]), ["action", "approve"]],
    cookieHeader(cookie),
  );

/** Core Authorize for WEB (no browser binding, as a JSON caller); answers the request id. */
async function authorize(s: TestServer, scope = `${READ} ${WRITE}`): Promise<string> {
  return (await s.authorization.authorize({ ...DEFAULT, responseType: "code", clientId: WEB.id, redirectUri: WEB.redirectUri, state: "st", scope }))
    .requestId;
}
const login = (s: TestServer, requestId: string) =>
  s.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password: ALICE.password });
const consent = (s: TestServer, requestId: string, scopes: string[], deny = false) =>
  s.authorization.consent({ ...DEFAULT, requestId, scopes, deny });

const jsonLogin = (s: TestServer, requestId: string) =>
  postJson(`${s.project}/authorize`, { request_id: requestId, username: ALICE.id, password: ALICE.password });
const jsonConsent = (s: TestServer, requestId: string, scopes: string[]) => postJson(`${s.project}/consent`, { request_id: requestId, scopes });

const refusedStep = { error: "invalid_request", redirect: false } as const;

// ------------------------------------------------------------------- tokens

const tokenCases: Case[] = [
  {
    attack: "an unsigned token (alg none) carrying a genuine token's payload",
    defence: "only the algorithm of the key the kid names (ES256 or RS256) is accepted: the header's alg is never trusted",
    reference: "RFC 8725 §3.1",
    async run(t, s) {
      const { accessToken } = await aliceTokens(s);
      await expectAccepted(t, s, accessToken);
      const { payload, signature } = partsOf(accessToken);
      const header = decodeProtectedHeader(accessToken);
      for (const alg of ["none", "None", "NONE"]) {
        const unsigned = b64url({ ...header, alg });
        // With an empty signature, and keeping the genuine one (which no longer covers this header).
        await expectRefusedEverywhere(t, s, `${unsigned}.${payload}.`, TokenFailure.INVALID);
        await expectRefusedEverywhere(t, s, `${unsigned}.${payload}.${signature}`, TokenFailure.INVALID);
      }
    },
  },
  {
    attack: "HS256 with the project's public key (from GetJwks) as the HMAC secret",
    defence: "the algorithm is pinned to the key's own (ES256 or RS256), so the public key is never used as an HMAC secret",
    reference: "RFC 8725 §2.1, §3.1",
    async run(t, s) {
      const { accessToken } = await aliceTokens(s);
      await expectAccepted(t, s, accessToken);
      const [jwk] = (await s.tokens.getJwks(DEFAULT)).keys;
      if (jwk === undefined) throw new Error("the project has no key in its JWKS");
      t.is<string | undefined, string | undefined>(jwk.kid, decodeProtectedHeader(accessToken).kid, "the JWKS key is the one that signed the token");
      const served = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid: jwk.kid, alg: jwk.alg, use: jwk.use };
      const publicKey = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, format: "jwk" });
      const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
      const x = Buffer.from(jwk.x, "base64url");
      const y = Buffer.from(jwk.y, "base64url");
      // Every form a verifier library might turn "the key" into for HMAC.
      const secrets: [string, string | Buffer][] = [
        ["the JWK as served", JSON.stringify(served)],
        ["x", jwk.x],
        ["y", jwk.y],
        ["x and y", jwk.x + jwk.y],
        ["the SPKI PEM", pem],
        ["the SPKI PEM, trimmed", pem.trim()],
        ["the SPKI DER", publicKey.export({ type: "spki", format: "der" })],
        ["the uncompressed point", Buffer.concat([Buffer.from([4]), x, y])],
      ];
      const { payload } = partsOf(accessToken);
      for (const [what, secret] of secrets) {
        const input = `${b64url({ alg: "HS256", typ: "at+jwt", kid: jwk.kid })}.${payload}`;
        const mac = createHmac("sha256", secret).update(input).digest("base64url");
        t.log(`HMAC secret: ${what}`);
        await expectRefusedEverywhere(t, s, `${input}.${mac}`, TokenFailure.INVALID);
      }
    },
  },
  {
    attack: "a genuine token whose payload was edited (sub, scope), signature kept",
    defence: "the signature covers the payload: any change fails verification",
    reference: "RFC 7515 §5.2",
    async run(t, s) {
      const { accessToken } = await aliceTokens(s);
      await expectAccepted(t, s, accessToken);
      const { header, signature } = partsOf(accessToken);
      const claims = decodeJwt(accessToken);
      for (const edit of [
        { sub: BOB.id }, // bob's identity, and his claims at /userinfo
        { scope: `${String(claims.scope)} ${DELETE}` }, // a scope alice was never granted
        { sub: BOB.id, scope: `openid ${DELETE}` },
      ]) {
        await expectRefusedEverywhere(t, s, `${header}.${b64url({ ...claims, ...edit })}.${signature}`, TokenFailure.INVALID);
      }
    },
  },
  {
    attack: "another project's genuine token presented to this project's resource server and /userinfo",
    defence: "a verifier naming its project refuses other projects' tokens; endpoints check their own project",
    reference: "RFC 9068 §4; RFC 8725 §3.9",
    async run(t, s) {
      await seedOtherProject(s);
      const { code } = await obtainCode(s, { authorize: { ...OTHER, scope: `openid ${READ}` } });
      const foreign = await s.tokens.token(exchangeRequest(code, { ...OTHER }));
      // Control: the token is genuine and live in its own project.
      t.true((await s.tokens.verifyToken({ token: foreign.accessToken, ...OTHER })).active, "control: active in its project");
      t.is((await userinfo(baseOf(s, OTHER), foreign.accessToken)).status, 200, "control: its project's /userinfo accepts it");
      t.is((await introspect(t, baseOf(s, OTHER), foreign.accessToken)).active, true, "control: its project's introspection");

      await expectRefusedEverywhere(t, s, foreign.accessToken, TokenFailure.INVALID);
      // A resource server that names its audience instead of its project.
      await expectVerifyRefused(t, s, foreign.accessToken, TokenFailure.AUDIENCE, { audience: ISSUER });
      t.not(decodeJwt(foreign.accessToken).iss, ISSUER);
      t.is(decodeJwt(foreign.accessToken).iss, issuerOf(OTHER));
    },
  },
  {
    attack: "an access token presented after its exp (clock advanced past it)",
    defence: "exp is checked against the server's clock",
    reference: "RFC 7519 §4.1.4; RFC 9068 §4",
    async run(t, s) {
      const { accessToken } = await aliceTokens(s);
      await expectAccepted(t, s, accessToken);
      const exp = decodeJwt(accessToken).exp!;
      s.clock.advance(exp - Math.floor(s.clock.now() / 1000) + 1);
      await expectRefusedEverywhere(t, s, accessToken, TokenFailure.EXPIRED);
    },
  },
  {
    attack: "an access token presented after its refresh token was revoked at /revoke",
    defence: "revocation revokes the grant: its access tokens stop at once at VerifyToken and every endpoint",
    reference: "RFC 7009 §2.1",
    async run(t, s) {
      const tokens = await aliceTokens(s);
      await expectAccepted(t, s, tokens.accessToken);
      const res = await postForm(`${s.project}/revoke`, { token: tokens.refreshToken, token_type_hint: "refresh_token" }, webBasic());
      t.is(res.status, 200, await res.text());
      await expectRefusedEverywhere(t, s, tokens.accessToken, TokenFailure.REVOKED);
      await expectFamilyRevoked(t, s, { accessTokens: [tokens.accessToken], refreshTokens: [tokens.refreshToken] });
    },
  },
  {
    attack: "an access token presented after its authorization code was replayed at /token",
    defence: "a replayed code revokes every token issued from it",
    reference: "RFC 6749 §4.1.2, §10.5",
    async run(t, s) {
      const tokens = await aliceTokens(s);
      await expectAccepted(t, s, tokens.accessToken);
      await expectTokenRefused(t, s, { grant_type: "authorization_code", code: tokens.code, redirect_uri: WEB.redirectUri }, "invalid_grant");
      await expectRefusedEverywhere(t, s, tokens.accessToken, TokenFailure.REVOKED);
      await expectFamilyRevoked(t, s, { accessTokens: [tokens.accessToken], refreshTokens: [tokens.refreshToken] });
    },
  },
  {
    attack: "a refresh token used as an access token (VerifyToken, Bearer at /userinfo)",
    defence: "only at+jwt access tokens verify; refresh tokens are for the token endpoint only",
    reference: "RFC 6749 §1.5; RFC 6750 §2.1",
    async run(t, s) {
      const { refreshToken } = await aliceTokens(s);
      const before = await rowCounts(s);
      await expectVerifyRefused(t, s, refreshToken, TokenFailure.INVALID);
      await expectUserinfoRefused(t, s.project, refreshToken);
      // Introspection knows it, but as what it is: never a Bearer access token.
      const answer = await introspect(t, s.project, refreshToken);
      t.is(answer.active, true);
      t.is(answer.token_type, "refresh_token");
      t.deepEqual(await rowCounts(s), before);
      // Still a live refresh token: the refusals above were not a side effect of a dead grant.
      await refreshOk(t, s, refreshToken);
    },
  },
  {
    attack: "an access token (and an ID token) presented as a refresh token at /token",
    defence: "refresh tokens are looked up by hash among issued refresh tokens; a JWT is none of them",
    reference: "RFC 6749 §6, §5.2",
    async run(t, s) {
      const tokens = await aliceTokens(s);
      for (const jwt of [tokens.accessToken, tokens.idToken]) {
        t.is(jwt.split(".").length, 3);
        await expectTokenRefused(t, s, refreshForm(jwt), "invalid_grant");
      }
      // The grant is untouched: its access token still works, its refresh token still refreshes.
      await expectAccepted(t, s, tokens.accessToken);
      t.is((await refreshRecordOf(s, tokens.refreshToken))?.rotatedAt, null);
      await refreshOk(t, s, tokens.refreshToken);
    },
  },
  {
    attack: "an ID token (typ JWT, aud = client id) used as an access token",
    defence: "access tokens must be typ at+jwt and carry the grant; an ID token is neither",
    reference: "RFC 9068 §4; RFC 8725 §3.11",
    async run(t, s) {
      const { idToken, accessToken } = await aliceTokens(s);
      await expectAccepted(t, s, accessToken);
      t.is(decodeProtectedHeader(idToken).typ, "JWT");
      t.is(decodeJwt(idToken).aud, WEB.id);
      t.is(decodeJwt(idToken).sub, ALICE.id);
      await expectRefusedEverywhere(t, s, idToken, TokenFailure.INVALID);
      // A resource server that trusts the client id as an audience gains nothing either.
      await expectVerifyRefused(t, s, idToken, TokenFailure.INVALID, { ...DEFAULT, audience: WEB.id });
    },
  },
];

// ------------------------------------------------------------------ refresh

const refreshCases: Case[] = [
  {
    attack: "a refresh token presented by another client (confidential WEB2, public SPA)",
    defence: "a refresh token is bound to the client it was issued to",
    reference: "RFC 6749 §6, §10.4",
    async run(t, s) {
      const tokens = await aliceTokens(s);
      await expectTokenRefused(t, s, refreshForm(tokens.refreshToken), "invalid_grant", basic(WEB2.id, WEB2.secret));
      await expectTokenRefused(t, s, refreshForm(tokens.refreshToken, { client_id: SPA.id }), "invalid_grant", {});
      t.is((await refreshRecordOf(s, tokens.refreshToken))?.rotatedAt, null, "not rotated by the refusals");
      // The rightful client is not locked out by the thief's attempts.
      await refreshOk(t, s, tokens.refreshToken);
    },
  },
  {
    attack: "a refresh asking a scope not in the original grant (declined, never held, never asked)",
    defence: "the refresh scope may narrow, never widen: invalid_scope, nothing issued, nothing rotated",
    reference: "RFC 6749 §6",
    async run(t, s) {
      // alice holds READ and WRITE, was offered both, and approved READ only.
      const { code } = await obtainCode(s, { authorize: { scope: `${READ} ${WRITE}` }, approve: [READ] });
      const granted = await s.tokens.token(exchangeRequest(code));
      t.is(granted.scope, READ);
      for (const scope of [`${READ} ${WRITE}`, WRITE, DELETE, `${READ} openid`, "iam.global.admin"]) {
        await expectTokenRefused(t, s, refreshForm(granted.refreshToken, { scope }), "invalid_scope");
        t.is((await refreshRecordOf(s, granted.refreshToken))?.rotatedAt, null, `not rotated by scope=${scope}`);
      }
      const narrowed = await refreshOk(t, s, granted.refreshToken, { scope: READ });
      t.is(narrowed.scope, READ, "control: the granted scope still refreshes");
    },
  },
  {
    attack: "reuse of a rotated refresh token, grace window off (refreshTokenGrace 0)",
    defence: "reuse is theft: invalid_grant and the whole family revoked",
    reference: "RFC 9700 §4.14.2; RFC 6819 §5.2.2.3",
    config: { refreshTokenGrace: 0 },
    async run(t, s) {
      const first = await aliceTokens(s);
      const second = await refreshOk(t, s, first.refreshToken);
      await expectTokenRefused(t, s, refreshForm(first.refreshToken), "invalid_grant");
      await expectFamilyRevoked(t, s, {
        accessTokens: [first.accessToken, second.access_token],
        refreshTokens: [second.refresh_token!, first.refreshToken],
      });
    },
  },
  {
    attack: "reuse of a rotated refresh token after the grace window (5 s, clock advanced 6 s)",
    defence: "outside the window reuse is theft: invalid_grant and the whole family revoked",
    reference: "RFC 9700 §4.14.2; RFC 6819 §5.2.2.3",
    config: { refreshTokenGrace: 5 },
    async run(t, s) {
      const first = await aliceTokens(s);
      const second = await refreshOk(t, s, first.refreshToken);
      s.clock.advance(6);
      await expectTokenRefused(t, s, refreshForm(first.refreshToken), "invalid_grant");
      await expectFamilyRevoked(t, s, {
        accessTokens: [first.accessToken, second.access_token],
        refreshTokens: [second.refresh_token!, first.refreshToken],
      });
    },
  },
  {
    attack: "a refresh after the user was disabled (and again after re-enabling)",
    defence: "a disabled user cannot refresh; the refusal revokes the grant for good",
    reference: "RFC 9700 §4.14.2",
    async run(t, s) {
      const tokens = await aliceTokens(s);
      await setUserEnabled(s, DEFAULT, ALICE.id, false);
      await expectTokenRefused(t, s, refreshForm(tokens.refreshToken), "invalid_grant");
      await expectVerifyRefused(t, s, tokens.accessToken, TokenFailure.REVOKED);
      // Re-enabling the account does not bring the old grant back.
      await setUserEnabled(s, DEFAULT, ALICE.id, true);
      await expectFamilyRevoked(t, s, { accessTokens: [tokens.accessToken], refreshTokens: [tokens.refreshToken] });
    },
  },
  {
    attack: "a refresh after the user was deleted (and after a new user took the same id)",
    defence: "deleting a user deletes their grants: their tokens never come back, not even to a namesake",
    reference: "RFC 9700 §4.14.2",
    async run(t, s) {
      const tokens = await aliceTokens(s);
      t.true(await s.core.deps.store.deleteUser(DEFAULT, ALICE.id));
      await expectTokenRefused(t, s, refreshForm(tokens.refreshToken), "invalid_grant");
      await expectVerifyRefused(t, s, tokens.accessToken, TokenFailure.INVALID);
      await expectUserinfoRefused(t, s.project, tokens.accessToken);
      await expectIntrospectInactive(t, s.project, tokens.refreshToken);
      // A new account under the same id, holding the same role, inherits none of it.
      await seedUser(s.core, { id: ALICE.id, password: "a-new-alice-password" });
      await s.core.deps.store.assignRole(DEFAULT, { userId: ALICE.id }, `role-${ALICE.id}`);
      await expectTokenRefused(t, s, refreshForm(tokens.refreshToken), "invalid_grant");
      await expectRefusedEverywhere(t, s, tokens.accessToken, TokenFailure.INVALID);
    },
  },
];

// ------------------------------------------------------- consent and login

const consentCases: Case[] = [
  {
    attack: "Consent approving scopes that were not offered (not held, not requested, administration)",
    defence: "only a subset of the offered scopes may be approved: invalid_request, no code, request kept",
    reference: "RFC 6749 §3.3, §10.12",
    async run(t, s) {
      const requestId = await authorize(s, READ);
      t.deepEqual((await login(s, requestId)).scopes.map((scope) => scope.name), [READ]);
      const before = await rowCounts(s);
      for (const extra of [WRITE, DELETE, "openid", "iam.global.admin"]) {
        await expectOAuthError(t, consent(s, requestId, [READ, extra]), refusedStep);
        await expectOAuthError(t, consent(s, requestId, [extra]), refusedStep);
      }
      await assertJsonError(t, await jsonConsent(s, requestId, [READ, DELETE]), 400, "invalid_request");
      t.deepEqual(await rowCounts(s), before, "no code issued, the request not spent");
      // Control: the offered scope is still approvable, and only it reaches the code.
      const code = queryOf((await consent(s, requestId, [READ])).redirectTo).get("code");
      t.truthy(code);
      t.deepEqual((await codeRecordOf(s, code!))?.scopes, [READ]);
    },
  },
  {
    attack: "a pending request reused after consent (second Consent, Login again; also after a denial)",
    defence: "consent spends the pending request: one decision, at most one code",
    reference: "RFC 6749 §10.12",
    async run(t, s) {
      const requestId = await authorize(s);
      await login(s, requestId);
      t.truthy(queryOf((await consent(s, requestId, [READ])).redirectTo).get("code"));
      const afterFirst = await rowCounts(s);
      t.is(afterFirst.authorization_codes, 1);
      await expectOAuthError(t, consent(s, requestId, [READ, WRITE]), refusedStep);
      await expectOAuthError(t, login(s, requestId), refusedStep);
      await assertJsonError(t, await jsonConsent(s, requestId, [READ]), 400, "invalid_request");
      await assertJsonError(t, await jsonLogin(s, requestId), 400, "invalid_request");
      t.deepEqual(await rowCounts(s), afterFirst, "no second code");

      // A denial spends the request too: it cannot be turned into an approval afterwards.
      const denied = await authorize(s);
      await login(s, denied);
      t.is(queryOf((await consent(s, denied, [], true)).redirectTo).get("error"), "access_denied");
      const afterDenial = await rowCounts(s);
      await expectOAuthError(t, consent(s, denied, [READ]), refusedStep);
      await assertJsonError(t, await jsonConsent(s, denied, [READ]), 400, "invalid_request");
      t.deepEqual(await rowCounts(s), afterDenial, "no code after a denial");
      t.is(await pendingOf(s, denied), undefined);
    },
  },
  {
    attack: "a pending request used after it expired (clock past authorizationRequestTtl)",
    defence: "pending requests expire: Login and Consent on them are invalid_request, no code",
    reference: "RFC 6749 §10.12",
    async run(t, s) {
      const signedIn = await authorize(s);
      await login(s, signedIn);
      const fresh = await authorize(s);
      s.clock.advance(s.core.deps.config.authorizationRequestTtl + 1);
      const before = await rowCounts(s);
      await expectOAuthError(t, consent(s, signedIn, [READ]), refusedStep);
      await assertJsonError(t, await jsonConsent(s, signedIn, [READ]), 400, "invalid_request");
      await expectOAuthError(t, login(s, fresh), refusedStep);
      await assertJsonError(t, await jsonLogin(s, fresh), 400, "invalid_request");
      t.deepEqual(await rowCounts(s), before, "no code issued");
      t.is((await pendingOf(s, fresh))?.userId, null, "nobody signed in to the expired request");
    },
  },
  {
    attack: "login CSRF: the login form posted to /authorize without the iam_browser cookie, or with another browser's",
    defence: "form posts are bound to the browser that started the request: 403 access_denied page",
    reference: "RFC 6749 §10.12",
    async run(t, s) {
      const victim = await startInBrowser(s);
      const other = await startInBrowser(s);
      t.not(victim.cookie, other.cookie);
      const before = await rowCounts(s);
      await assertErrorPage(t, await formLogin(s, victim.requestId), 403, "access_denied");
      await assertErrorPage(t, await formLogin(s, victim.requestId, other.cookie), 403, "access_denied");
      t.deepEqual(await rowCounts(s), before);
      t.is((await pendingOf(s, victim.requestId))?.userId, null, "nobody signed in");
      // Control: from its own browser the same form signs in.
      const res = await formLogin(s, victim.requestId, victim.cookie);
      t.is(res.status, 200);
      t.is(requestIdOf(await res.text()), victim.requestId, "the consent page");
    },
  },
  {
    attack: "consent CSRF: the consent form posted to /consent without the iam_browser cookie, or with another browser's",
    defence: "form posts are bound to the browser that started the request: 403 access_denied page, no code",
    reference: "RFC 6749 §10.12",
    async run(t, s) {
      const victim = await startInBrowser(s);
      const other = await startInBrowser(s);
      t.is((await formLogin(s, victim.requestId, victim.cookie)).status, 200);
      const before = await rowCounts(s);
      await assertErrorPage(t, await formConsent(s, victim.requestId, [READ, WRITE]), 403, "access_denied");
      await assertErrorPage(t, await formConsent(s, victim.requestId, [READ, WRITE], other.cookie), 403, "access_denied");
      t.deepEqual(await rowCounts(s), before, "no code, the request not spent");
      // Control: from its own browser the same form completes.
      const res = await formConsent(s, victim.requestId, [READ], victim.cookie);
      t.is(res.status, 303);
      const location = res.headers.get("location") ?? "";
      t.true(location.startsWith(`${WEB.redirectUri}?`), location);
      t.truthy(queryOf(location).get("code"));
    },
  },
  {
    attack: "Consent (approve or deny) before any Login on the request",
    defence: "consent needs a signed-in resource owner: invalid_request, no code, request kept",
    reference: "RFC 6749 §3.1, §10.12",
    async run(t, s) {
      const requestId = await authorize(s);
      const browser = await startInBrowser(s);
      const before = await rowCounts(s);
      await expectOAuthError(t, consent(s, requestId, [READ]), refusedStep);
      await expectOAuthError(t, consent(s, requestId, [], true), refusedStep);
      await assertJsonError(t, await jsonConsent(s, requestId, [READ]), 400, "invalid_request");
      // The form, even from the right browser.
      await assertErrorPage(t, await formConsent(s, browser.requestId, [READ], browser.cookie), 400, "invalid_request");
      t.deepEqual(await rowCounts(s), before, "no code, nothing spent");
      // Control: after a login the same request completes.
      await login(s, requestId);
      t.truthy(queryOf((await consent(s, requestId, [READ])).redirectTo).get("code"));
    },
  },
];

// ---------------------------------------------------------------- the table

for (const c of [...tokenCases, ...refreshCases, ...consentCases]) {
  const register = c.vulnerable === undefined ? test : test.failing;
  register(`${c.attack} [${c.reference}]`, async (t) => {
    const s = await serve(t, c.config);
    await c.run(t, s);
  });
}
