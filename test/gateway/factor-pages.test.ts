/**
 * The second step of a sign-in over HTTP: the enrolment page (QR code and
 * key, no script unless a passkey is offered, then only the gateway's two
 * scripts), a wrong code shown again in place, the recovery codes page with
 * the consent form, the challenge page at the next sign-in, the JSON
 * variants, and the scripts themselves.
 */
import test from "ava";
import { totpCode } from "../../core/factors/totp.js";
import { ADMIN_PASSWORD, BASE_URL, DEFAULT, DEFAULT_REDIRECT, type TestServer } from "../helpers.js";
import { SoftAuthenticator } from "../factors/_authenticator.js";
import { adminRequest, assertPageHeaders, authorizeUrl, browserCookie, get, postForm, postJson, requestIdOf, serve, setCookies } from "./_support.js";

const everyone = (s: TestServer) => s.core.deps.store.setMfaPolicy({ ...DEFAULT, required: "everyone", roles: [], passwordless: false });

/** GET /authorize then the password form: the response and the browser's cookie. */
async function password(s: TestServer) {
  const start = await get(authorizeUrl(s, adminRequest()));
  const cookie = browserCookie(start);
  const request_id = requestIdOf(await start.text());
  const res = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
  return { res, page: await res.text(), cookie, request_id };
}

/** A JSON answer's fields. */
const bodyOf = async (res: Response): Promise<Record<string, any>> => (await res.json()) as Record<string, any>;

const secretOf = (page: string) => /<code id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(page)![1]!.replace(/ /g, "");
const factorIdOf = (page: string) => /name="factor_id" value="([^"]+)"/.exec(page)![1]!;

test("enrolment page: QR code and key, a passkey option allowed by its two scripts only; a wrong code shows the same key again; the right one shows ten recovery codes with the consent form", async (t) => {
  const s = await serve(t);
  await everyone(s);
  const { res, page, cookie, request_id } = await password(s);
  t.is(res.status, 200, page);
  assertPageHeaders(t, res);
  const csp = res.headers.get("content-security-policy")!;
  t.regex(csp, /script-src http:\/\/iam\.test\/assets\/webauthn\.js http:\/\/iam\.test\/assets\/passkey\.js;/);
  t.notRegex(csp, /unsafe-inline|'self'/);
  t.notRegex(page, /<script>|<script [^>]*>[^<]/, "no inline script");
  t.regex(page, /<h1>Set up two-step verification<\/h1>/);
  t.regex(page, /<figure class="qr" role="img" aria-label="[^"]+"><svg /);
  t.regex(page, /data-passkey="register" data-options="\{&quot;challenge&quot;/);
  t.is(setCookies(res).filter((c) => c.startsWith("iam_session")).length, 0, "no session before the second factor");
  const secret = secretOf(page);
  const factor_id = factorIdOf(page);

  const wrong = await postForm(`${s.project}/factor`, { request_id, step: "enrol", factor_id, totp_code: "000000" }, { cookie });
  const wrongPage = await wrong.text();
  t.is(wrong.status, 401, wrongPage);
  t.regex(wrongPage, /<p id="factor-error" class="alert" role="alert">The code is not valid\.<\/p>/);
  t.regex(wrongPage, /aria-invalid="true"/);
  t.is(secretOf(wrongPage), secret, "the same key: the app has it already");

  const right = await postForm(`${s.project}/factor`, { request_id, step: "enrol", factor_id, totp_code: totpCode(secret, s.clock.now()) }, { cookie });
  const codesPage = await right.text();
  t.is(right.status, 200, codesPage);
  assertPageHeaders(t, right);
  t.notRegex(right.headers.get("content-security-policy")!, /script-src/);
  t.is([...codesPage.matchAll(/<li><code>[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}<\/code><\/li>/g)].length, 10);
  t.regex(codesPage, /action="\/services\/oauth2\/iam-admins\/iam-admins\/consent"/);
  t.true(setCookies(right).some((c) => c.startsWith("iam_session=")), "the session opens now");
  // Neither the key nor a code reaches the logs.
  t.false(s.lines.join("").includes(secret));
});

test("the next sign-in shows the challenge page; a used code is refused in place; recovery code form without script", async (t) => {
  const s = await serve(t);
  await everyone(s);
  const first = await password(s);
  const secret = secretOf(first.page);
  await postForm(`${s.project}/factor`, { request_id: first.request_id, step: "enrol", factor_id: factorIdOf(first.page), totp_code: totpCode(secret, s.clock.now()) }, { cookie: first.cookie });

  const { res, page, cookie, request_id } = await password(s);
  t.is(res.status, 200, page);
  t.regex(page, /<h1>Verify it's you<\/h1>/);
  t.regex(page, /autocomplete="one-time-code"/);
  t.regex(page, /<details id="recovery"><summary>Use a recovery code<\/summary>/);
  t.notRegex(res.headers.get("content-security-policy")!, /script-src/, "no passkey, no script");
  const used = await postForm(`${s.project}/factor`, { request_id, step: "verify", totp_code: totpCode(secret, s.clock.now()) }, { cookie });
  t.is(used.status, 401);
  t.regex(await used.text(), /The code is not valid\./);
  s.clock.advance(30);
  const ok = await postForm(`${s.project}/factor`, { request_id, step: "verify", totp_code: totpCode(secret, s.clock.now()) }, { cookie });
  t.is(ok.status, 200);
  t.regex(await ok.text(), /consent/);
});

test("a form post of the second step from another browser is refused (login CSRF)", async (t) => {
  const s = await serve(t);
  await everyone(s);
  const { page, request_id } = await password(s);
  const res = await postForm(`${s.project}/factor`, { request_id, step: "enrol", factor_id: factorIdOf(page), totp_code: "000000" }, { cookie: "iam_browser=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
  t.is(res.status, 403);
});

test("JSON clients drive the same steps: second_factor, a TOTP secret, passkey options, then recovery codes and scopes", async (t) => {
  const s = await serve(t);
  await everyone(s);
  const start = await bodyOf(await get(authorizeUrl(s, adminRequest()), { accept: "application/json" }));
  const request_id = start.request_id as string;
  const login = await postJson(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD });
  t.is(login.status, 200);
  t.deepEqual(await bodyOf(login), { request_id, second_factor: { stage: "enrol", methods: ["totp", "passkey"] } });

  const options = await postJson(`${s.project}/factor/passkey-options`, { request_id, purpose: "register" });
  t.is(options.status, 200);
  const creation = await bodyOf(options);
  t.is(creation.rp.id, "iam.test");
  t.regex(creation.challenge, /^[A-Za-z0-9_-]{43}$/);

  const totp = await postJson(`${s.project}/factor/totp`, { request_id });
  const { factor_id, secret, uri } = await bodyOf(totp);
  t.regex(uri, /^otpauth:\/\/totp\//);
  const wrong = await postJson(`${s.project}/factor`, { request_id, step: "enrol", factor_id, totp_code: "000000" });
  t.is(wrong.status, 401);
  t.deepEqual(await bodyOf(wrong), { error: "access_denied", error_description: "the code is not valid" });
  const done = await postJson(`${s.project}/factor`, { request_id, step: "enrol", factor_id, totp_code: totpCode(secret, s.clock.now()) });
  t.is(done.status, 200);
  const body = await bodyOf(done);
  t.is(body.recovery_codes.length, 10);
  t.deepEqual(body.scopes.map((x: { name: string }) => x.name), ["iam.global.admin"]);
  void DEFAULT_REDIRECT;
});

test("a step that is not due is refused with invalid_request; a bad step name is 400", async (t) => {
  const s = await serve(t);
  const start = await bodyOf(await get(authorizeUrl(s, adminRequest()), { accept: "application/json" }));
  const request_id = start.request_id as string;
  const early = await postJson(`${s.project}/factor`, { request_id, step: "verify", totp_code: "123456" });
  t.is(early.status, 400);
  t.is((await bodyOf(early)).error, "invalid_request");
  const bad = await postJson(`${s.project}/factor`, { request_id, step: "other" });
  t.is(bad.status, 400);
  // A passkey alone where the project does not allow it.
  const alone = await postJson(`${s.project}/factor/passkey-options`, { request_id, purpose: "authenticate" });
  t.is(alone.status, 400);
  t.regex((await bodyOf(alone)).error_description, /does not allow signing in with a passkey alone/);
});

test("the scripts are served with a JavaScript type, nosniff and a cache lifetime; other assets are 404", async (t) => {
  const s = await serve(t);
  for (const name of ["webauthn.js", "passkey.js"]) {
    const res = await get(`${s.httpUrl}/assets/${name}`);
    t.is(res.status, 200);
    t.is(res.headers.get("content-type"), "text/javascript; charset=utf-8");
    t.is(res.headers.get("x-content-type-options"), "nosniff");
    t.is(res.headers.get("cache-control"), "public, max-age=3600");
    t.true((await res.text()).length > 500);
  }
  t.is((await get(`${s.httpUrl}/assets/other.js`)).status, 404);
  // Names an object inherits: nothing either (an object lookup answered {} or a 500).
  for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) t.is((await get(`${s.httpUrl}/assets/${name}`)).status, 404, name);
  t.is((await get(`${s.httpUrl}/assets/..%2Fpackage.json`)).status, 404);
});

test("on a project that allows a passkey alone, the login page shown again after a wrong password offers it again, with a new ceremony", async (t) => {
  const s = await serve(t);
  await s.core.deps.store.setMfaPolicy({ ...DEFAULT, required: "optional", roles: [], passwordless: true });
  const start = await get(authorizeUrl(s, adminRequest()));
  const first = await start.text();
  t.regex(first, /id="passkey-signin-form"/);
  const cookie = browserCookie(start);
  const request_id = requestIdOf(first);
  const wrong = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: "wrong" }, { cookie });
  const again = await wrong.text();
  t.is(wrong.status, 401);
  t.regex(again, /Invalid username or password\./);
  t.regex(again, /id="passkey-signin-form"/);
  t.regex(wrong.headers.get("content-security-policy")!, /script-src http:\/\/iam\.test\/assets\/webauthn\.js/);
  const challenge = (html: string) => /&quot;challenge&quot;:&quot;([^&]+)&quot;/.exec(html)![1];
  t.not(challenge(again), challenge(first), "a new challenge: each is answered once");
});

test("iam_action=add_factor: the login page though a session is live, the challenge, then the Add a sign-in method page", async (t) => {
  const s = await serve(t);
  await everyone(s);
  const first = await password(s);
  const secret = secretOf(first.page);
  const enrolled = await postForm(`${s.project}/factor`, { request_id: first.request_id, step: "enrol", factor_id: factorIdOf(first.page), totp_code: totpCode(secret, s.clock.now()) }, { cookie: first.cookie });
  const session = setCookies(enrolled).find((c) => c.startsWith("iam_session="))!.split(";")[0]!;
  s.clock.advance(30);

  const start = await get(authorizeUrl(s, adminRequest({ iam_action: "add_factor" })), { cookie: `${first.cookie}; ${session}` });
  const login = await start.text();
  t.regex(login, /name="password"/, "a new sign-in, whatever the session");
  const request_id = requestIdOf(login);
  const cookie = `${first.cookie}; ${session}`;
  const challenge = await postForm(`${s.project}/authorize`, { request_id, username: "admin", password: ADMIN_PASSWORD }, { cookie });
  t.regex(await challenge.text(), /<h1>Verify it's you<\/h1>/);
  const adding = await postForm(`${s.project}/factor`, { request_id, step: "verify", totp_code: totpCode(secret, s.clock.now()) }, { cookie });
  const page = await adding.text();
  t.is(adding.status, 200, page);
  t.regex(page, /<h1>Add a sign-in method<\/h1>/);
  t.regex(page, /data-passkey="register"/);
  t.not(secretOf(page), secret, "a new authenticator app's key");
});

test("a passkey alone refused (a clone whose counter is behind) shows the login page again, with the names and a new passkey ceremony, not a second step", async (t) => {
  const s = await serve(t);
  await everyone(s);
  const first = await password(s);
  const key = new SoftAuthenticator(BASE_URL);
  const options = /data-passkey="register" data-options="([^"]+)"/.exec(first.page)![1]!.replace(/&quot;/g, '"');
  const enrolled = await postForm(`${s.project}/factor`, { request_id: first.request_id, step: "enrol", passkey_response: key.register(options, { counter: 7 }) }, { cookie: first.cookie });
  t.is(enrolled.status, 200);
  await s.core.deps.store.setMfaPolicy({ ...DEFAULT, required: "everyone", roles: [], passwordless: true });

  const start = await get(authorizeUrl(s, adminRequest()));
  const login = await start.text();
  const cookie = browserCookie(start);
  const request_id = requestIdOf(login);
  const signIn = /id="passkey-signin-form"[^>]* data-options="([^"]+)"/.exec(login)![1]!.replace(/&quot;/g, '"');
  const refused = await postForm(`${s.project}/factor`, { request_id, step: "passkey", passkey_response: key.assert(signIn, { counter: 3 }) }, { cookie });
  const again = await refused.text();
  t.is(refused.status, 401, again);
  t.regex(again, /The passkey could not be verified\./);
  t.regex(again, /IAM administration client/, "the client's name, not a placeholder");
  t.regex(again, /name="password"/, "the login page");
  t.regex(again, /id="passkey-signin-form"/, "offering a passkey again");
  t.is(setCookies(refused).filter((c) => c.startsWith("iam_session")).length, 0);
  const [stored] = (await s.core.deps.store.listFactors(DEFAULT, "admin")).filter((f) => f.kind === "passkey");
  t.is(stored!.counter, 7, "unchanged");
});
