/**
 * Clients no administrator made, as the console shows them, in headless
 * chromium on acme/shop: a client ID metadata document's (its settings
 * read only, no roles, its URL blocked from its screen) and one that
 * registered itself (RFC 7591, edited as any client).
 */
import test from "ava";
import { ClientMetadataDocumentAction } from "../../../gen/iam/v1/admin_pb.js";
import { seedClient } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { axeViolations } from "./_console.js";
import { announced, open, serve, SHOP } from "./_shop.js";

const browser = useBrowser(test);

const DOCUMENT_CLIENT = "https://agent.example/client.json";

test("a metadata document's client is shown read only, with its origin, and its URL is blocked from its screen; a self-registered client says so and stays editable", async (t) => {
  const served = await serve(t, browser());
  const { s, admin, auth } = served;
  const { page, problems } = served.console;
  await seedClient(s.core, { ...SHOP, id: DOCUMENT_CLIENT, name: "Example Agent", type: "public", redirectUris: ["https://agent.example/cb"], pkceRequired: true, metadataDocument: true });
  await seedClient(s.core, { ...SHOP, id: "self-made", name: "Self Made", secret: "self-made-secret-0001", dynamicallyRegistered: true });
  await open(page, "Clients");

  const table = page.getByRole("table", { name: /Clients of acme\/shop/ });
  t.regex((await table.getByRole("row").filter({ hasText: DOCUMENT_CLIENT }).textContent()) ?? "", /Public, from a metadata document/);
  t.regex((await table.getByRole("row").filter({ hasText: "self-made" }).textContent()) ?? "", /Confidential, registered itself/);

  await table.getByRole("link", { name: DOCUMENT_CLIENT }).click();
  await page.getByRole("heading", { level: 1, name: `Client ${DOCUMENT_CLIENT}` }).waitFor();
  t.regex((await page.locator("dl.facts").first().textContent()) ?? "", /Its client ID metadata document, at agent\.example: no administrator registered it/);
  t.is(await page.getByRole("form").filter({ has: page.getByRole("button", { name: "Save settings" }) }).count(), 0, "no settings to edit: the document decides them");
  t.is(await page.getByRole("heading", { name: "Roles" }).count(), 0, "no roles to give");
  t.regex((await page.getByRole("region", { name: "Metadata document" }).textContent()) ?? "", /https:\/\/agent\.example\/cb/);
  t.deepEqual(await axeViolations(page), []);

  await page.getByRole("button", { name: "Block this URL" }).click();
  const dialog = page.getByRole("dialog", { name: `Block ${DOCUMENT_CLIENT}?` });
  t.regex((await dialog.textContent()) ?? "", /refused from now on, before anything is fetched/);
  await dialog.getByRole("button", { name: "Block URL" }).click();
  await announced(page, `${DOCUMENT_CLIENT} blocked`);
  const { rules } = await admin.listClientMetadataDocumentRules({ ...SHOP }, auth);
  t.deepEqual(rules.map((r) => [r.url, r.action]), [[DOCUMENT_CLIENT, ClientMetadataDocumentAction.BLOCK]]);

  await open(page, "Clients");
  await table.getByRole("link", { name: "self-made" }).click();
  await page.getByRole("heading", { level: 1, name: "Client self-made" }).waitFor();
  t.regex((await page.locator("dl.facts").first().textContent()) ?? "", /It registered itself \(Dynamic Client Registration, RFC 7591\)/);
  await page.getByRole("button", { name: "Save settings" }).waitFor();
  t.deepEqual(problems, []);
});
