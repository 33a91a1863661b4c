/**
 * A relying party built on openid-client, a certified library nobody here
 * wrote: it discovers the end-session endpoint, signs a user in through the
 * pages, builds its end-session URL, and the browser that follows it is
 * signed out and sent back with the state.
 */
import test from "ava";
import * as client from "openid-client";
import { addClient, REDIRECT_URI, startStandardServer, USER } from "../standards/client-harness.js";
import { approveInBrowser, Browser } from "./_support.js";

const SECRET = "rp-logout-secret";
const SIGNED_OUT = "https://rp.example/signed-out";

test("openid-client discovers end_session_endpoint and back-channel support, and its buildEndSessionUrl signs the browser out and returns the state", async (t) => {
  const s = await startStandardServer(t);
  await addClient(s, { id: "rp-logout", secret: SECRET, postLogoutRedirectUris: [SIGNED_OUT] });
  const config = await client.discovery(new URL(s.issuer), "rp-logout", SECRET, client.ClientSecretPost(SECRET), {
    execute: [client.allowInsecureRequests],
  });
  const metadata = config.serverMetadata();
  t.is(metadata.end_session_endpoint, `${s.issuer}/logout`);
  t.is(metadata.backchannel_logout_supported, true);
  t.is(metadata.backchannel_logout_session_supported, true);

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: "openid",
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const browser = new Browser();
  const callback = await approveInBrowser(browser, authorizationUrl.href, USER);
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  const sid = tokens.claims()?.sid;
  t.is(typeof sid, "string");
  t.not(browser.session, undefined);

  const endSessionUrl = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: SIGNED_OUT, state: "after-logout" });
  t.is(`${endSessionUrl.origin}${endSessionUrl.pathname}`, `${s.issuer}/logout`);
  const res = await browser.get(endSessionUrl.href);
  t.is(res.status, 302);
  t.is(res.headers.get("location"), `${SIGNED_OUT}?state=after-logout`);
  t.is(browser.session, undefined);
  const session = await s.core.deps.store.getSession(s.ref, sid as string);
  t.not(session?.endedAt ?? null, null);
});
