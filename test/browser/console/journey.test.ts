/**
 * The console from end to end. A global administrator, through the console
 * alone, creates an organization, a project, a confidential client whose
 * redirect URI a web application of the test serves, and a user with a
 * password; then that user signs in to the application with the new client:
 * the project's authorization endpoint, iam-core's sign-in and consent
 * pages, back at the application with a code, which the application
 * exchanges for an ID token naming the user, issued by the new project.
 *
 * And every screen of the console on a phone's screen and in dark colours:
 * no serious or critical axe-core violation, nothing cut off at the side.
 */
import { createHash, randomBytes } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { createRemoteJWKSet, jwtVerify } from "jose";
import type { Browser, Page } from "playwright-core";
import { ClientType } from "../../../gen/iam/v1/admin_pb.js";
import { startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { startRelyingParty } from "../sso/relying-party.js";
import { axeViolations, openConsole, signIn } from "./_console.js";
import { overflow, settle } from "./_screen.js";
import { globalAdmin, visit } from "./_tenants.js";

const browser = useBrowser(test);

const ORGANIZATION = { id: "northwind", name: "Northwind Traders" };
const PROJECT = { id: "orders", name: "Order desk" };
const CLIENT_ID = "order-desk-web";
const USER = { id: "jo", name: "Jo Rivera", password: "jo-password-for-the-journey" };

/** The application's client as the console made it: its id, and its secret as the console showed it once. */
interface NewClient {
  id: string;
  secret: string;
}

/** The field of this label (its whole accessible name) in a titled part of the screen. */
const fieldOf = (page: Page, section: string, label: string) => page.getByRole("region", { name: section }).getByLabel(label, { exact: true });

async function createOrganization(page: Page): Promise<void> {
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Organizations" }).click();
  await page.getByRole("heading", { level: 1, name: "Organizations" }).waitFor();
  await fieldOf(page, "New organization", "Id (required)").fill(ORGANIZATION.id);
  await fieldOf(page, "New organization", "Display name").fill(ORGANIZATION.name);
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.getByRole("heading", { level: 1, name: `Organization ${ORGANIZATION.id}` }).waitFor();
}

async function createProject(page: Page): Promise<void> {
  await fieldOf(page, "New project", "Id (required)").fill(PROJECT.id);
  await fieldOf(page, "New project", "Display name").fill(PROJECT.name);
  await page.getByRole("button", { name: "Create project" }).click();
  await page.getByRole("heading", { level: 1, name: `Project ${PROJECT.id}` }).waitFor();
}

/** A confidential client of the code flow, called back at the application's redirect URI; its secret read as the console shows it, once. */
async function createClient(page: Page, redirectUri: string): Promise<NewClient> {
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Clients" }).click();
  await page.getByRole("heading", { level: 1, name: "Clients" }).waitFor();
  await fieldOf(page, "New client", "Id (required)").fill(CLIENT_ID);
  await fieldOf(page, "New client", "Display name").fill("Order desk");
  await fieldOf(page, "New client", "Type").selectOption({ label: "Confidential" });
  await fieldOf(page, "New client", "Redirect URIs").fill(redirectUri);
  await page.getByRole("button", { name: "Create client" }).click();
  await page.getByRole("heading", { level: 1, name: `Client ${CLIENT_ID}` }).waitFor();
  const shown = page.getByRole("region", { name: `The secret of ${CLIENT_ID}` });
  const secret = ((await shown.locator("code").textContent()) ?? "").trim();
  await shown.getByRole("button", { name: "I have stored it" }).click();
  return { id: CLIENT_ID, secret };
}

/** A user with a password, who holds no role: an OpenID Connect sign-in needs none. */
async function createUser(page: Page): Promise<void> {
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Users" }).click();
  await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
  await fieldOf(page, "New user", "Id (required)").fill(USER.id);
  await fieldOf(page, "New user", "Display name").fill(USER.name);
  await fieldOf(page, "New user", "Password (required)").fill(USER.password);
  await page.getByRole("button", { name: "Create user" }).click();
  await page.getByRole("heading", { level: 1, name: `User ${USER.id}` }).waitFor();
}

/** The project's authorization request as a web application sends it: state, nonce and PKCE S256. */
function authorizationRequest(s: TestServer, clientId: string, redirectUri: string) {
  const verifier = randomBytes(32).toString("base64url");
  const request = {
    state: randomBytes(16).toString("base64url"),
    nonce: randomBytes(16).toString("base64url"),
    verifier,
  };
  const url = new URL(`${issuer(s)}/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: "openid profile",
    state: request.state,
    nonce: request.nonce,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  return { ...request, url: url.toString() };
}

const issuer = (s: TestServer) => `${s.httpUrl}/services/oauth2/${ORGANIZATION.id}/${PROJECT.id}`;

/**
 * The new user signs in to the application with the new client, in a
 * browser of their own; the application exchanges the code it received and
 * checks the ID token.
 */
async function signInToApplication(t: ExecutionContext, b: Browser, s: TestServer, client: NewClient, redirectUri: string): Promise<void> {
  const { page, problems } = await openConsole(t, b);
  const request = authorizationRequest(s, client.id, redirectUri);
  await page.goto(request.url);
  await page.getByRole("heading", { level: 1, name: `Sign in to ${PROJECT.name}` }).waitFor();
  await page.getByLabel("Username").fill(USER.id);
  await page.getByLabel("Password").fill(USER.password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Allow" }).click();
  await page.getByRole("heading", { name: "Back at the web shop" }).waitFor();

  const back = new URL(page.url());
  t.is(`${back.origin}${back.pathname}`, redirectUri);
  t.is(back.searchParams.get("state"), request.state);
  t.is(back.searchParams.get("iss"), issuer(s));
  const code = back.searchParams.get("code");
  if (code === null) return t.fail("no code at the redirect URI");

  const res = await fetch(`${issuer(s)}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: request.verifier }),
  });
  const body = (await res.json()) as { id_token?: string; access_token?: string; token_type?: string };
  t.is(res.status, 200, JSON.stringify(body));
  t.is(body.token_type, "Bearer");
  if (body.id_token === undefined) return t.fail("no ID token");
  const discovery = (await (await fetch(`${issuer(s)}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
  t.is(discovery.issuer, issuer(s));
  const { payload } = await jwtVerify(body.id_token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
    issuer: issuer(s),
    audience: client.id,
    // The server's clock, which the test harness holds at a fixed instant.
    currentDate: new Date(s.clock.now()),
  });
  t.is(payload.sub, USER.id);
  t.is(payload.iss, issuer(s));
  t.is(payload.nonce, request.nonce);
  t.is(payload.name, USER.name);
  t.deepEqual(problems, []);
}

test("a global administrator creates an organization, a project, a client and a user through the console; the user signs in to an application with that client", async (t) => {
  const b = browser();
  const s = await startTestServer({ localhost: true });
  t.teardown(() => s.close());
  const app = await startRelyingParty(t);
  const { page, problems } = await openConsole(t, b);
  await signIn(page, s);
  await createOrganization(page);
  await createProject(page);
  await page.getByText(issuer(s), { exact: true }).waitFor();
  const client = await createClient(page, app.redirectUri);
  await createUser(page);
  t.deepEqual(problems, []);
  await signInToApplication(t, b, s, client, app.redirectUri);
});

/** The longest id an organization may have (63 characters, none a place to break a line): in the title of its screen. */
const LONG_ID = "acmeinternationalholdingsandsubsidiariesofthenortherncoastlands";

/** Every screen of the console, with something in it: [path, its heading]. */
const SCREENS: [string, string][] = [
  ["/admin/", "Dashboard"],
  ["/admin/organizations", "Organizations"],
  ["/admin/organizations/acme", "Organization acme"],
  [`/admin/organizations/${LONG_ID}`, `Organization ${LONG_ID}`],
  ["/admin/audit", "Server audit trail"],
  ["/admin/p/acme/shop", "Project shop"],
  ["/admin/p/acme/shop/clients", "Clients"],
  ["/admin/p/acme/shop/clients/storefront", "Client storefront"],
  ["/admin/p/acme/shop/users", "Users"],
  ["/admin/p/acme/shop/users/alice.martin%40example.com", "User alice.martin@example.com"],
  ["/admin/p/acme/shop/roles", "Roles and permissions"],
  ["/admin/p/acme/shop/keys", "Signing keys"],
  ["/admin/p/acme/shop/audit", "Audit trail of shop"],
];

/**
 * The tenant the screens show, with long values where a narrow screen could
 * be cut off: a long audience, redirect URI and email, a sign-in session and a
 * consent of the user (their tables), a rotated key.
 */
async function seedScreens(s: TestServer): Promise<void> {
  const admin = await globalAdmin(s);
  const shop = { organization: "acme", project: "shop" };
  const user = { id: "alice.martin@example.com", password: "alice-password-for-the-screens" };
  const redirectUri = "https://storefront.acme.example/oauth2/callback/with/a/rather/long/path";
  await admin.createOrganization({ id: "acme", name: "Acme Corporation" });
  await admin.createOrganization({ id: LONG_ID, name: "Acme International" });
  await admin.createProject({ organization: "acme", id: "shop", name: "Web shop", audience: "https://api.acme.example/with/a/long/path/that/must/wrap" });
  await admin.createPermission({ ...shop, permissionId: "shop.orders.read", description: "Read the orders of the shop and their lines" });
  await admin.createRole({ ...shop, roleId: "customer", description: "Customers of the shop", permissions: ["shop.orders.read"] });
  await admin.createClient({
    ...shop,
    clientId: "storefront",
    name: "Storefront",
    type: ClientType.CONFIDENTIAL,
    redirectUris: [redirectUri],
    grantTypes: ["authorization_code", "refresh_token"],
    rememberConsent: true,
  });
  await admin.createUser({ ...shop, userId: user.id, name: "Alice Martin", email: user.id, password: user.password });
  await admin.assignRole({ ...shop, roleId: "customer", subject: { case: "userId", value: user.id } });
  await admin.rotateSigningKey(shop);
  // A sign-in of the user: a session and a remembered consent in their tables.
  const issuerUrl = `${s.httpUrl}/services/oauth2/acme/shop`;
  const json = { accept: "application/json", "content-type": "application/json" };
  const query = new URLSearchParams({ response_type: "code", client_id: "storefront", redirect_uri: redirectUri, scope: "openid shop.orders.read", state: "s" });
  const { request_id } = (await (await fetch(`${issuerUrl}/authorize?${query}`, { headers: json })).json()) as { request_id: string };
  await fetch(`${issuerUrl}/authorize`, { method: "POST", headers: json, body: JSON.stringify({ request_id, username: user.id, password: user.password }) });
  const consent = await fetch(`${issuerUrl}/consent`, { method: "POST", headers: json, body: JSON.stringify({ request_id, scopes: ["openid", "shop.orders.read"] }) });
  if (!consent.ok) throw new Error(`the user's sign-in: ${consent.status} ${await consent.text()}`);
}

/** What is wrong with the screen as it is now: axe-core's serious and critical violations, and a page wider than the window. */
async function screenProblems(page: Page, where: string): Promise<string[]> {
  await settle(page);
  const wider = await overflow(page);
  return [...(await axeViolations(page)), ...(wider > 0 ? [`the page is ${wider}px wider than the window`] : [])].map((p) => `${where}: ${p}`);
}

for (const [what, options] of [
  ["on a phone's screen (390x844)", { viewport: { width: 390, height: 844 }, colorScheme: "light" }],
  ["on a phone's screen in dark colours", { viewport: { width: 390, height: 844 }, colorScheme: "dark" }],
  ["in dark colours", { viewport: { width: 1280, height: 800 }, colorScheme: "dark" }],
] as const) {
  test(`every screen ${what}: no serious or critical axe-core violation, nothing cut off at the side`, async (t) => {
    const b = browser();
    const s = await startTestServer({ localhost: true });
    t.teardown(() => s.close());
    await seedScreens(s);
    const { page, problems } = await openConsole(t, b, options);
    const found: string[] = [];
    await page.goto(`${s.httpUrl}/admin/`);
    await page.getByRole("heading", { level: 1, name: "Sign in to the iam-core console" }).waitFor();
    found.push(...(await screenProblems(page, "sign-in")));
    await signIn(page, s);
    for (const [path, heading] of SCREENS) {
      await visit(page, path);
      await page.getByRole("heading", { level: 1, name: heading, exact: true }).waitFor();
      found.push(...(await screenProblems(page, path)));
    }
    // A confirmation, as it opens over its screen, and a secret shown once.
    await visit(page, "/admin/p/acme/shop/clients/storefront");
    await page.getByRole("heading", { level: 1, name: "Client storefront" }).waitFor();
    await page.getByRole("button", { name: "Rotate secret" }).click();
    const confirmation = page.getByRole("dialog");
    await confirmation.waitFor();
    found.push(...(await screenProblems(page, "the confirmation of a secret's rotation")));
    await confirmation.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByRole("region", { name: "The secret of storefront" }).waitFor();
    found.push(...(await screenProblems(page, "a secret shown once")));
    t.deepEqual(found, []);
    t.deepEqual(problems, []);
  });
}
