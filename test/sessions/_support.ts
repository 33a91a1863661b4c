/**
 * Shared fixtures of the sign-in session tests: the core's fixtures of
 * test/core/flow.ts plus a client that remembers consent and a user with
 * every standard claim, a password sign-in that answers the session's
 * cookie, and the authorization request a browser holding that cookie makes.
 * Not a test file itself (ava only runs *.test.ts).
 */
import { Code } from "@connectrpc/connect";
import type { ExecutionContext } from "ava";
import { decodeJwt, importJWK, jwtVerify, type JWTPayload } from "jose";
import type { Config } from "../../core/server/config.js";
import type { ProjectRef } from "../../core/store/types.js";
import { DEFAULT, queryOf, seedClient, seedUser, type TestCore } from "../helpers.js";
import {
  ALICE,
  authorizeRequest,
  exchangeRequest,
  expectOAuthError,
  ISSUER,
  READ,
  seedFixtures,
  setup,
  WEB,
  type AuthorizeInit,
} from "../core/flow.js";

/** A confidential client of the same project that remembers consent. */
export const REMEMBER = { id: "remembering-app", secret: "remembering-secret", redirectUri: "https://remember.example/cb" } as const;

/** A user with every standard claim of `profile` and `email`, the address verified. */
export const DAVE = {
  id: "dave",
  password: "dave-password",
  name: "Dave Example",
  givenName: "Dave",
  familyName: "Example",
  email: "dave@example.test",
  emailVerified: true,
} as const;

/** `prompt=none` and the other §3.1.2.6 refusals travel as FAILED_PRECONDITION. */
export const INTERACTION = Code.FailedPrecondition;

/** A core with the fixtures of flow.ts, REMEMBER and DAVE; closed at teardown. */
export async function sessionCore(t: ExecutionContext, config: Partial<Config> = {}): Promise<TestCore> {
  const c = await setup(t, config);
  await seedSessionFixtures(c);
  return c;
}

/** REMEMBER and DAVE, seeded into a core that already holds the fixtures of flow.ts. */
export async function seedSessionFixtures(c: TestCore): Promise<void> {
  await seedClient(c.core, { id: REMEMBER.id, secret: REMEMBER.secret, redirectUris: [REMEMBER.redirectUri], rememberConsent: true });
  await seedUser(c.core, { ...DAVE, permissions: [READ] });
}

export { seedFixtures };

/** The request of REMEMBER, for `openid` and READ. */
export function rememberRequest(overrides: Partial<AuthorizeInit> = {}): Partial<AuthorizeInit> {
  return { clientId: REMEMBER.id, redirectUri: REMEMBER.redirectUri, scope: `openid ${READ}`, ...overrides };
}

/** The authorization request of a browser holding `session` (flow.ts's WEB request unless overridden). */
export function withSession(c: TestCore, session: string, overrides: Partial<AuthorizeInit> = {}) {
  return c.authorization.authorize(authorizeRequest({ scope: `openid ${READ}`, ...overrides, session }));
}

/**
 * Authorize and Login with a password, presenting `previous` as the
 * browser's session cookie: the login answer and the cookie it gives.
 */
export async function passwordSignIn(
  c: TestCore,
  options: { user?: { id: string; password: string }; authorize?: Partial<AuthorizeInit>; previous?: string } = {},
) {
  const request = authorizeRequest({ scope: `openid ${READ}`, ...options.authorize, session: options.previous ?? "" });
  const ref = { organization: request.organization!, project: request.project! };
  const user = options.user ?? ALICE;
  const auth = await c.authorization.authorize(request);
  const login = await c.authorization.login({
    ...ref,
    requestId: auth.requestId,
    username: user.id,
    password: user.password,
    session: options.previous ?? "",
    clientAddress: "192.0.2.7",
    userAgent: "session-tests/1.0",
  });
  if (login.session === undefined) throw new Error("the sign-in gave no session");
  return { auth, login, requestId: auth.requestId, session: login.session.value };
}

/** Consents to every offered scope of a signed-in pending request: the code. */
export async function consentAll(c: TestCore, requestId: string, scopes: readonly { name: string }[], ref: ProjectRef = DEFAULT): Promise<string> {
  const answer = await c.authorization.consent({ ...ref, requestId, scopes: scopes.map((s) => s.name) });
  return codeOf(answer.redirectTo);
}

/** The code of a redirect back to the client; throws when there is none. */
export function codeOf(redirectTo: string): string {
  const code = queryOf(redirectTo).get("code");
  if (code === null) throw new Error(`no code in ${redirectTo}`);
  return code;
}

/** A password sign-in at WEB, consent given, code exchanged: the session's cookie and the tokens. */
export async function signedInWithTokens(
  c: TestCore,
  options: { user?: { id: string; password: string }; authorize?: Partial<AuthorizeInit>; previous?: string } = {},
) {
  const signed = await passwordSignIn(c, options);
  const ref = { organization: options.authorize?.organization ?? DEFAULT.organization, project: options.authorize?.project ?? DEFAULT.project };
  const code = await consentAll(c, signed.requestId, signed.login.scopes, ref);
  const tokens = await c.tokens.token(exchangeRequest(code, { ...ref, redirectUri: options.authorize?.redirectUri ?? WEB.redirectUri }));
  return { ...signed, tokens };
}

/** Exchanges a code of REMEMBER. */
export const exchangeAtRemember = (c: TestCore, code: string) =>
  c.tokens.token(exchangeRequest(code, { redirectUri: REMEMBER.redirectUri, basic: { clientId: REMEMBER.id, clientSecret: REMEMBER.secret } }));

/**
 * Signs in at REMEMBER through `session` and consents to everything offered,
 * so that later requests of REMEMBER for the same scopes need no consent.
 */
export async function rememberConsent(c: TestCore, session: string, overrides: Partial<AuthorizeInit> = {}): Promise<string> {
  const answer = await withSession(c, session, rememberRequest(overrides));
  if (!answer.signedIn) throw new Error("the session did not sign the request in");
  return consentAll(c, answer.requestId, answer.scopes);
}

/** An ID token verified as a relying party would: the JWKS key its kid names, that key's algorithm, issuer, audience. */
export async function verifiedIdToken(c: TestCore, idToken: string, clientId: string, issuer = ISSUER, ref: ProjectRef = DEFAULT): Promise<JWTPayload> {
  const kid = (JSON.parse(Buffer.from(idToken.split(".")[0]!, "base64url").toString("utf8")) as { kid?: string }).kid;
  const jwk = (await c.tokens.getJwks(ref)).keys.find((k) => k.kid === kid);
  if (jwk === undefined) throw new Error(`no key ${String(kid)} in the JWKS`);
  const key = await importJWK(jwk.kty === "RSA" ? { kty: "RSA", n: jwk.n, e: jwk.e } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, jwk.alg);
  const { payload } = await jwtVerify(idToken, key, { algorithms: [jwk.alg], issuer, audience: clientId, currentDate: new Date(c.clock.now()) });
  return payload;
}

export const claimsOf = (jwt: string): JWTPayload => decodeJwt(jwt);

/** A refused authorization request redirected to `to` with `error`, state and iss. */
export function expectRedirected(
  t: ExecutionContext,
  promise: Promise<unknown>,
  error: string,
  options: { to?: string; state?: string; code?: Code } = {},
) {
  return expectOAuthError(t, promise, {
    error,
    code: options.code ?? (["login_required", "consent_required", "interaction_required"].includes(error) ? INTERACTION : Code.InvalidArgument),
    redirect: { to: options.to ?? WEB.redirectUri, state: options.state ?? "xyz", iss: ISSUER },
  });
}

/** What a login page context looks like: a pending request, no sign-in, no way back to the client. */
export function assertLoginContext(t: ExecutionContext, answer: { requestId: string; signedIn: boolean; redirectTo: string; scopes: unknown[]; loginHint: string }, loginHint = ""): void {
  t.regex(answer.requestId, /^[A-Za-z0-9_-]{43}$/);
  t.false(answer.signedIn, "a new sign-in is asked");
  t.is(answer.redirectTo, "");
  t.deepEqual(answer.scopes, []);
  t.is(answer.loginHint, loginHint);
}
