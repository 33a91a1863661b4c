/**
 * Documents iam-core refuses, and how: an error page at /authorize (400
 * invalid_request, never a redirect to a redirect URI nobody validated,
 * RFC 6749 §4.1.2.1), invalid_client (401) at /token
 * (draft-ietf-oauth-client-id-metadata-document §3, §4, §6).
 */
import test from "ava";
import { assertErrorPage, assertJsonError, authorizeUrl, get, token } from "../gateway/_support.js";
import { clientKey, jwksOf } from "../client-auth/_assertion.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { ClientMetadataDocumentAction } from "../../gen/iam/v1/admin_pb.js";
import { DEFAULT, pkcePair } from "../helpers.js";
import { authorize, codeFor, documentFor, exchange, json, REDIRECT_URI, setup } from "./_documents.js";

/** A browser's GET /authorize of a document's client: the HTML answer. */
const authorizePage = (s: Parameters<typeof authorize>[0], clientId: string, extra: Record<string, string> = {}) =>
  get(
    authorizeUrl(s, {
      response_type: "code",
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      state: "st",
      code_challenge: pkcePair().challenge,
      code_challenge_method: "S256",
      ...extra,
    }),
  );

/** A valid public key, so that a document naming it is refused for what the test says, not for its keys. */
const KEY = await clientKey();

const refusedDocuments: [string, (clientId: string) => unknown][] = [
  ["whose client_id differs from its URL", (id) => documentFor(`${id}x`)],
  ["with client_secret_post", (id) => documentFor(id, { token_endpoint_auth_method: "client_secret_post" })],
  ["with client_secret_basic", (id) => documentFor(id, { token_endpoint_auth_method: "client_secret_basic" })],
  ["carrying a client_secret", (id) => documentFor(id, { client_secret: "shared" })],
  ["without redirect_uris", (id) => ({ client_id: id, client_name: "x" })],
  ["with a javascript: redirect URI", (id) => documentFor(id, { redirect_uris: ["javascript:alert(1)"] })],
  ["with the client_credentials grant", (id) => documentFor(id, { grant_types: ["authorization_code", "client_credentials"] })],
  ["with the token response type", (id) => documentFor(id, { response_types: ["token"] })],
  ["with private_key_jwt but no keys", (id) => documentFor(id, { token_endpoint_auth_method: "private_key_jwt" })],
  ["with both jwks and a jwks_uri", (id) => documentFor(id, { token_endpoint_auth_method: "private_key_jwt", jwks: JSON.parse(jwksOf(KEY)), jwks_uri: "https://keys.example/jwks.json" })],
  ["that is not a JSON object", () => "[1, 2]"],
];

for (const [what, body] of refusedDocuments) {
  test(`a document ${what} is refused with an error page, never a redirect`, async (t) => {
    const { s, docs } = await setup(t);
    const clientId = `${docs.origin}/bad.json`;
    docs.serve("/bad.json", json(body(clientId)));
    await assertErrorPage(t, await authorizePage(s, clientId), 400, "invalid_request");
    t.is(docs.hits("/bad.json"), 1);
  });
}

test("a refused document is remembered briefly: a second request does not fetch it again", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/wrong-id.json`;
  docs.serve("/wrong-id.json", json(documentFor("https://other.example/client.json")));
  const unfetchable = `${docs.origin}/missing.json`;
  for (let i = 0; i < 2; i++) {
    await assertErrorPage(t, await authorizePage(s, clientId), 400, "invalid_request");
    await assertErrorPage(t, await authorizePage(s, unfetchable), 400, "invalid_request");
  }
  t.is(docs.hits("/wrong-id.json"), 1);
  t.is(docs.hits("/missing.json"), 1);
});

/** Answers refused, and what the operator's log says of each. */
const refusedAnswers: [string, Parameters<Awaited<ReturnType<typeof setup>>["docs"]["serve"]>[1], string][] = [
  ["larger than 5120 bytes", json(documentFor("x", { client_name: "n".repeat(6000) })), "larger than 5120 bytes"],
  [
    "larger than 5120 bytes, without a Content-Length",
    (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"client_name": "${"n".repeat(4000)}`);
      res.end(`${"n".repeat(4000)}"}`);
    },
    "larger than 5120 bytes",
  ],
  ["slower than the timeout", (_req, res) => void setTimeout(() => json({})(_req, res), 8000), "no complete answer within 2 s"],
  [
    "a redirect",
    (_req, res) => {
      res.writeHead(302, { location: "/elsewhere.json" });
      res.end();
    },
    "answered 302; redirects are not followed",
  ],
  [
    "a 404",
    (_req, res) => {
      res.statusCode = 404;
      res.end();
    },
    "answered 404",
  ],
  [
    "text/html",
    (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("{}");
    },
    "answered text/html, not application/json",
  ],
];

for (const [what, answer, logged] of refusedAnswers) {
  test(`an answer ${what} is refused with an error page`, async (t) => {
    // The slow answer comes after 8 s: past a 2 s limit however loaded the machine; the others have 10 s.
    const { s, docs } = await setup(t, logged.startsWith("no complete answer") ? { clientMetadataTimeout: 2 } : {});
    const clientId = `${docs.origin}/answer.json`;
    docs.serve("/answer.json", answer);
    docs.serve("/elsewhere.json", json(documentFor(clientId)));
    const page = await assertErrorPage(t, await authorizePage(s, clientId), 400, "invalid_request");
    t.true(page.includes("could not be fetched"));
    t.false(page.includes(logged), "what the fetch met stays in the log");
    t.true(s.lines.some((line) => line.includes(logged)), `the log says: ${logged}`);
    t.is(docs.hits("/elsewhere.json"), 0, "a redirect is not followed");
  });
}

test("a document on a private address is refused before any connection unless IAM_CLIENT_METADATA_PRIVATE_NETWORKS is set", async (t) => {
  const { s, docs } = await setup(t, { clientMetadataPrivateNetworks: false });
  const clientId = `${docs.origin}/private.json`;
  docs.serve("/private.json", json(documentFor(clientId)));
  await assertErrorPage(t, await authorizePage(s, clientId), 400, "invalid_request");
  t.is(docs.hits(), 0);
  t.true(s.lines.some((line) => line.includes("IAM_CLIENT_METADATA_PRIVATE_NETWORKS")));
});

const refusedUrls: [string, (origin: string) => string][] = [
  ["http", (origin) => `${origin.replace("https:", "http:")}/client.json`],
  ["without a path", (origin) => `${origin}/`],
  ["with a fragment", (origin) => `${origin}/client.json#frag`],
  ["with user info", (origin) => origin.replace("https://", "https://user:pass@") + "/client.json"],
  ["with a dot segment", (origin) => `${origin}/a/../client.json`],
  ["with an encoded dot segment", (origin) => `${origin}/a/%2e%2e/client.json`],
];

for (const [what, url] of refusedUrls) {
  test(`a client_id URL ${what} is refused without a fetch`, async (t) => {
    const { s, docs } = await setup(t);
    docs.serve("/client.json", json(documentFor(url(docs.origin))));
    await assertErrorPage(t, await authorizePage(s, url(docs.origin)), 400, "invalid_request");
    t.is(docs.hits(), 0);
  });
}

test("a redirect_uri the document does not list is an error page, never a redirect", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/agent.json`;
  docs.serve("/agent.json", json(documentFor(clientId)));
  await assertErrorPage(t, await authorizePage(s, clientId, { redirect_uri: "https://attacker.example/callback" }), 400, "invalid_request");
  await assertErrorPage(t, await authorizePage(s, clientId, { redirect_uri: `${REDIRECT_URI}/` }), 400, "invalid_request");
});

test("a block refuses the URL before any fetch, at /authorize (error page) and at /token (invalid_client, 401); removing it serves again", async (t) => {
  const { s, docs, admin, auth } = await setup(t);
  const clientId = `${docs.origin}/agent.json`;
  docs.serve("/agent.json", json(documentFor(clientId), { "cache-control": "no-store" }));
  const { code, verifier } = await codeFor(s, clientId);
  t.is(docs.hits(), 1);
  await admin.setClientMetadataDocumentRule({ organization: "iam-admins", project: "iam-admins", url: clientId, action: 1 }, auth);
  const page = await assertErrorPage(t, await authorizePage(s, clientId), 400, "invalid_request");
  t.true(page.includes("blocked"));
  await assertJsonError(t, await exchange(s, clientId, code, verifier), 401, "invalid_client");
  t.is(docs.hits(), 1);
  const { rules } = await admin.listClientMetadataDocumentRules({ organization: "iam-admins", project: "iam-admins" }, auth);
  t.deepEqual(rules.map((r) => [r.url, r.action]), [[clientId, 1]]);
  await admin.deleteClientMetadataDocumentRule({ organization: "iam-admins", project: "iam-admins", url: clientId }, auth);
  t.is((await authorize(s, clientId)).status, 200);
  t.is(docs.hits(), 2);
  const events = await s.core.deps.store.listAuditEvents({ organization: "iam-admins", project: "iam-admins" }, {}, { after: 0, limit: 1000 });
  t.deepEqual(
    events.filter((e) => e.action.startsWith("CLIENT_METADATA_DOCUMENT_RULE")).map((e) => [e.action, e.target?.id]),
    [
      ["CLIENT_METADATA_DOCUMENT_RULE_SET", clientId],
      ["CLIENT_METADATA_DOCUMENT_RULE_DELETED", clientId],
    ],
  );
});

test("a pinned document is used without fetching; a pin that breaks the rules is refused", async (t) => {
  const { s, docs, admin, auth } = await setup(t);
  const clientId = `${docs.origin}/pinned.json`;
  const ref = { organization: "iam-admins", project: "iam-admins" };
  await t.throwsAsync(
    admin.setClientMetadataDocumentRule({ ...ref, url: clientId, action: 2, document: JSON.stringify(documentFor(clientId, { client_secret: "x" })) }, auth),
    { message: /client_secret/ },
  );
  await t.throwsAsync(admin.setClientMetadataDocumentRule({ ...ref, url: "http://example.com/c.json", action: 1 }, auth), { message: /https/ });
  await admin.setClientMetadataDocumentRule({ ...ref, url: clientId, action: 2, document: JSON.stringify(documentFor(clientId, { client_name: "Pinned" })) }, auth);
  const start = await authorize(s, clientId);
  t.is(start.status, 200);
  t.is(((await start.json()) as { client: { name: string } }).client.name, "Pinned");
  const { code, verifier } = await codeFor(s, clientId);
  t.is((await exchange(s, clientId, code, verifier)).status, 200);
  t.is(docs.hits(), 0);
});

test("at /token, a document's client presenting a secret is invalid_client (401)", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/agent.json`;
  docs.serve("/agent.json", json(documentFor(clientId)));
  const { code, verifier } = await codeFor(s, clientId);
  const res = await token(s, { grant_type: "authorization_code", client_id: clientId, client_secret: "guess", code, redirect_uri: REDIRECT_URI, code_verifier: verifier });
  await assertJsonError(t, res, 401, "invalid_client");
});

test("a client registered otherwise keeps its URL id: its document is never fetched and cannot take it over", async (t) => {
  const { s, docs } = await setup(t);
  const clientId = `${docs.origin}/taken.json`;
  const registered = await s.core.deps.store.getClient({ organization: "iam-admins", project: "iam-admins" }, "spa-app");
  // A row of a URL id that is not a document's (as a registration of another kind could make one).
  await s.core.deps.store.createClient({ ...registered!, id: clientId, name: "Registered", metadataDocument: false });
  docs.serve("/taken.json", json(documentFor(clientId, { redirect_uris: ["https://attacker.example/cb"] })));
  await assertErrorPage(t, await authorizePage(s, clientId, { redirect_uri: "https://attacker.example/cb" }), 400, "invalid_request");
  const after = await s.core.deps.store.getClient({ organization: "iam-admins", project: "iam-admins" }, clientId);
  t.is(after!.name, "Registered");
  t.deepEqual(after!.redirectUris, registered!.redirectUris);
  t.is(docs.hits(), 0);
});

test("a document's jwks_uri may be on a private network only as IAM_CLIENT_METADATA_PRIVATE_NETWORKS allows documents, whatever IAM_JWKS_URI_PRIVATE_NETWORKS allows administrators' clients", async (t) => {
  const { admin, auth } = await setup(t, { clientMetadataPrivateNetworks: false, jwksUriPrivateNetworks: true });
  const url = "https://agent.example/client.json";
  const pinned = (jwksUri: string) =>
    admin.setClientMetadataDocumentRule(
      { ...DEFAULT, url, action: ClientMetadataDocumentAction.PIN, document: JSON.stringify(documentFor(url, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri })) },
      auth,
    );
  for (const jwksUri of ["https://10.0.0.1/jwks.json", "http://127.0.0.1:9/jwks.json"]) {
    const err = await t.throwsAsync(pinned(jwksUri), { instanceOf: ConnectError });
    t.is(err?.code, Code.InvalidArgument, jwksUri);
    t.regex(err?.rawMessage ?? "", /^document: the client's metadata document is not valid: jwks_uri/, jwksUri);
  }
  t.deepEqual((await admin.listClientMetadataDocumentRules({ ...DEFAULT }, auth)).rules, []);
  await pinned("https://keys.agent.example/jwks.json");
  t.is((await admin.listClientMetadataDocumentRules({ ...DEFAULT }, auth)).rules.length, 1, "a public one is taken");
});
