/**
 * The flows the DPoP tests go through: a server with the fixtures, proofs
 * made at its still clock, a public client's code and its exchange.
 */
import type { ExecutionContext } from "ava";
import { ALICE, ISSUER, SPA, seedFixtures } from "../core/flow.js";
import { authorizeUrl, getJson, postJson, token } from "../gateway/_support.js";
import { pkcePair, startTestServer, type TestServer } from "../helpers.js";
import { makeProof, type ProofKey, type ProofOptions } from "./_proof.js";

export async function server(t: ExecutionContext): Promise<TestServer> {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedFixtures(s);
  return s;
}

/** A proof for `url` (the token endpoint by default), made at the server's (still) clock. */
export const proofFor = (s: TestServer, key: ProofKey, options: ProofOptions & { url?: string } = {}) =>
  makeProof(key, options.url ?? `${ISSUER}/token`, { now: Math.floor(s.clock.now() / 1000), ...options });

/** A code of SPA (public) for alice through the JSON flow, with PKCE and extra authorization parameters. */
export async function spaCode(s: TestServer, extra: Record<string, string> = {}): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const start = await getJson(
    authorizeUrl(s, { response_type: "code", client_id: SPA.id, redirect_uri: SPA.redirectUri, scope: "openid", state: "s", code_challenge: challenge, code_challenge_method: "S256", ...extra }),
  );
  if (start.status !== 200) throw new Error(`authorize: ${start.status} ${await start.text()}`);
  const { request_id } = (await start.json()) as { request_id: string };
  const login = await postJson(`${s.project}/authorize`, { request_id, username: ALICE.id, password: ALICE.password });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const consent = (await (await postJson(`${s.project}/consent`, { request_id, scopes: ["openid"] })).json()) as { redirect_to: string };
  return { code: new URL(consent.redirect_to).searchParams.get("code")!, verifier };
}

export const exchange = (s: TestServer, code: string, verifier: string, headers: Record<string, string> = {}) =>
  token(s, { grant_type: "authorization_code", client_id: SPA.id, code, redirect_uri: SPA.redirectUri, code_verifier: verifier }, headers);

export const refresh = (s: TestServer, refreshToken: string, headers: Record<string, string> = {}) =>
  token(s, { grant_type: "refresh_token", client_id: SPA.id, refresh_token: refreshToken }, headers);
