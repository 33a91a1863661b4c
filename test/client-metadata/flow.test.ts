/**
 * A client that identifies itself by the URL of its client ID metadata
 * document (draft-ietf-oauth-client-id-metadata-document): the document
 * fetched over real HTTPS, the code flow with PKCE and a refresh, discovery,
 * the consent page, the cache, and the client as administrators see it.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import test from "ava";
import { assertJsonError, assertTokens, getJson, postForm, postJson, token } from "../gateway/_support.js";
import { assertion, byAssertion, clientKey, jwksOf } from "../client-auth/_assertion.js";
import { ALICE } from "../core/flow.js";
import { DEFAULT, pkcePair } from "../helpers.js";
import { authorize, codeFor, documentFor, exchange, json, REDIRECT_URI, setup } from "./_documents.js";

test("a good document completes the code flow with PKCE and a refresh, as a public client kept in ListClients", async (t) => {
  const { s, docs, admin, auth } = await setup(t);
  const clientId = `${docs.origin}/agent.json`;
  docs.serve("/agent.json", json(documentFor(clientId, { grant_types: ["authorization_code", "refresh_token"] }), { "cache-control": "max-age=300" }));
  const { code, verifier } = await codeFor(s, clientId);
  const tokens = await assertTokens(t, await exchange(s, clientId, code, verifier));
  t.truthy(tokens.refresh_token);
  const claims = JSON.parse(Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;
  t.is(claims.client_id, clientId);
  const refreshed = await assertTokens(t, await token(s, { grant_type: "refresh_token", client_id: clientId, refresh_token: tokens.refresh_token! }));
  t.not(refreshed.refresh_token, tokens.refresh_token);

  const { clients } = await admin.listClients({ ...DEFAULT }, auth);
  const listed = clients.find((c) => c.id === clientId);
  t.truthy(listed);
  t.true(listed!.metadataDocument);
  t.is(listed!.name, "Example Agent");
  t.deepEqual(listed!.redirectUris, [REDIRECT_URI]);
  t.true(listed!.pkceRequired);
  t.false(listed!.rememberConsent);
  // The document owns it: the administrator blocks or pins, never edits.
  await t.throwsAsync(admin.updateClient({ ...DEFAULT, clientId, name: "Renamed", updateMask: { paths: ["name"] } }, auth), { message: /follows its document/ });
});

test("a document's client must use PKCE with S256: plain is refused with invalid_request", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/plain.json`;
  docs.serve("/plain.json", json(documentFor(clientId)));
  const res = await authorize(s, clientId, { code_challenge: "a".repeat(43), code_challenge_method: "plain" });
  t.is(res.status, 302);
  const back = new URL(res.headers.get("location")!);
  t.is(back.searchParams.get("error"), "invalid_request");
});

test("discovery says client_id_metadata_document_supported only when the project accepts documents; GetProject shows the setting", async (t) => {
  const { s, admin, auth } = await setup(t, {}, false);
  const before = (await (await getJson(`${s.project}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  t.false("client_id_metadata_document_supported" in before);
  t.false((await admin.getProject({ organization: DEFAULT.organization, project: DEFAULT.project }, auth)).project!.clientIdMetadataDocuments);
  await admin.updateProject({ ...DEFAULT, clientIdMetadataDocuments: true, updateMask: { paths: ["client_id_metadata_documents"] } }, auth);
  t.true((await admin.getProject({ organization: DEFAULT.organization, project: DEFAULT.project }, auth)).project!.clientIdMetadataDocuments);
  const after = (await (await getJson(`${s.project}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  t.is(after.client_id_metadata_document_supported, true);
});

test("with the project's setting off, a URL client_id is an unknown client and nothing is fetched", async (t) => {
  const { s, docs } = await setup(t, {}, false);
  const clientId = `${docs.origin}/off.json`;
  docs.serve("/off.json", json(documentFor(clientId)));
  const res = await authorize(s, clientId);
  t.is(res.status, 400);
  t.is(((await res.json()) as { error: string }).error, "invalid_request");
  t.is(docs.hits(), 0);
});

test("the consent and sign-in pages show the document's name, escaped, and the host it came from", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/named.json`;
  docs.serve("/named.json", json(documentFor(clientId, { client_name: "<script>alert(1)</script>", logo_uri: "https://evil.example/logo.png" })));
  const host = new URL(docs.origin).host;
  const start = await authorize(s, clientId);
  const context = (await start.json()) as { request_id: string; client: { name: string; metadata_document_host: string } };
  t.is(context.client.metadata_document_host, host);
  // The HTML pages: the sign-in page, then the consent page after signing in.
  const { challenge } = { challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" };
  const page = await fetch(
    `${s.project}/authorize?${new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, state: "s", code_challenge: challenge, code_challenge_method: "S256" })}`,
  );
  const signIn = await page.text();
  t.is(page.status, 200);
  t.false(signIn.includes("<script>alert(1)</script>"));
  t.true(signIn.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  t.true(signIn.includes(`<strong>${host}</strong>`));
  t.false(signIn.includes("evil.example"));
  const binding = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const requestId = /name="request_id" value="([^"]+)"/.exec(signIn)![1]!;
  // A failed sign-in shows the page again, host included.
  const failed = await postForm(`${s.project}/authorize`, { request_id: requestId, username: ALICE.id, password: "wrong-password" }, { cookie: binding });
  const again = await failed.text();
  t.is(failed.status, 401);
  t.true(again.includes(`<strong>${host}</strong>`));
  t.false(again.includes("<script>alert(1)</script>"));
  const consent = await postForm(`${s.project}/authorize`, { request_id: requestId, username: ALICE.id, password: ALICE.password }, { cookie: binding });
  const consentPage = await consent.text();
  t.is(consent.status, 200, consentPage);
  t.true(consentPage.includes('id="consent-form"'));
  t.true(consentPage.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  t.false(consentPage.includes("<script>alert(1)</script>"));
  t.true(consentPage.includes(`<strong>${host}</strong>`));
  // JSON steps of another request are unaffected by the page's escaping.
  t.is(context.client.name, "<script>alert(1)</script>");
  void postJson;
});

test("the cache honours max-age: two authorization requests, one fetch", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/cached.json`;
  docs.serve("/cached.json", json(documentFor(clientId), { "cache-control": "max-age=600" }));
  t.is((await authorize(s, clientId)).status, 200);
  t.is((await authorize(s, clientId)).status, 200);
  t.is(docs.hits("/cached.json"), 1);
});

test("the cache honours no-store: two authorization requests, two fetches", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/uncached.json`;
  docs.serve("/uncached.json", json(documentFor(clientId), { "cache-control": "no-store" }));
  t.is((await authorize(s, clientId)).status, 200);
  t.is((await authorize(s, clientId)).status, 200);
  t.is(docs.hits("/uncached.json"), 2);
});

test("concurrent requests for one document share one fetch", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/shared.json`;
  docs.serve("/shared.json", (req, res) => setTimeout(() => json(documentFor(clientId), { "cache-control": "no-store" })(req, res), 200));
  const answers = await Promise.all([authorize(s, clientId), authorize(s, clientId), authorize(s, clientId)]);
  t.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
  t.is(docs.hits("/shared.json"), 1);
});

test("a document with private_key_jwt and inline jwks authenticates at /token with an assertion, and without one is invalid_client", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/signed.json`;
  const key = await clientKey();
  docs.serve("/signed.json", json(documentFor(clientId, { token_endpoint_auth_method: "private_key_jwt", jwks: JSON.parse(jwksOf(key)) }), { "cache-control": "max-age=600" }));
  const first = await codeFor(s, clientId);
  await assertJsonError(t, await exchange(s, clientId, first.code, first.verifier), 401, "invalid_client");
  const { code, verifier } = await codeFor(s, clientId);
  const res = await token(s, { grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier, ...byAssertion(await assertion(s, clientId, key)) });
  const tokens = await assertTokens(t, res);
  t.truthy(tokens.access_token);
  const listed = await s.core.deps.store.getClient(DEFAULT, clientId);
  t.is(listed!.type, "public");
  t.is(listed!.secretHash, null);
});

test("a document with private_key_jwt and a jwks_uri: the keys fetched from there authenticate at /token; another key's assertion is invalid_client", async (t) => {
  const { s, docs } = await setup(t, { jwksUriPrivateNetworks: true });
  const key = await clientKey();
  let keyFetches = 0;
  const keys = createServer((_req, res) => {
    keyFetches += 1;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(jwksOf(key));
  });
  await new Promise<void>((resolve) => keys.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => keys.close(() => resolve())));
  const jwksUri = `http://127.0.0.1:${(keys.address() as AddressInfo).port}/jwks.json`;
  const clientId = `${docs.origin}/keys-at-uri.json`;
  docs.serve("/keys-at-uri.json", json(documentFor(clientId, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri })));

  const first = await codeFor(s, clientId);
  const stranger = await clientKey();
  const refused = await token(s, { grant_type: "authorization_code", code: first.code, redirect_uri: REDIRECT_URI, code_verifier: first.verifier, ...byAssertion(await assertion(s, clientId, stranger)) });
  await assertJsonError(t, refused, 401, "invalid_client");
  const { code, verifier } = await codeFor(s, clientId);
  const res = await token(s, { grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: verifier, ...byAssertion(await assertion(s, clientId, key)) });
  t.truthy((await assertTokens(t, res)).access_token);
  t.true(keyFetches >= 1, "the keys came from the document's jwks_uri");
  t.is((await s.core.deps.store.getClient(DEFAULT, clientId))!.jwksUri, jwksUri);
});

test("a pushed authorization request of a document's client is accepted and then served at /authorize; a blocked URL is invalid_client (401) at /par", async (t) => {
  const { s, docs, admin, auth } = await setup(t);
  const clientId = `${docs.origin}/pushed.json`;
  docs.serve("/pushed.json", json(documentFor(clientId)));
  const params = { response_type: "code", client_id: clientId, redirect_uri: REDIRECT_URI, scope: "openid", state: "s", code_challenge: pkcePair().challenge, code_challenge_method: "S256" };
  const pushed = await postForm(`${s.project}/par`, params);
  t.is(pushed.status, 201);
  const { request_uri } = (await pushed.json()) as { request_uri: string };
  const start = await getJson(`${s.project}/authorize?${new URLSearchParams({ client_id: clientId, request_uri })}`);
  t.is(start.status, 200);
  t.is(((await start.json()) as { client: { id: string } }).client.id, clientId);
  await admin.setClientMetadataDocumentRule({ ...DEFAULT, url: clientId, action: 1 }, auth);
  await assertJsonError(t, await postForm(`${s.project}/par`, params), 401, "invalid_client");
});
