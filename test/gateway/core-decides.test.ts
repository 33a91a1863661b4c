/**
 * What the gateway renders but the core decides: which repeated parameters
 * are refused (the gateway only reports the names), the discovery flags,
 * and which project has a callback page for which client.
 */
import { ConnectError } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { oauthErrorOf, type OAuthErrorCode } from "../../wire/errors.js";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT, DEFAULT_REDIRECT, seedProject, startTestCore, type TestCore } from "../helpers.js";

const ISSUER = "http://iam.test/services/oauth2/iam-admins/iam-admins";

async function core(t: ExecutionContext): Promise<TestCore> {
  const c = await startTestCore();
  t.teardown(() => c.close());
  return c;
}

async function refusedWith(t: ExecutionContext, call: Promise<unknown>, error: OAuthErrorCode, description: string): Promise<void> {
  const err = await t.throwsAsync(call, { instanceOf: ConnectError });
  t.is(oauthErrorOf(err), error);
  t.is(err.rawMessage, description);
}

test("GetServerMetadata says request objects are not supported, and the claims parameter is", async (t) => {
  const c = await core(t);
  const m = await c.tokens.getServerMetadata(DEFAULT);
  t.false(m.requestParameterSupported);
  t.false(m.requestUriParameterSupported);
  t.true(m.claimsParameterSupported);
});

test("GetServerMetadata names the callback page's client for the default project only", async (t) => {
  const c = await core(t);
  await seedProject(c.core, { organization: "acme", project: "shop" });
  const m = await c.tokens.getServerMetadata(DEFAULT);
  t.is(m.callbackPage?.clientId, "admin-client");
  t.is(m.callbackPage?.redirectUri, DEFAULT_REDIRECT);
  t.is(m.tokenEndpoint, `${ISSUER}/token`);
  t.is((await c.tokens.getServerMetadata({ organization: "acme", project: "shop" })).callbackPage, undefined);
});

test("Introspect and Revoke refuse a repeated parameter before they authenticate the client", async (t) => {
  const c = await core(t);
  const call = { ...DEFAULT, token: "x", repeatedParameters: ["token"] };
  await refusedWith(t, c.tokens.introspect(call), "invalid_request", "request parameters must not be repeated");
  await refusedWith(t, c.tokens.revoke(call), "invalid_request", "request parameters must not be repeated");
});

test("Token names the repeated parameter when it looks like one, and only then", async (t) => {
  const c = await core(t);
  const call = { ...DEFAULT, grantType: "client_credentials", clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET };
  await refusedWith(t, c.tokens.token({ ...call, repeatedParameters: ["scope"] }), "invalid_request", "parameter scope must not be repeated");
  await refusedWith(t, c.tokens.token({ ...call, repeatedParameters: ["Not A Name"] }), "invalid_request", "request parameters must not be repeated");
});

test("Login refuses a repeated form field; Consent lets scope repeat, not request_id", async (t) => {
  const c = await core(t);
  const { requestId } = await c.authorization.authorize({
    ...DEFAULT,
    responseType: "code",
    clientId: "admin-client",
    redirectUri: DEFAULT_REDIRECT,
    scope: "openid profile",
    state: "s",
  });
  const login = { ...DEFAULT, requestId, username: "admin", password: ADMIN_PASSWORD };
  await refusedWith(t, c.authorization.login({ ...login, repeatedParameters: ["username"] }), "invalid_request", "request parameters must not be repeated");
  await c.authorization.login(login);
  const consent = { ...DEFAULT, requestId, scopes: ["openid", "profile"] };
  await refusedWith(t, c.authorization.consent({ ...consent, repeatedParameters: ["request_id", "scope"] }), "invalid_request", "request parameters must not be repeated");
  const answer = await c.authorization.consent({ ...consent, repeatedParameters: ["scope"] });
  t.true(answer.redirectTo.startsWith(`${DEFAULT_REDIRECT}?code=`));
});
