import test from "ava";
import { decodeJwt } from "jose";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT_REDIRECT, pkcePair, seedClient, seedProject, seedUser } from "../helpers.js";
import {
  ADMIN_SCOPE,
  adminBasic,
  adminRequest,
  adminTokens,
  assertJsonError,
  assertTokens,
  authorizeUrl,
  getJson,
  ISSUER,
  jsonCode,
  postJson,
  serve,
  setCookies,
  token,
} from "./_support.js";

interface LoginContext {
  request_id: string;
  client: { id: string; name: string };
  scopes_requested: string[];
  expires_in: number;
}

test("GET /authorize with Accept: application/json answers the login context", async (t) => {
  const s = await serve(t);
  const res = await getJson(authorizeUrl(s, adminRequest({ scope: ADMIN_SCOPE })));
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.is(res.headers.get("cache-control"), "no-store");
  const body = (await res.json()) as LoginContext;
  t.deepEqual(Object.keys(body).sort(), ["client", "expires_in", "request_id", "scopes_requested"]);
  t.is(typeof body.request_id, "string");
  t.true(body.request_id.length >= 32);
  t.deepEqual(body.client, { id: "admin-client", name: "IAM administration client" });
  t.deepEqual(body.scopes_requested, [ADMIN_SCOPE]);
  t.is(body.expires_in, 600);
});

test("the JSON flow with S256 PKCE and client_secret_basic issues tokens, and refresh rotates them", async (t) => {
  const s = await serve(t);
  const { verifier, challenge } = pkcePair();
  const params = adminRequest({ state: "json-s256", scope: "", code_challenge: challenge, code_challenge_method: "S256" });

  const start = await getJson(authorizeUrl(s, params));
  t.is(start.status, 200);
  const context = (await start.json()) as LoginContext;
  t.deepEqual(context.scopes_requested, []);

  // No cookie at all: JSON requests need none.
  const login = await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: "admin", password: ADMIN_PASSWORD });
  t.is(login.status, 200);
  t.is(login.headers.get("cache-control"), "no-store");
  t.deepEqual(await login.json(), {
    request_id: context.request_id,
    scopes: [{ name: ADMIN_SCOPE, description: "Administer every organization, project, client and user" }],
  });

  const consent = await postJson(`${s.project}/consent`, { request_id: context.request_id, scopes: [ADMIN_SCOPE] });
  t.is(consent.status, 200);
  t.is(consent.headers.get("cache-control"), "no-store");
  const { redirect_to } = (await consent.json()) as { redirect_to: string };
  const url = new URL(redirect_to);
  t.is(`${url.origin}${url.pathname}`, DEFAULT_REDIRECT);
  t.is(url.searchParams.get("state"), "json-s256");
  t.is(url.searchParams.get("iss"), ISSUER);
  const code = url.searchParams.get("code")!;
  t.regex(code, /^[A-Za-z0-9_-]{32,}$/);

  const tokens = await assertTokens(
    t,
    await token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier }, adminBasic()),
  );
  t.is(tokens.scope, ADMIN_SCOPE);
  t.is(tokens.expires_in, 600);
  t.is(typeof tokens.refresh_token, "string");
  const claims = decodeJwt(tokens.access_token);
  t.is(claims.iss, ISSUER);
  t.is(claims.sub, "admin");
  t.is(claims.client_id, "admin-client");
  t.is(claims.scope, ADMIN_SCOPE);

  const refreshed = await assertTokens(t, await token(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token! }, adminBasic()));
  t.is(typeof refreshed.refresh_token, "string");
  t.not(refreshed.refresh_token, tokens.refresh_token);
  t.not(refreshed.access_token, tokens.access_token);
  t.is(refreshed.scope, ADMIN_SCOPE);
  t.true((await s.tokens.verifyToken({ token: refreshed.access_token })).active);

  // The rotated one presented again: invalid_grant, and the whole family is revoked.
  const reuse = await token(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token! }, adminBasic());
  await assertJsonError(t, reuse, 400, "invalid_grant");
  t.false((await s.tokens.verifyToken({ token: refreshed.access_token })).active);
  await assertJsonError(t, await token(s, { grant_type: "refresh_token", refresh_token: refreshed.refresh_token! }, adminBasic()), 400, "invalid_grant");
});

test("the JSON flow with plain PKCE and client_secret_post issues tokens, and refresh rotates them", async (t) => {
  const s = await serve(t);
  const verifier = "plain-verifier-plain-verifier-plain-verifier-0123456789";
  const { code, redirectTo } = await jsonCode(s, {
    params: adminRequest({ state: "json-plain", code_challenge: verifier, code_challenge_method: "plain" }),
  });
  t.is(new URL(redirectTo).searchParams.get("state"), "json-plain");
  t.is(new URL(redirectTo).searchParams.get("iss"), ISSUER);

  const post = { client_id: "admin-client", client_secret: ADMIN_CLIENT_SECRET };
  const tokens = await assertTokens(
    t,
    await token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier, ...post }),
  );
  t.is(tokens.scope, ADMIN_SCOPE);
  t.truthy(tokens.refresh_token);

  const refreshed = await assertTokens(t, await token(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, ...post }));
  t.not(refreshed.refresh_token, tokens.refresh_token);
  await assertJsonError(t, await token(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, ...post }), 400, "invalid_grant");
});

test("the plain method is the default when code_challenge_method is absent", async (t) => {
  const s = await serve(t);
  const verifier = "x".repeat(43);
  const { code } = await jsonCode(s, { params: adminRequest({ code_challenge: verifier }) });
  await assertTokens(t, await token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT, code_verifier: verifier }, adminBasic()));
});

test("a public client completes the flow with S256 PKCE and no client authentication", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "spa", redirectUris: ["https://app.example/callback"] });
  const { verifier, challenge } = pkcePair();
  const { code } = await jsonCode(s, {
    params: {
      response_type: "code",
      client_id: "spa",
      redirect_uri: "https://app.example/callback",
      state: "pub",
      code_challenge: challenge,
      code_challenge_method: "S256",
    },
  });
  const tokens = await assertTokens(
    t,
    await token(s, { grant_type: "authorization_code", code, redirect_uri: "https://app.example/callback", code_verifier: verifier, client_id: "spa" }),
  );
  t.is(decodeJwt(tokens.access_token).client_id, "spa");
  t.is(tokens.expires_in, 300);
});

test("the user may approve a subset of the offered scopes; the token carries exactly that subset", async (t) => {
  const s = await serve(t);
  await seedUser(s.core, { id: "alice", password: "alice-password", permissions: ["app.notes.read", "app.notes.write"] });
  const start = await getJson(authorizeUrl(s, adminRequest({ scope: "app.notes.read app.notes.write unknown.scope" })));
  const context = (await start.json()) as LoginContext;
  // Unknown scopes are dropped.
  t.deepEqual(context.scopes_requested, ["app.notes.read", "app.notes.write"]);
  const login = await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: "alice", password: "alice-password" });
  t.is(login.status, 200);
  const { scopes } = (await login.json()) as { scopes: { name: string; description: string }[] };
  t.deepEqual(scopes, [
    { name: "app.notes.read", description: "May app.notes.read" },
    { name: "app.notes.write", description: "May app.notes.write" },
  ]);
  const consent = await postJson(`${s.project}/consent`, { request_id: context.request_id, scopes: ["app.notes.read"] });
  const code = new URL(((await consent.json()) as { redirect_to: string }).redirect_to).searchParams.get("code")!;
  const tokens = await assertTokens(t, await token(s, { grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT }, adminBasic()));
  t.is(tokens.scope, "app.notes.read");
});

test("JSON consent naming a scope that was not offered is 400 invalid_request and issues no code", async (t) => {
  const s = await serve(t);
  await seedUser(s.core, { id: "bob", password: "bob-password", permissions: ["app.notes.read"] });
  const context = (await (await getJson(authorizeUrl(s, adminRequest()))).json()) as LoginContext;
  t.is((await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: "bob", password: "bob-password" })).status, 200);
  const res = await postJson(`${s.project}/consent`, { request_id: context.request_id, scopes: ["app.notes.read", ADMIN_SCOPE] });
  await assertJsonError(t, res, 400, "invalid_request");
});

test("JSON consent approving nothing, or denying, answers redirect_to with access_denied and state", async (t) => {
  const s = await serve(t);
  for (const decision of [{ scopes: [] as string[] }, { scopes: [ADMIN_SCOPE], deny: true }]) {
    const context = (await (await getJson(authorizeUrl(s, adminRequest({ state: "no-thanks" })))).json()) as LoginContext;
    await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: "admin", password: ADMIN_PASSWORD });
    const res = await postJson(`${s.project}/consent`, { request_id: context.request_id, ...decision });
    t.is(res.status, 200, JSON.stringify(decision));
    const url = new URL(((await res.json()) as { redirect_to: string }).redirect_to);
    t.is(`${url.origin}${url.pathname}`, DEFAULT_REDIRECT);
    t.is(url.searchParams.get("error"), "access_denied");
    t.is(url.searchParams.get("state"), "no-thanks");
    t.is(url.searchParams.get("iss"), ISSUER);
    t.is(url.searchParams.get("code"), null);
    // The request is spent.
    await assertJsonError(t, await postJson(`${s.project}/consent`, { request_id: context.request_id, scopes: [ADMIN_SCOPE] }), 400, "invalid_request");
  }
});

test("JSON login with a wrong password or an unknown user is 401 access_denied, with the same body", async (t) => {
  const s = await serve(t);
  const bodies: unknown[] = [];
  for (const credentials of [
    { username: "admin", password: "wrong-password" },
    { username: "nobody", password: ADMIN_PASSWORD },
    { username: "", password: "" },
  ]) {
    const context = (await (await getJson(authorizeUrl(s, adminRequest()))).json()) as LoginContext;
    const res = await postJson(`${s.project}/authorize`, { request_id: context.request_id, ...credentials });
    const body = await assertJsonError(t, res, 401, "access_denied");
    t.false(JSON.stringify(body).includes("wrong-password"));
    bodies.push(body);
    t.deepEqual(setCookies(res), []);
  }
  t.deepEqual(bodies[0], bodies[1]);
  t.deepEqual(bodies[0], bodies[2]);
});

test("a failed JSON login leaves the request usable: the right password then succeeds", async (t) => {
  const s = await serve(t);
  const context = (await (await getJson(authorizeUrl(s, adminRequest()))).json()) as LoginContext;
  await assertJsonError(t, await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: "admin", password: "nope" }), 401, "access_denied");
  const ok = await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: "admin", password: ADMIN_PASSWORD });
  t.is(ok.status, 200);
});

test("JSON consent before login is 400 invalid_request; an unknown request_id is 400 invalid_request", async (t) => {
  const s = await serve(t);
  const context = (await (await getJson(authorizeUrl(s, adminRequest()))).json()) as LoginContext;
  await assertJsonError(t, await postJson(`${s.project}/consent`, { request_id: context.request_id, scopes: [ADMIN_SCOPE] }), 400, "invalid_request");
  await assertJsonError(t, await postJson(`${s.project}/authorize`, { request_id: "no-such-request", username: "admin", password: ADMIN_PASSWORD }), 400, "invalid_request");
  await assertJsonError(t, await postJson(`${s.project}/authorize`, { username: "admin", password: ADMIN_PASSWORD }), 400, "invalid_request");
  await assertJsonError(t, await postJson(`${s.project}/consent`, { request_id: "no-such-request", scopes: [] }), 400, "invalid_request");
});

test("a pending request expires after ten minutes", async (t) => {
  const s = await serve(t);
  const context = (await (await getJson(authorizeUrl(s, adminRequest()))).json()) as LoginContext;
  s.clock.advance(601);
  const res = await postJson(`${s.project}/authorize`, { request_id: context.request_id, username: "admin", password: ADMIN_PASSWORD });
  await assertJsonError(t, res, 400, "invalid_request");
});

test("a request started in one project cannot be completed through another project's URL", async (t) => {
  const s = await serve(t);
  await seedProject(s.core, { organization: "acme", project: "shop" });
  const context = (await (await getJson(authorizeUrl(s, adminRequest()))).json()) as LoginContext;
  const other = `${s.httpUrl}/services/oauth2/acme/shop`;
  await assertJsonError(t, await postJson(`${other}/authorize`, { request_id: context.request_id, username: "admin", password: ADMIN_PASSWORD }), 400, "invalid_request");
});

test("an access token from the JSON flow verifies through the core", async (t) => {
  const s = await serve(t);
  const tokens = await adminTokens(t, s);
  const verified = await s.tokens.verifyToken({ token: tokens.access_token });
  t.true(verified.active);
  t.is(verified.subject, "admin");
  t.deepEqual(verified.scopes, [ADMIN_SCOPE]);
});
