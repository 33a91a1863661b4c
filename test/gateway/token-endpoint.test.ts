import test, { type ExecutionContext } from "ava";
import { ADMIN_CLIENT_SECRET, DEFAULT_REDIRECT, pkcePair, seedClient, seedProject } from "../helpers.js";
import {
  ADMIN_SCOPE,
  adminBasic,
  adminRequest,
  adminTokens,
  assertJsonError,
  assertTokens,
  basic,
  FORM,
  jsonCode,
  postJson,
  serve,
  token,
} from "./_support.js";

/** An RFC 6749 §5.2 error of the token endpoint: exactly {error, error_description}. */
async function tokenError(t: ExecutionContext, res: Response, status: number, error: string) {
  const body = await assertJsonError(t, res, status, error);
  t.deepEqual(Object.keys(body).sort(), ["error", "error_description"]);
  return body;
}

const codeRequest = (code: string, extra: Record<string, string> = {}) => ({
  grant_type: "authorization_code",
  code,
  redirect_uri: DEFAULT_REDIRECT,
  ...extra,
});

test("GET /token is 405 with Allow: POST, OPTIONS (CORS preflights) and an RFC 6749 JSON error", async (t) => {
  const s = await serve(t);
  const res = await fetch(`${s.project}/token?grant_type=authorization_code`, { redirect: "manual" });
  t.is(res.headers.get("allow"), "POST, OPTIONS");
  // A 405 must not claim that the endpoint does not exist.
  await tokenError(t, res, 405, "invalid_request");
});

test("a JSON token request is 400 invalid_request", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  const res = await postJson(`${s.project}/token`, codeRequest(code), adminBasic());
  await tokenError(t, res, 400, "invalid_request");
  // The code was not spent by the refused request.
  await assertTokens(t, await token(s, codeRequest(code), adminBasic()));
});

test("a token request without a content type is 400 invalid_request", async (t) => {
  const s = await serve(t);
  const res = await fetch(`${s.project}/token`, { method: "POST", headers: adminBasic(), body: new Uint8Array(Buffer.from("grant_type=refresh_token")) });
  await tokenError(t, res, 400, "invalid_request");
});

test("token request parameters in the query string are 400 invalid_request", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  const inQuery = new URLSearchParams(codeRequest(code)).toString();
  const onlyQuery = await fetch(`${s.project}/token?${inQuery}`, { method: "POST", headers: { "content-type": FORM, ...adminBasic() }, body: "" });
  await tokenError(t, onlyQuery, 400, "invalid_request");
  const both = await fetch(`${s.project}/token?code=${encodeURIComponent(code)}`, {
    method: "POST",
    headers: { "content-type": FORM, ...adminBasic() },
    body: inQuery,
  });
  await tokenError(t, both, 400, "invalid_request");
  // Still unspent.
  await assertTokens(t, await token(s, codeRequest(code), adminBasic()));
});

test("a form with a charset parameter is accepted", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  const res = await token(s, new URLSearchParams(codeRequest(code)).toString(), { ...adminBasic(), "content-type": `${FORM}; charset=UTF-8` });
  await assertTokens(t, res);
});

test("grant_type=password for a client not configured for it is 400 unauthorized_client", async (t) => {
  const s = await serve(t);
  await tokenError(t, await token(s, { grant_type: "password", username: "admin", password: "x" }, adminBasic()), 400, "unauthorized_client");
});

for (const grantType of ["implicit", "urn:ietf:params:oauth:grant-type:device_code", "nonsense"]) {
  test(`grant_type=${grantType} is 400 unsupported_grant_type`, async (t) => {
    const s = await serve(t);
    await tokenError(t, await token(s, { grant_type: grantType, username: "admin", password: "x" }, adminBasic()), 400, "unsupported_grant_type");
  });
}

test("a missing grant_type is 400 invalid_request", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  await tokenError(t, await token(s, { code, redirect_uri: DEFAULT_REDIRECT }, adminBasic()), 400, "invalid_request");
  await tokenError(t, await token(s, "", adminBasic()), 400, "invalid_request");
});

test("a wrong secret with HTTP Basic is 401 invalid_client with WWW-Authenticate: Basic", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  const res = await token(s, codeRequest(code), basic("admin-client", "not-the-secret"));
  t.regex(res.headers.get("www-authenticate") ?? "", /^Basic /);
  t.regex(res.headers.get("www-authenticate") ?? "", /realm="[^"]+"/);
  await tokenError(t, res, 401, "invalid_client");
  // The code survives a failed client authentication.
  await assertTokens(t, await token(s, codeRequest(code), adminBasic()));
});

test("an unknown client with HTTP Basic is 401 invalid_client with WWW-Authenticate: Basic", async (t) => {
  const s = await serve(t);
  const res = await token(s, codeRequest("whatever"), basic("no-such-client", "x"));
  t.regex(res.headers.get("www-authenticate") ?? "", /^Basic /);
  await tokenError(t, res, 401, "invalid_client");
});

test("a wrong secret with client_secret_post is 401 invalid_client", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  const res = await token(s, codeRequest(code, { client_id: "admin-client", client_secret: "not-the-secret" }));
  await tokenError(t, res, 401, "invalid_client");
});

test("a confidential client without any authentication is 401 invalid_client", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  await tokenError(t, await token(s, codeRequest(code, { client_id: "admin-client" })), 401, "invalid_client");
  await tokenError(t, await token(s, codeRequest(code)), 401, "invalid_client");
});

for (const [name, header] of [
  ["a Bearer scheme", "Bearer abc"],
  ["Basic with characters outside base64", "Basic !!!not-base64!!!"],
  ["Basic without a colon", `Basic ${Buffer.from("admin-client").toString("base64")}`],
  ["Basic with bad percent-encoding", `Basic ${Buffer.from("admin-client:%zz").toString("base64")}`],
  ["Basic with nothing after it", "Basic "],
] as const) {
  test(`a malformed Authorization header (${name}) is 401 invalid_client`, async (t) => {
    const s = await serve(t);
    const res = await token(s, codeRequest("whatever"), { authorization: header });
    t.regex(res.headers.get("www-authenticate") ?? "", /^Basic /);
    await tokenError(t, res, 401, "invalid_client");
  });
}

test("HTTP Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1)", async (t) => {
  const s = await serve(t);
  const secret = "p@ss:w/rd+ &%é";
  await seedClient(s.core, { id: "odd:id", secret, redirectUris: [DEFAULT_REDIRECT] });
  const { code } = await jsonCode(s, { params: adminRequest({ client_id: "odd:id" }) });
  await assertTokens(t, await token(s, codeRequest(code), basic("odd:id", secret)));
});

test("client_secret_basic and client_secret_post together are 400 invalid_request", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  const res = await token(s, codeRequest(code, { client_id: "admin-client", client_secret: ADMIN_CLIENT_SECRET }), adminBasic());
  await tokenError(t, res, 400, "invalid_request");
});

test("a client_id that differs from the Basic credentials is 400 invalid_request", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  await tokenError(t, await token(s, codeRequest(code, { client_id: "someone-else" }), adminBasic()), 400, "invalid_request");
});

test("a public client that sends a secret is 401 invalid_client", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "spa", redirectUris: [DEFAULT_REDIRECT] });
  await tokenError(t, await token(s, codeRequest("x", { client_id: "spa", client_secret: "guess" })), 401, "invalid_client");
});

for (const name of ["code", "grant_type", "redirect_uri", "client_id"]) {
  test(`a repeated ${name} parameter is 400 invalid_request`, async (t) => {
    const s = await serve(t);
    const { code } = await jsonCode(s);
    const pairs: [string, string][] = Object.entries(codeRequest(code, { client_id: "admin-client", client_secret: ADMIN_CLIENT_SECRET }));
    const repeated = pairs.find(([key]) => key === name)!;
    const res = await token(s, [...pairs, repeated]);
    const body = await tokenError(t, res, 400, "invalid_request");
    t.true(body.error_description.includes(name));
  });
}

test("a body over 16 KiB is 413", async (t) => {
  const s = await serve(t);
  const res = await token(s, { grant_type: "refresh_token", refresh_token: "r".repeat(17 * 1024) }, adminBasic());
  await tokenError(t, res, 413, "invalid_request");
});

test("a chunked body over 16 KiB (no Content-Length) is 413", async (t) => {
  const s = await serve(t);
  const chunk = new TextEncoder().encode(`grant_type=refresh_token&refresh_token=${"r".repeat(4096)}`);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 8) controller.enqueue(chunk);
      else controller.close();
    },
  });
  const res = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: { "content-type": FORM, ...adminBasic() },
    body,
    duplex: "half",
  } as RequestInit);
  await tokenError(t, res, 413, "invalid_request");
});

test("a body of exactly 16 KiB is read", async (t) => {
  const s = await serve(t);
  const prefix = "grant_type=refresh_token&refresh_token=";
  const body = prefix + "r".repeat(16 * 1024 - prefix.length);
  // Read and handled: an unknown refresh token, not a size error.
  await tokenError(t, await token(s, body, adminBasic()), 400, "invalid_grant");
});

test("a code presented twice is 400 invalid_grant, and the tokens of the first exchange are revoked", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  const first = await assertTokens(t, await token(s, codeRequest(code), adminBasic()));
  await tokenError(t, await token(s, codeRequest(code), adminBasic()), 400, "invalid_grant");
  t.false((await s.tokens.verifyToken({ token: first.access_token })).active);
  await tokenError(t, await token(s, { grant_type: "refresh_token", refresh_token: first.refresh_token! }, adminBasic()), 400, "invalid_grant");
});

test("an unknown code is 400 invalid_grant; a missing code is 400 invalid_request", async (t) => {
  const s = await serve(t);
  await tokenError(t, await token(s, codeRequest("no-such-code"), adminBasic()), 400, "invalid_grant");
  await tokenError(t, await token(s, { grant_type: "authorization_code", redirect_uri: DEFAULT_REDIRECT }, adminBasic()), 400, "invalid_request");
});

test("a code with a different or missing redirect_uri is 400 invalid_grant", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  await tokenError(t, await token(s, codeRequest(code, { redirect_uri: `${DEFAULT_REDIRECT}/` }), adminBasic()), 400, "invalid_grant");
  await tokenError(t, await token(s, { grant_type: "authorization_code", code }, adminBasic()), 400, "invalid_grant");
});

test("a code issued to another client is 400 invalid_grant", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "other", secret: "other-secret", redirectUris: [DEFAULT_REDIRECT] });
  const { code } = await jsonCode(s);
  await tokenError(t, await token(s, codeRequest(code), basic("other", "other-secret")), 400, "invalid_grant");
});

test("an expired code is 400 invalid_grant", async (t) => {
  const s = await serve(t);
  const { code } = await jsonCode(s);
  s.clock.advance(61);
  await tokenError(t, await token(s, codeRequest(code), adminBasic()), 400, "invalid_grant");
});

test("PKCE at the token endpoint: a missing or wrong verifier, or a verifier without a challenge, is 400 invalid_grant", async (t) => {
  const s = await serve(t);
  const { verifier, challenge } = pkcePair();
  const withChallenge = adminRequest({ code_challenge: challenge, code_challenge_method: "S256" });

  const a = await jsonCode(s, { params: withChallenge });
  await tokenError(t, await token(s, codeRequest(a.code), adminBasic()), 400, "invalid_grant");
  const b = await jsonCode(s, { params: withChallenge });
  await tokenError(t, await token(s, codeRequest(b.code, { code_verifier: pkcePair("z".repeat(43)).verifier }), adminBasic()), 400, "invalid_grant");
  const c = await jsonCode(s, { params: withChallenge });
  // The challenge itself is not the verifier (a downgrade to plain).
  await tokenError(t, await token(s, codeRequest(c.code, { code_verifier: challenge }), adminBasic()), 400, "invalid_grant");
  const d = await jsonCode(s);
  await tokenError(t, await token(s, codeRequest(d.code, { code_verifier: verifier }), adminBasic()), 400, "invalid_grant");
});

test("refresh_token errors: missing is invalid_request, unknown is invalid_grant, wider scope is invalid_scope", async (t) => {
  const s = await serve(t);
  const tokens = await adminTokens(t, s);
  await tokenError(t, await token(s, { grant_type: "refresh_token" }, adminBasic()), 400, "invalid_request");
  await tokenError(t, await token(s, { grant_type: "refresh_token", refresh_token: "no-such-token" }, adminBasic()), 400, "invalid_grant");
  await tokenError(
    t,
    await token(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, scope: `${ADMIN_SCOPE} more.power` }, adminBasic()),
    400,
    "invalid_scope",
  );
  // The refused requests did not rotate it.
  const refreshed = await assertTokens(t, await token(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, scope: ADMIN_SCOPE }, adminBasic()));
  t.is(refreshed.scope, ADMIN_SCOPE);
});

test("a refresh token presented by another client is 400 invalid_grant", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "other", secret: "other-secret", redirectUris: [DEFAULT_REDIRECT] });
  const tokens = await adminTokens(t, s);
  await tokenError(t, await token(s, { grant_type: "refresh_token", refresh_token: tokens.refresh_token! }, basic("other", "other-secret")), 400, "invalid_grant");
});

test("a client not allowed the refresh_token grant is 400 unauthorized_client", async (t) => {
  const s = await serve(t);
  await seedClient(s.core, { id: "once", secret: "once-secret", redirectUris: [DEFAULT_REDIRECT], grantTypes: ["authorization_code"] });
  const { code } = await jsonCode(s, { params: adminRequest({ client_id: "once" }) });
  const tokens = await assertTokens(t, await token(s, codeRequest(code), basic("once", "once-secret")));
  t.is(tokens.refresh_token, undefined);
  await tokenError(t, await token(s, { grant_type: "refresh_token", refresh_token: "anything" }, basic("once", "once-secret")), 400, "unauthorized_client");
});

test("the token endpoint of an unknown project is 401 invalid_client", async (t) => {
  const s = await serve(t);
  const res = await fetch(`${s.httpUrl}/services/oauth2/no-org/no-project/token`, {
    method: "POST",
    headers: { "content-type": FORM, ...adminBasic() },
    body: new URLSearchParams(codeRequest("x")).toString(),
  });
  await tokenError(t, res, 401, "invalid_client");
});

test("tokens of one project are refused by another project's token endpoint", async (t) => {
  const s = await serve(t);
  await seedProject(s.core, { organization: "acme", project: "shop" });
  await seedClient(s.core, { organization: "acme", project: "shop", id: "admin-client", secret: ADMIN_CLIENT_SECRET, redirectUris: [DEFAULT_REDIRECT] });
  const tokens = await adminTokens(t, s);
  const res = await fetch(`${s.httpUrl}/services/oauth2/acme/shop/token`, {
    method: "POST",
    headers: { "content-type": FORM, ...adminBasic() },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token! }).toString(),
  });
  await tokenError(t, res, 400, "invalid_grant");
});
