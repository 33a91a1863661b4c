/**
 * The console's client screens in chromium: a client created with every
 * setting of the form and its secret shown once, the core's refusals shown
 * next to the fields they name (nothing created), an edit that sends exactly
 * the changed field, a secret rotated (the old one refused at /token), roles
 * assigned and taken back, a client deleted. What the screens did is read
 * back through the AdminService, as a script would.
 */
import test, { type ExecutionContext } from "ava";
import { Code, ConnectError, createClient, type Client as ApiClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Page } from "playwright-core";
import { AdminService, ClientType } from "../../../gen/iam/v1/admin_pb.js";
import { GRANT_TYPES as CORE_GRANT_TYPES } from "../../../core/rpc/admin/validate.js";
import { TOKEN_EXCHANGE_GRANT } from "../../../core/protocol/token-exchange.js";
import { ADMIN_CLIENT_SECRET, startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { axeViolations, openConsole, signIn } from "./_console.js";

const browser = useBrowser(test);
const ORG = "acme";
const PROJECT = "shop";
const ref = { organization: ORG, project: PROJECT };
const CLIENTS = `/admin/p/${ORG}/${PROJECT}/clients`;
/** The create form's fields have the ids `${form key}-${proto field name}`. */
const NEW = `#create-client-${ORG}-${PROJECT}`;

let s: TestServer;
let api: ApiClient<typeof AdminService>;

/** A client_credentials grant at the project's /token: its status and JSON body. */
async function clientCredentials(clientId: string, secret: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${s.httpUrl}/services/oauth2/${ORG}/${PROJECT}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials",
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The Connect code of a call's refusal, or "ok". */
async function outcomeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

test.before(async () => {
  s = await startTestServer({ localhost: true });
  const res = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`admin-client:${ADMIN_CLIENT_SECRET}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials",
  });
  const { access_token } = (await res.json()) as { access_token: string };
  const bearer: Interceptor = (next) => (request) => {
    request.header.set("authorization", `Bearer ${access_token}`);
    return next(request);
  };
  // The console's own path to the core, as the console calls it.
  api = createClient(AdminService, createConnectTransport({ baseUrl: `${s.httpUrl}/admin/api`, httpVersion: "1.1", interceptors: [bearer] }));
  await api.createOrganization({ id: ORG, name: "Acme" });
  await api.createProject({ organization: ORG, id: PROJECT, name: "Shop" });
  await api.createPermission({ ...ref, permissionId: "shop.orders.read", description: "Read orders" });
  await api.createRole({ ...ref, roleId: "order-reader", description: "Reads orders", permissions: ["shop.orders.read"] });
});

test.after.always(async () => {
  await s?.close();
});

/** A signed-in console on a screen of the project. */
async function consoleAt(t: ExecutionContext, path: string, heading: string) {
  const opened = await openConsole(t, browser());
  await signIn(opened.page, s);
  await opened.page.goto(`${s.httpUrl}${path}`);
  await opened.page.getByRole("heading", { name: heading, exact: true, level: 1 }).waitFor();
  return opened;
}

/**
 * The grant types the settings form offers: every one the core knows but token exchange, which the client's
 * Token exchange section sets with its policy (whose tokens, which resources): client-exchange.test.ts.
 */
const GRANT_TYPES = CORE_GRANT_TYPES.filter((grant) => grant !== TOKEN_EXCHANGE_GRANT);

/** Fills the create form with a valid client `id`: one redirect URI, the default grant types, nothing else. */
async function fillValid(page: Page, id: string): Promise<void> {
  await page.fill(`${NEW}-client_id`, id);
  await page.selectOption(`${NEW}-type`, "confidential");
  await page.fill(`${NEW}-redirect_uris`, "https://ok.example/cb");
  for (const grant of GRANT_TYPES) await page.setChecked(`${NEW}-grant_types-${grant}`, grant === "authorization_code" || grant === "refresh_token");
  for (const field of ["access_token_ttl", "refresh_token_ttl", "post_logout_redirect_uris", "backchannel_logout_uri", "web_origins"]) {
    await page.fill(`${NEW}-${field}`, "");
  }
}

test("a confidential client is created with every setting of the form, and its secret is shown once, copyable", async (t) => {
  const { page, context, problems } = await consoleAt(t, CLIENTS, "Clients");
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.httpUrl });
  t.deepEqual(await axeViolations(page), [], "the list");
  // The grant types offered are the ones the core knows, token exchange aside.
  t.deepEqual(await page.locator(`${NEW}-grant_types input[type=checkbox]`).evaluateAll((boxes) => boxes.map((b) => b.getAttribute("value"))), [...GRANT_TYPES]);

  await page.getByLabel("Id (required)", { exact: true }).fill("billing");
  await page.getByLabel("Display name", { exact: true }).fill("Billing");
  await page.getByLabel("Type", { exact: true }).selectOption("confidential");
  await page.getByLabel("Redirect URIs", { exact: true }).fill("https://billing.example/cb\nhttp://127.0.0.1:8400/cb");
  await page.getByRole("checkbox", { name: /^client_credentials:/ }).check();
  await page.getByLabel("Access token lifetime (seconds)", { exact: true }).fill("900");
  await page.getByLabel("Refresh token lifetime (seconds)", { exact: true }).fill("7200");
  await page.getByLabel("Remember consent", { exact: true }).check();
  await page.getByLabel("Post-logout redirect URIs", { exact: true }).fill("https://billing.example/bye");
  await page.getByLabel("Back-channel logout URI", { exact: true }).fill("https://billing.example/logout");
  await page.getByLabel("ID token algorithm", { exact: true }).selectOption("ES256");
  await page.getByLabel("Web origins", { exact: true }).fill("https://billing.example");
  await page.getByRole("button", { name: "Create client" }).click();

  await page.getByRole("heading", { name: "Client billing", level: 1 }).waitFor();
  const shown = page.locator(".one-time");
  await shown.getByRole("heading", { name: "The secret of billing" }).waitFor();
  t.regex((await shown.textContent()) ?? "", /you will not see it again/);
  const secret = ((await shown.locator("code").textContent()) ?? "").trim();
  t.true(secret.length >= 32, secret);
  t.is((await clientCredentials("billing", secret)).status, 200, "the secret shown is the client's");

  await shown.getByRole("button", { name: "Copy client secret" }).click();
  await shown.getByText("Copied.").waitFor();
  t.is(await page.evaluate<string>("navigator.clipboard.readText()"), secret);
  t.deepEqual(await axeViolations(page), [], "the client screen with its secret");
  // The secret is in the page only: never in the URL nor the browser's storage.
  // Evaluated as a string: no DOM lib in the tests' tsconfig.
  const kept = await page.evaluate<string>("JSON.stringify({ url: location.href, local: { ...localStorage }, session: { ...sessionStorage }, history: history.state })");
  t.false(kept.includes(secret));

  await shown.getByRole("button", { name: "I have stored it" }).click();
  t.false((await page.content()).includes(secret));
  await page.getByRole("link", { name: "Clients", exact: true }).first().click();
  await page.getByRole("heading", { name: "Clients", level: 1 }).waitFor();
  const row = page.getByRole("row").filter({ has: page.getByRole("link", { name: "billing" }) });
  await row.waitFor();
  t.deepEqual(await row.getByRole("cell").allTextContents(), ["billing", "Billing", "Confidential", "authorization_coderefresh_tokenclient_credentials"]);
  await row.getByRole("link", { name: "billing" }).click();
  await page.getByRole("heading", { name: "Client billing", level: 1 }).waitFor();
  t.is(await page.locator(".one-time").count(), 0, "shown once");
  t.false((await page.content()).includes(secret));

  const { client } = await api.getClient({ ...ref, clientId: "billing" });
  t.like(client, {
    id: "billing",
    name: "Billing",
    type: ClientType.CONFIDENTIAL,
    redirectUris: ["https://billing.example/cb", "http://127.0.0.1:8400/cb"],
    grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
    pkceRequired: true,
    accessTokenTtl: 900n,
    refreshTokenTtl: 7200n,
    rememberConsent: true,
    postLogoutRedirectUris: ["https://billing.example/bye"],
    backchannelLogoutUri: "https://billing.example/logout",
    idTokenSignedResponseAlg: "ES256",
    webOrigins: ["https://billing.example"],
    roles: [],
  });
  t.deepEqual(problems, []);
});

/** A refusal of the create form: what is changed from a valid form, the field it must be shown next to, the core's exact words. */
const REFUSALS: { case: string; id?: string; change: (page: Page) => Promise<void>; field: string; message: string }[] = [
  {
    case: "a redirect URI over plain http to a host that is not loopback",
    change: (page) => page.fill(`${NEW}-redirect_uris`, "https://ok.example/cb\nhttp://evil.example/cb"),
    field: "redirect_uris",
    message: "redirect URI http://evil.example/cb: http is allowed only for loopback hosts",
  },
  {
    case: "authorization_code without a redirect URI",
    change: (page) => page.fill(`${NEW}-redirect_uris`, ""),
    field: "redirect_uris",
    message: "authorization_code needs at least one redirect URI",
  },
  {
    case: "a public client with client_credentials",
    change: async (page) => {
      await page.selectOption(`${NEW}-type`, "public");
      await page.check(`${NEW}-grant_types-client_credentials`);
    },
    field: "grant_types",
    message: "a public client cannot use client_credentials (RFC 6749 §4.4)",
  },
  {
    case: "more web origins than allowed",
    change: (page) => page.fill(`${NEW}-web_origins`, Array.from({ length: 21 }, (_, i) => `https://o${i}.example`).join("\n")),
    field: "web_origins",
    message: "at most 20 web_origins",
  },
  {
    case: "a post-logout redirect URI with a fragment",
    change: (page) => page.fill(`${NEW}-post_logout_redirect_uris`, "https://ok.example/bye#x"),
    field: "post_logout_redirect_uris",
    message: "post-logout redirect URI https://ok.example/bye#x must not have a fragment",
  },
  {
    case: "a back-channel logout URI with a fragment",
    change: (page) => page.fill(`${NEW}-backchannel_logout_uri`, "https://ok.example/logout#x"),
    field: "backchannel_logout_uri",
    message: "backchannel_logout_uri https://ok.example/logout#x must not have a fragment",
  },
  {
    case: "an access token lifetime below the minimum",
    change: (page) => page.fill(`${NEW}-access_token_ttl`, "30"),
    field: "access_token_ttl",
    message: "access_token_ttl must be 60 to 86400",
  },
  {
    case: "a refresh token lifetime that is not a whole number",
    change: (page) => page.fill(`${NEW}-refresh_token_ttl`, "90.5"),
    field: "refresh_token_ttl",
    message: "refresh_token_ttl must be 60 to 31536000",
  },
  {
    case: "an id with a space",
    id: "bad id",
    change: async () => {},
    field: "client_id",
    message: "client_id must be 1-128 letters, digits and '-._~'",
  },
  {
    case: "the id of a client that exists",
    id: "iam-console",
    change: async () => {},
    field: "client_id",
    message: "client iam-console already exists",
  },
];

test("each refusal of the core is shown next to the field it names, in the core's words, and creates nothing", async (t) => {
  const { page, problems } = await consoleAt(t, CLIENTS, "Clients");
  const before = await api.getClient({ ...ref, clientId: "iam-console" });
  for (const [i, refusal] of REFUSALS.entries()) {
    const id = refusal.id ?? `refused-${i}`;
    await fillValid(page, id);
    await refusal.change(page);
    await page.getByRole("button", { name: "Create client" }).click();
    const error = page.locator(`${NEW}-${refusal.field}-error`);
    await error.waitFor();
    t.is(await error.textContent(), refusal.message, refusal.case);
    t.is(await page.locator(".field-error").count(), 1, `${refusal.case}: one field in error`);
    t.regex((await page.locator(`${NEW}-${refusal.field}`).getAttribute("aria-describedby")) ?? "", new RegExp(`${refusal.field}-error`), `${refusal.case}: the field is described by it`);
    if (refusal.id === undefined) t.is(await outcomeOf(api.getClient({ ...ref, clientId: id })), Code.NotFound, `${refusal.case}: nothing created`);
    if (i === 0) {
      t.deepEqual(await axeViolations(page), [], "the create form with an error shown");
      t.is(await page.evaluate<string>("document.activeElement?.id"), `${NEW.slice(1)}-redirect_uris`, "the field in error has the focus");
    }
  }
  t.deepEqual(await api.getClient({ ...ref, clientId: "iam-console" }), before, "the client whose id was taken is unchanged");
  t.deepEqual(problems, []);
});

test("a lifetime is edited: the update names that field alone, and a refused one changes nothing", async (t) => {
  await api.createClient({ ...ref, clientId: "reports", type: ClientType.CONFIDENTIAL, redirectUris: ["https://reports.example/cb"], accessTokenTtl: 600n });
  const { page, problems } = await consoleAt(t, `${CLIENTS}/reports`, "Client reports");
  t.deepEqual(await axeViolations(page), [], "the client screen");
  const form = `#client-${ORG}-${PROJECT}-reports`;

  await page.fill(`${form}-access_token_ttl`, "10");
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.locator(`${form}-access_token_ttl-error`).waitFor();
  t.is(await page.locator(`${form}-access_token_ttl-error`).textContent(), "access_token_ttl must be 60 to 86400");
  t.is((await api.getClient({ ...ref, clientId: "reports" })).client?.accessTokenTtl, 600n);

  const before = (await api.getClient({ ...ref, clientId: "reports" })).client;
  await page.fill(`${form}-access_token_ttl`, "1200");
  const [update] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/iam.v1.AdminService/UpdateClient")),
    page.getByRole("button", { name: "Save settings" }).click(),
  ]);
  // Connect's JSON writes a FieldMask as its paths in lowerCamelCase, joined by commas.
  t.is((update.postDataJSON() as { updateMask: string }).updateMask, "accessTokenTtl");
  await page.getByRole("status").getByText("Client reports saved").waitFor();
  t.deepEqual((await api.getClient({ ...ref, clientId: "reports" })).client, { ...before!, accessTokenTtl: 1200n });
  t.is(await page.locator(".field-error").count(), 0);
  t.deepEqual(problems, []);
});

test("a grant the form does not offer (token exchange) is kept when another grant type is toggled and saved", async (t) => {
  await api.createClient({
    ...ref,
    clientId: "agent",
    type: ClientType.CONFIDENTIAL,
    redirectUris: ["https://agent.example/cb"],
    grantTypes: ["client_credentials", TOKEN_EXCHANGE_GRANT],
  });
  const { page, problems } = await consoleAt(t, `${CLIENTS}/agent`, "Client agent");
  const form = `#client-${ORG}-${PROJECT}-agent`;
  await page.setChecked(`${form}-grant_types-refresh_token`, true);
  await page.getByRole("button", { name: "Save settings" }).click();
  await page.getByRole("status").getByText("Client agent saved").waitFor();
  t.deepEqual((await api.getClient({ ...ref, clientId: "agent" })).client?.grantTypes, ["refresh_token", "client_credentials", TOKEN_EXCHANGE_GRANT]);
  t.deepEqual(problems, []);
});

test("requiring pushed authorization requests is one checkbox, of a client and of its project: each update names that field alone, and /authorize then refuses a plain request", async (t) => {
  await api.createClient({ ...ref, clientId: "pusher", type: ClientType.PUBLIC, redirectUris: ["https://pusher.example/cb"] });
  const plain = `${s.httpUrl}/services/oauth2/${ORG}/${PROJECT}/authorize?${new URLSearchParams({
    response_type: "code",
    client_id: "pusher",
    redirect_uri: "https://pusher.example/cb",
    code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    code_challenge_method: "S256",
  }).toString()}`;
  const refusal = async () => new URL((await fetch(plain, { redirect: "manual" })).headers.get("location") ?? "about:blank").searchParams.get("error");
  t.is(await refusal(), null, "a plain request is served");

  const { page, problems } = await consoleAt(t, `${CLIENTS}/pusher`, "Client pusher");
  const [update] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/iam.v1.AdminService/UpdateClient")),
    (async () => {
      await page.getByLabel("Require pushed authorization requests", { exact: true }).check();
      await page.getByRole("button", { name: "Save settings" }).click();
    })(),
  ]);
  t.is((update.postDataJSON() as { updateMask: string }).updateMask, "requirePushedAuthorizationRequests");
  await page.getByRole("status").getByText("Client pusher saved").waitFor();
  t.true((await api.getClient({ ...ref, clientId: "pusher" })).client?.requirePushedAuthorizationRequests);
  t.is(await refusal(), "invalid_request");
  await api.updateClient({ ...ref, clientId: "pusher", updateMask: { paths: ["require_pushed_authorization_requests"] } });
  t.is(await refusal(), null);

  await page.goto(`${s.httpUrl}/admin/p/${ORG}/${PROJECT}`);
  await page.getByRole("heading", { name: `Project ${PROJECT}`, exact: true, level: 1 }).waitFor();
  const box = page.getByLabel("Require pushed authorization requests", { exact: true });
  t.false(await box.isChecked());
  const [projectUpdate] = await Promise.all([
    page.waitForRequest((r) => r.url().endsWith("/iam.v1.AdminService/UpdateProject")),
    (async () => {
      await box.check();
      await page.getByRole("button", { name: "Save settings" }).click();
    })(),
  ]);
  t.is((projectUpdate.postDataJSON() as { updateMask: string }).updateMask, "requirePushedAuthorizationRequests");
  await page.getByRole("status").getByText(`Project ${PROJECT} saved`).waitFor();
  t.is(await refusal(), "invalid_request", "the project's rule binds its clients");
  const discovery = (await (await fetch(`${s.httpUrl}/services/oauth2/${ORG}/${PROJECT}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  t.true(discovery.require_pushed_authorization_requests);
  t.deepEqual(await axeViolations(page), []);
  await api.updateProject({ ...ref, updateMask: { paths: ["require_pushed_authorization_requests"] } });
  t.deepEqual(problems, []);
});

test("a rotated secret is shown once; the old one is refused at /token as invalid_client, the new one accepted", async (t) => {
  const old = "worker-secret-0123456789";
  await api.createClient({ ...ref, clientId: "worker", type: ClientType.CONFIDENTIAL, secret: old, grantTypes: ["client_credentials"] });
  t.is((await clientCredentials("worker", old)).status, 200);
  const { page, problems } = await consoleAt(t, `${CLIENTS}/worker`, "Client worker");

  await page.getByRole("button", { name: "Rotate secret" }).click();
  const dialog = page.getByRole("dialog", { name: "Rotate the secret of worker?" });
  t.regex((await dialog.textContent()) ?? "", /The current secret stops working at once/);
  await dialog.getByRole("button", { name: "Rotate secret" }).click();
  const shown = page.locator(".one-time");
  await shown.getByRole("heading", { name: "The secret of worker" }).waitFor();
  const secret = ((await shown.locator("code").textContent()) ?? "").trim();
  t.not(secret, old);

  const refused = await clientCredentials("worker", old);
  t.is(refused.status, 401);
  t.is(refused.body["error"], "invalid_client");
  const accepted = await clientCredentials("worker", secret);
  t.is(accepted.status, 200);
  t.is(accepted.body["token_type"], "Bearer");

  await shown.getByRole("button", { name: "I have stored it" }).click();
  t.false((await page.content()).includes(secret));
  t.deepEqual(problems, []);
});

test("a role of the project is assigned to a client and taken back", async (t) => {
  await api.createClient({ ...ref, clientId: "auditor", type: ClientType.CONFIDENTIAL, secret: "auditor-secret-0123456789", grantTypes: ["client_credentials"] });
  const { page, problems } = await consoleAt(t, `${CLIENTS}/auditor`, "Client auditor");
  const roles = page.getByRole("table", { name: `Roles of ${ORG}/${PROJECT}` });
  await roles.getByRole("button", { name: "Assign order-reader" }).click();
  await page.getByText("It holds: order-reader.").waitFor();
  t.deepEqual((await api.getClient({ ...ref, clientId: "auditor" })).client?.roles, ["order-reader"]);
  // Its scopes under client_credentials are its roles' permissions.
  t.is((await clientCredentials("auditor", "auditor-secret-0123456789")).body["scope"], "shop.orders.read");
  t.deepEqual(await axeViolations(page), [], "the client screen with a role");
  await page.emulateMedia({ colorScheme: "dark" });
  t.deepEqual(await axeViolations(page), [], "the client screen in dark");

  await roles.getByRole("button", { name: "Unassign order-reader" }).click();
  await page.getByText("It holds no role").waitFor();
  t.deepEqual((await api.getClient({ ...ref, clientId: "auditor" })).client?.roles, []);
  t.deepEqual(problems, []);
});

test("a client is deleted after a confirmation that says what goes with it; its secret no longer authenticates", async (t) => {
  const secret = "legacy-secret-0123456789";
  await api.createClient({ ...ref, clientId: "legacy", type: ClientType.CONFIDENTIAL, secret, grantTypes: ["client_credentials"] });
  const { page, problems } = await consoleAt(t, `${CLIENTS}/legacy`, "Client legacy");

  await page.getByRole("button", { name: "Delete client" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete the client legacy?" });
  const said = (await dialog.textContent()) ?? "";
  t.regex(said, /Its refresh tokens stop working at once/);
  t.regex(said, /the roles it holds and the consents people gave it go/);
  const confirm = dialog.getByRole("button", { name: "Delete client" });
  t.true(await confirm.isDisabled(), "until the id is typed");
  await dialog.getByLabel("Type legacy to confirm").fill("legacy");
  await confirm.click();

  await page.getByRole("heading", { name: "Clients", level: 1 }).waitFor();
  t.is(await outcomeOf(api.getClient({ ...ref, clientId: "legacy" })), Code.NotFound);
  const refused = await clientCredentials("legacy", secret);
  t.is(refused.status, 401);
  t.is(refused.body["error"], "invalid_client");
  t.deepEqual(problems, []);
});
