/**
 * CORS as a browser enforces it (headless Debian chromium through
 * playwright-core): scripts of a page on a registered web origin and of a
 * page on an unregistered one call iam-core with fetch. What the browser lets
 * each read is the point: the public documents for both; the token, UserInfo
 * and revocation endpoints for the registered origin only, and never with
 * credentials; the authorization endpoint for neither.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import test, { type ExecutionContext } from "ava";
import type { Page } from "playwright-core";
import { addClient, startStandardServer, USER, userApproves, type StandardServer } from "../standards/client-harness.js";
import { useBrowser } from "./_browser.js";

const browser = useBrowser(test);

/** An empty page on its own loopback origin, for scripts to run from. */
async function startOrigin(t: ExecutionContext): Promise<string> {
  const server: Server = createServer((_req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end("<!doctype html><title>page</title>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // Named localhost: never iam-core's origin (127.0.0.1), whatever the ports.
  return `http://localhost:${(server.address() as AddressInfo).port}`;
}

/** What a page's fetch gave: the status and body it could read, or that the browser withheld the answer. */
type Outcome = { status: number; body: string } | { blocked: string };

interface Init {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  credentials?: "omit" | "same-origin" | "include";
}

async function fetchFrom(page: Page, url: string, init: Init = {}): Promise<Outcome> {
  return page.evaluate(
    async ([url, init]) => {
      try {
        const res = await fetch(url, init);
        return { status: res.status, body: await res.text() };
      } catch (err) {
        return { blocked: String(err) };
      }
    },
    [url, init] as const,
  );
}

const FORM = { "content-type": "application/x-www-form-urlencoded" };

async function setup(t: ExecutionContext): Promise<{ s: StandardServer; registered: Page; other: Page; registeredOrigin: string }> {
  const b = browser();
  const s = await startStandardServer(t);
  const [registeredOrigin, otherOrigin] = await Promise.all([startOrigin(t), startOrigin(t)]);
  // A public client whose redirect URI is on the registered page's origin: its web origin by default.
  await addClient(s, { id: "spa", redirectUris: [`${registeredOrigin}/cb`], grantTypes: ["authorization_code", "refresh_token"] });
  const context = await b.newContext();
  t.teardown(() => context.close());
  context.setDefaultTimeout(20_000);
  const registered = await context.newPage();
  await registered.goto(`${registeredOrigin}/`);
  const other = await context.newPage();
  await other.goto(`${otherOrigin}/`);
  return { s, registered, other, registeredOrigin };
}

test("a page reads discovery and the JWK Set from any origin; token, UserInfo and revocation only from a registered one", async (t) => {
  const { s, registered, other, registeredOrigin } = await setup(t);
  // Tokens of the public client, as the registered page's application would hold them.
  const verifier = "a".repeat(43);
  const authorize = new URL(`${s.issuer}/authorize`);
  for (const [name, value] of Object.entries({
    response_type: "code",
    client_id: "spa",
    redirect_uri: `${registeredOrigin}/cb`,
    scope: "openid profile",
    code_challenge: verifier,
    code_challenge_method: "plain",
  })) {
    authorize.searchParams.set(name, value);
  }
  const { redirectTo } = await userApproves(authorize, USER);
  const exchange = new URLSearchParams({
    grant_type: "authorization_code",
    code: redirectTo.searchParams.get("code")!,
    redirect_uri: `${registeredOrigin}/cb`,
    client_id: "spa",
    code_verifier: verifier,
  });

  for (const [page, what] of [
    [registered, "registered origin"],
    [other, "other origin"],
  ] as const) {
    for (const url of [`${s.issuer}/.well-known/openid-configuration`, `${s.issuer}/.well-known/jwks.json`]) {
      const read = await fetchFrom(page, url);
      t.true("status" in read && read.status === 200, `${what} ${url}: ${JSON.stringify(read)}`);
    }
    // A header that needs a preflight: answered for any origin.
    const preflighted = await fetchFrom(page, `${s.issuer}/.well-known/openid-configuration`, { headers: { "x-requested-with": "test" } });
    t.true("status" in preflighted && preflighted.status === 200, `${what}: ${JSON.stringify(preflighted)}`);
    // The authorization endpoint is never readable by another origin's script.
    t.true("blocked" in (await fetchFrom(page, authorize.href)), what);
  }

  // The other origin: the browser withholds every answer of the token, UserInfo and revocation endpoints.
  t.true("blocked" in (await fetchFrom(other, `${s.issuer}/token`, { method: "POST", headers: FORM, body: "grant_type=refresh_token" })));
  t.true("blocked" in (await fetchFrom(other, `${s.issuer}/userinfo`, { headers: { authorization: "Bearer x" } })));
  t.true("blocked" in (await fetchFrom(other, `${s.issuer}/revoke`, { method: "POST", headers: FORM, body: "token=x&client_id=spa" })));

  // The registered origin: the code exchange, UserInfo (preflighted for its Authorization header), revocation.
  const tokens = await fetchFrom(registered, `${s.issuer}/token`, { method: "POST", headers: FORM, body: exchange.toString() });
  if (!("status" in tokens)) return t.fail(`token: ${tokens.blocked}`);
  t.is(tokens.status, 200, tokens.body);
  const { access_token, refresh_token } = JSON.parse(tokens.body) as { access_token: string; refresh_token: string };
  const info = await fetchFrom(registered, `${s.issuer}/userinfo`, { headers: { authorization: `Bearer ${access_token}` } });
  t.deepEqual("status" in info ? [info.status, (JSON.parse(info.body) as { sub: string }).sub] : info, [200, USER.id]);
  const revoked = await fetchFrom(registered, `${s.issuer}/revoke`, { method: "POST", headers: FORM, body: `token=${refresh_token}&client_id=spa` });
  t.deepEqual(revoked, { status: 200, body: "{}" });

  // With credentials the browser refuses even the registered origin: no Access-Control-Allow-Credentials.
  const withCookies = { headers: { authorization: `Bearer ${access_token}` }, credentials: "include" } as const;
  t.true("blocked" in (await fetchFrom(registered, `${s.issuer}/userinfo`, withCookies)));
  // The same goes for the public documents: `*` never with credentials.
  t.true("blocked" in (await fetchFrom(registered, `${s.issuer}/.well-known/jwks.json`, { credentials: "include" })));
});
