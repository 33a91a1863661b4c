/**
 * Multi-factor sign-in in a real browser (headless Debian chromium through
 * playwright-core): an authenticator app enrolled by reading its key from the
 * page, passkeys made and used through Chrome's virtual authenticator (the
 * DevTools protocol's WebAuthn domain), a recovery code, and a cloned
 * authenticator refused.
 *
 * The servers' base URL is http://localhost:PORT and the browser visits them
 * there: WebAuthn needs a secure context whose host is the relying party the
 * base URL names. The client's redirect URI is then the gateway's own
 * /redirect page, which shows the code.
 */
import { randomBytes } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { decodeJwt, type JWTPayload } from "jose";
import type { Browser, BrowserContext, CDPSession, Page, Response } from "playwright-core";
import { MFA_ACR } from "../../core/factors/levels.js";
import { totpCode } from "../../core/factors/totp.js";
import type { FactorRecord } from "../../core/store/types.js";
import { ADMIN_PASSWORD, DEFAULT, pkcePair, startTestServer, type TestServer } from "../helpers.js";
import { ADMIN_SCOPE, adminBasic, authorizeUrl, token } from "../gateway/_support.js";
import { assertPageHeaders, countOf, navigation, open, screenshot, textOf, useBrowser } from "./_browser.js";

const browser = useBrowser(test);

type Policy = { required: "optional" | "everyone"; passwordless: boolean };

/** A core and gateway at http://localhost:PORT under this multi-factor policy, closed when the test ends. */
async function serve(t: ExecutionContext, policy: Policy = { required: "everyone", passwordless: false }): Promise<{ b: Browser; s: TestServer }> {
  // Ask for the browser first: without chromium the test fails with that reason alone.
  const b = browser();
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  await setPolicy(s, policy);
  return { b, s };
}

const setPolicy = (s: TestServer, policy: Policy) => s.core.deps.store.setMfaPolicy({ ...DEFAULT, roles: [], ...policy });

/** What the browser reported of one context's pages: CSP violations and uncaught errors. */
interface Reported {
  csp: string[];
  errors: string[];
}

/** A fresh browser context (no cookies) and its page, closed when the test ends; what its pages report is collected. */
async function newBrowser(t: ExecutionContext, b: Browser): Promise<{ context: BrowserContext; page: Page; reported: Reported }> {
  const context = await b.newContext();
  t.teardown(() => context.close());
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  const reported: Reported = { csp: [], errors: [] };
  page.on("console", (m) => {
    if (/Content[- ]Security[- ]Policy|Refused to (load|execute|apply|run)/i.test(m.text())) reported.csp.push(`${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => reported.errors.push(`${page.url()}: ${e.message}`));
  return { context, page, reported };
}

/** Chrome's virtual authenticator on this page: a platform authenticator that keeps discoverable credentials and verifies its user. */
async function virtualAuthenticator(page: Page): Promise<{ cdp: CDPSession; authenticatorId: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  return { cdp, authenticatorId };
}

/** One authorization request of the default client: its URL, and what checks its answer. */
function request(s: TestServer) {
  const { verifier, challenge } = pkcePair(randomBytes(32).toString("base64url"));
  const state = randomBytes(16).toString("base64url");
  const nonce = randomBytes(16).toString("base64url");
  const redirectUri = `${s.project}/redirect`;
  const url = authorizeUrl(s, {
    response_type: "code",
    client_id: "admin-client",
    redirect_uri: redirectUri,
    scope: `openid ${ADMIN_SCOPE}`,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  return { url, state, nonce, verifier, redirectUri };
}

/** The headers of a page that offers a passkey: as every page's, but the gateway's two scripts allowed, by URL, and nothing else. */
async function assertPasskeyPageHeaders(t: ExecutionContext, s: TestServer, response: Response): Promise<void> {
  const headers = await response.allHeaders();
  const csp = (headers["content-security-policy"] ?? "").split(";").map((d) => d.trim());
  t.true(csp.includes("default-src 'none'"), csp.join("; "));
  t.true(csp.includes("frame-ancestors 'none'"), csp.join("; "));
  t.deepEqual(
    csp.filter((d) => d.startsWith("script-src")),
    [`script-src ${s.httpUrl}/assets/webauthn.js ${s.httpUrl}/assets/passkey.js`],
  );
  t.is(headers["x-frame-options"], "DENY");
  t.is(headers["cache-control"], "no-store");
}

/** Opens the login page of `url`; answers its response. */
async function loginPage(t: ExecutionContext, page: Page, url: string, step: string): Promise<Response> {
  const response = await open(page, url);
  t.is(response.status(), 200, step);
  t.is(await countOf(page, "form#login-form"), 1, `${step}: the login form`);
  await screenshot(t, page, step);
  return response;
}

/** Types the admin's username and password with the keyboard and submits with Enter; answers the page that follows. */
async function typePassword(t: ExecutionContext, page: Page, step: string): Promise<Response> {
  await page.locator("#username").focus();
  await page.keyboard.type("admin");
  await page.keyboard.press("Tab");
  await page.keyboard.type(ADMIN_PASSWORD);
  const { response } = await navigation(page, () => page.keyboard.press("Enter"));
  await screenshot(t, page, step);
  return response;
}

/** Types a code into a field with the keyboard and submits it with Enter; answers the page that follows. */
async function typeCode(t: ExecutionContext, page: Page, field: string, code: string, step: string): Promise<Response> {
  await page.locator(field).focus();
  await page.keyboard.type(code);
  const { response } = await navigation(page, () => page.keyboard.press("Enter"));
  await screenshot(t, page, step);
  return response;
}

/** Presses a passkey button (its ceremony runs, then the page posts the answer); answers the page that follows. */
async function usePasskey(t: ExecutionContext, page: Page, name: string, step: string): Promise<Response> {
  const button = page.getByRole("button", { name, exact: true });
  t.is(await button.count(), 1, `one "${name}" button`);
  t.true(await button.isEnabled(), `"${name}" is enabled: WebAuthn is there`);
  const { response } = await navigation(page, () => button.click());
  await screenshot(t, page, step);
  return response;
}

/**
 * Allows everything on the consent page: the client's /redirect page shows
 * the code. Answers the ID token the code is exchanged for, after checking
 * the state, the issuer and the nonce.
 */
async function approve(t: ExecutionContext, s: TestServer, page: Page, req: ReturnType<typeof request>, step: string): Promise<JWTPayload> {
  t.is(await countOf(page, "form#consent-form button#approve"), 1, "the consent form");
  const { response, hops } = await navigation(page, () => page.locator("#approve").click());
  await screenshot(t, page, step);
  t.deepEqual(
    hops.map((hop) => `${hop.request().method()} ${hop.status()}`),
    ["POST 303"],
  );
  t.is(response.status(), 200);
  t.is(page.url().split("?")[0], req.redirectUri);
  const query = new URL(page.url()).searchParams;
  t.is(query.get("state"), req.state);
  t.is(query.get("iss"), s.project);
  const code = query.get("code") ?? "";
  t.is(await textOf(page, "#code"), code);
  const res = await token(s, { grant_type: "authorization_code", code, redirect_uri: req.redirectUri, code_verifier: req.verifier }, adminBasic());
  const body = (await res.json()) as { id_token?: string };
  t.is(res.status, 200, JSON.stringify(body));
  const id = decodeJwt(body.id_token ?? "");
  t.is(id.iss, s.project);
  t.is(id.sub, "admin");
  t.is(id["nonce"], req.nonce);
  return id;
}

/** The admin's factors of a kind, as stored. */
const factorsOf = async (s: TestServer, kind: FactorRecord["kind"]) => (await s.core.deps.store.listFactors(DEFAULT, "admin")).filter((f) => f.kind === kind);

/** The one factor of a kind the admin has. */
async function onlyFactor(t: ExecutionContext, s: TestServer, kind: FactorRecord["kind"]): Promise<FactorRecord> {
  const found = await factorsOf(s, kind);
  t.is(found.length, 1, `one ${kind}`);
  return found[0]!;
}

/** Neither a CSP violation nor an uncaught error on any page of the context. */
function assertQuiet(t: ExecutionContext, reported: Reported): void {
  t.deepEqual(reported.csp, [], "no Content-Security-Policy violation");
  t.deepEqual(reported.errors, [], "no uncaught error");
}

/** The form-control ids of the page that no <label> with text names (evaluated as a string: no DOM lib in tsconfig). */
const UNLABELLED_CONTROLS = `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
  .filter((el) => ![...(el.labels ?? [])].some((label) => label.textContent.trim() !== ""))
  .map((el) => el.id || el.name || el.outerHTML)`;

const activeElementId = (page: Page) => page.evaluate<string>("document.activeElement ? document.activeElement.id : ''");

/** A six-digit code that no step of the window accepts. */
function wrongCode(secret: string, nowMs: number): string {
  const valid = new Set([-30_000, 0, 30_000].map((d) => totpCode(secret, nowMs + d)));
  let code = 123456;
  while (valid.has(String(code))) code++;
  return String(code);
}

test("an authenticator app enrolled from the page: a wrong code refused in place, then ten recovery codes, a multi-factor ID token, and at the next sign-in a recovery code", async (t) => {
  const { b, s } = await serve(t);
  const first = await newBrowser(t, b);
  const { page } = first;
  const req = request(s);
  await loginPage(t, page, req.url, "1-login");

  // The password alone does not sign in: the enrolment page.
  const enrol = await typePassword(t, page, "2-enrolment");
  t.is(enrol.status(), 200);
  await assertPasskeyPageHeaders(t, s, enrol);
  t.is(await textOf(page, "h1"), "Set up two-step verification");
  t.is((await page.context().cookies()).filter((c) => c.name.startsWith("iam_session")).length, 0, "no session before the second step");
  const qr = page.getByRole("img", { name: "QR code of the key below" });
  t.is(await qr.count(), 1, "the QR code is an image with an accessible name");
  t.is(await countOf(page, "figure.qr[role=img] > svg"), 1, "drawn as inline SVG");
  t.true((await qr.boundingBox())!.width >= 150, "large enough to scan");
  const shownKey = (await textOf(page, "#totp-secret")) ?? "";
  t.regex(shownKey, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, "the key in groups of four");
  const secret = shownKey.replace(/ /g, "");
  t.is(secret.length, 32, "160 bits, base32");
  t.deepEqual(
    await page.evaluate<number[]>(`(() => {
      const text = document.querySelector("#totp-secret").firstChild;
      return [...text.data.matchAll(/[^ ]+/g)].map((group) => {
        const range = document.createRange();
        range.setStart(text, group.index);
        range.setEnd(text, group.index + group[0].length);
        return range.getClientRects().length;
      });
    })()`),
    Array(8).fill(1),
    "the key wraps between groups, never inside one",
  );
  t.deepEqual(await page.evaluate<string[]>(UNLABELLED_CONTROLS), [], "every field labelled");
  t.is(await page.getByLabel("The app's 6-digit code").getAttribute("autocomplete"), "one-time-code");
  t.true(await page.getByRole("button", { name: "Create a passkey" }).isEnabled(), "a passkey is offered too");

  // A wrong code: announced, the field marked, the same key (the app has it already).
  const wrong = await typeCode(t, page, "#totp_code", wrongCode(secret, s.clock.now()), "3-wrong-code");
  t.is(wrong.status(), 401);
  t.is(await page.getByRole("alert").count(), 1);
  t.is(await textOf(page, "#factor-error"), "The code is not valid.");
  t.is(await page.locator("#totp_code").getAttribute("aria-invalid"), "true");
  t.is(await page.locator("#totp_code").getAttribute("aria-describedby"), "factor-error");
  t.is(await page.locator("#totp_code").inputValue(), "", "the field is empty for the next code");
  t.is(await textOf(page, "#totp-secret"), shownKey);
  t.is(await activeElementId(page), "totp_code", "focus is in the field, ready for the next code");

  // The right code, computed from the key on the page with the server's clock.
  const codes = await typeCode(t, page, "#totp_code", totpCode(secret, s.clock.now()), "4-recovery-codes");
  t.is(codes.status(), 200);
  await assertPageHeaders(t, codes);
  t.is(await page.locator("h1").first().textContent(), "Save your recovery codes");
  const recoveryCodes = await page.locator("ol#recovery-codes > li").allInnerTexts();
  t.is(recoveryCodes.length, 10);
  for (const code of recoveryCodes) t.regex(code.trim(), /^[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}$/);
  t.is(new Set(recoveryCodes).size, 10, "ten different codes");
  t.deepEqual(
    await page.evaluate<number[]>(`[...document.querySelectorAll("#recovery-codes code")].map((c) => c.getClientRects().length)`),
    Array(10).fill(1),
    "each code on one line, as it must be copied",
  );
  t.is(await countOf(page, "form#consent-form"), 1, "the consent form follows");
  const app = await onlyFactor(t, s, "totp");
  t.true(app.confirmed);

  const id = await approve(t, s, page, req, "5-callback");
  t.deepEqual(id["amr"], ["pwd", "otp", "mfa"]);
  t.is(id["acr"], MFA_ACR);
  assertQuiet(t, first.reported);

  // The next sign-in, in another browser: the challenge page asks for a code.
  const second = await newBrowser(t, b);
  const next = request(s);
  await loginPage(t, second.page, next.url, "6-login-again");
  const challenge = await typePassword(t, second.page, "7-challenge");
  t.is(challenge.status(), 200);
  await assertPageHeaders(t, challenge);
  t.is(await textOf(second.page, "h1"), "Verify it's you");
  t.is(await activeElementId(second.page), "totp_code", "the code field has focus");
  t.is(await second.page.getByLabel("Code from your authenticator app").getAttribute("autocomplete"), "one-time-code");
  t.is(await second.page.getByRole("button", { name: "Use a passkey" }).count(), 0, "no passkey: none offered");
  t.deepEqual(await second.page.evaluate<string[]>(UNLABELLED_CONTROLS), [], "every field labelled");

  // The recovery codes are behind a disclosure, opened by keyboard.
  const onSummary = () => second.page.evaluate<boolean>(`document.activeElement?.matches("details#recovery > summary") === true`);
  t.false(await second.page.locator("#recovery_code").isVisible(), "closed at first");
  for (let i = 0; i < 10 && !(await onSummary()); i++) await second.page.keyboard.press("Tab");
  t.true(await onSummary(), "Tab reaches the summary");
  await second.page.keyboard.press("Enter");
  t.true(await second.page.locator("#recovery_code").isVisible(), "Enter on the summary opens it");
  await screenshot(t, second.page, "8-recovery-form");
  const used = recoveryCodes[3]!.trim();
  const consent = await typeCode(t, second.page, "#recovery_code", used.toUpperCase(), "9-consent");
  t.is(consent.status(), 200);
  t.is(await countOf(second.page, "#recovery-codes"), 0, "no new codes");
  const again = await approve(t, s, second.page, next, "10-callback");
  t.deepEqual(again["amr"], ["pwd", "otp", "mfa"]);
  t.is(again["acr"], MFA_ACR);
  const left = await s.core.deps.store.countRecoveryCodes(DEFAULT, "admin");
  t.deepEqual([left.total, left.left], [10, 9], "the code is spent");
  const spent = await s.core.deps.store.listAuditEvents(DEFAULT, { actions: ["RECOVERY_CODE_USED"] }, { after: 0, limit: 10 });
  t.deepEqual(
    spent.map((e) => [e.outcome, e.target?.id]),
    [["success", "admin"]],
    "its use recorded",
  );

  // The same recovery code a second time: refused in place.
  const third = await newBrowser(t, b);
  await loginPage(t, third.page, request(s).url, "11-login-third");
  await typePassword(t, third.page, "12-challenge-third");
  await third.page.locator("details#recovery > summary").click();
  const refused = await typeCode(t, third.page, "#recovery_code", used, "13-used-recovery-code");
  t.is(refused.status(), 401);
  t.is(await textOf(third.page, "#factor-error"), "The recovery code is not valid.");
  t.is(await third.page.getByRole("alert").count(), 1);
  // The refusal is about the recovery code: its form stays open, marked and focused; the app's field is not blamed.
  t.true(await third.page.locator("#recovery_code").isVisible(), "the recovery code form is open again");
  t.is(await third.page.locator("#recovery_code").getAttribute("aria-invalid"), "true");
  t.is(await third.page.locator("#recovery_code").getAttribute("aria-describedby"), "factor-error");
  t.is(await third.page.locator("#totp_code").getAttribute("aria-invalid"), null, "the app's code field is not marked");
  t.is(await activeElementId(third.page), "recovery_code");
  assertQuiet(t, second.reported);
  assertQuiet(t, third.reported);
});

/**
 * Enrols a passkey at the first sign-in of a new browser with a virtual
 * authenticator; approves the consent. Answers the browser, its
 * authenticator and the ID token.
 */
async function enrolPasskey(t: ExecutionContext, b: Browser, s: TestServer) {
  const browserOf = await newBrowser(t, b);
  const { page } = browserOf;
  const authenticator = await virtualAuthenticator(page);
  const req = request(s);
  await loginPage(t, page, req.url, "1-login");
  const enrol = await typePassword(t, page, "2-enrolment");
  t.is(enrol.status(), 200);
  await assertPasskeyPageHeaders(t, s, enrol);
  t.is(await page.getByRole("heading", { name: "Passkey", level: 2 }).count(), 1);
  const codes = await usePasskey(t, page, "Create a passkey", "3-recovery-codes");
  t.is(codes.status(), 200, await page.locator("body").innerText());
  t.is(await page.locator("ol#recovery-codes > li").count(), 10);
  const { credentials } = await authenticator.cdp.send("WebAuthn.getCredentials", { authenticatorId: authenticator.authenticatorId });
  t.is(credentials.length, 1, "the authenticator holds one credential");
  t.true(credentials[0]!.isResidentCredential, "a discoverable credential");
  t.is(credentials[0]!.rpId, "localhost", "for the base URL's host");
  const passkey = await onlyFactor(t, s, "passkey");
  t.is(passkey.credentialId, Buffer.from(credentials[0]!.credentialId, "base64").toString("base64url"));
  t.is(passkey.deviceType, "singleDevice");
  t.true(passkey.confirmed);
  const id = await approve(t, s, page, req, "4-callback");
  return { ...browserOf, authenticator, id };
}

/** Signs in again in the same browser, its cookies cleared (no session): the password, then the challenge page's passkey. */
async function passwordAndPasskey(t: ExecutionContext, s: TestServer, page: Page, prefix: string) {
  await page.context().clearCookies();
  const req = request(s);
  await loginPage(t, page, req.url, `${prefix}a-login`);
  const challenge = await typePassword(t, page, `${prefix}b-challenge-with-passkey`);
  t.is(challenge.status(), 200);
  await assertPasskeyPageHeaders(t, s, challenge);
  t.is(await textOf(page, "h1"), "Verify it's you");
  t.is(await countOf(page, "#totp_code"), 0, "no authenticator app: no code field");
  t.is(await countOf(page, "details#recovery"), 1, "the recovery codes stay offered");
  const consent = await usePasskey(t, page, "Use a passkey", `${prefix}c-consent`);
  return { req, consent };
}

test("a passkey through Chrome's virtual authenticator: enrolled on the enrolment page, then a second factor after the password, then alone from the login page where the project allows it", async (t) => {
  const { b, s } = await serve(t);
  const { page, reported, id } = await enrolPasskey(t, b, s);
  t.deepEqual(id["amr"], ["pwd", "hwk", "mfa"], "a single-device passkey: hwk");
  t.is(id["acr"], MFA_ACR);
  const enrolled = await onlyFactor(t, s, "passkey");

  // The password, then the passkey.
  const second = await passwordAndPasskey(t, s, page, "5");
  t.is(second.consent.status(), 200);
  t.is(await countOf(page, "#recovery-codes"), 0, "recovery codes only at the first enrolment");
  const secondId = await approve(t, s, page, second.req, "6-callback");
  t.deepEqual(secondId["amr"], ["pwd", "hwk", "mfa"]);
  t.is(secondId["acr"], MFA_ACR);
  const afterSecond = await onlyFactor(t, s, "passkey");
  t.true(afterSecond.counter > enrolled.counter, `the counter moved: ${enrolled.counter} → ${afterSecond.counter}`);

  // The project allows a passkey alone: the login page offers it; no password is typed.
  await setPolicy(s, { required: "everyone", passwordless: true });
  await page.context().clearCookies();
  const req = request(s);
  const login = await loginPage(t, page, req.url, "7-login-with-passkey");
  await assertPasskeyPageHeaders(t, s, login);
  t.is(await page.locator("#passkey-signin-status").getAttribute("role"), "status");
  const consent = await usePasskey(t, page, "Sign in with a passkey", "8-consent");
  t.is(consent.status(), 200);
  t.is(await countOf(page, "form#consent-form"), 1);
  const aloneId = await approve(t, s, page, req, "9-callback");
  t.deepEqual(aloneId["amr"], ["hwk", "mfa"], "no password in this sign-in");
  t.is(aloneId["acr"], MFA_ACR);
  const afterAlone = await onlyFactor(t, s, "passkey");
  t.true(afterAlone.counter > afterSecond.counter, `the counter moved: ${afterSecond.counter} → ${afterAlone.counter}`);
  assertQuiet(t, reported);
});

test("a cloned authenticator, its counter behind the stored one, is refused on the challenge page (the attempt recorded) and alone on the login page, and nothing else changes", async (t) => {
  const { b, s } = await serve(t);
  const original = await enrolPasskey(t, b, s);
  const second = await passwordAndPasskey(t, s, original.page, "5");
  await approve(t, s, original.page, second.req, "6-callback");
  const stored = await onlyFactor(t, s, "passkey");
  t.true(stored.counter > 0, "the virtual authenticator counts its signatures");

  // Another browser holding a copy of the credential, its counter reset.
  const { credentials } = await original.authenticator.cdp.send("WebAuthn.getCredentials", { authenticatorId: original.authenticator.authenticatorId });
  const credential = credentials[0]!;
  t.true(credential.signCount >= stored.counter);
  const clone = await newBrowser(t, b);
  const cloned = await virtualAuthenticator(clone.page);
  await cloned.cdp.send("WebAuthn.addCredential", { authenticatorId: cloned.authenticatorId, credential: { ...credential, signCount: 0 } });
  const req = request(s);
  await loginPage(t, clone.page, req.url, "7-clone-login");
  await typePassword(t, clone.page, "8-clone-challenge");
  const eventsBefore = await s.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 100 });
  const refused = await usePasskey(t, clone.page, "Use a passkey", "9-clone-refused");
  t.is(refused.status(), 401);
  t.is(await textOf(clone.page, "#factor-error"), "The passkey could not be verified.");
  t.is(await clone.page.getByRole("alert").count(), 1);
  t.true(await clone.page.getByRole("button", { name: "Use a passkey" }).isEnabled(), "another try is offered");
  t.is((await clone.page.context().cookies()).filter((c) => c.name.startsWith("iam_session")).length, 0, "no session");

  // Recorded as a failed second factor; the stored passkey unchanged.
  const events = await s.core.deps.store.listAuditEvents(DEFAULT, { actions: ["FACTOR_VERIFIED"] }, { after: 0, limit: 100 });
  const added = events.slice(eventsBefore.length);
  t.is(added.length, 1, JSON.stringify(added));
  t.is(added[0]!.outcome, "failure");
  t.is(added[0]!.target?.id, "admin");
  t.regex(added[0]!.reason, /counter/);
  t.deepEqual(added[0]!.changes, [{ field: "method", before: "", after: '"passkey"' }]);
  t.deepEqual(await onlyFactor(t, s, "passkey"), stored, "counter and last use unchanged");

  // The original authenticator still signs in.
  const third = await passwordAndPasskey(t, s, original.page, "10");
  t.is(third.consent.status(), 200);
  t.is(await countOf(original.page, "form#consent-form"), 1);
  await approve(t, s, original.page, third.req, "11-callback");
  const afterThird = await onlyFactor(t, s, "passkey");

  // The clone alone, from the login page where the project allows a passkey alone: refused too.
  await setPolicy(s, { required: "everyone", passwordless: true });
  await clone.page.context().clearCookies();
  await loginPage(t, clone.page, request(s).url, "12-clone-login-with-passkey");
  const refusedAlone = await usePasskey(t, clone.page, "Sign in with a passkey", "13-clone-alone-refused");
  t.is(refusedAlone.status(), 401);
  t.is(await textOf(clone.page, "#login-error"), "The passkey could not be verified.");
  t.is(await clone.page.getByRole("alert").count(), 1);
  // The password form was not used: its fields are not blamed.
  t.is(await clone.page.locator("#username").getAttribute("aria-invalid"), null);
  t.is(await clone.page.locator("#password").getAttribute("aria-invalid"), null);
  t.is((await clone.page.context().cookies()).filter((c) => c.name.startsWith("iam_session")).length, 0, "no session");
  t.deepEqual(await onlyFactor(t, s, "passkey"), afterThird, "counter and last use unchanged");
  assertQuiet(t, original.reported);
  assertQuiet(t, clone.reported);
});

test("without WebAuthn in the browser, each passkey button says so and stays disabled; the code forms still work", async (t) => {
  const { b, s } = await serve(t, { required: "everyone", passwordless: true });
  const { context, page, reported } = await newBrowser(t, b);
  // As a browser without the Web Authentication API: the pages' scripts find no PublicKeyCredential.
  await context.addInitScript("delete window.PublicKeyCredential");
  const req = request(s);
  await loginPage(t, page, req.url, "1-login-without-webauthn");
  t.false(await page.getByRole("button", { name: "Sign in with a passkey" }).isEnabled());
  t.is(await textOf(page, "#passkey-signin-status"), "This browser cannot use passkeys.");
  await typePassword(t, page, "2-enrolment-without-webauthn");
  t.false(await page.getByRole("button", { name: "Create a passkey" }).isEnabled());
  t.is(await textOf(page, "#enrol-passkey-form-status"), "This browser cannot use passkeys.");
  const secret = ((await textOf(page, "#totp-secret")) ?? "").replace(/ /g, "");
  const codes = await typeCode(t, page, "#totp_code", totpCode(secret, s.clock.now()), "3-recovery-codes");
  t.is(codes.status(), 200);
  t.is(await page.locator("ol#recovery-codes > li").count(), 10);
  assertQuiet(t, reported);
});
