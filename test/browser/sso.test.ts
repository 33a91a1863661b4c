/**
 * Single sign-on in a real browser (headless Debian chromium through
 * playwright-core), with clients nobody here wrote: one password entry for a
 * server-side web application serves a single-page application on another
 * loopback origin that uses oidc-client-ts (sign-in, silent renew by refresh
 * token and by a hidden iframe with prompt=none, sign-out), and the web
 * application learns of the sign-out by back-channel logout.
 *
 * Every server is on 127.0.0.1, each on its own port: different origins, one
 * site. So the SameSite=Lax session cookie goes with the silent renew's
 * iframe, as it would for an application and iam-core under one registrable
 * domain (app.example.com and id.example.com).
 */
import { randomBytes } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import type { Page, Request } from "playwright-core";
import { screenshot, useBrowser } from "./_browser.js";
import { registerSpaClient, registerWebClient, startIdentityProvider, USER, type IdentityProvider } from "./sso/identity-provider.js";
import { startRelyingParty, type RelyingParty } from "./sso/relying-party.js";
import { startSpa, type Spa, type SpaUser } from "./sso/spa.js";

const browser = useBrowser(test);

const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
const random = () => randomBytes(16).toString("base64url");

interface Discovery {
  issuer: string;
  jwks_uri: string;
  end_session_endpoint: string;
  backchannel_logout_supported: boolean;
  backchannel_logout_session_supported: boolean;
}

/** iam-core, the web application (client `web`), the single-page application (client `spa`), and a browser page. */
async function setup(t: ExecutionContext) {
  // Ask for the browser first: without chromium the test fails with that reason alone.
  const b = browser();
  const [idp, rp, spa] = await Promise.all([startIdentityProvider(t), startRelyingParty(t), startSpa(t)]);
  const web = await registerWebClient(idp, { id: "web", redirectUri: rp.redirectUri, backchannelLogoutUri: rp.backchannelLogoutUri });
  await registerSpaClient(idp, {
    id: "spa",
    origin: spa.origin,
    redirectUris: [spa.redirectUri, spa.silentRedirectUri],
    postLogoutRedirectUri: spa.postLogoutRedirectUri,
  });
  spa.configure({ authority: idp.issuer, client_id: "spa" });
  const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Discovery;

  const context = await b.newContext();
  t.teardown(() => context.close());
  // Bounds navigations and waits on a busy machine, within ava's timeout.
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  // Every request the page (and its frames) sends to iam-core, and what the page logged.
  const sent: Request[] = [];
  const logged: string[] = [];
  page.on("request", (r) => void (r.url().startsWith(`${idp.origin}/`) && sent.push(r)));
  page.on("console", (m) => void logged.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (err) => void logged.push(`pageerror: ${err.message}`));
  return { idp, rp, spa, web, discovery, context, page, sent, logged };
}

/** Sign-ins: the login form's posts (POST /authorize with credentials) among the requests sent. */
const passwordPosts = (idp: IdentityProvider, sent: Request[]) =>
  sent.filter((r) => r.method() === "POST" && r.url() === `${idp.issuer}/authorize` && (r.postData() ?? "").includes("password="));

const requestsTo = (sent: Request[], url: string) => sent.filter((r) => r.url().split("?")[0] === url);

/**
 * Waits until the page shows `selector` or the SPA reports an error; throws
 * the error, with what the page logged.
 */
async function waitFor(page: Page, selector: string, logged: string[]): Promise<void> {
  await page.waitForSelector(`${selector}, body[data-outcome="error"]`);
  if ((await page.locator('body[data-outcome="error"]').count()) > 0) {
    throw new Error(`the application failed on ${page.url()}: ${await page.locator("#outcome").textContent()}\n${logged.join("\n")}`);
  }
}

/** Waits for the SPA's outcome on its callback page; answers its details. */
async function outcome<T>(page: Page, expected: string, logged: string[]): Promise<T> {
  await waitFor(page, `body[data-outcome="${expected}"]`, logged);
  return JSON.parse((await page.locator("#outcome").textContent()) ?? "null") as T;
}

/** The ID token, verified as a relying party does: the project's JWKS, its issuer, the audience, RS256. */
async function verifyIdToken(idp: IdentityProvider, discovery: Discovery, token: string, audience: string): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer: idp.issuer,
    audience,
    algorithms: ["RS256"],
  });
  return payload;
}

/** The web application's sign-in, in the browser: its authorization request, up to the page iam-core shows. */
async function startWebSignIn(page: Page, idp: IdentityProvider, rp: RelyingParty): Promise<{ state: string; nonce: string }> {
  const state = random();
  const nonce = random();
  const query = new URLSearchParams({ response_type: "code", client_id: "web", redirect_uri: rp.redirectUri, scope: "openid profile", state, nonce });
  await page.goto(`${idp.issuer}/authorize?${query}`);
  return { state, nonce };
}

/** The code exchange of the web application (a confidential client), server to server. */
async function webTokens(idp: IdentityProvider, rp: RelyingParty, web: { id: string; secret: string }, code: string) {
  const res = await fetch(`${idp.issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${web.id}:${web.secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: rp.redirectUri }),
  });
  if (res.status !== 200) throw new Error(`code exchange: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id_token: string; refresh_token: string; access_token: string };
}

test.serial("one sign-in serves a web application and a single-page application (oidc-client-ts); its sign-out ends the session and tells the web application", async (t) => {
  const { idp, rp, spa, web, discovery, context, page, sent, logged } = await setup(t);
  t.is(discovery.issuer, idp.issuer);
  t.is(discovery.end_session_endpoint, `${idp.issuer}/logout`);
  t.true(discovery.backchannel_logout_supported);
  t.true(discovery.backchannel_logout_session_supported);

  // 1. The web application: the login form, one password entry, consent, back with a code.
  const webRequest = await startWebSignIn(page, idp, rp);
  await page.waitForSelector("form#login-form");
  await screenshot(t, page, "1-web-login");
  await page.locator("#username").fill(USER.id);
  await page.locator("#password").fill(USER.password);
  await page.locator("#sign-in").click();
  await page.waitForSelector("form#consent-form");
  await page.locator("#approve").click();
  await page.waitForSelector("#rp-signed-in");
  const back = new URL(page.url());
  t.is(`${back.origin}${back.pathname}`, rp.redirectUri);
  t.is(back.searchParams.get("state"), webRequest.state);
  t.is(back.searchParams.get("iss"), idp.issuer);
  const webSignIn = await webTokens(idp, rp, web, back.searchParams.get("code") ?? "");
  const webIdToken = await verifyIdToken(idp, discovery, webSignIn.id_token, "web");
  t.is(webIdToken.sub, USER.id);
  t.is(webIdToken.nonce, webRequest.nonce);
  const sid = webIdToken.sid;
  t.true(typeof sid === "string" && sid !== "", "the ID token names its sign-in session (sid)");
  t.is(passwordPosts(idp, sent).length, 1);

  // 2. The single-page application, another origin of the same site: signinRedirect, no password.
  await page.goto(spa.origin);
  await waitFor(page, 'body[data-outcome="ready"]', logged);
  await page.evaluate("window.spa.signIn()");
  await waitFor(page, "form#consent-form", logged);
  await screenshot(t, page, "2-spa-consent-without-password");
  t.true(page.url().startsWith(`${idp.issuer}/authorize?`), page.url());
  t.is(await page.locator("form#login-form, input[type=password]").count(), 0, "the login form is not shown again");
  await page.locator("#approve").click();
  const spaUser = await outcome<SpaUser>(page, "signed-in", logged);
  await screenshot(t, page, "3-spa-signed-in");
  t.is(passwordPosts(idp, sent).length, 1, "no second password entry");
  const spaIdToken = await verifyIdToken(idp, discovery, spaUser.id_token, "spa");
  t.is(spaIdToken.sub, USER.id);
  t.is(spaIdToken.sid, sid, "the same sign-in session");
  // loadUserInfo: the profile gained the name from UserInfo (a cross-origin call with a bearer token).
  t.is(spaUser.profile.name, USER.name);
  t.is(spaUser.profile.sid, sid);
  t.truthy(spaUser.refresh_token, "a refresh token for silent renew");
  t.true(requestsTo(sent, `${idp.issuer}/userinfo`).length > 0, "UserInfo was called from the page");

  // 3. Silent renew with the refresh token: POST /token from the page, no authorization request.
  const authorizeBefore = requestsTo(sent, `${idp.issuer}/authorize`).length;
  const refreshed = await page.evaluate<SpaUser>("window.spa.renew(false)");
  t.is(requestsTo(sent, `${idp.issuer}/authorize`).length, authorizeBefore, "no authorization request");
  t.true(
    requestsTo(sent, `${idp.issuer}/token`).some((r) => r.method() === "POST" && (r.postData() ?? "").includes("grant_type=refresh_token")),
    "a refresh_token grant at /token",
  );
  t.not(refreshed.access_token, spaUser.access_token);
  t.truthy(refreshed.refresh_token);
  t.not(refreshed.refresh_token, spaUser.refresh_token, "the refresh token rotated");
  t.is((await verifyIdToken(idp, discovery, refreshed.id_token, "spa")).sid, sid);

  // 4. Silent renew in a hidden iframe: prompt=none with the ID token as hint, answered by the session cookie.
  const silent = await page.evaluate<SpaUser>("window.spa.renew(true)");
  const silentRequests = requestsTo(sent, `${idp.issuer}/authorize`).slice(authorizeBefore);
  t.is(silentRequests.length, 1, "one authorization request, from the iframe");
  const silentRequest = silentRequests[0]!;
  t.not(silentRequest.frame(), page.mainFrame(), "sent by the iframe");
  const silentQuery = new URL(silentRequest.url()).searchParams;
  t.is(silentQuery.get("prompt"), "none");
  t.is(silentQuery.get("id_token_hint"), refreshed.id_token);
  t.is(silentQuery.get("redirect_uri"), spa.silentRedirectUri);
  const silentAnswer = await silentRequest.response();
  t.is(silentAnswer?.status(), 302);
  const silentBack = new URL((await silentAnswer?.headerValue("location")) ?? "about:blank");
  t.is(`${silentBack.origin}${silentBack.pathname}`, spa.silentRedirectUri);
  t.truthy(silentBack.searchParams.get("code"));
  t.is(silentBack.searchParams.get("error"), null);
  t.not(silent.access_token, refreshed.access_token);
  const silentIdToken = await verifyIdToken(idp, discovery, silent.id_token, "spa");
  t.is(silentIdToken.sid, sid);
  t.is(silentIdToken.auth_time, webIdToken.auth_time, "the same sign-in, not a new one");
  t.is(passwordPosts(idp, sent).length, 1, "still one password entry");

  // 5. signoutRedirect: revocation from the page, then RP-Initiated Logout with id_token_hint, back to the SPA with state.
  t.deepEqual(rp.deliveries, [], "no logout yet");
  await page.evaluate("window.spa.signOut('see you')");
  const signedOut = await outcome<{ state: string | null; error: string | null }>(page, "signed-out", logged);
  await screenshot(t, page, "4-spa-signed-out");
  t.deepEqual(signedOut, { state: "see you", error: null });
  t.true(requestsTo(sent, `${idp.issuer}/revoke`).length > 0, "oidc-client-ts revoked its tokens");
  const logouts = requestsTo(sent, `${idp.issuer}/logout`);
  t.is(logouts.length, 1);
  const logoutQuery = new URL(logouts[0]!.url()).searchParams;
  t.is(logoutQuery.get("id_token_hint"), silent.id_token);
  t.is(logoutQuery.get("post_logout_redirect_uri"), spa.postLogoutRedirectUri);
  const logoutAnswer = await logouts[0]!.response();
  t.is(logoutAnswer?.status(), 302, "ended at once: the hint names the session's user and sid");
  t.true(((await logoutAnswer?.headerValue("location")) ?? "").startsWith(`${spa.postLogoutRedirectUri}?`));
  t.false((await context.cookies(idp.issuer)).some((c) => c.name === "iam_session"), "the session cookie is gone");

  // 6. Back-channel logout: the web application receives a logout token for the session, verified against the JWKS.
  const delivery = await rp.nextDelivery(10_000);
  t.regex(delivery.contentType, /^application\/x-www-form-urlencoded/);
  const { payload: logoutToken, protectedHeader } = await jwtVerify(
    delivery.form.get("logout_token") ?? "",
    createRemoteJWKSet(new URL(discovery.jwks_uri)),
    { issuer: idp.issuer, audience: "web", typ: "logout+jwt", algorithms: ["RS256"] },
  );
  t.is(protectedHeader.typ, "logout+jwt");
  t.is(logoutToken.sid, sid);
  t.is(logoutToken.sub, USER.id);
  t.deepEqual(logoutToken.events, { [BACKCHANNEL_LOGOUT_EVENT]: {} });
  t.is(logoutToken.nonce, undefined, "a logout token carries no nonce");
  t.is(typeof logoutToken.jti, "string");
  t.is(rp.deliveries.length, 1, "one delivery: the SPA registered no back-channel URI");

  // 7. Ending the session revoked what was issued under it, the web application's refresh token too.
  const afterLogout = await fetch(`${idp.issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${web.id}:${web.secret}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: webSignIn.refresh_token }),
  });
  t.is(afterLogout.status, 400);
  t.is(((await afterLogout.json()) as { error: string }).error, "invalid_grant");

  // 8. No session any more: a silent renew answers login_required, and the web application's sign-in asks for the password.
  const renewAfterLogout = await page.evaluate<string>("window.spa.renew(true).then(() => 'renewed', (err) => err.error || err.message)");
  t.is(renewAfterLogout, "login_required");
  await startWebSignIn(page, idp, rp);
  await page.waitForSelector("form#login-form");
  await screenshot(t, page, "5-web-login-again");
  t.is(await page.locator("form#login-form input#password[type=password]").count(), 1);

  // The authorization endpoint never answered with CORS headers.
  for (const request of requestsTo(sent, `${idp.issuer}/authorize`)) {
    const response = await request.response();
    if (response === null) continue;
    const headers = await response.allHeaders();
    t.is(headers["access-control-allow-origin"], undefined, `${request.method()} ${response.status()} ${request.url()}`);
  }
});

test.serial("the authorization endpoint sends no CORS header, even to a registered web origin: a page's script reads discovery, never /authorize", async (t) => {
  const { idp, spa, page, logged } = await setup(t);
  await page.goto(spa.origin);
  await waitFor(page, 'body[data-outcome="ready"]', logged);
  const authorizeUrl = `${idp.issuer}/authorize?${new URLSearchParams({
    response_type: "code",
    client_id: "spa",
    redirect_uri: spa.redirectUri,
    scope: "openid",
    state: random(),
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  })}`;

  const discoveryRead = await page.evaluate<{ status?: number; refused?: string }>(
    `window.spa.read(${JSON.stringify(`${idp.issuer}/.well-known/openid-configuration`)})`,
  );
  t.deepEqual(discoveryRead, { status: 200 });
  const authorizeRead = await page.evaluate<{ status?: number; refused?: string }>(`window.spa.read(${JSON.stringify(authorizeUrl)})`);
  t.is(authorizeRead.status, undefined, "the browser withholds the answer");
  t.regex(authorizeRead.refused ?? "", /^TypeError: Failed to fetch/);

  // As the server sends it, with the SPA's registered origin: no CORS header on the request or its preflight.
  const got = await fetch(authorizeUrl, { redirect: "manual", headers: { origin: spa.origin } });
  t.is(got.status, 200);
  const preflight = await fetch(authorizeUrl, {
    method: "OPTIONS",
    headers: { origin: spa.origin, "access-control-request-method": "GET" },
  });
  for (const [what, res] of [["GET", got], ["OPTIONS", preflight]] as const) {
    const cors = [...res.headers.keys()].filter((name) => name.startsWith("access-control-"));
    t.deepEqual(cors, [], `${what} /authorize: ${cors.join(", ")}`);
  }
});
