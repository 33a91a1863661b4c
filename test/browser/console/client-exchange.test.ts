/**
 * A client's token exchange (RFC 8693) in the console, in headless chromium
 * on acme/shop: an agent given the grant with its policy (whose users'
 * tokens, which resources, no impersonation), an application naming it in
 * may_act, a refusal of the core shown at its field; then the agent's other
 * settings saved without losing the grant.
 */
import test from "ava";
import { TOKEN_EXCHANGE_GRANT } from "../../../core/protocol/token-exchange.js";
import { ClientType } from "../../../gen/iam/v1/admin_pb.js";
import { useBrowser } from "../_browser.js";
import { axeViolations } from "./_console.js";
import { announced, open, serve, SHOP } from "./_shop.js";

const browser = useBrowser(test);

test("an agent is given token exchange with its policy, an application names it in may_act, a bad resource is refused at its field; saving other settings keeps the grant", async (t) => {
  const served = await serve(t, browser());
  const { admin, auth } = served;
  const { page, problems } = served.console;
  await admin.createClient({ ...SHOP, clientId: "agent", type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"] }, auth);
  await admin.createClient({ ...SHOP, clientId: "notes-app", type: ClientType.PUBLIC, redirectUris: ["https://notes.example/cb"], grantTypes: ["authorization_code"] }, auth);
  const clientOf = async (clientId: string) => (await admin.getClient({ ...SHOP, clientId }, auth)).client!;

  await open(page, "Clients");
  await page.getByRole("link", { name: "agent", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Client agent" }).waitFor();
  const form = page.getByRole("form", { name: "Token exchange" });
  await form.getByLabel("May exchange tokens").check();
  await form.getByLabel("Whose users' tokens it may exchange").fill("notes-app");
  await form.getByLabel("Resources it may ask tokens for").fill("https://notes.example/api#v1");
  await form.getByRole("button", { name: "Save token exchange" }).click();
  const resourcesError = page.locator("#client-exchange-acme-shop-agent-token_exchange_resources-error");
  await resourcesError.waitFor();
  t.regex((await resourcesError.textContent()) ?? "", /cannot name a resource: .*fragment/);
  t.false((await clientOf("agent")).grantTypes.includes(TOKEN_EXCHANGE_GRANT), "the refusal changed nothing");

  await form.getByLabel("Resources it may ask tokens for").fill("https://notes.example/api");
  await form.getByRole("button", { name: "Save token exchange" }).click();
  await announced(page, "Token exchange of agent saved");
  t.like(await clientOf("agent"), {
    grantTypes: ["client_credentials", TOKEN_EXCHANGE_GRANT],
    tokenExchangeSubjectClients: ["notes-app"],
    tokenExchangeResources: ["https://notes.example/api"],
    tokenExchangeImpersonation: false,
  });
  t.deepEqual(await axeViolations(page), []);

  // The settings form, saved after, keeps the grant its own section set.
  await page.getByLabel("Display name").fill("Notes agent");
  await page.getByRole("button", { name: "Save settings" }).click();
  await announced(page, "Client agent saved");
  t.like(await clientOf("agent"), { name: "Notes agent", grantTypes: ["client_credentials", TOKEN_EXCHANGE_GRANT] });

  // A public application: no grant to give, but its users' tokens may name the agent.
  await open(page, "Clients");
  await page.getByRole("link", { name: "notes-app", exact: true }).click();
  await page.getByRole("heading", { level: 1, name: "Client notes-app" }).waitFor();
  const appForm = page.getByRole("form", { name: "Token exchange" });
  t.is(await appForm.getByLabel("May exchange tokens").count(), 0, "a public client cannot exchange tokens");
  await appForm.getByLabel("Only this agent may exchange its users' tokens").fill("agent");
  await appForm.getByRole("button", { name: "Save token exchange" }).click();
  await announced(page, "Token exchange of notes-app saved");
  t.is((await clientOf("notes-app")).mayActClient, "agent");
  t.deepEqual(problems, []);
});
