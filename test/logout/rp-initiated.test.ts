/**
 * OpenID Connect RP-Initiated Logout 1.0 at {issuer}/logout, through the
 * gateway on a loopback port: when the session ends at once, when the user
 * is asked first, and every refusal, which is a page and never a redirect.
 */
import test from "ava";
import { SignJWT, generateKeyPair } from "jose";
import { seedProject, seedUser } from "../helpers.js";
import { Browser, hiddenInput, seedRp, serveLogout, sessionLive, signIn, SECRET, USER, FORM } from "./_support.js";
import { assertErrorPage, assertPageHeaders } from "../gateway/_support.js";

const SIGNED_OUT = "https://app.example/signed-out";

test("a hint of the session's own user signs out at once: back to the registered URI with state, cookie cleared, session ended, its tokens dead, the next sign-in asks for the password", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "app");
  t.true(await sessionLive(s, signedIn.sid));
  t.true((await s.tokens.verifyToken({ token: signedIn.accessToken })).active);
  const cookie = browser.session!;

  const query = new URLSearchParams({ id_token_hint: signedIn.idToken, post_logout_redirect_uri: SIGNED_OUT, state: "bye-123" });
  const res = await browser.get(`${s.project}/logout?${query}`);
  t.is(res.status, 302);
  t.is(res.headers.get("location"), `${SIGNED_OUT}?state=bye-123`);
  t.is(res.headers.get("cache-control"), "no-store");
  t.is(res.headers.get("access-control-allow-origin"), null);
  t.is(browser.session, undefined, "the session cookie is cleared");

  t.false(await sessionLive(s, signedIn.sid));
  t.false((await s.tokens.verifyToken({ token: signedIn.accessToken })).active);
  const userinfo = await fetch(`${s.project}/userinfo`, { headers: { authorization: `Bearer ${signedIn.accessToken}` } });
  t.is(userinfo.status, 401);
  const refresh = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: { "content-type": FORM },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: signedIn.refreshToken, client_id: "app", client_secret: SECRET }).toString(),
  });
  t.is(refresh.status, 400);
  t.is(((await refresh.json()) as { error: string }).error, "invalid_grant");

  // The old cookie, presented again, signs nobody in: the login page.
  const stale = new Browser();
  stale.cookies.set("iam_session", cookie);
  const again = await stale.get(
    `${s.project}/authorize?${new URLSearchParams({ response_type: "code", client_id: "app", redirect_uri: "https://app.example/cb", scope: "openid" })}`,
  );
  t.is(again.status, 200);
  t.true((await again.text()).includes('name="password"'));
});

test("state is appended to a registered URI's own query, byte for byte; without state none is added; POST answers 303", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app", { postLogoutRedirectUris: ["https://app.example/out?from=iam", SIGNED_OUT] });
  const browser = new Browser();
  const first = await signIn(s, browser, "app");
  const withQuery = await browser.get(
    `${s.project}/logout?${new URLSearchParams({ id_token_hint: first.idToken, post_logout_redirect_uri: "https://app.example/out?from=iam", state: "a b&c" })}`,
  );
  t.is(withQuery.status, 302);
  t.is(withQuery.headers.get("location"), "https://app.example/out?from=iam&state=a+b%26c");

  const second = await signIn(s, browser, "app");
  const posted = await browser.post(`${s.project}/logout`, { id_token_hint: second.idToken, post_logout_redirect_uri: SIGNED_OUT });
  t.is(posted.status, 303);
  t.is(posted.headers.get("location"), SIGNED_OUT);
  t.false(await sessionLive(s, second.sid));
});

test("without a post_logout_redirect_uri, the signed-out page: 200, no-store, the page headers", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "app");
  const res = await browser.get(`${s.project}/logout?id_token_hint=${signedIn.idToken}`);
  const page = await res.text();
  t.is(res.status, 200);
  assertPageHeaders(t, res);
  t.true(page.includes('id="signed-out"'));
  t.is(browser.session, undefined);
  t.false(await sessionLive(s, signedIn.sid));
});

test("without a hint: the confirmation page; a post without confirmation shows it again, a wrong one is refused with 403 access_denied, the browser's own ends the session", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app", { name: "The <App>" });
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "app");
  const params = { client_id: "app", post_logout_redirect_uri: SIGNED_OUT, state: "st" };

  const ask = await browser.get(`${s.project}/logout?${new URLSearchParams(params)}`, { origin: "https://evil.example" });
  const page = await ask.text();
  t.is(ask.status, 200);
  assertPageHeaders(t, ask);
  t.is(ask.headers.get("access-control-allow-origin"), null);
  t.true(page.includes('id="logout-form"'));
  t.true(page.includes('action="/services/oauth2/iam-admins/iam-admins/logout"'));
  t.true(page.includes("<strong>The &lt;App&gt;</strong> asks to sign you out."));
  t.is(hiddenInput(page, "client_id"), "app");
  t.is(hiddenInput(page, "post_logout_redirect_uri"), SIGNED_OUT);
  t.is(hiddenInput(page, "state"), "st");
  t.is(hiddenInput(page, "id_token_hint"), undefined, "empty parameters are not carried");
  const confirmation = hiddenInput(page, "confirmation")!;
  t.is(confirmation, browser.cookies.get("iam_browser") ?? "", "the confirmation is the browser binding");
  t.true(await sessionLive(s, signedIn.sid));

  const unconfirmed = await browser.post(`${s.project}/logout`, params);
  t.is(unconfirmed.status, 200);
  t.true((await unconfirmed.text()).includes('id="logout-form"'));
  t.true(await sessionLive(s, signedIn.sid));

  const wrong = await browser.post(`${s.project}/logout`, { ...params, confirmation: "x".repeat(43) });
  await assertErrorPage(t, wrong, 403, "access_denied");
  t.true(await sessionLive(s, signedIn.sid));

  // The right value from a browser without the binding cookie (another site's form) is refused too.
  const elsewhere = await fetch(`${s.project}/logout`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": FORM, cookie: `iam_session=${browser.session!}` },
    body: new URLSearchParams({ ...params, confirmation }).toString(),
  });
  await assertErrorPage(t, elsewhere, 403, "access_denied");
  t.true(await sessionLive(s, signedIn.sid));

  const confirmed = await browser.post(`${s.project}/logout`, { ...params, confirmation });
  t.is(confirmed.status, 303);
  t.is(confirmed.headers.get("location"), `${SIGNED_OUT}?state=st`);
  t.is(browser.session, undefined);
  t.false(await sessionLive(s, signedIn.sid));
});

test("a valid hint of another user than the session's asks first, and ends nothing until confirmed", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  await seedUser(s.core, { id: "dave", password: "dave-password-1" });
  const carols = new Browser();
  const carol = await signIn(s, carols, "app");
  const dave = await signIn(s, new Browser(), "app", { id: "dave", password: "dave-password-1" });

  const res = await carols.get(`${s.project}/logout?${new URLSearchParams({ id_token_hint: dave.idToken, post_logout_redirect_uri: SIGNED_OUT })}`);
  const page = await res.text();
  t.is(res.status, 200);
  t.true(page.includes('id="logout-form"'));
  t.is(hiddenInput(page, "id_token_hint"), dave.idToken);
  t.true(await sessionLive(s, carol.sid));
  t.true(await sessionLive(s, dave.sid));

  const confirmed = await carols.post(`${s.project}/logout`, { id_token_hint: dave.idToken, post_logout_redirect_uri: SIGNED_OUT, confirmation: hiddenInput(page, "confirmation")! });
  t.is(confirmed.status, 303);
  t.false(await sessionLive(s, carol.sid), "the browser's own session ends");
  t.true(await sessionLive(s, dave.sid), "another browser's session is untouched");
});

test("a hint of the user's earlier session (another sid) asks first", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  const earlier = await signIn(s, new Browser(), "app");
  const browser = new Browser();
  const now = await signIn(s, browser, "app");
  t.not(earlier.sid, now.sid);
  const res = await browser.get(`${s.project}/logout?id_token_hint=${earlier.idToken}`);
  t.is(res.status, 200);
  t.true((await res.text()).includes('id="logout-form"'));
  t.true(await sessionLive(s, now.sid));
});

test("logout with no live session still succeeds: an ended session's cookie at once, no cookie after confirming", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "app");
  const cookie = browser.session!;
  t.is((await browser.get(`${s.project}/logout?id_token_hint=${signedIn.idToken}`)).status, 200);

  // The same cookie again: it names no live session, so there is nothing to ask.
  const stale = new Browser();
  stale.cookies.set("iam_session", cookie);
  const again = await stale.get(`${s.project}/logout?${new URLSearchParams({ id_token_hint: signedIn.idToken, post_logout_redirect_uri: SIGNED_OUT, state: "x" })}`);
  t.is(again.status, 302);
  t.is(again.headers.get("location"), `${SIGNED_OUT}?state=x`);
  t.is(stale.session, undefined, "the dead cookie is cleared");

  // A browser with no cookie at all may be a form posted from another site
  // (SameSite=Lax leaves the cookie out): asked, then signed out.
  const none = new Browser();
  const ask = await none.get(`${s.project}/logout?${new URLSearchParams({ id_token_hint: signedIn.idToken, post_logout_redirect_uri: SIGNED_OUT })}`);
  const page = await ask.text();
  t.is(ask.status, 200);
  t.true(page.includes('id="logout-form"'));
  const done = await none.post(`${s.project}/logout`, {
    id_token_hint: signedIn.idToken,
    post_logout_redirect_uri: SIGNED_OUT,
    confirmation: hiddenInput(page, "confirmation")!,
  });
  t.is(done.status, 303);
  t.is(done.headers.get("location"), SIGNED_OUT);

  // No parameters at all, no session: asked, then the signed-out page.
  const bare = new Browser();
  const bareAsk = await bare.get(`${s.project}/logout`);
  const barePage = await bareAsk.text();
  t.is(bareAsk.status, 200);
  const bareDone = await bare.post(`${s.project}/logout`, { confirmation: hiddenInput(barePage, "confirmation")! });
  t.is(bareDone.status, 200);
  t.true((await bareDone.text()).includes('id="signed-out"'));
});

/** An ID token signed by another project of the same server, for the same client id and user. */
async function hintOfAnotherProject(s: Awaited<ReturnType<typeof serveLogout>>): Promise<string> {
  const other = { organization: "other-org", project: "other" };
  await seedProject(s.core, other);
  await seedUser(s.core, { ...other, id: USER.id, password: USER.password });
  const { kid, key, alg } = await s.core.deps.keys.signing(other, "RS256");
  const { signJwt } = await import("../../core/tokens/keys.js");
  const now = Math.floor(s.clock.now() / 1000);
  return signJwt({ alg, typ: "JWT", kid }, { iss: "http://iam.test/services/oauth2/other-org/other", sub: USER.id, aud: "app", iat: now, exp: now + 300 }, key);
}

test("every refusal is an error page with its exact status and code, never a redirect, and ends nothing", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  await seedRp(s, "other-app");
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "app");
  const [header, payload] = signedIn.idToken.split(".");
  const unsigned = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
  const { privateKey } = await generateKeyPair("RS256");
  const forged = await new SignJWT(JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>)
    .setProtectedHeader({ ...(JSON.parse(Buffer.from(header!, "base64url").toString()) as { alg: string; kid: string }) })
    .sign(privateKey);
  const foreign = await hintOfAnotherProject(s);

  const cases: { name: string; query: [string, string][]; status: number; error: string }[] = [
    { name: "unregistered post_logout_redirect_uri", query: [["id_token_hint", signedIn.idToken], ["post_logout_redirect_uri", "https://evil.example/"]], status: 400, error: "invalid_request" },
    { name: "a query added to the registered URI", query: [["id_token_hint", signedIn.idToken], ["post_logout_redirect_uri", `${SIGNED_OUT}?foo=bar`]], status: 400, error: "invalid_request" },
    { name: "another client's registered URI", query: [["id_token_hint", signedIn.idToken], ["post_logout_redirect_uri", "https://other-app.example/signed-out"]], status: 400, error: "invalid_request" },
    { name: "a post_logout_redirect_uri and no client", query: [["post_logout_redirect_uri", SIGNED_OUT]], status: 400, error: "invalid_request" },
    { name: "client_id not the hint's audience", query: [["id_token_hint", signedIn.idToken], ["client_id", "other-app"]], status: 400, error: "invalid_request" },
    { name: "an unknown client_id", query: [["client_id", "nobody"]], status: 400, error: "invalid_request" },
    { name: "a hint of another project", query: [["id_token_hint", foreign], ["post_logout_redirect_uri", SIGNED_OUT]], status: 400, error: "invalid_request" },
    { name: "a hint made alg none", query: [["id_token_hint", unsigned], ["post_logout_redirect_uri", SIGNED_OUT]], status: 400, error: "invalid_request" },
    { name: "a hint signed by another key", query: [["id_token_hint", forged], ["post_logout_redirect_uri", SIGNED_OUT]], status: 400, error: "invalid_request" },
    { name: "a hint that is no JWT", query: [["id_token_hint", "not-a-token"]], status: 400, error: "invalid_request" },
    { name: "a repeated state", query: [["id_token_hint", signedIn.idToken], ["post_logout_redirect_uri", SIGNED_OUT], ["state", "a"], ["state", "b"]], status: 400, error: "invalid_request" },
    { name: "a repeated post_logout_redirect_uri", query: [["id_token_hint", signedIn.idToken], ["post_logout_redirect_uri", SIGNED_OUT], ["post_logout_redirect_uri", SIGNED_OUT]], status: 400, error: "invalid_request" },
    { name: "a repeated id_token_hint", query: [["id_token_hint", signedIn.idToken], ["id_token_hint", signedIn.idToken]], status: 400, error: "invalid_request" },
  ];
  for (const c of cases) {
    const get = await browser.get(`${s.project}/logout?${new URLSearchParams(c.query)}`);
    await assertErrorPage(t, get, c.status, c.error);
    const post = await browser.post(`${s.project}/logout`, c.query);
    await assertErrorPage(t, post, c.status, c.error);
    t.true(browser.session !== undefined, `${c.name}: the cookie stays`);
    t.true(await sessionLive(s, signedIn.sid), `${c.name}: the session stays`);
  }
  t.true((await s.tokens.verifyToken({ token: signedIn.accessToken })).active);
});

test("a POST that is not a form is refused with 415; an unknown project is 404", async (t) => {
  const s = await serveLogout(t);
  const json = await fetch(`${s.project}/logout`, { method: "POST", redirect: "manual", headers: { "content-type": "application/json" }, body: "{}" });
  await assertErrorPage(t, json, 415, "invalid_request");
  const unknown = await fetch(`${s.httpUrl}/services/oauth2/nobody/nothing/logout`, { redirect: "manual" });
  await assertErrorPage(t, unknown, 404, "not_found");
});

test("one logout ends the session for every client it signed into", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  await seedRp(s, "shop");
  const browser = new Browser();
  const app = await signIn(s, browser, "app");
  const shop = await signIn(s, browser, "shop");
  t.is(app.sid, shop.sid, "one sign-in served both clients");
  const res = await browser.get(`${s.project}/logout?id_token_hint=${shop.idToken}`);
  t.is(res.status, 200);
  t.false(await sessionLive(s, app.sid));
  t.false((await s.tokens.verifyToken({ token: app.accessToken })).active);
  t.false((await s.tokens.verifyToken({ token: shop.accessToken })).active);
});

test("a confirmation in the query string counts for nothing: only the confirmation form's POST carries it", async (t) => {
  const s = await serveLogout(t);
  await seedRp(s, "app");
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "app");
  const ask = await browser.get(`${s.project}/logout`);
  const confirmation = hiddenInput(await ask.text(), "confirmation")!;
  const viaGet = await browser.get(`${s.project}/logout?confirmation=${confirmation}`);
  t.is(viaGet.status, 200);
  t.true((await viaGet.text()).includes('id="logout-form"'));
  t.true(await sessionLive(s, signedIn.sid));
});
