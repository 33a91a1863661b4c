import test from "ava";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { seedClient, seedProject, seedUser } from "../helpers.js";
import { adminBasic, adminTokens, assertJsonError, assertTokens, basic, get, ISSUER, jsonCode, serve } from "./_support.js";

interface Jwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: string;
  use: string;
  d?: string;
}

test("GET /.well-known/jwks.json answers the project's public EC P-256 and RSA keys, without private parts, cacheable", async (t) => {
  const s = await serve(t);
  const res = await get(`${s.project}/.well-known/jwks.json`);
  t.is(res.status, 200);
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.regex(res.headers.get("cache-control") ?? "", /max-age=\d+/);
  t.notRegex(res.headers.get("cache-control") ?? "", /no-store/);
  const text = await res.text();
  t.false(text.includes('"d"'));
  const { keys } = JSON.parse(text) as { keys: Jwk[] };
  t.is(keys.length, 2);
  const [key, rsa] = keys as [Jwk, Jwk & { n?: string; e?: string }];
  // The RSA key of RS256 ID tokens (RFC 7518 §6.3.1), its own members only.
  t.deepEqual(Object.keys(rsa).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
  t.like(rsa, { kty: "RSA", alg: "RS256", use: "sig", e: "AQAB" });
  t.false(text.includes('"p"') || text.includes('"q"') || text.includes('"dp"'));
  t.deepEqual(Object.keys(key).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
  t.is(key.kty, "EC");
  t.is(key.crv, "P-256");
  t.is(key.alg, "ES256");
  t.is(key.use, "sig");
  t.regex(key.x, /^[A-Za-z0-9_-]{43}$/);
  t.regex(key.y, /^[A-Za-z0-9_-]{43}$/);
  t.truthy(key.kid);
  t.is(key.d, undefined);
});

test("an access token names a kid of the JWKS and verifies against it with jose", async (t) => {
  const s = await serve(t);
  const tokens = await adminTokens(t, s);
  const jwks = (await (await get(`${s.project}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const header = decodeProtectedHeader(tokens.access_token);
  t.is(header.alg, "ES256");
  t.is(header.typ, "at+jwt");
  t.true(jwks.keys.some((k) => k.kid === header.kid));

  const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks), {
    issuer: ISSUER,
    audience: ISSUER,
    algorithms: ["ES256"],
    typ: "at+jwt",
    currentDate: new Date(s.clock.now()),
  });
  t.is(payload.sub, "admin");
  t.is(payload.client_id, "admin-client");
});

test("a token of one project does not verify against another project's JWKS", async (t) => {
  const s = await serve(t);
  await seedProject(s.core, { organization: "acme", project: "shop" });
  const other = (await (await get(`${s.httpUrl}/services/oauth2/acme/shop/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const mine = (await (await get(`${s.project}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  t.is(other.keys.length, 2);
  t.false(other.keys.some((k) => mine.keys.some((m) => m.kid === k.kid)));

  const tokens = await adminTokens(t, s);
  await t.throwsAsync(
    jwtVerify(tokens.access_token, createLocalJWKSet(other), { algorithms: ["ES256"], currentDate: new Date(s.clock.now()) }),
  );
});

test("a token issued in a second project verifies against that project's JWKS and names its issuer", async (t) => {
  const s = await serve(t);
  await seedProject(s.core, { organization: "acme", project: "shop" });
  await seedClient(s.core, {
    organization: "acme",
    project: "shop",
    id: "shop-client",
    secret: "shop-secret",
    redirectUris: ["https://shop.example/cb"],
  });
  await seedUser(s.core, { organization: "acme", project: "shop", id: "buyer", password: "buyer-password", permissions: ["shop.cart.write"] });
  const shop = `${s.httpUrl}/services/oauth2/acme/shop`;
  const { code } = await jsonCode(
    { ...s, project: shop },
    { params: { response_type: "code", client_id: "shop-client", redirect_uri: "https://shop.example/cb", state: "x" }, username: "buyer", password: "buyer-password" },
  );
  const res = await fetch(`${shop}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...basic("shop-client", "shop-secret") },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: "https://shop.example/cb" }).toString(),
  });
  const tokens = await assertTokens(t, res);
  const jwks = (await (await get(`${shop}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
  const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks), {
    issuer: "http://iam.test/services/oauth2/acme/shop",
    algorithms: ["ES256"],
    currentDate: new Date(s.clock.now()),
  });
  t.is(payload.sub, "buyer");
  t.is(payload.scope, "shop.cart.write");
  // The admin client of iam-admins is not a client of acme/shop.
  await assertJsonError(
    t,
    await fetch(`${shop}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...adminBasic() },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: tokens.refresh_token! }).toString(),
    }),
    401,
    "invalid_client",
  );
});

test("the JWKS of an unknown project is 404 JSON", async (t) => {
  const s = await serve(t);
  const res = await get(`${s.httpUrl}/services/oauth2/no-org/no-project/.well-known/jwks.json`);
  const body = await assertJsonError(t, res, 404, "not_found");
  t.false("keys" in body);
});
