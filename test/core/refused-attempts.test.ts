/**
 * What a refused attempt costs and leaves: failed sign-ins spend their
 * pending request, another client presenting a used code revokes nothing of
 * the rightful client's grant, and the refusal is logged with its reason and
 * no secret.
 */
import test from "ava";
import { MAX_FAILED_LOGINS_PER_REQUEST } from "../../core/authorization/throttle.js";
import { DEFAULT } from "../helpers.js";
import { ALICE, WEB2, authorizeRequest, exchangeRequest, expectOAuthError, obtainTokens, pendingOf, setup } from "./flow.js";

test(`a pending request allows ${MAX_FAILED_LOGINS_PER_REQUEST} failed logins, then is spent even for the right password`, async (t) => {
  const c = await setup(t);
  const auth = await c.authorization.authorize(authorizeRequest());
  for (let i = 0; i < MAX_FAILED_LOGINS_PER_REQUEST; i++) {
    await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: `guess-${i}` }), {
      error: "access_denied",
      status: "401",
    });
  }
  t.is(await pendingOf(c, auth.requestId), undefined);
  await expectOAuthError(t, c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: ALICE.password }), {
    error: "invalid_request",
  });
});

test("another client presenting an already used code is refused without revoking the rightful client's grant", async (t) => {
  const c = await setup(t);
  const tokens = await obtainTokens(c);
  await expectOAuthError(t, c.tokens.token(exchangeRequest(tokens.code, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } })), {
    error: "invalid_grant",
  });
  t.true((await c.tokens.verifyToken({ token: tokens.accessToken })).active);
});

test("a refused request is written to the log with its reason and no secret", async (t) => {
  const c = await setup(t);
  const auth = await c.authorization.authorize(authorizeRequest());
  await t.throwsAsync(c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: ALICE.id, password: "wrong-password-xyz" }));
  const refused = c.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "rpc" && l.error !== undefined);
  t.true(refused.some((l) => l.rpc === "iam.v1.AuthorizationService/Login" && l.error === "access_denied" && String(l.detail).includes("wrong password")));
  t.false(c.lines.some((l) => l.includes("wrong-password-xyz") || l.includes(auth.requestId)));
});
