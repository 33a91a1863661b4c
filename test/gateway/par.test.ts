/**
 * The pushed authorization request endpoint, POST {project}/par (RFC 9126
 * §2): client authentication as at the token endpoint, every check of
 * /authorize before anything is kept, the token endpoint's errors, and
 * nothing stored for a refused request.
 */
import test, { type ExecutionContext } from "ava";
import { seedClient, startTestServer, type TestServer } from "../helpers.js";
import { assertJsonError, basic, FORM, get, ISSUER, postJson, token } from "./_support.js";
import {
  aliceApproves,
  OTHER_REDIRECT,
  push,
  pushedParams,
  pushedRows,
  parServer,
  READ,
  REDIRECT,
  REQUEST_URI,
  SPA,
  STRICT,
  verifier,
  WEB,
} from "./_par.js";

/** A successful push: 201, JSON, never cached, a request_uri of 256 random bits and its lifetime. */
async function assertPushed(t: ExecutionContext, res: Response): Promise<string> {
  const text = await res.text();
  t.is(res.status, 201, text);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.is(res.headers.get("cache-control"), "no-store");
  const body = JSON.parse(text) as { request_uri: string; expires_in: number };
  t.deepEqual(Object.keys(body).sort(), ["expires_in", "request_uri"]);
  t.regex(body.request_uri, REQUEST_URI);
  t.is(body.expires_in, 60);
  return body.request_uri;
}

/** The code the flow of `requestUri` ends with, exchanged as `client` authenticates at the token endpoint. */
async function redeem(t: ExecutionContext, s: TestServer, clientId: string, requestUri: string, auth: Record<string, string>, headers = {}) {
  const { context, redirectTo } = await aliceApproves(s, { client_id: clientId, request_uri: requestUri });
  t.is(context.client.id, clientId);
  t.deepEqual(context.scopes_requested, [READ]);
  t.is(`${redirectTo.origin}${redirectTo.pathname}`, REDIRECT);
  t.is(redirectTo.searchParams.get("state"), "pushed-state");
  t.is(redirectTo.searchParams.get("iss"), ISSUER);
  const code = redirectTo.searchParams.get("code")!;
  const res = await token(s, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, code_verifier: verifier, ...auth }, headers);
  const body = (await res.json()) as { scope: string };
  t.is(res.status, 200, JSON.stringify(body));
  t.is(body.scope, READ);
}

test("a confidential client pushes with client_secret_basic, then its request_uri carries the flow to a code and tokens", async (t) => {
  const s = await parServer(t);
  const requestUri = await assertPushed(t, await push(s, pushedParams(WEB.id), basic(WEB.id, WEB.secret)));
  t.is(await pushedRows(s), 1);
  await redeem(t, s, WEB.id, requestUri, {}, basic(WEB.id, WEB.secret));
  t.is(await pushedRows(s), 0, "spent by its use");
});

test("a confidential client pushes with client_secret_post", async (t) => {
  const s = await parServer(t);
  const requestUri = await assertPushed(t, await push(s, { ...pushedParams(WEB.id), client_secret: WEB.secret }));
  await redeem(t, s, WEB.id, requestUri, { client_id: WEB.id, client_secret: WEB.secret });
});

test("a public client pushes with its client_id alone, and redeems with PKCE", async (t) => {
  const s = await parServer(t);
  const requestUri = await assertPushed(t, await push(s, pushedParams(SPA.id)));
  await redeem(t, s, SPA.id, requestUri, { client_id: SPA.id });
});

test("each push is its own request_uri; the secret, the verifier and the request_uri reach no log line", async (t) => {
  const s = await parServer(t);
  const first = await assertPushed(t, await push(s, pushedParams(WEB.id), basic(WEB.id, WEB.secret)));
  const second = await assertPushed(t, await push(s, pushedParams(WEB.id), basic(WEB.id, WEB.secret)));
  t.not(first, second);
  t.is(await pushedRows(s), 2);
  const log = s.lines.join("");
  for (const secret of [WEB.secret, first.slice(first.lastIndexOf(":") + 1), second.slice(second.lastIndexOf(":") + 1)]) t.false(log.includes(secret));
});

/** Client authentication: the token endpoint's refusals, nothing kept. */
const authFailures: { name: string; body: (p: Record<string, string>) => Record<string, string>; headers: Record<string, string>; challenge: boolean }[] = [
  { name: "a wrong secret by Basic", body: (p) => p, headers: basic(WEB.id, "wrong-secret"), challenge: true },
  { name: "a wrong secret in the body", body: (p) => ({ ...p, client_secret: "wrong-secret" }), headers: {}, challenge: false },
  { name: "no secret from a confidential client", body: (p) => p, headers: {}, challenge: false },
  { name: "an unknown client by Basic", body: (p) => ({ ...p, client_id: "nobody" }), headers: basic("nobody", "x"), challenge: true },
  { name: "a public client sending a secret", body: (p) => ({ ...p, client_id: SPA.id, client_secret: "made-up" }), headers: {}, challenge: false },
];

for (const c of authFailures) {
  test(`${c.name}: 401 invalid_client${c.challenge ? " with the Basic challenge" : ""}, nothing kept`, async (t) => {
    const s = await parServer(t);
    const res = await push(s, c.body(pushedParams(WEB.id)), c.headers);
    await assertJsonError(t, res, 401, "invalid_client");
    const challenge = res.headers.get("www-authenticate");
    if (c.challenge) t.is(challenge, `Basic realm="${s.core.deps.config.baseUrl}/services/oauth2/iam-admins/iam-admins", charset="UTF-8"`);
    else t.is(challenge, null);
    t.is(await pushedRows(s), 0);
  });
}

test("an unknown project: 401 invalid_client, as the token endpoint answers", async (t) => {
  const s = await parServer(t);
  const elsewhere = await fetch(`${s.httpUrl}/services/oauth2/no-org/no-project/par`, {
    method: "POST",
    headers: { "content-type": FORM, ...basic(WEB.id, WEB.secret) },
    body: new URLSearchParams(pushedParams(WEB.id)).toString(),
  });
  await assertJsonError(t, elsewhere, 401, "invalid_client");
});

/**
 * Requests the pushed request endpoint refuses with the authorization
 * endpoint's code (RFC 9126 §2.1, §2.3), as JSON with 400: each by a client
 * authenticated, nothing kept.
 */
const refusals: { name: string; client: typeof WEB | typeof STRICT; params: (p: Record<string, string>) => Record<string, string> | [string, string][]; error: string }[] = [
  { name: "an unregistered redirect_uri", client: WEB, params: (p) => ({ ...p, redirect_uri: "https://evil.example/cb" }), error: "invalid_request" },
  { name: "a missing redirect_uri", client: WEB, params: ({ redirect_uri: _, ...p }) => p, error: "invalid_request" },
  { name: "no PKCE from a client that requires it", client: STRICT, params: ({ code_challenge: _, code_challenge_method: __, ...p }) => p, error: "invalid_request" },
  { name: "a malformed code_challenge", client: WEB, params: (p) => ({ ...p, code_challenge: "short" }), error: "invalid_request" },
  { name: "an unknown scope", client: WEB, params: (p) => ({ ...p, scope: "no.such.scope" }), error: "invalid_scope" },
  { name: "response_type token", client: WEB, params: (p) => ({ ...p, response_type: "token" }), error: "unsupported_response_type" },
  { name: "a missing response_type", client: WEB, params: ({ response_type: _, ...p }) => p, error: "invalid_request" },
  { name: "prompt=none with another value", client: WEB, params: (p) => ({ ...p, prompt: "none login" }), error: "invalid_request" },
  { name: "a request object (request)", client: WEB, params: (p) => ({ ...p, request: "eyJhbGciOiJub25lIn0.e30." }), error: "request_not_supported" },
  { name: "a request_uri inside the pushed request (RFC 9126 §2.1)", client: WEB, params: (p) => ({ ...p, request_uri: "urn:ietf:params:oauth:request_uri:x" }), error: "invalid_request" },
  { name: "a request_uri of a request object", client: WEB, params: (p) => ({ ...p, request_uri: "https://app.example/request.jwt" }), error: "invalid_request" },
  { name: "a missing client_id beside Basic", client: WEB, params: ({ client_id: _, ...p }) => p, error: "invalid_request" },
  { name: "a client_id other than the client authenticated by Basic", client: WEB, params: (p) => ({ ...p, client_id: STRICT.id }), error: "invalid_request" },
  { name: "a repeated parameter", client: WEB, params: (p) => [...Object.entries(p), ["scope", "docs.files.write"]], error: "invalid_request" },
  { name: "a repeated client_secret", client: WEB, params: (p) => [...Object.entries(p), ["client_secret", "x"], ["client_secret", "y"]], error: "invalid_request" },
];

for (const c of refusals) {
  test(`${c.name}: 400 ${c.error}, never a redirect, nothing kept`, async (t) => {
    const s = await parServer(t);
    const res = await push(s, c.params(pushedParams(c.client.id)), basic(c.client.id, c.client.secret));
    await assertJsonError(t, res, 400, c.error);
    t.is(res.headers.get("location"), null);
    t.is(await pushedRows(s), 0);
  });
}

test("a client that may not use the code flow: 400 unauthorized_client, nothing kept", async (t) => {
  const s = await parServer(t);
  await seedClient(s.core, { id: "m2m", secret: "m2m-secret", grantTypes: ["client_credentials"], redirectUris: [REDIRECT] });
  await assertJsonError(t, await push(s, pushedParams("m2m"), basic("m2m", "m2m-secret")), 400, "unauthorized_client");
  t.is(await pushedRows(s), 0);
});

test("the body must be a form: JSON is 415, parameters in the query are 400, GET is 405; nothing kept", async (t) => {
  const s = await parServer(t);
  const json = await postJson(`${s.project}/par`, pushedParams(WEB.id), basic(WEB.id, WEB.secret));
  await assertJsonError(t, json, 415, "invalid_request");
  const query = await fetch(`${s.project}/par?${new URLSearchParams(pushedParams(WEB.id)).toString()}`, {
    method: "POST",
    headers: { "content-type": FORM, ...basic(WEB.id, WEB.secret) },
    body: "",
  });
  await assertJsonError(t, query, 400, "invalid_request");
  await assertJsonError(t, await get(`${s.project}/par`), 405, "invalid_request");
  t.is(await pushedRows(s), 0);
});

test("a pushed request keeps its own redirect_uri among the client's: the second registered one is where the code goes", async (t) => {
  const s = await parServer(t);
  const res = await push(s, pushedParams(WEB.id, { redirect_uri: OTHER_REDIRECT }), basic(WEB.id, WEB.secret));
  const requestUri = await assertPushed(t, res);
  const { redirectTo } = await aliceApproves(s, { client_id: WEB.id, request_uri: requestUri });
  t.is(`${redirectTo.origin}${redirectTo.pathname}`, OTHER_REDIRECT);
});

test("pushing shares the token endpoint's per-client budget of secret guesses: past it, 429 temporarily_unavailable with Retry-After", async (t) => {
  const s = await startTestServer({ config: { tokenRatePerClient: 1, tokenRateBurst: 2 } });
  t.teardown(() => s.close());
  await seedClient(s.core, { id: WEB.id, secret: WEB.secret, redirectUris: [REDIRECT] });
  // The clock of the test stands still: the bucket never refills.
  for (let i = 0; i < 2; i++) t.is((await push(s, pushedParams(WEB.id), basic(WEB.id, "wrong"))).status, 401);
  const limited = await push(s, pushedParams(WEB.id), basic(WEB.id, WEB.secret));
  await assertJsonError(t, limited, 429, "temporarily_unavailable");
  t.truthy(limited.headers.get("retry-after"));
  // The token endpoint draws on the same budget.
  await assertJsonError(t, await token(s, { grant_type: "client_credentials" }, basic(WEB.id, WEB.secret)), 429, "temporarily_unavailable");
});
