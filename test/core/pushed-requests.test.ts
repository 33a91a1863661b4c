/**
 * PushAuthorizationRequest and Authorize with its request_uri, called as
 * RPCs (the contract every caller of the core has, not only the gateway):
 * the pushed request's refusals carry no redirect, the parameters a client
 * pushed are those Authorize serves, and the token endpoint takes the same
 * ClientAuthentication as the other client-authenticated RPCs.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { sha256 } from "../../core/lib/crypto.js";
import { DEFAULT, pkcePair } from "../helpers.js";
import { ALICE, authorizeRequest, expectOAuthError, READ, setup, SPA, WEB, WRITE, type AuthorizeInit } from "./flow.js";

const { challenge } = pkcePair();
const webAuth = { clientId: "", clientSecret: "", basic: { clientId: WEB.id, clientSecret: WEB.secret } };

const pushed = (authorization: Partial<AuthorizeInit>) => ({
  ...DEFAULT,
  client: webAuth,
  authorization: authorizeRequest({ codeChallenge: challenge, codeChallengeMethod: "S256", ...authorization }),
});

test("a pushed request is served by Authorize with the parameters pushed: its claims, nonce, login_hint and state", async (t) => {
  const c = await setup(t);
  const claims = JSON.stringify({ userinfo: { email: null } });
  const { requestUri, expiresIn } = await c.authorization.pushAuthorizationRequest(
    pushed({ scope: `openid ${READ}`, nonce: "n-1", loginHint: ALICE.id, claims, state: "pushed", maxAge: "300" }),
  );
  t.regex(requestUri, /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/);
  t.is(expiresIn, 60n);
  const answer = await c.authorization.authorize({ ...DEFAULT, clientId: WEB.id, requestUri, loginHint: "someone-else", scope: WRITE });
  t.is(answer.loginHint, ALICE.id);
  t.deepEqual(answer.scopesRequested, ["openid", READ, "email"], "the claims parameter's scope added, as for any request");
  const kept = await c.core.deps.store.getAuthorizationRequest(sha256(answer.requestId));
  t.like(kept, { clientId: WEB.id, state: "pushed", nonce: "n-1", codeChallenge: challenge, codeChallengeMethod: "S256", claims });
});

test("a pushed request refused by the authorization endpoint's checks carries its code and status 400, and no redirect", async (t) => {
  const c = await setup(t);
  const cases: { authorization: Partial<AuthorizeInit>; error: string; code: Code }[] = [
    { authorization: { scope: "no.such.scope" }, error: "invalid_scope", code: Code.InvalidArgument },
    { authorization: { responseType: "token" }, error: "unsupported_response_type", code: Code.InvalidArgument },
    {
      authorization: { claims: JSON.stringify({ id_token: { acr: { essential: true, values: ["urn:other"] } } }) },
      error: "access_denied",
      code: Code.PermissionDenied,
    },
    { authorization: { registration: "{}" }, error: "registration_not_supported", code: Code.InvalidArgument },
  ];
  for (const { authorization, error, code } of cases) {
    const err = await expectOAuthError(t, c.authorization.pushAuthorizationRequest(pushed(authorization)), { error, code, redirect: false });
    t.is(err.metadata.get("oauth-status") ?? "400", "400", error);
  }
  await expectOAuthError(t, c.authorization.pushAuthorizationRequest({ ...pushed({}), client: { clientId: SPA.id, clientSecret: "" } }), {
    error: "invalid_request",
    redirect: false,
  });
  await expectOAuthError(t, c.authorization.pushAuthorizationRequest({ ...pushed({}), client: undefined }), { error: "invalid_client", code: Code.Unauthenticated });
});

test("a token request gives its credentials as `client` or beside it, not both: invalid_request", async (t) => {
  const c = await setup(t);
  const base = { ...DEFAULT, grantType: "client_credentials" };
  const m2m = { clientId: "m2m-app", clientSecret: "m2m-secret" };
  t.truthy((await c.tokens.token({ ...base, client: m2m })).accessToken);
  t.truthy((await c.tokens.token({ ...base, ...m2m })).accessToken);
  await expectOAuthError(t, c.tokens.token({ ...base, client: m2m, clientId: "m2m-app" }), { error: "invalid_request" });
  await expectOAuthError(t, c.tokens.token({ ...base, client: { clientId: "m2m-app", clientSecret: "wrong" } }), { error: "invalid_client", code: Code.Unauthenticated });
});
