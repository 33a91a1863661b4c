/**
 * Attacks on single sign-on, each asserting the defence iam-core has:
 *
 * - Silent authorization of a native public client: a remembered consent and
 *   a live session must not give a code with no interaction at all to
 *   whichever app answers the client's private-use redirect scheme (RFC 8252 §8.6, RFC 6749
 *   §10.2: a request of a client whose identity cannot be assured must be
 *   processed as if no earlier approval existed).
 * - Identity oracle under prompt=none: a client the user never consented to
 *   must not tell "the signed-in user is X" from "is someone else" by naming
 *   X in the claims parameter's sub.
 * - Server-side requests of a project administrator: backchannel_logout_uri
 *   must not reach a loopback port of the iam-core host.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import test from "ava";
import { checkBackchannelLogoutUri } from "../../core/rpc/admin/validate.js";
import { ALICE, authorizeRequest, exchangeRequest, READ, WEB } from "../core/flow.js";
import { pkcePair, queryOf, seedClient } from "../helpers.js";
import { passwordSignIn, sessionCore } from "../sessions/_support.js";

/** A native public client (private-use scheme redirect) that remembers consent. */
const NATIVE = { id: "native-app", redirectUri: "com.example.native:/oauth2redirect" } as const;

test("a remembered consent does not authorize a native public client silently through the session (RFC 8252 §8.6)", async (t) => {
  const c = await sessionCore(t);
  await seedClient(c.core, { id: NATIVE.id, redirectUris: [NATIVE.redirectUri], rememberConsent: true, pkceRequired: true });
  const legit = pkcePair("legit-verifier-legit-verifier-legit-verifier-0001");
  const native = { clientId: NATIVE.id, redirectUri: NATIVE.redirectUri, scope: `openid ${READ}`, codeChallengeMethod: "S256" };

  // The real app: one sign-in with a password, consent given and remembered.
  const signed = await passwordSignIn(c, { authorize: { ...native, codeChallenge: legit.challenge } });
  await c.authorization.consent({ organization: "iam-admins", project: "iam-admins", requestId: signed.requestId, scopes: signed.login.scopes.map((s) => s.name) });

  // A malicious app claiming the same scheme opens the browser with its own PKCE pair.
  const attacker = pkcePair("attacker-verifier-attacker-verifier-attacker-0002");
  let answer;
  try {
    answer = await c.authorization.authorize(authorizeRequest({ ...native, codeChallenge: attacker.challenge, session: signed.session }));
  } catch (err) {
    t.pass(`refused: ${(err as Error).message}`);
    return;
  }
  const code = answer.redirectTo === "" ? null : queryOf(answer.redirectTo).get("code");
  if (code !== null) {
    // What the attacker gets today: tokens of the user, without a click.
    const tokens = await c.tokens.token(exchangeRequest(code, { basic: undefined, clientId: NATIVE.id, redirectUri: NATIVE.redirectUri, codeVerifier: attacker.verifier }));
    t.log(`silent code exchanged by the impersonator: access token ${tokens.accessToken.slice(0, 16)}…`);
  }
  t.is(code, null, "the user must be asked again (consent page), not redirected with a code");
  t.true(answer.signedIn, "the consent page is shown");
});

test("prompt=none with a claims sub does not tell an unconsented client who is signed in", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c); // alice signs in at WEB; WEB does not remember consent
  const probe = async (sub: string): Promise<string> => {
    try {
      await c.authorization.authorize(
        authorizeRequest({ scope: `openid ${READ}`, prompt: "none", claims: JSON.stringify({ id_token: { sub: { value: sub } } }), session }),
      );
      return "success";
    } catch (err) {
      const e = ConnectError.from(err);
      return `${Code[e.code]} ${e.metadata.get("oauth-error") ?? ""}`;
    }
  };
  const right = await probe(ALICE.id);
  const wrong = await probe("bob");
  t.log(`sub=alice → ${right}; sub=bob → ${wrong}`);
  t.is(right, wrong, "the answer must not depend on whether the guessed user is the one signed in");
});

test("a project administrator cannot point back-channel logout at the iam-core host's loopback ports", (t) => {
  // An Envoy sidecar's admin API: POST /quitquitquit stops it (the pod loses its proxy).
  t.throws(() => checkBackchannelLogoutUri("http://127.0.0.1:15000/quitquitquit"));
});

test("the silent code above lands on WEB's https redirect as it should (control)", async (t) => {
  const c = await sessionCore(t);
  const { session } = await passwordSignIn(c);
  const answer = await c.authorization.authorize(authorizeRequest({ scope: `openid ${READ}`, session }));
  t.true(answer.signedIn, "SSO signs a confidential web client in, then asks consent");
  t.is(answer.redirectTo, "");
  t.is(WEB.redirectUri.startsWith("https:"), true);
});
