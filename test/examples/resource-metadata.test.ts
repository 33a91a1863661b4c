/**
 * Protected resource metadata (RFC 9728) and tokens restricted to one
 * resource (RFC 8707), as a resource server sees them: the example notes API
 * publishes its document and names it in every challenge; configured with
 * its resource URI, it (and the client helper, and a resource-server library
 * of its own, express-oauth2-jwt-bearer) refuses a token issued for another
 * resource of the same project.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import test, { type ExecutionContext } from "ava";
import { auth, requiredScopes } from "express-oauth2-jwt-bearer";
import {
  bearerChallenge,
  createAccessTokenVerifier,
  protectedResourceMetadata,
  resourceMetadataPath,
  resourceMetadataUrl,
  TokenFailure,
  type VerifyTokenResponse,
} from "../../client/index.js";
import { REQUIRED_SCOPE, startResourceServer, type ResourceServerOptions } from "../../examples/resource-server/server.js";
import { DEFAULT, pkcePair, seedClient, seedUser, startTestServer, TestClock, type TestServer } from "../helpers.js";

const ISSUER = "http://iam.test/services/oauth2/iam-admins/iam-admins";
const APP = { id: "notes-app", redirect: "http://127.0.0.1:9999/callback" };
const DANA = { id: "dana", password: "dana-password-1" };
/** Two resources of the project, both accepting the notes scope; NOTES also the write scope. */
const NOTES = "https://notes.example/api";
const OTHER = "https://other.example/api";

async function setup(t: ExecutionContext): Promise<TestServer> {
  const clock = new TestClock();
  clock.ms = Date.now();
  const s = await startTestServer({ clock });
  t.teardown(() => s.close());
  await seedClient(s.core, { id: APP.id, name: "Notes", redirectUris: [APP.redirect], pkceRequired: true });
  await seedUser(s.core, { ...DANA, permissions: [REQUIRED_SCOPE, "notes.note.write"] });
  await s.core.deps.store.createResource({ ...DEFAULT, uri: NOTES, name: "Notes", scopes: [REQUIRED_SCOPE, "notes.note.write"], createdAt: 0 });
  await s.core.deps.store.createResource({ ...DEFAULT, uri: OTHER, name: "Other", scopes: [REQUIRED_SCOPE], createdAt: 0 });
  return s;
}

/** Dana's access token through the JSON flow, for `resource` (none: the project's audience). */
async function accessToken(s: TestServer, resource?: string, scope = REQUIRED_SCOPE): Promise<string> {
  const { verifier, challenge } = pkcePair(`verifier-${crypto.randomUUID()}-${crypto.randomUUID()}`);
  const query = new URLSearchParams({ response_type: "code", client_id: APP.id, redirect_uri: APP.redirect, scope, state: "s", code_challenge: challenge, code_challenge_method: "S256" });
  if (resource !== undefined) query.append("resource", resource);
  const json = { "content-type": "application/json", accept: "application/json" };
  const started = await fetch(`${s.project}/authorize?${query}`, { headers: { accept: "application/json" }, redirect: "manual" });
  if (started.status !== 200) throw new Error(`authorize: ${started.status} ${started.headers.get("location")}`);
  const { request_id } = (await started.json()) as { request_id: string };
  const login = await fetch(`${s.project}/authorize`, { method: "POST", headers: json, body: JSON.stringify({ request_id, username: DANA.id, password: DANA.password }) });
  const { scopes } = (await login.json()) as { scopes: { name: string }[] };
  const consent = await fetch(`${s.project}/consent`, { method: "POST", headers: json, body: JSON.stringify({ request_id, scopes: scopes.map((x) => x.name) }) });
  const code = new URL(((await consent.json()) as { redirect_to: string }).redirect_to).searchParams.get("code")!;
  const res = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: APP.redirect, code_verifier: verifier, client_id: APP.id }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function notesApi(t: ExecutionContext, s: TestServer, overrides: Partial<ResourceServerOptions> = {}) {
  const api = await startResourceServer({ coreUrl: s.grpcUrl, issuer: ISSUER, organization: "iam-admins", project: "iam-admins", ...overrides });
  t.teardown(() => api.close());
  return api;
}

const notes = (url: string, token?: string) => fetch(`${url}/notes`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

test("the notes API publishes its RFC 9728 document at the well-known path of its resource URI", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s, { resource: NOTES });
  const res = await fetch(`${api.url}/.well-known/oauth-protected-resource/api`);
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.deepEqual(await res.json(), {
    resource: NOTES,
    authorization_servers: [ISSUER],
    scopes_supported: [REQUIRED_SCOPE],
    bearer_methods_supported: ["header"],
    resource_name: "Notes API",
    dpop_bound_access_tokens_required: false,
    dpop_signing_alg_values_supported: ["ES256", "PS256", "EdDSA", "Ed25519", "ES384", "PS384", "RS256"],
  });
  t.is((await fetch(`${api.url}/.well-known/oauth-protected-resource`)).status, 404, "only at its resource's path");

  // Without a configured URI, its own: /notes on the address it listens on.
  const local = await notesApi(t, s, { mode: "local", jwksUrl: `${s.project}/.well-known/jwks.json` });
  const document = (await (await fetch(`${local.url}/.well-known/oauth-protected-resource/notes`)).json()) as Record<string, unknown>;
  t.is(document.resource, `${local.url}/notes`);
  t.false("dpop_bound_access_tokens_required" in document, "the local verifier takes no DPoP-bound token");
});

test("every 401 names the metadata (RFC 9728 §5.1); a 403 insufficient_scope also names the scope needed (step-up)", async (t) => {
  const s = await setup(t);
  const api = await notesApi(t, s, { resource: NOTES });
  const where = `resource_metadata="https://notes.example/.well-known/oauth-protected-resource/api"`;
  const none = await notes(api.url);
  t.is(none.status, 401);
  t.is(none.headers.get("www-authenticate"), `Bearer realm="notes", ${where}`);
  const bad = await notes(api.url, "not.a.token");
  t.is(bad.status, 401);
  t.regex(bad.headers.get("www-authenticate") ?? "", new RegExp(`^Bearer realm="notes", error="invalid_token", error_description="[^"]+", ${where}$`));

  const writer = await accessToken(s, NOTES, "notes.note.write");
  const denied = await notes(api.url, writer);
  t.is(denied.status, 403);
  t.is(denied.headers.get("www-authenticate"), `Bearer realm="notes", error="insufficient_scope", error_description="the access token lacks a required scope", scope="${REQUIRED_SCOPE}", ${where}`);
});

for (const mode of ["remote", "local"] as const) {
  test(`${mode}: an API configured with its resource URI accepts tokens for it and refuses, 401 invalid_token, those for another resource or the project's audience`, async (t) => {
    const s = await setup(t);
    const options = mode === "local" ? { mode, jwksUrl: `${s.project}/.well-known/jwks.json` } : { mode };
    const notesServer = await notesApi(t, s, { ...options, resource: NOTES });
    const otherServer = await notesApi(t, s, { ...options, resource: OTHER });
    const forNotes = await accessToken(s, NOTES);
    const forOther = await accessToken(s, OTHER);
    t.is((await notes(notesServer.url, forNotes)).status, 200);
    t.is((await notes(otherServer.url, forOther)).status, 200);
    for (const [server, token] of [[notesServer, forOther], [otherServer, forNotes], [notesServer, await accessToken(s)]] as const) {
      const res = await notes(server.url, token);
      t.is(res.status, 401);
      t.regex(res.headers.get("www-authenticate") ?? "", /error="invalid_token", error_description="the access token is not meant for this service", resource_metadata="/);
    }
  });
}

test("the client helper's verifier with `resource` refuses another resource's token with TokenFailure.AUDIENCE", async (t) => {
  const s = await setup(t);
  const verify = createAccessTokenVerifier({ coreUrl: s.grpcUrl, organization: "iam-admins", project: "iam-admins", resource: NOTES });
  t.true((await verify(await accessToken(s, NOTES), [REQUIRED_SCOPE])).active);
  const other = await verify(await accessToken(s, OTHER), [REQUIRED_SCOPE]);
  t.false(other.active);
  t.is(other.failure, TokenFailure.AUDIENCE);
  t.is(bearerChallenge("notes", { result: other, requiredScopes: [] }).body.error, "invalid_token");
  t.throws(() => createAccessTokenVerifier({ coreUrl: s.grpcUrl, organization: "o", project: "p", resource: NOTES, audience: OTHER }), { instanceOf: TypeError });
});

test("a resource-server library of its own (express-oauth2-jwt-bearer) configured for one resource refuses a token for another", async (t) => {
  const s = await setup(t);
  // The library as an Express app would run it, on Node's own server: what it reads of Express's request is given.
  const serve = async (audience: string) => {
    const check = auth({ issuer: ISSUER, jwksUri: `${s.project}/.well-known/jwks.json`, audience, tokenSigningAlg: "ES256" });
    const scopes = requiredScopes(REQUIRED_SCOPE);
    const server = http.createServer((req, res) => {
      const express = Object.assign(req, { protocol: "http", originalUrl: req.url, query: {}, is: () => false, get: (name: string) => req.headers[name.toLowerCase()] });
      const fail = (err: { status?: number; headers?: Record<string, string> }) => {
        res.writeHead(err.status ?? 500, err.headers ?? {});
        res.end();
      };
      void check(express as never, res as never, (err?: unknown) => {
        if (err !== undefined) return fail(err as never);
        scopes(express as never, res as never, (denied?: unknown) => (denied !== undefined ? fail(denied as never) : res.end("ok")));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  };
  const notesUrl = await serve(NOTES);
  const otherUrl = await serve(OTHER);
  const forNotes = await accessToken(s, NOTES);
  const call = (url: string, token: string) => fetch(url, { headers: { authorization: `Bearer ${token}` } });
  t.is((await call(notesUrl, forNotes)).status, 200, "accepted by the server of its resource");
  const refused = await call(otherUrl, forNotes);
  t.is(refused.status, 401, "refused by another resource's server");
  t.regex(refused.headers.get("www-authenticate") ?? "", /invalid_token/);
  t.is((await call(otherUrl, await accessToken(s, OTHER))).status, 200);
  t.is((await call(notesUrl, await accessToken(s))).status, 401, "a token for the project's audience is not for the resource");
});

test("resourceMetadataPath and resourceMetadataUrl insert the well-known suffix before the resource's path (RFC 9728 §3.1)", (t) => {
  t.is(resourceMetadataPath("https://notes.example/mcp"), "/.well-known/oauth-protected-resource/mcp");
  t.is(resourceMetadataPath("https://notes.example/a/b/"), "/.well-known/oauth-protected-resource/a/b");
  t.is(resourceMetadataPath("https://notes.example/"), "/.well-known/oauth-protected-resource");
  t.is(resourceMetadataPath("https://notes.example"), "/.well-known/oauth-protected-resource");
  t.is(resourceMetadataUrl("https://notes.example:8443/mcp"), "https://notes.example:8443/.well-known/oauth-protected-resource/mcp");
  t.is(resourceMetadataUrl("http://127.0.0.1:3000/notes"), "http://127.0.0.1:3000/.well-known/oauth-protected-resource/notes");
  for (const bad of ["https://notes.example/mcp?x=1", "https://notes.example/mcp#f", "https://u:p@notes.example/mcp", "http://notes.example/mcp", "/mcp", "ftp://notes.example/"]) {
    t.throws(() => resourceMetadataUrl(bad), { instanceOf: TypeError }, bad);
    t.throws(() => protectedResourceMetadata({ resource: bad, issuer: ISSUER }), { instanceOf: TypeError }, bad);
  }
  t.deepEqual(protectedResourceMetadata({ resource: "https://notes.example/mcp", issuer: ISSUER, dpop: "required" }), {
    resource: "https://notes.example/mcp",
    authorization_servers: [ISSUER],
    bearer_methods_supported: ["header"],
    dpop_bound_access_tokens_required: true,
    dpop_signing_alg_values_supported: ["ES256", "PS256", "EdDSA", "Ed25519", "ES384", "PS384", "RS256"],
  });
});

test("bearerChallenge names resource_metadata in 401 and 403 challenges, not in a 400", (t) => {
  const where = { resourceMetadata: "https://notes.example/.well-known/oauth-protected-resource/mcp" };
  const suffix = `, resource_metadata="${where.resourceMetadata}"`;
  const result = (failure: TokenFailure) => ({ active: false, failure }) as VerifyTokenResponse;
  t.is(bearerChallenge("r", { missing: true }, where).header, `Bearer realm="r"${suffix}`);
  t.true(bearerChallenge("r", { result: result(TokenFailure.AUDIENCE), requiredScopes: [] }, where).header.endsWith(suffix));
  const scope = bearerChallenge("r", { result: result(TokenFailure.INSUFFICIENT_SCOPE), requiredScopes: ["a", "b"] }, where);
  t.is(scope.status, 403);
  t.true(scope.header.endsWith(`, scope="a b"${suffix}`));
  t.true(bearerChallenge("r", { result: result(TokenFailure.DPOP_PROOF), requiredScopes: [], scheme: "DPoP" }, where).header.endsWith(suffix));
  t.false(bearerChallenge("r", { malformed: true }, where).header.includes("resource_metadata"));
});
