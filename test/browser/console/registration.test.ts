/**
 * The console's project settings for clients that come by themselves, in
 * headless chromium on acme/shop: Dynamic Client Registration (RFC 7591)
 * and client ID metadata documents turned on, and the initial access tokens
 * made (shown once), listed and revoked. The token made is then presented to
 * the registration endpoint, as a client developer would. The rules of
 * metadata document URLs (block, pin, remove) are set there too.
 */
import test from "ava";
import { ClientMetadataDocumentAction } from "../../../gen/iam/v1/admin_pb.js";
import { postJson } from "../../gateway/_support.js";
import { useBrowser } from "../_browser.js";
import { axeViolations } from "./_console.js";
import { announced, open, serve, SHOP } from "./_shop.js";

const browser = useBrowser(test);

test("registration with initial access tokens is turned on from the project screen; a token is made, shown once, registers a client, and is revoked", async (t) => {
  const served = await serve(t, browser());
  const { s, admin, auth } = served;
  const { page, problems } = served.console;
  await open(page);

  const settings = page.getByRole("region", { name: "Settings" });
  await settings.getByLabel("Clients may register themselves").selectOption("initial_access_token");
  await settings.getByLabel("Accept clients known by the URL of their metadata document").check();
  await settings.getByRole("button", { name: "Save settings" }).click();
  await announced(page, "Project shop saved");
  t.like((await admin.getProject({ ...SHOP }, auth)).project, { clientRegistration: "initial_access_token", clientIdMetadataDocuments: true });

  const section = page.getByRole("region", { name: "Initial access tokens" });
  await section.waitFor();
  t.regex((await section.textContent()) ?? "", /No initial access token: no client can register itself/);
  const form = page.getByRole("form", { name: "New initial access token" });
  await form.getByLabel("Description").fill("Team X's agents");
  await form.getByLabel("Expires after").selectOption("30");
  await form.getByLabel("Registrations it may make").fill("2000000");
  await form.getByRole("button", { name: "Make token" }).click();
  const usesError = page.locator("#create-initial-access-token-acme-shop-max_uses-error");
  await usesError.waitFor();
  t.is(await usesError.textContent(), "max_uses must be 1 to 1000000");
  t.deepEqual((await admin.listInitialAccessTokens({ ...SHOP }, auth)).initialAccessTokens, [], "the refusal made nothing");

  await form.getByLabel("Registrations it may make").fill("5");
  await form.getByRole("button", { name: "Make token" }).click();
  await announced(page, "Initial access token made: copy it now");
  const token = (await page.locator(".one-time code").textContent()) ?? "";
  t.regex(token, /^[A-Za-z0-9_-]{40,}$/);
  const row = section.getByRole("row").filter({ hasText: "Team X's agents" });
  t.regex((await row.textContent()) ?? "", /5 of 5/);
  const [listed] = (await admin.listInitialAccessTokens({ ...SHOP }, auth)).initialAccessTokens;
  t.is(Number(listed!.expiresAt - listed!.createdAt), 30 * 86_400);
  t.deepEqual(await axeViolations(page), []);
  await page.getByRole("button", { name: "I have stored it" }).click();
  t.is(await page.locator(".one-time").count(), 0, "the token is gone from the page");

  // The token registers a client, as RFC 7591 §3 has it.
  const register = (bearer: string) =>
    postJson(`${s.httpUrl}/services/oauth2/acme/shop/register`, { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" }, { authorization: `Bearer ${bearer}` });
  t.is((await register(token)).status, 201);

  await row.getByRole("button", { name: "Revoke Team X's agents" }).click();
  await page.getByRole("dialog", { name: "Revoke the initial access token Team X's agents?" }).getByRole("button", { name: "Revoke token" }).click();
  await announced(page, "Initial access token Team X's agents revoked");
  await row.waitFor({ state: "detached" });
  t.is((await register(token)).status, 401, "a revoked token registers nothing");
  t.deepEqual(problems, []);
});

test("metadata document rules are set from the project screen while it accepts documents: a block, a pin whose bad document is refused at its field, and a removal", async (t) => {
  const served = await serve(t, browser());
  const { admin, auth } = served;
  const { page, problems } = served.console;
  await admin.updateProject({ ...SHOP, clientIdMetadataDocuments: true, updateMask: { paths: ["client_id_metadata_documents"] } }, auth);
  const rules = async () => (await admin.listClientMetadataDocumentRules({ ...SHOP }, auth)).rules.map((r) => [r.url, r.action]);
  await open(page);
  const section = page.getByRole("region", { name: "Metadata document rules" });
  await section.waitFor();
  const form = page.getByRole("form", { name: "New metadata document rule" });

  await form.getByLabel("URL").fill("https://rogue.example/client.json");
  await form.getByRole("button", { name: "Set rule" }).click();
  await announced(page, "https://rogue.example/client.json blocked");

  const pinned = "https://agent.example/client.json";
  await form.getByLabel("URL").fill(pinned);
  await form.getByLabel("Rule").selectOption("pin");
  await form.getByLabel("Document").fill(JSON.stringify({ client_id: "https://other.example/client.json", redirect_uris: ["https://agent.example/cb"] }));
  await form.getByRole("button", { name: "Set rule" }).click();
  const documentError = page.locator("#document-rule-acme-shop-document-error");
  await documentError.waitFor();
  t.regex((await documentError.textContent()) ?? "", /names another client_id than its URL/);
  t.deepEqual(await rules(), [["https://rogue.example/client.json", ClientMetadataDocumentAction.BLOCK]], "the refused pin made nothing");

  await form.getByLabel("Document").fill(JSON.stringify({ client_id: pinned, redirect_uris: ["https://agent.example/cb"] }));
  await form.getByRole("button", { name: "Set rule" }).click();
  await announced(page, `${pinned} pinned`);
  t.deepEqual(await rules(), [
    [pinned, ClientMetadataDocumentAction.PIN],
    ["https://rogue.example/client.json", ClientMetadataDocumentAction.BLOCK],
  ]);
  t.deepEqual(await axeViolations(page), []);

  await section.getByRole("button", { name: "Remove the rule of https://rogue.example/client.json" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Remove rule" }).click();
  await announced(page, "Rule of https://rogue.example/client.json removed");
  await section.getByRole("row").filter({ hasText: "rogue.example" }).waitFor({ state: "detached" });
  t.deepEqual(await rules(), [[pinned, ClientMetadataDocumentAction.PIN]]);
  t.deepEqual(problems, []);
});
