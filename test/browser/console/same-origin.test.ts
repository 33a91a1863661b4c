/**
 * A script on iam-core's own origin (another application under the same
 * host, or an injected script) running beside a signed-in administrator
 * must not obtain a code for the console's client. The browser's sign-in
 * session acts only for navigations: a `fetch` of the authorization endpoint
 * with the session cookie gets no single sign-on (a navigation to the same
 * URL does, which shows that the session was there to be used), and a
 * `fetch` of the consent endpoint is refused whatever it carries, while the
 * person's own click on the same consent page still goes through.
 */
import { createHash, randomBytes } from "node:crypto";
import test from "ava";
import { startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { GLOBAL_ADMIN, openConsole, signIn } from "./_console.js";

const browser = useBrowser(test);

/** An authorization request of the console's client that the script made itself (it holds the PKCE verifier). */
function consoleAuthorizeUrl(s: TestServer, extra: Record<string, string> = {}): string {
  const verifier = randomBytes(32).toString("base64url");
  const url = new URL(`${s.httpUrl}/services/oauth2/iam-admins/iam-admins/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: "iam-console",
    redirect_uri: `${s.httpUrl}/admin/callback`,
    scope: "openid iam.global.admin",
    state: "probe",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    ...extra,
  }).toString();
  return url.toString();
}

test("a same-origin script's fetch of the authorization endpoint gets no code from the administrator's session; a navigation does", async (t) => {
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const { context, page, problems } = await openConsole(t, browser());
  await signIn(page, s);

  // prompt=none, followed redirects: the answer's URL is the console's callback with login_required, no code.
  const silent = await page.evaluate(async (url) => {
    const res = await fetch(url, { credentials: "include" });
    return res.url;
  }, consoleAuthorizeUrl(s, { prompt: "none" }));
  const silentAnswer = new URL(silent);
  t.is(silentAnswer.pathname, "/admin/callback");
  t.is(silentAnswer.searchParams.get("error"), "login_required");
  t.is(silentAnswer.searchParams.get("code"), null);

  // As JSON without prompt: the login step (a request id to log in with), neither signed in nor a way back with a code.
  const asJson = await page.evaluate(async (url) => {
    const res = await fetch(url, { credentials: "include", headers: { accept: "application/json" } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }, consoleAuthorizeUrl(s));
  t.is(asJson.status, 200);
  t.is(typeof asJson.body.request_id, "string");
  t.is(asJson.body.signed_in, undefined);
  t.is(asJson.body.redirect_to, undefined);

  // The same prompt=none request as a navigation of a window: the session signs it in (the callback is held back from the console).
  await context.route(`${s.httpUrl}/admin/callback?**`, (route) => route.fulfill({ status: 200, contentType: "text/plain", body: "held" }));
  const other = await context.newPage();
  await other.goto(consoleAuthorizeUrl(s, { prompt: "none" }));
  const navigated = new URL(other.url());
  t.is(navigated.pathname, "/admin/callback");
  t.regex(navigated.searchParams.get("code") ?? "", /.{20,}/);
  t.deepEqual(problems, []);
});

test("a same-origin script cannot give consent for the person: POST /consent by fetch is refused, the person's click is not", async (t) => {
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const { page, problems } = await openConsole(t, browser());
  await page.goto(`${s.httpUrl}/admin/`);
  await page.getByRole("button", { name: "Sign in as a global administrator" }).click();
  await page.locator("#username").waitFor();
  await page.fill("#username", GLOBAL_ADMIN.username);
  await page.fill("#password", GLOBAL_ADMIN.password);
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
  await page.locator("#approve").waitFor();

  // The consent page's own policy lets no script fetch anything, so the script runs in another page of the origin
  // (another application on the host) that read the request id from the consent page, as a popup's opener could.
  const requestId = await page.locator('input[name="request_id"]').inputValue();
  const consentUrl = new URL((await page.locator("form").getAttribute("action")) ?? "", page.url()).toString();
  const { context } = { context: page.context() };
  await context.route(`${s.httpUrl}/another-application`, (route) => route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>another application</title>" }));
  const script = await context.newPage();
  await script.goto(`${s.httpUrl}/another-application`);
  const refused = await script.evaluate(
    async ({ consentUrl, requestId }) => {
      const asJson = await fetch(consentUrl, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ request_id: requestId, scopes: ["openid", "iam.global.admin"] }),
      });
      const body = new URLSearchParams({ request_id: requestId, action: "approve" });
      body.append("scope", "openid");
      body.append("scope", "iam.global.admin");
      const asForm = await fetch(consentUrl, { method: "POST", credentials: "include", body });
      return { json: { status: asJson.status, body: await asJson.text() }, form: { status: asForm.status, url: asForm.url } };
    },
    { consentUrl, requestId },
  );
  t.is(refused.json.status, 403);
  t.like(JSON.parse(refused.json.body), { error: "invalid_request" });
  t.is(refused.form.status, 403);
  t.false(refused.form.url.includes("code="));

  // Nothing was decided: the person's own click on the page approves, and the console signs in.
  await Promise.all([page.waitForLoadState("load"), page.click("#approve")]);
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  t.deepEqual(problems.filter((p) => !p.includes("403")), []);
});
