/**
 * Limits of single sign-on that keep a session from doing more than it should:
 * a remembered consent completes a request silently only for a client whose
 * identity is assured (RFC 8252 §8.6); a code does not revive a session that
 * went idle.
 */
import { Code } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { authorizeRequest, exchangeRequest, expectOAuthError, READ } from "../core/flow.js";
import { pkcePair, seedClient } from "../helpers.js";
import { codeOf, consentAll, passwordSignIn, sessionCore, withSession } from "./_support.js";

const pkce = pkcePair("hardening-verifier-hardening-verifier-hardening-01");

/** Signs in at `clientId`, consents (remembered), and asks again through the session: the second answer. */
async function askAgain(t: ExecutionContext, client: { id: string; redirectUri: string; webOrigins?: string[] }) {
  const c = await sessionCore(t);
  await seedClient(c.core, { id: client.id, redirectUris: [client.redirectUri], rememberConsent: true, pkceRequired: true, webOrigins: client.webOrigins ?? [] });
  const request = { clientId: client.id, redirectUri: client.redirectUri, scope: `openid ${READ}`, codeChallenge: pkce.challenge, codeChallengeMethod: "S256" };
  const signed = await passwordSignIn(c, { authorize: request });
  await consentAll(c, signed.requestId, signed.login.scopes);
  return c.authorization.authorize(authorizeRequest({ ...request, session: signed.session }));
}

test("a public client on a private-use scheme is asked for consent again, remembered or not: any app may claim the scheme", async (t) => {
  const answer = await askAgain(t, { id: "native", redirectUri: "com.example.native:/cb" });
  t.is(answer.redirectTo, "");
  t.true(answer.signedIn, "signed in by the session, but the consent page is shown");
});

test("a public client on a bare loopback port is asked again; one that registered that loopback origin as its web origin is not", async (t) => {
  const bare = await askAgain(t, { id: "loopback-native", redirectUri: "http://127.0.0.1:7001/cb" });
  t.true(bare.signedIn);
  t.is(bare.redirectTo, "");
  const page = await askAgain(t, { id: "loopback-spa", redirectUri: "http://127.0.0.1:7002/cb", webOrigins: ["http://127.0.0.1:7002"] });
  t.not(page.redirectTo, "", "a page of its own web origin gets its code silently");
  t.false(page.signedIn);
});

test("a public client on https completes silently on a remembered consent (a confidential one does too: single-sign-on.test.ts)", async (t) => {
  const answer = await askAgain(t, { id: "https-spa", redirectUri: "https://spa.example/cb" });
  t.not(answer.redirectTo, "");
});

test("a code whose session went idle before the exchange is invalid_grant: the code does not revive the session", async (t) => {
  const c = await sessionCore(t, { sessionIdle: 600 });
  const signed = await passwordSignIn(c);
  const code = await consentAll(c, signed.requestId, signed.login.scopes);
  c.clock.advance(601);
  await expectOAuthError(t, c.tokens.token(exchangeRequest(code)), { error: "invalid_grant", code: Code.FailedPrecondition });
  // And the session stays unusable.
  const again = await withSession(c, signed.session);
  t.false(again.signedIn);
});

