import { join } from "node:path";
import test from "ava";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT, DEFAULT_REDIRECT, queryOf, startTestServer, tempDir } from "../helpers.js";

test("a token issued before a restart still verifies after it, and its refresh token still works", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");

  const first = await startTestServer({ dbPath });
  const auth = await first.authorization.authorize({ ...DEFAULT, responseType: "code", clientId: "admin-client", redirectUri: DEFAULT_REDIRECT });
  await first.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: "admin", password: ADMIN_PASSWORD });
  const consent = await first.authorization.consent({ ...DEFAULT, requestId: auth.requestId, scopes: ["iam.global.admin"] });
  const form = new URLSearchParams({
    grant_type: "authorization_code",
    code: queryOf(consent.redirectTo).get("code")!,
    redirect_uri: DEFAULT_REDIRECT,
    client_id: "admin-client",
    client_secret: ADMIN_CLIENT_SECRET,
  });
  const issued = (await (
    await fetch(`${first.project}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form })
  ).json()) as { access_token: string; refresh_token: string };
  const jwksBefore = await (await fetch(`${first.project}/.well-known/jwks.json`)).json();
  await first.close();

  const second = await startTestServer({ dbPath, clock: first.clock });
  t.teardown(() => second.close());
  const verified = await second.tokens.verifyToken({ token: issued.access_token });
  t.true(verified.active);
  t.is(verified.subject, "admin");
  t.deepEqual(await (await fetch(`${second.project}/.well-known/jwks.json`)).json(), jwksBefore);

  const refreshed = await fetch(`${second.project}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: issued.refresh_token,
      client_id: "admin-client",
      client_secret: ADMIN_CLIENT_SECRET,
    }),
  });
  t.is(refreshed.status, 200);
  const body = (await refreshed.json()) as { access_token: string; refresh_token: string };
  t.not(body.refresh_token, issued.refresh_token);
  t.true((await second.tokens.verifyToken({ token: body.access_token })).active);
});

test("restarting on an existing database keeps the default tenant as it was and does not create it again", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const dbPath = join(dir, "iam.db");
  const first = await startTestServer({ dbPath });
  t.true(first.core.bootstrap.created);
  await first.close();
  const second = await startTestServer({ dbPath });
  t.teardown(() => second.close());
  t.false(second.core.bootstrap.created);
  t.deepEqual((await second.core.deps.store.listSigningKeys(DEFAULT)).map((k) => k.alg).sort(), ["ES256", "RS256"], "one key of each algorithm, made once");
});
