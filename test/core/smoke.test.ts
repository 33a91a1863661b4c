import test from "ava";
import { ADMIN_PASSWORD, DEFAULT, DEFAULT_REDIRECT, queryOf, startTestCore } from "../helpers.js";

test("the default tenant completes the flow through the in-memory transport", async (t) => {
  const c = await startTestCore();
  t.teardown(() => c.close());
  const auth = await c.authorization.authorize({ ...DEFAULT, responseType: "code", clientId: "admin-client", redirectUri: DEFAULT_REDIRECT, state: "s1" });
  const login = await c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: "admin", password: ADMIN_PASSWORD });
  t.deepEqual(login.scopes.map((s) => s.name), ["iam.global.admin"]);
  const consent = await c.authorization.consent({ ...DEFAULT, requestId: auth.requestId, scopes: ["iam.global.admin"] });
  const code = queryOf(consent.redirectTo).get("code")!;
  const tokens = await c.tokens.token({ ...DEFAULT, grantType: "authorization_code", code, redirectUri: DEFAULT_REDIRECT, basic: { clientId: "admin-client", clientSecret: "top-secret" } });
  const verified = await c.tokens.verifyToken({ token: tokens.accessToken });
  t.true(verified.active);
  t.is(verified.subject, "admin");
});
