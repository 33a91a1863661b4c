/**
 * A relying party on openid-client (a certified library nobody here wrote)
 * asks for a multi-factor sign-in with acr_values and max_age; the user
 * enrols an authenticator app through the JSON variant of the pages; the
 * library accepts the ID token (its own checks of auth_time against max_age)
 * and reads acr and amr from it.
 */
import test from "ava";
import * as client from "openid-client";
import { MFA_ACR } from "../../core/factors/levels.js";
import { totpCode } from "../../core/factors/totp.js";
import { addClient, REDIRECT_URI, startStandardServer, USER } from "./client-harness.js";

const SECRET = "rp-mfa-secret";

const postJson = async (url: string, body: unknown) => {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
};

test("openid-client asks acr_values=mfa with max_age; the user enrols an app; the library accepts the ID token with acr mfa, amr otp and a fresh auth_time", async (t) => {
  const s = await startStandardServer(t);
  await addClient(s, { id: "rp-mfa", secret: SECRET });
  const config = await client.discovery(new URL(s.issuer), "rp-mfa", SECRET, client.ClientSecretPost(SECRET), { execute: [client.allowInsecureRequests] });
  t.true(config.serverMetadata().acr_values_supported?.includes(MFA_ACR));

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: "openid",
    state,
    nonce,
    acr_values: MFA_ACR,
    max_age: "300",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });

  // The user: the password, then the enrolment the client's acr_values asks for.
  const endpoint = `${s.issuer}/authorize`;
  const start = await fetch(url, { headers: { accept: "application/json" } });
  const { request_id } = (await start.json()) as { request_id: string };
  const login = await postJson(endpoint, { request_id, username: USER.id, password: USER.password });
  t.deepEqual(login.second_factor, { stage: "enrol", methods: ["totp", "passkey"] });
  const app = await postJson(`${s.issuer}/factor/totp`, { request_id });
  const enrolled = await postJson(`${s.issuer}/factor`, { request_id, step: "enrol", factor_id: app.factor_id, totp_code: totpCode(app.secret as string, Date.now()) });
  const consent = await postJson(`${s.issuer}/consent`, { request_id, scopes: (enrolled.scopes as { name: string }[]).map((x) => x.name) });

  const tokens = await client.authorizationCodeGrant(config, new URL(consent.redirect_to as string), {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    maxAge: 300,
  });
  const claims = tokens.claims()!;
  t.is(claims.acr, MFA_ACR);
  t.deepEqual(claims.amr, ["pwd", "otp", "mfa"]);
  t.true(Math.abs((claims.auth_time as number) - Date.now() / 1000) < 60);
});
