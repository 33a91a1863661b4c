/**
 * The console's settings of how a client authenticates, in chromium: a
 * client made to authenticate by private_key_jwt with its JWK Set pasted,
 * DPoP required and the FAPI 2.0 profile chosen is created with no secret
 * shown nor a secret to rotate; the core's refusal of an inconsistent
 * choice is shown in its words and creates nothing; and the key it was
 * given authenticates it at /token. What the screens did is read back
 * through the AdminService, as a script would.
 */
import { randomUUID } from "node:crypto";
import test from "ava";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { AdminService } from "../../../gen/iam/v1/admin_pb.js";
import type { Client as ApiClient } from "@connectrpc/connect";
import { startTestServer, type TestServer } from "../../helpers.js";
import { useBrowser } from "../_browser.js";
import { axeViolations, openConsole, signIn } from "./_console.js";
import { globalAdmin } from "./_tenants.js";

const browser = useBrowser(test);
const ORG = "acme";
const PROJECT = "vault";
const ref = { organization: ORG, project: PROJECT };

let s: TestServer;
let api: ApiClient<typeof AdminService>;

test.before(async () => {
  s = await startTestServer({ localhost: true });
  api = await globalAdmin(s);
  await api.createOrganization({ id: ORG, name: "Acme" });
  await api.createProject({ organization: ORG, id: PROJECT, name: "Vault" });
});

test.after.always(async () => {
  await s?.close();
});

test("a private_key_jwt client with DPoP and the FAPI 2.0 profile is created in the form: no secret shown or to rotate, its key authenticates it; a refusal creates nothing", async (t) => {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "vault-1" }] });
  const { page, problems } = await openConsole(t, browser());
  await signIn(page, s);
  await page.goto(`${s.httpUrl}/admin/p/${ORG}/${PROJECT}/clients`);
  await page.getByRole("heading", { name: "Clients", exact: true, level: 1 }).waitFor();

  const fill = async (id: string) => {
    await page.getByLabel("Id (required)", { exact: true }).fill(id);
    await page.getByLabel("Type", { exact: true }).selectOption("confidential");
    await page.getByLabel("Redirect URIs", { exact: true }).fill("https://vault.example/cb");
    await page.getByRole("checkbox", { name: /^client_credentials:/ }).check();
    await page.getByLabel("Client authentication", { exact: true }).selectOption("private_key_jwt");
    await page.getByLabel("Public keys (JWK Set)", { exact: true }).fill(jwks);
    await page.getByLabel("Require DPoP", { exact: true }).check();
    await page.getByLabel("Security profile", { exact: true }).selectOption("fapi2");
  };
  // The profile wants ES256 ID tokens; the form still says RS256: the core's words, nothing created.
  await fill("vault-app");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.getByText("a FAPI 2.0 client's ID tokens are ES256", { exact: false }).first().waitFor();
  t.deepEqual((await api.listClients({ ...ref })).clients.map((c) => c.id).filter((id) => id === "vault-app"), []);

  await page.getByLabel("ID token algorithm", { exact: true }).selectOption("ES256");
  await page.getByRole("button", { name: "Create client" }).click();
  await page.getByRole("heading", { name: "Client vault-app", level: 1 }).waitFor();
  t.is(await page.locator(".one-time").count(), 0, "no secret to show");
  t.is(await page.getByRole("button", { name: "Rotate secret" }).count(), 0, "no secret to rotate");
  await page.getByText("authenticates with its private key (private_key_jwt)").waitFor();
  t.deepEqual(await axeViolations(page), []);

  const saved = (await api.getClient({ ...ref, clientId: "vault-app" })).client!;
  t.is(saved.tokenEndpointAuthMethod, "private_key_jwt");
  t.is(saved.jwks, jwks);
  t.true(saved.dpopBoundAccessTokens);
  t.is(saved.securityProfile, "fapi2");

  // The key it was given authenticates it; under the profile, only with a DPoP proof.
  const issuer = `${s.httpUrl}/services/oauth2/${ORG}/${PROJECT}`;
  // The server's clock is the test's, not the machine's.
  const now = Math.floor(s.clock.now() / 1000);
  const assertion = await new SignJWT({ iss: "vault-app", sub: "vault-app", aud: issuer, jti: randomUUID(), iat: now, exp: now + 60 })
    .setProtectedHeader({ alg: "ES256", kid: "vault-1" })
    .sign(privateKey);
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }),
  });
  t.is(res.status, 400);
  t.is(((await res.json()) as { error: string }).error, "invalid_dpop_proof", "authenticated, then held to DPoP");
  t.deepEqual(problems, []);
});
