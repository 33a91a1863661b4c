/**
 * Attacks on the authorization code grant: codes (replay, theft by another
 * client, redirect URI swap, expiry, another tenant), PKCE (downgrade,
 * method confusion, verifier syntax) and redirect URIs (near-misses of a
 * registered one, open redirection through errors).
 *
 * Each case names the attack, the defence iam-core is expected to have and
 * the section that asks for it, and asserts both the exact refusal and that
 * nothing was issued or stored. Codes and PKCE run against the core's RPCs
 * (in-memory transport, movable clock); redirect URIs run at both the core
 * and the HTTP gateway, where a mistake would become a real 302.
 *
 * Some cases overlap test/core/token-code.test.ts and
 * test/gateway/authorize-errors.test.ts on purpose: this file is the
 * security inventory and must run every case it lists.
 */
import { Code } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import {
  ALICE,
  codeRecordOf,
  countRows,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  obtainCode,
  OTHER,
  READ,
  refreshRequest,
  seedFixtures,
  seedOtherProject,
  setup,
  SPA,
  STRICT,
  WEB,
  WEB2,
  WRITE,
  authorizeRequest,
  type AuthorizeInit,
  type FlowOptions,
  type TokenInit,
} from "../core/flow.js";
import {
  assertErrorPage,
  assertJsonError,
  assertTokens,
  authorizeUrl,
  basic,
  browserCookie,
  get,
  getJson,
  jsonCode,
  postForm,
  requestIdOf,
  serve,
  setCookies,
  token,
} from "../gateway/_support.js";
import { DEFAULT, pkcePair, RFC7636_CHALLENGE, RFC7636_VERIFIER, type TestCore, type TestServer } from "../helpers.js";

// ================================================================ the case table

interface Case {
  /** What the attacker does. */
  attack: string;
  /** What iam-core must do about it, in one line. */
  defence: string;
  /** The section that asks for the defence. */
  reference: string;
  run: (t: ExecutionContext) => Promise<void>;
  /**
   * Set when iam-core does NOT refuse the attack (a real vulnerability): the
   * case then runs as test.failing, and this says what goes wrong.
   */
  vulnerable?: string;
}

/**
 * At most this many cases run at once. Each starts its own core (and often a
 * gateway); with all of them at once the event loop lags for seconds, and a
 * gateway then closes an idle keep-alive connection just as the next request
 * of the same test is written on it (ECONNRESET), failing the case for a
 * reason that has nothing to do with it.
 */
const MAX_CONCURRENT = 8;
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function register(section: string, cases: readonly Case[]): void {
  for (const c of cases) {
    const title = `${section} | ${c.attack} | ${c.defence} | ${c.reference}`;
    const run = (t: ExecutionContext) => limited(() => c.run(t));
    if (c.vulnerable !== undefined) test.failing(title, run);
    else test(title, run);
  }
}

// ================================================================ core helpers

const S256: Partial<AuthorizeInit> = { codeChallenge: RFC7636_CHALLENGE, codeChallengeMethod: "S256" };
const spaAuthorize = (pkce: Partial<AuthorizeInit> = S256): Partial<AuthorizeInit> => ({ clientId: SPA.id, redirectUri: SPA.redirectUri, ...pkce });
/** A public client's exchange: no secret, its client_id, its redirect URI, the RFC 7636 verifier unless overridden. */
const spaExchange = (code: string, overrides: Partial<TokenInit> = {}): TokenInit =>
  exchangeRequest(code, { redirectUri: SPA.redirectUri, basic: undefined, clientId: SPA.id, codeVerifier: RFC7636_VERIFIER, ...overrides });
const web2Basic = { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } };

/** invalid_grant at the token endpoint: never a redirect. */
const expectInvalidGrant = (t: ExecutionContext, call: Promise<unknown>) =>
  expectOAuthError(t, call, { error: "invalid_grant", code: Code.FailedPrecondition, redirect: false });

/** A refused exchange created no grant and no refresh token, and did not spend the code. */
async function assertNothingIssued(t: ExecutionContext, c: TestCore, code: string, grantsBefore = 0): Promise<void> {
  t.is(await countRows(c, "grants"), grantsBefore, "no grant created");
  t.is(await countRows(c, "refresh_tokens"), grantsBefore, "no refresh token created");
  t.is((await codeRecordOf(c, code))?.consumedAt, null, "the code is not spent by a refused exchange");
}

/** The tokens of an exchange verify and introspect as active (so that a later 'revoked' means something). */
async function assertLive(t: ExecutionContext, c: TestCore, tokens: { accessToken: string; refreshToken: string }): Promise<void> {
  t.true((await c.tokens.verifyToken({ token: tokens.accessToken })).active, "access token active");
  t.true((await introspectAsWeb(c, tokens.refreshToken)).active, "refresh token active");
}

/** RFC 7662 introspection by WEB (any confidential client of the project may introspect any of its tokens). */
const introspectAsWeb = (c: TestCore, token: string) =>
  c.tokens.introspect({ ...DEFAULT, token, client: { basic: { clientId: WEB.id, clientSecret: WEB.secret } } });

/** Both tokens of an exchange are dead: VerifyToken says REVOKED, the refresh token is refused. */
async function assertRevoked(t: ExecutionContext, c: TestCore, tokens: { accessToken: string; refreshToken: string }, overrides: Partial<TokenInit> = {}): Promise<void> {
  const verified = await c.tokens.verifyToken({ token: tokens.accessToken });
  t.false(verified.active, "access token inactive");
  t.is(verified.failure, TokenFailure.REVOKED, "access token revoked");
  t.false((await introspectAsWeb(c, tokens.refreshToken)).active, "refresh token inactive");
  await expectInvalidGrant(t, c.tokens.token(refreshRequest(tokens.refreshToken, overrides)));
}

/** A code issued after the given flow; the exchange must be refused and issue nothing. */
async function refusedExchange(t: ExecutionContext, c: TestCore, flow: FlowOptions, exchange: (code: string) => TokenInit): Promise<string> {
  const { code } = await obtainCode(c, flow);
  await expectInvalidGrant(t, c.tokens.token(exchange(code)));
  await assertNothingIssued(t, c, code);
  return code;
}

/** An authorization request refused with invalid_request and redirected to the client's registered URI, nothing stored. */
async function expectAuthorizeRedirectedError(t: ExecutionContext, c: TestCore, request: Partial<AuthorizeInit>, to: string): Promise<void> {
  await expectOAuthError(t, c.authorization.authorize(authorizeRequest(request)), {
    error: "invalid_request",
    redirect: { to, state: "xyz", iss: ISSUER },
  });
  t.is(await countRows(c, "authorization_requests"), 0, "no pending request stored");
}

// ================================================================ authorization codes

const codeCases: Case[] = [
  {
    attack: "replay: the client exchanges the same code a second time",
    defence: "second exchange invalid_grant; the first exchange's access and refresh tokens are revoked",
    reference: "RFC 6749 §4.1.2, RFC 9700 §4.5.3",
    async run(t) {
      const c = await setup(t);
      const { code } = await obtainCode(c);
      const first = await c.tokens.token(exchangeRequest(code));
      await assertLive(t, c, first);
      await expectInvalidGrant(t, c.tokens.token(exchangeRequest(code)));
      await assertRevoked(t, c, first);
      t.is(await countRows(c, "grants"), 1, "no second grant");
      t.is(await countRows(c, "refresh_tokens"), 1, "no second refresh token");
    },
  },
  {
    attack: "replay by a public client (SPA, PKCE): the same code and verifier twice",
    defence: "second exchange invalid_grant; the first tokens are revoked",
    reference: "RFC 6749 §4.1.2, RFC 9700 §4.5.3",
    async run(t) {
      const c = await setup(t);
      const { code } = await obtainCode(c, { authorize: spaAuthorize() });
      const first = await c.tokens.token(spaExchange(code));
      t.true((await c.tokens.verifyToken({ token: first.accessToken })).active);
      await expectInvalidGrant(t, c.tokens.token(spaExchange(code)));
      await assertRevoked(t, c, first, { basic: undefined, clientId: SPA.id });
      t.is(await countRows(c, "grants"), 1, "no second grant");
    },
  },
  {
    attack: "replay over HTTP: POST /token twice with the same code",
    defence: "second answer 400 invalid_grant (JSON, no-store); the first tokens stop verifying and refreshing",
    reference: "RFC 6749 §4.1.2, §5.2",
    async run(t) {
      const s = await serveWithFixtures(t);
      const { code } = await jsonCode(s, { params: webParams(), username: ALICE.id, password: ALICE.password });
      const exchange = { grant_type: "authorization_code", code, redirect_uri: WEB.redirectUri };
      const first = await assertTokens(t, await token(s, exchange, webBasicHeader()));
      t.true((await s.tokens.verifyToken({ token: first.access_token })).active);
      await assertJsonError(t, await token(s, exchange, webBasicHeader()), 400, "invalid_grant");
      t.is((await s.tokens.verifyToken({ token: first.access_token })).failure, TokenFailure.REVOKED);
      await assertJsonError(t, await token(s, { grant_type: "refresh_token", refresh_token: first.refresh_token! }, webBasicHeader()), 400, "invalid_grant");
      t.is(await countRows(s, "grants"), 1, "no second grant");
    },
  },
  {
    attack: "code theft: another confidential client (same redirect URI) presents an unused code",
    defence: "invalid_grant; nothing issued, the code stays usable by its own client",
    reference: "RFC 6749 §4.1.3",
    async run(t) {
      const c = await setup(t);
      const code = await refusedExchange(t, c, {}, (code) => exchangeRequest(code, web2Basic));
      // The rightful client is not locked out by the attempt.
      const res = await c.tokens.token(exchangeRequest(code));
      t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
    },
  },
  {
    attack: "code theft: a public client presents a confidential client's code (with a matching verifier)",
    defence: "invalid_grant; nothing issued",
    reference: "RFC 6749 §4.1.3",
    async run(t) {
      const c = await setup(t);
      await refusedExchange(t, c, { authorize: S256 }, (code) => spaExchange(code, { redirectUri: WEB.redirectUri }));
    },
  },
  {
    attack: "revocation DoS: another client presents an already used code, as if replaying it",
    defence: "invalid_grant; the rightful client's tokens are NOT revoked (only the code's own client can trigger that)",
    reference: "RFC 6749 §4.1.2, §4.1.3",
    async run(t) {
      const c = await setup(t);
      const { code } = await obtainCode(c);
      const first = await c.tokens.token(exchangeRequest(code));
      await expectInvalidGrant(t, c.tokens.token(exchangeRequest(code, web2Basic)));
      await assertLive(t, c, first);
      const refreshed = await c.tokens.token(refreshRequest(first.refreshToken));
      t.true((await c.tokens.verifyToken({ token: refreshed.accessToken })).active, "the family lives on");
      t.is(await countRows(c, "grants"), 1);
    },
  },
  ...(
    [
      { name: "the client's other registered redirect_uri", redirectUri: WEB.redirectWithQuery },
      { name: "a redirect_uri with a trailing slash", redirectUri: `${WEB.redirectUri}/` },
      { name: "a redirect_uri with the host in upper case", redirectUri: "https://WEB.example/callback" },
      { name: "no redirect_uri at all", redirectUri: "" },
      { name: "an attacker's redirect_uri", redirectUri: "https://evil.example/callback" },
    ] as const
  ).map(
    (v): Case => ({
      attack: `code injection: /token with ${v.name} instead of the authorization request's`,
      defence: "invalid_grant; nothing issued, the code is not spent",
      reference: "RFC 6749 §4.1.3, RFC 9700 §4.1",
      async run(t) {
        const c = await setup(t);
        await refusedExchange(t, c, {}, (code) => exchangeRequest(code, { redirectUri: v.redirectUri }));
      },
    }),
  ),
  {
    attack: "code injection: a code issued for the URI with a query, exchanged with the client's plain one",
    defence: "invalid_grant; nothing issued",
    reference: "RFC 6749 §4.1.3",
    async run(t) {
      const c = await setup(t);
      await refusedExchange(t, c, { authorize: { redirectUri: WEB.redirectWithQuery } }, (code) => exchangeRequest(code, { redirectUri: WEB.redirectUri }));
    },
  },
  {
    attack: "code injection over HTTP: POST /token with a redirect_uri differing by a trailing slash",
    defence: "400 invalid_grant; the code is not spent and the right exchange still works",
    reference: "RFC 6749 §4.1.3, §5.2",
    async run(t) {
      const s = await serveWithFixtures(t);
      const { code } = await jsonCode(s, { params: webParams(), username: ALICE.id, password: ALICE.password });
      const exchange = { grant_type: "authorization_code", code, redirect_uri: `${WEB.redirectUri}/` };
      await assertJsonError(t, await token(s, exchange, webBasicHeader()), 400, "invalid_grant");
      await assertNothingIssued(t, s, code);
      await assertTokens(t, await token(s, { ...exchange, redirect_uri: WEB.redirectUri }, webBasicHeader()));
    },
  },
  ...[
    { name: "1 s past IAM_AUTHORIZATION_CODE_TTL (default 60 s)", config: {}, pastTtl: 1 },
    { name: "exactly IAM_AUTHORIZATION_CODE_TTL (default 60 s) after issue", config: {}, pastTtl: 0 },
    { name: "1 s past a configured IAM_AUTHORIZATION_CODE_TTL of 10 s", config: { authorizationCodeTtl: 10 }, pastTtl: 1 },
  ].map(
    (v): Case => ({
      attack: `expired code: exchanged ${v.name}`,
      defence: "invalid_grant; nothing issued (a twin code exchanged 1 s before expiry works)",
      reference: "RFC 6749 §4.1.2, §10.5",
      async run(t) {
        const c = await setup(t, v.config);
        const ttl = c.core.deps.config.authorizationCodeTtl;
        t.is(ttl, v.config.authorizationCodeTtl ?? 60, "the TTL under test");
        const live = await obtainCode(c);
        const late = await obtainCode(c);
        // The boundary, from below: one second before expiry a code still works.
        c.clock.advance(ttl - 1);
        await c.tokens.token(exchangeRequest(live.code));
        c.clock.advance(1 + v.pastTtl);
        await expectInvalidGrant(t, c.tokens.token(exchangeRequest(late.code)));
        await assertNothingIssued(t, c, late.code, 1);
      },
    }),
  ),
  {
    attack: "cross-tenant: a code issued in another project presented at this project's /token (same client id and secret)",
    defence: "invalid_grant; nothing issued, the code stays its own project's",
    reference: "RFC 6749 §4.1.3, RFC 9700 §4.4",
    async run(t) {
      const c = await setup(t);
      await seedOtherProject(c); // a client with WEB's id, secret and redirect URI; alice
      const { code } = await obtainCode(c, { authorize: { ...OTHER } });
      await expectInvalidGrant(t, c.tokens.token(exchangeRequest(code)));
      await assertNothingIssued(t, c, code);
      // Still a valid code at home: the refusal was about the project alone.
      const home = await c.tokens.token(exchangeRequest(code, { ...OTHER }));
      t.is((await c.tokens.verifyToken({ token: home.accessToken })).project, OTHER.project);
    },
  },
];
register("code", codeCases);

// ================================================================ PKCE

/** A verifier with one character of the RFC 7636 example replaced (so 43 characters, the rest valid). */
const withChar = (ch: string) => RFC7636_VERIFIER.slice(0, 20) + ch + RFC7636_VERIFIER.slice(21);

/**
 * Verifiers outside RFC 7636 §4.1's grammar, each sent against the S256
 * challenge computed from that very verifier: the hash matches, so only the
 * syntax check can refuse it.
 */
const badVerifiers: { name: string; verifier: string; challenge?: string }[] = [
  { name: "42 characters (one short)", verifier: RFC7636_VERIFIER.slice(0, 42) },
  { name: "129 characters (one too many)", verifier: "A".repeat(129) },
  { name: "a space", verifier: withChar(" ") },
  { name: "'+' (base64, not base64url)", verifier: withChar("+") },
  { name: "'/' (base64, not base64url)", verifier: withChar("/") },
  { name: "'=' padding", verifier: `${RFC7636_VERIFIER}=` },
  { name: "a non-ASCII letter ('é')", verifier: withChar("é") },
  // U+0164 hashes as 0x64 ('d') when a string is hashed as "ascii" (Node truncates to
  // the low byte): this verifier has the S256 of the RFC 7636 example verifier.
  { name: "a non-ASCII letter whose low byte is the real first character (U+0164 for 'd')", verifier: `\u0164${RFC7636_VERIFIER.slice(1)}`, challenge: RFC7636_CHALLENGE },
];

const pkceCases: Case[] = [
  ...[
    { name: "a public client (SPA)", flow: { authorize: spaAuthorize() }, exchange: (code: string) => spaExchange(code, { codeVerifier: "" }) },
    { name: "a confidential client that chose PKCE", flow: { authorize: S256 }, exchange: (code: string) => exchangeRequest(code) },
    {
      name: "a confidential client that requires PKCE",
      flow: { authorize: { clientId: STRICT.id, redirectUri: STRICT.redirectUri, ...S256 } },
      exchange: (code: string) => exchangeRequest(code, { redirectUri: STRICT.redirectUri, basic: { clientId: STRICT.id, clientSecret: STRICT.secret } }),
    },
    {
      name: "a public client with a plain challenge",
      flow: { authorize: spaAuthorize({ codeChallenge: RFC7636_VERIFIER, codeChallengeMethod: "plain" }) },
      exchange: (code: string) => spaExchange(code, { codeVerifier: "" }),
    },
  ].map(
    (v): Case => ({
      attack: `downgrade: challenge at /authorize, no code_verifier at /token (${v.name})`,
      defence: "invalid_grant; nothing issued",
      reference: "RFC 7636 §4.6, RFC 9700 §4.8.2",
      async run(t) {
        const c = await setup(t);
        await refusedExchange(t, c, v.flow, v.exchange);
      },
    }),
  ),
  {
    attack: "downgrade: no challenge at /authorize, a code_verifier at /token (injected code without PKCE)",
    defence: "invalid_grant; nothing issued",
    reference: "RFC 9700 §2.1.1, §4.8.2",
    async run(t) {
      const c = await setup(t);
      await refusedExchange(t, c, {}, (code) => exchangeRequest(code, { codeVerifier: RFC7636_VERIFIER }));
    },
  },
  {
    attack: "a wrong code_verifier (well-formed, 43 characters)",
    defence: "invalid_grant; nothing issued",
    reference: "RFC 7636 §4.6",
    async run(t) {
      const c = await setup(t);
      await refusedExchange(t, c, { authorize: spaAuthorize() }, (code) => spaExchange(code, { codeVerifier: pkcePair("x".repeat(43)).verifier }));
    },
  },
  {
    attack: "method confusion: the S256 challenge itself sent as a plain verifier",
    defence: "invalid_grant: the method stored with the challenge decides, not the client at /token",
    reference: "RFC 7636 §4.6, RFC 9700 §4.8",
    async run(t) {
      const c = await setup(t);
      await refusedExchange(t, c, { authorize: spaAuthorize() }, (code) => spaExchange(code, { codeVerifier: RFC7636_CHALLENGE }));
    },
  },
  {
    attack: "method confusion: a plain challenge, and a verifier whose S256 is that challenge",
    defence: "invalid_grant: a plain challenge is compared as plain only",
    reference: "RFC 7636 §4.6",
    async run(t) {
      const c = await setup(t);
      await refusedExchange(
        t,
        c,
        { authorize: spaAuthorize({ codeChallenge: RFC7636_CHALLENGE, codeChallengeMethod: "plain" }) },
        (code) => spaExchange(code, { codeVerifier: RFC7636_VERIFIER }),
      );
    },
  },
  ...badVerifiers.map(
    (v): Case => ({
      attack: `a code_verifier with ${v.name}, against the S256 challenge it hashes to`,
      defence: "invalid_grant: the verifier must be 43-128 unreserved characters before it is hashed",
      reference: "RFC 7636 §4.1, §4.6",
      async run(t) {
        const c = await setup(t);
        const challenge = v.challenge ?? pkcePair(v.verifier).challenge;
        // The premise: hashing alone would accept it.
        t.is(pkcePair(v.verifier).challenge, challenge, "the verifier's S256 is the challenge");
        await refusedExchange(t, c, { authorize: spaAuthorize({ codeChallenge: challenge, codeChallengeMethod: "S256" }) }, (code) =>
          spaExchange(code, { codeVerifier: v.verifier }),
        );
      },
    }),
  ),
  ...["S512", "s256", "PLAIN", "none", "SHA-256", "RS256", "S256 ", " S256"].map(
    (method): Case => ({
      attack: `code_challenge_method=${JSON.stringify(method)} at /authorize`,
      defence: "invalid_request redirected to the registered URI with state and iss; nothing stored",
      reference: "RFC 7636 §4.3, §4.4.1",
      async run(t) {
        const c = await setup(t);
        await expectAuthorizeRedirectedError(t, c, { codeChallenge: RFC7636_CHALLENGE, codeChallengeMethod: method }, WEB.redirectUri);
      },
    }),
  ),
  {
    attack: "a public client (SPA) without PKCE at /authorize",
    defence: "invalid_request redirected to its registered URI; nothing stored",
    reference: "RFC 9700 §2.1.1, RFC 7636 §4.4.1",
    async run(t) {
      const c = await setup(t);
      await expectAuthorizeRedirectedError(t, c, spaAuthorize({}), SPA.redirectUri);
    },
  },
  {
    attack: "a public client (SPA) with code_challenge_method=S256 but no code_challenge",
    defence: "invalid_request redirected to its registered URI; nothing stored",
    reference: "RFC 7636 §4.4.1",
    async run(t) {
      const c = await setup(t);
      await expectAuthorizeRedirectedError(t, c, spaAuthorize({ codeChallengeMethod: "S256" }), SPA.redirectUri);
    },
  },
  {
    attack: "downgrade over HTTP: S256 challenge at GET /authorize, POST /token without code_verifier",
    defence: "400 invalid_grant; nothing issued",
    reference: "RFC 7636 §4.6, RFC 9700 §4.8.2",
    async run(t) {
      const s = await serveWithFixtures(t);
      const { code } = await jsonCode(s, {
        params: webParams({ code_challenge: RFC7636_CHALLENGE, code_challenge_method: "S256" }),
        username: ALICE.id,
        password: ALICE.password,
      });
      await assertJsonError(t, await token(s, { grant_type: "authorization_code", code, redirect_uri: WEB.redirectUri }, webBasicHeader()), 400, "invalid_grant");
      await assertNothingIssued(t, s, code);
    },
  },
];
register("pkce", pkceCases);

// ================================================================ HTTP helpers

/** A core and gateway with the fixtures of test/core/flow.ts (WEB, SPA, alice…) in the default project. */
async function serveWithFixtures(t: ExecutionContext): Promise<TestServer> {
  const s = await serve(t);
  await seedFixtures(s);
  return s;
}

/** WEB's valid authorization request, as query parameters. */
function webParams(extra: Record<string, string> = {}): Record<string, string> {
  return { response_type: "code", client_id: WEB.id, redirect_uri: WEB.redirectUri, state: "xyz", scope: `${READ} ${WRITE}`, ...extra };
}

const webBasicHeader = () => basic(WEB.id, WEB.secret);

type Params = Record<string, string> | [string, string][];

/**
 * An authorization request that must be shown, never redirected: GET (page),
 * GET as JSON, and the form POST of OpenID Connect Core §3.1.2.1 each answer
 * 400 with the error, no Location, no browser cookie, and no pending request
 * is stored. The page must not echo the attempted redirect target.
 */
async function assertShownEverywhere(t: ExecutionContext, s: TestServer, params: Params, error: string, base = s.project): Promise<void> {
  const query = new URLSearchParams(Array.isArray(params) ? params : Object.entries(params)).toString();
  const url = `${base}/authorize?${query}`;

  const page = await get(url);
  t.deepEqual(setCookies(page), [], "GET: no browser cookie");
  const html = await assertErrorPage(t, page, 400, error);
  t.false(/evil|web\.example|spa\.example/i.test(html), "GET: the page names no redirect target");

  const json = await getJson(url);
  t.is(json.headers.get("location"), null, "JSON: no Location");
  const body = (await assertJsonError(t, json, 400, error)) as unknown as Record<string, unknown>;
  t.false("redirect_to" in body, "JSON: no redirect_to");

  const post = await postForm(`${base}/authorize`, query);
  t.deepEqual(setCookies(post), [], "POST: no browser cookie");
  await assertErrorPage(t, post, 400, error);

  t.is(await countRows(s, "authorization_requests"), 0, "no pending request stored");
}

/**
 * An error redirect that goes exactly to the registered URI: it begins with
 * the registered string byte for byte, the parsed URL has its origin and
 * path, no userinfo and no fragment, keeps its query, and adds only error,
 * error_description, state and iss.
 */
function assertRedirectsExactly(
  t: ExecutionContext,
  res: Response,
  status: 302 | 303,
  registered: string,
  expected: { error: string; state: string },
): void {
  t.is(res.status, status);
  const location = res.headers.get("location");
  if (location === null) {
    t.fail("no Location header");
    return;
  }
  const separator = registered.includes("?") ? "&" : "?";
  t.true(location.startsWith(registered + separator), `${location} begins with ${registered}${separator}`);
  const got = new URL(location);
  const want = new URL(registered);
  t.is(got.origin, want.origin);
  t.is(got.pathname, want.pathname);
  t.is(got.username + got.password, "", "no userinfo");
  t.is(got.hash, "", "no fragment");
  for (const [name, value] of want.searchParams) t.is(got.searchParams.get(name), value, `registered ${name} kept`);
  const added = [...new Set(got.searchParams.keys())].filter((name) => !want.searchParams.has(name)).sort();
  t.deepEqual(added, ["error", "error_description", "iss", "state"]);
  t.is(got.searchParams.getAll("state").length, 1);
  t.is(got.searchParams.get("error"), expected.error);
  t.is(got.searchParams.get("state"), expected.state);
  t.is(got.searchParams.get("iss"), ISSUER);
  t.is(res.headers.get("cache-control"), "no-store");
}

/** GET (302) and the form POST (303) of an erroneous but trustworthy request both go exactly to the registered URI; nothing stored. */
async function assertRedirectedOnlyTo(t: ExecutionContext, s: TestServer, params: Record<string, string>, registered: string, error: string): Promise<void> {
  const state = params.state ?? "";
  assertRedirectsExactly(t, await get(authorizeUrl(s, params)), 302, registered, { error, state });
  assertRedirectsExactly(t, await postForm(`${s.project}/authorize`, params), 303, registered, { error, state });
  t.is(await countRows(s, "authorization_requests"), 0, "no pending request stored");
}

// ================================================================ redirect URIs: near-misses of a registered one

/**
 * Near-misses of WEB's registered URIs (https://web.example/callback and
 * https://web.example/other?tenant=1). Several are equal to a registered
 * one after some normalization (case of scheme and host, default port,
 * dot segments, percent-decoding, trimming): exact string comparison must
 * refuse them all.
 */
const nearMisses: { name: string; uri: string; reference: string }[] = [
  { name: "a trailing slash", uri: "https://web.example/callback/", reference: "RFC 9700 §4.1.3" },
  { name: "the host in upper case", uri: "https://WEB.EXAMPLE/callback", reference: "RFC 9700 §4.1.3" },
  { name: "the host in mixed case", uri: "https://Web.example/callback", reference: "RFC 9700 §4.1.3" },
  { name: "the path in another case", uri: "https://web.example/Callback", reference: "RFC 9700 §4.1.3" },
  { name: "the scheme in upper case", uri: "HTTPS://web.example/callback", reference: "RFC 9700 §4.1.3" },
  { name: "an extra query parameter", uri: "https://web.example/callback?next=https%3A%2F%2Fevil.example", reference: "RFC 9700 §4.1.3" },
  { name: "an empty query", uri: "https://web.example/callback?", reference: "RFC 9700 §4.1.3" },
  { name: "an extra parameter after the registered query", uri: "https://web.example/other?tenant=1&next=evil", reference: "RFC 9700 §4.1.3" },
  { name: "another value of the registered query parameter", uri: "https://web.example/other?tenant=2", reference: "RFC 9700 §4.1.3" },
  { name: "the registered URI without its query", uri: "https://web.example/other", reference: "RFC 9700 §4.1.3" },
  { name: "a fragment", uri: "https://web.example/callback#evil", reference: "RFC 6749 §3.1.2" },
  { name: "an empty fragment", uri: "https://web.example/callback#", reference: "RFC 6749 §3.1.2" },
  { name: "user@host userinfo", uri: "https://user@web.example/callback", reference: "RFC 9700 §4.1.3, RFC 3986 §3.2.1" },
  { name: "the registered host as userinfo of another host", uri: "https://web.example@evil.example/callback", reference: "RFC 9700 §4.1.1, RFC 3986 §3.2.1" },
  { name: "the registered host and port as userinfo", uri: "https://web.example:443@evil.example/callback", reference: "RFC 9700 §4.1.1, RFC 3986 §3.2.1" },
  { name: "a backslash before '@' (parser confusion)", uri: "https://evil.example\\@web.example/callback", reference: "RFC 9700 §4.1.1" },
  { name: "a percent-encoded path character (%63 for 'c')", uri: "https://web.example/%63allback", reference: "RFC 9700 §4.1.3, RFC 3986 §6.2.2.2" },
  { name: "a percent-encoded slash after the path", uri: "https://web.example/callback%2F", reference: "RFC 9700 §4.1.3" },
  { name: "a percent-encoded dot in the host", uri: "https://web%2Eexample/callback", reference: "RFC 9700 §4.1.3" },
  { name: "a percent-encoded NUL after the path", uri: "https://web.example/callback%00", reference: "RFC 9700 §4.1.3" },
  { name: "another port", uri: "https://web.example:8443/callback", reference: "RFC 9700 §4.1.3" },
  { name: "the default port made explicit", uri: "https://web.example:443/callback", reference: "RFC 9700 §4.1.3, RFC 3986 §6.2.3" },
  { name: "another scheme (wss)", uri: "wss://web.example/callback", reference: "RFC 9700 §4.1.3" },
  { name: "a javascript: URI", uri: "javascript://web.example/callback%0Aalert(1)", reference: "RFC 9700 §4.1.3" },
  { name: "http for a non-loopback host", uri: "http://web.example/callback", reference: "RFC 6749 §3.1.2.1, RFC 9700 §4.1.3" },
  { name: "a path traversal out of the registered path", uri: "https://web.example/callback/../evil", reference: "RFC 9700 §4.1.3" },
  { name: "a path traversal that normalizes to the registered path", uri: "https://web.example/evil/../callback", reference: "RFC 9700 §4.1.3, RFC 3986 §5.2.4" },
  { name: "a percent-encoded path traversal", uri: "https://web.example/callback/%2e%2e/evil", reference: "RFC 9700 §4.1.3" },
  { name: "a dot segment that normalizes to the registered path", uri: "https://web.example/./callback", reference: "RFC 9700 §4.1.3, RFC 3986 §5.2.4" },
  { name: "a prefix of the registered URI", uri: "https://web.example/callbac", reference: "RFC 9700 §4.1.3" },
  { name: "the registered origin only", uri: "https://web.example/", reference: "RFC 9700 §4.1.3" },
  { name: "the registered URI with a suffix", uri: "https://web.example/callbackx", reference: "RFC 9700 §4.1.3" },
  { name: "a sub-path of the registered URI", uri: "https://web.example/callback/evil", reference: "RFC 9700 §4.1.3" },
  { name: "the registered host as a prefix of another host", uri: "https://web.example.evil.example/callback", reference: "RFC 9700 §4.1.3" },
  { name: "a subdomain of the registered host", uri: "https://evil.web.example/callback", reference: "RFC 9700 §4.1.3" },
  { name: "a trailing dot on the host", uri: "https://web.example./callback", reference: "RFC 9700 §4.1.3" },
  { name: "a homoglyph host (Cyrillic 'е')", uri: "https://w\u0435b.example/callback", reference: "RFC 9700 §4.1.3" },
  { name: "a leading space", uri: " https://web.example/callback", reference: "RFC 9700 §4.1.3" },
  { name: "a trailing newline", uri: "https://web.example/callback\n", reference: "RFC 9700 §4.1.3" },
  { name: "the redirect URI registered for another client", uri: SPA.redirectUri, reference: "RFC 6749 §3.1.2.2, RFC 9700 §4.1.3" },
];

const redirectUriCases: Case[] = nearMisses.flatMap((v): Case[] => [
  {
    attack: `core Authorize: redirect_uri with ${v.name} (${JSON.stringify(v.uri)})`,
    defence: "invalid_request, not redirected (no oauth-redirect); nothing stored",
    reference: v.reference,
    async run(t) {
      const c = await setup(t);
      await expectOAuthError(t, c.authorization.authorize(authorizeRequest({ redirectUri: v.uri })), { error: "invalid_request", redirect: false });
      t.is(await countRows(c, "authorization_requests"), 0, "no pending request stored");
    },
  },
  {
    attack: `HTTP /authorize: redirect_uri with ${v.name} (${JSON.stringify(v.uri)})`,
    defence: "400 invalid_request error page (and JSON), no Location, for GET and form POST; nothing stored",
    reference: `${v.reference}, RFC 6749 §4.1.2.1`,
    async run(t) {
      const s = await serveWithFixtures(t);
      await assertShownEverywhere(t, s, webParams({ redirect_uri: v.uri }), "invalid_request");
    },
  },
]);
register("redirect_uri", redirectUriCases);

// ================================================================ open redirection through errors

const EVIL = "https://evil.example/callback";

/** An error later in the checks, combined with an unregistered redirect_uri. */
const unregisteredWith: { name: string; params: Params; error?: string; base?: (s: TestServer) => string }[] = [
  { name: "response_type=token", params: webParams({ redirect_uri: EVIL, response_type: "token" }) },
  { name: "a missing response_type", params: Object.entries(webParams({ redirect_uri: EVIL })).filter(([k]) => k !== "response_type") },
  { name: "a scope with a forbidden character", params: webParams({ redirect_uri: EVIL, scope: 'bad"scope' }) },
  { name: "only unknown scopes", params: webParams({ redirect_uri: EVIL, scope: "no.such.scope" }) },
  { name: "an unsupported code_challenge_method", params: webParams({ redirect_uri: EVIL, code_challenge: RFC7636_CHALLENGE, code_challenge_method: "S512" }) },
  { name: "a public client without PKCE", params: webParams({ client_id: SPA.id, redirect_uri: EVIL }) },
  { name: "a repeated state", params: [...Object.entries(webParams({ redirect_uri: EVIL })), ["state", "again"]] },
  { name: "a state over 2048 characters", params: webParams({ redirect_uri: EVIL, state: "s".repeat(2049) }) },
  { name: "an unknown client", params: webParams({ client_id: "no-such-client", redirect_uri: EVIL }) },
  { name: "a missing client_id", params: Object.entries(webParams({ redirect_uri: EVIL })).filter(([k]) => k !== "client_id") },
  {
    name: "an unknown project",
    params: webParams({ redirect_uri: EVIL }),
    base: (s) => `${s.httpUrl}/services/oauth2/no-org/no-project`,
  },
  { name: "a client without the authorization_code grant (M2M)", params: webParams({ client_id: "m2m-app", redirect_uri: EVIL }), error: "unauthorized_client" },
  { name: "the registered redirect_uri repeated after an attacker's", params: [...Object.entries(webParams({ redirect_uri: EVIL })), ["redirect_uri", WEB.redirectUri]] },
  { name: "an attacker's redirect_uri repeated after the registered one", params: [...Object.entries(webParams()), ["redirect_uri", EVIL]] },
];

const openRedirectCases: Case[] = [
  ...unregisteredWith.map(
    (v): Case => ({
      attack: `open redirect: an unregistered redirect_uri with ${v.name}`,
      defence: `400 ${v.error ?? "invalid_request"} shown (page, JSON, form POST), never redirected anywhere; nothing stored`,
      reference: "RFC 6749 §4.1.2.1, RFC 9700 §4.11.2",
      async run(t) {
        const s = await serveWithFixtures(t);
        await assertShownEverywhere(t, s, v.params, v.error ?? "invalid_request", v.base?.(s));
      },
    }),
  ),
  {
    attack: "open redirect: /consent for an unknown request_id (nothing to trust a redirect URI from)",
    defence: "400 invalid_request page, no Location",
    reference: "RFC 6749 §4.1.2.1, RFC 9700 §4.11.2",
    async run(t) {
      const s = await serveWithFixtures(t);
      const res = await postForm(`${s.project}/consent`, { request_id: "A".repeat(43), scope: READ, action: "deny" }, { cookie: `iam_browser=${"B".repeat(43)}` });
      await assertErrorPage(t, res, 400, "invalid_request");
      t.is(await countRows(s, "authorization_codes"), 0);
    },
  },
  ...[
    { name: "response_type=token", params: webParams({ response_type: "token" }), to: WEB.redirectUri, error: "unsupported_response_type" },
    { name: "an unsupported code_challenge_method", params: webParams({ code_challenge: RFC7636_CHALLENGE, code_challenge_method: "S512" }), to: WEB.redirectUri, error: "invalid_request" },
    { name: "only unknown scopes", params: webParams({ scope: "no.such.scope" }), to: WEB.redirectUri, error: "invalid_scope" },
    {
      name: "a public client without PKCE",
      params: webParams({ client_id: SPA.id, redirect_uri: SPA.redirectUri }),
      to: SPA.redirectUri,
      error: "invalid_request",
    },
    {
      name: "an error on the registered URI that carries a query (kept)",
      params: webParams({ redirect_uri: WEB.redirectWithQuery, response_type: "token" }),
      to: WEB.redirectWithQuery,
      error: "unsupported_response_type",
    },
    {
      name: "a state smuggling a redirect_uri, a fragment and an '@'",
      params: webParams({ response_type: "token", state: "x&redirect_uri=https://evil.example/#@evil.example" }),
      to: WEB.redirectUri,
      error: "unsupported_response_type",
    },
    {
      name: "a state carrying CR LF and a Location header",
      params: webParams({ response_type: "token", state: "x\r\nLocation: https://evil.example/" }),
      to: WEB.redirectUri,
      error: "unsupported_response_type",
    },
  ].map(
    (v): Case => ({
      attack: `error in a valid request: ${v.name}`,
      defence: `302 (GET) / 303 (POST) with ${v.error} to exactly the registered URI, adding only error, error_description, state, iss`,
      reference: "RFC 6749 §4.1.2.1, RFC 9207 §2, RFC 9700 §4.11.2",
      async run(t) {
        const s = await serveWithFixtures(t);
        await assertRedirectedOnlyTo(t, s, v.params, v.to, v.error);
      },
    }),
  ),
  {
    attack: "error in a valid request: the user denies at consent (form flow)",
    defence: "303 access_denied to exactly the registered URI; no code, no grant",
    reference: "RFC 6749 §4.1.2.1, RFC 9700 §4.11.2",
    async run(t) {
      const s = await serveWithFixtures(t);
      const start = await get(authorizeUrl(s, webParams({ state: "deny-me" })));
      const cookie = browserCookie(start);
      const request_id = requestIdOf(await start.text());
      const login = await postForm(`${s.project}/authorize`, { request_id, username: ALICE.id, password: ALICE.password }, { cookie });
      t.is(login.status, 200, "consent page");
      const deny = await postForm(`${s.project}/consent`, { request_id, scope: READ, action: "deny" }, { cookie });
      assertRedirectsExactly(t, deny, 303, WEB.redirectUri, { error: "access_denied", state: "deny-me" });
      t.is(await countRows(s, "authorization_codes"), 0, "no code");
      t.is(await countRows(s, "grants"), 0, "no grant");
    },
  },
];
register("open redirect", openRedirectCases);

// ================================================================ controls

// The fixtures must let the honest request through, or every refusal above
// could pass for the wrong reason.
const control = (title: string, run: (t: ExecutionContext) => Promise<void>) => test(`control: ${title}`, (t) => limited(() => run(t)));

control("WEB's exact redirect URIs are accepted at the core and over HTTP", async (t) => {
  const c = await setup(t);
  for (const redirectUri of [WEB.redirectUri, WEB.redirectWithQuery]) {
    t.regex((await c.authorization.authorize(authorizeRequest({ redirectUri }))).requestId, /^[A-Za-z0-9_-]{43}$/);
  }
  const s = await serveWithFixtures(t);
  const res = await getJson(authorizeUrl(s, webParams()));
  t.is(res.status, 200, await res.clone().text());
  t.is(await countRows(s, "authorization_requests"), 1);
});

control("the SPA's S256 flow with the RFC 7636 verifier succeeds", async (t) => {
  const c = await setup(t);
  const { code } = await obtainCode(c, { authorize: spaAuthorize() });
  const res = await c.tokens.token(spaExchange(code));
  t.true((await c.tokens.verifyToken({ token: res.accessToken })).active);
});
