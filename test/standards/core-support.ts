/**
 * Shared fixtures of the standards tests written against the core
 * (core-*.test.ts, http-*.test.ts): the clients and users of test/core/flow.ts
 * seeded into any core (in-memory or behind the gateway, with any config),
 * plus a user holding no permission, and JOSE helpers for ID tokens.
 * Not a test file itself (ava only runs *.test.ts).
 */
import { createHash } from "node:crypto";
import type { ExecutionContext } from "ava";
import { importJWK, jwtVerify, type JWTPayload, type JWTHeaderParameters } from "jose";
import type { Config } from "../../core/server/config.js";
import type { ProjectRef } from "../../core/store/types.js";
import { DEFAULT, pkcePair, seedUser, type TestCore } from "../helpers.js";
import { ISSUER, M2M, READ, SPA, exchangeRequest, obtainCode, seedFixtures, setup } from "../core/flow.js";

/** A user of the default project who holds no permission at all. */
export const DAVE = { id: "dave", password: "dave-password" } as const;

/** Seeds the fixtures of test/core/flow.ts, and dave (no permissions), in the default project. */
export async function seedStandard(c: TestCore): Promise<void> {
  await seedFixtures(c);
  await seedUser(c.core, { ...DAVE });
}

/** A core (in-memory transport, TestClock) with the standard fixtures, closed at teardown. */
export async function standardCore(t: ExecutionContext, config: Partial<Config> = {}): Promise<TestCore> {
  const c = await setup(t, config);
  await seedUser(c.core, { ...DAVE });
  return c;
}

/** The code flow of the public SPA (PKCE S256, client_id only) for alice: its tokens. */
export async function spaTokens(c: TestCore, scope = READ) {
  const pkce = pkcePair();
  const { code } = await obtainCode(c, {
    authorize: { clientId: SPA.id, redirectUri: SPA.redirectUri, scope, codeChallenge: pkce.challenge, codeChallengeMethod: "S256" },
  });
  return c.tokens.token(
    exchangeRequest(code, { redirectUri: SPA.redirectUri, basic: undefined, clientId: SPA.id, codeVerifier: pkce.verifier }),
  );
}

/** A client_credentials token of M2M (no scope). */
export function m2mToken(c: TestCore) {
  return c.tokens.token({ ...DEFAULT, grantType: "client_credentials", basic: { clientId: M2M.id, clientSecret: M2M.secret } });
}

/** at_hash per OpenID Connect Core §3.1.3.6 for ES256: base64url of the left half of SHA-256 of the ASCII token. */
export function expectedAtHash(accessToken: string): string {
  return createHash("sha256").update(Buffer.from(accessToken, "ascii")).digest().subarray(0, 16).toString("base64url");
}

/** The protected header of a compact JWS, decoded without verification. */
export function headerOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split(".")[0] ?? "", "base64url").toString("utf8")) as Record<string, unknown>;
}

/**
 * Verifies an ID token as a relying party would (Core §3.1.3.7): with the
 * public key of the project's JWKS whose kid the header names, for that key's
 * algorithm only, the project's issuer, the client as audience, typ JWT, at
 * the test clock.
 */
export async function verifyIdToken(
  c: TestCore,
  idToken: string,
  clientId: string,
  ref: ProjectRef = DEFAULT,
  issuer = ISSUER,
): Promise<{ payload: JWTPayload; protectedHeader: JWTHeaderParameters }> {
  const jwks = await c.tokens.getJwks(ref);
  const kid = headerOf(idToken).kid;
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (jwk === undefined) throw new Error(`no key ${String(kid)} in the JWKS`);
  const key = await importJWK(jwk.kty === "RSA" ? { kty: jwk.kty, n: jwk.n, e: jwk.e } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, jwk.alg);
  return jwtVerify(idToken, key, {
    algorithms: [jwk.alg],
    issuer,
    audience: clientId,
    typ: "JWT",
    currentDate: new Date(c.clock.now()),
  });
}
