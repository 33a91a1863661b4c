/**
 * private_key_jwt client authentication (RFC 7523 §2.2 and §3, OpenID
 * Connect Core §9) over HTTP, at every endpoint that authenticates clients:
 * an assertion signed with a registered key authenticates its client once;
 * every fault in it is 401 invalid_client and issues nothing; mixing it with
 * another method is 400 invalid_request; a client is held to the method it
 * registered.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import test, { type ExecutionContext } from "ava";
import { decodeJwt, SignJWT } from "jose";
import { CLIENT_KEY_ALGS } from "../../core/tokens/client-jwks.js";
import { ASSERTION_ALGS } from "../../core/tokens/profile.js";
import { countRows, ISSUER, M2M, seedFixtures, SPA } from "../core/flow.js";
import { assertJsonError, basic, getJson, postForm, token } from "../gateway/_support.js";
import { startTestServer, type TestServer } from "../helpers.js";
import { assertion, byAssertion, clientKey, jwksOf, JWT_BEARER, seedKeyClient, type ClientKey } from "./_assertion.js";

const SIGNER = "signer";

async function server(t: ExecutionContext): Promise<{ s: TestServer; key: ClientKey }> {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedFixtures(s);
  const key = await clientKey();
  await seedKeyClient(s, SIGNER, [key, await clientKey("PS256")]);
  return { s, key };
}

const clientCredentials = (s: TestServer, params: Record<string, string>, headers: Record<string, string> = {}) =>
  token(s, { grant_type: "client_credentials", ...params }, headers);

test("client_credentials with a signed assertion: 200 and a token of the client; discovery lists private_key_jwt and its algorithms", async (t) => {
  const { s, key } = await server(t);
  const res = await clientCredentials(s, byAssertion(await assertion(s, SIGNER, key)));
  t.is(res.status, 200);
  const body = (await res.json()) as { access_token: string };
  t.is(decodeJwt(body.access_token).client_id, SIGNER);
  // client_id may be sent too (RFC 7523 §3), naming the same client.
  t.is((await clientCredentials(s, { client_id: SIGNER, ...byAssertion(await assertion(s, SIGNER, key)) })).status, 200);

  const metadata = (await (await getJson(`${s.project}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
  for (const endpoint of ["token", "introspection", "revocation"]) {
    t.true(metadata[`${endpoint}_endpoint_auth_methods_supported`]!.includes("private_key_jwt"), endpoint);
    t.deepEqual(metadata[`${endpoint}_endpoint_auth_signing_alg_values_supported`], [...ASSERTION_ALGS]);
  }
  // Every algorithm a registered key may be for is one an assertion may use, and no other.
  t.deepEqual([...ASSERTION_ALGS].sort(), [...CLIENT_KEY_ALGS].sort());
});

test("an assertion is accepted once: used again it is 401 invalid_client, and nothing is issued", async (t) => {
  const { s, key } = await server(t);
  const once = await assertion(s, SIGNER, key);
  t.is((await clientCredentials(s, byAssertion(once))).status, 200);
  const again = await assertJsonError(t, await clientCredentials(s, byAssertion(once)), 401, "invalid_client");
  t.is(again.error_description, "client authentication failed");
});

test("each fault in an assertion is 401 invalid_client", async (t) => {
  const { s, key } = await server(t);
  const now = Math.floor(s.clock.now() / 1000);
  const other = await clientKey("ES256", key.kid);
  const hmac = await new SignJWT({ iss: SIGNER, sub: SIGNER, aud: ISSUER, jti: "h", exp: now + 60 })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode("a shared secret of thirty-two bytes"));
  const unsigned = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ iss: SIGNER, sub: SIGNER, aud: ISSUER, jti: "n", exp: now + 60 })).toString("base64url")}.`;
  const good = await assertion(s, SIGNER, key);
  const wrong: [string, string][] = [
    ["aud the introspection endpoint's URL, at the token endpoint", await assertion(s, SIGNER, key, { claims: { aud: `${ISSUER}/introspect` } })],
    ["aud the issuer with a trailing slash", await assertion(s, SIGNER, key, { claims: { aud: `${ISSUER}/` } })],
    ["aud an array holding the issuer", await assertion(s, SIGNER, key, { claims: { aud: [ISSUER] } })],
    ["aud another issuer", await assertion(s, SIGNER, key, { claims: { aud: "https://other.example" } })],
    ["aud missing", await assertion(s, SIGNER, key, { claims: { aud: undefined } })],
    ["iss another client", await assertion(s, SIGNER, key, { claims: { iss: M2M.id } })],
    ["exp missing", await assertion(s, SIGNER, key, { claims: { exp: undefined } })],
    ["exp five minutes ago", await assertion(s, SIGNER, key, { claims: { exp: now - 300 } })],
    ["exp an hour ahead", await assertion(s, SIGNER, key, { claims: { exp: now + 3600 } })],
    ["iat, nbf and exp 62 s ahead", await assertion(s, SIGNER, key, { now: now + 62, claims: { nbf: now + 62 } })],
    ["nbf two minutes ahead", await assertion(s, SIGNER, key, { claims: { nbf: now + 120 } })],
    ["jti missing", await assertion(s, SIGNER, key, { claims: { jti: undefined } })],
    ["jti empty", await assertion(s, SIGNER, key, { claims: { jti: "" } })],
    ["typ dpop+jwt", await assertion(s, SIGNER, key, { header: { typ: "dpop+jwt" } })],
    ["typ at+jwt", await assertion(s, SIGNER, key, { header: { typ: "at+jwt" } })],
    ["signed by another key under the same kid", await assertion(s, SIGNER, other)],
    ["a kid the client has not registered", await assertion(s, SIGNER, key, { header: { kid: "unknown" } })],
    ["HS256 (client_secret_jwt)", hmac],
    ["alg none", unsigned],
    ["a signature made up", `${good.slice(0, good.lastIndexOf("."))}.${Buffer.from("made up").toString("base64url")}`],
    ["not a JWT", "not-a-jwt"],
    ["no sub", await assertion(s, SIGNER, key, { claims: { sub: undefined } })],
  ];
  const grants = await countRows(s, "grants");
  for (const [what, value] of wrong) {
    const res = await clientCredentials(s, byAssertion(value));
    t.is(res.status, 401, what);
    t.is(((await res.json()) as { error: string }).error, "invalid_client", what);
  }
  t.is(await countRows(s, "grants"), grants, "the refused assertions issued nothing");
  // Not faults: iat and nbf a few seconds ahead are a client's clock (FAPI 2.0 §5.3.2.1 item 13); times with
  // fractions are NumericDates (RFC 7519 §2); typ is a media type, in any case, with or without application/.
  const fine: [string, string][] = [
    ["iat and nbf 8 s ahead", await assertion(s, SIGNER, key, { now: now + 8, claims: { nbf: now + 8 } })],
    // OpenID Connect Core §9's audience, which the OpenID Foundation's suite sends outside FAPI.
    ["aud the token endpoint's URL", await assertion(s, SIGNER, key, { claims: { aud: `${ISSUER}/token` } })],
    ["exp with a fraction", await assertion(s, SIGNER, key, { claims: { exp: now + 60.5, iat: now + 0.25 } })],
    ["typ application/client-authentication+jwt", await assertion(s, SIGNER, key, { header: { typ: "application/client-authentication+jwt" } })],
    ["typ jwt", await assertion(s, SIGNER, key, { header: { typ: "jwt" } })],
  ];
  for (const [what, value] of fine) t.is((await clientCredentials(s, byAssertion(value))).status, 200, what);
});

test("an assertion with another method is 400 invalid_request; so is another client_assertion_type, or a type without an assertion", async (t) => {
  const { s, key } = await server(t);
  const value = await assertion(s, SIGNER, key);
  const mixed: [string, Record<string, string>, Record<string, string>][] = [
    ["and a client_secret", { ...byAssertion(value), client_secret: "x".repeat(20) }, {}],
    ["and HTTP Basic", byAssertion(value), basic(SIGNER, "x".repeat(20))],
    ["of the SAML type", { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:saml2-bearer", client_assertion: value }, {}],
    ["without its type", { client_assertion: value }, {}],
    ["the type without an assertion", { client_assertion_type: JWT_BEARER }, {}],
  ];
  for (const [what, params, headers] of mixed) await assertJsonError(t, await clientCredentials(s, params, headers), 400, "invalid_request").then(() => t.pass(what));
  // The assertion was never looked at: it still authenticates.
  t.is((await clientCredentials(s, byAssertion(value))).status, 200);
  // client_id naming another client than the assertion's sub.
  await assertJsonError(t, await clientCredentials(s, { client_id: M2M.id, ...byAssertion(await assertion(s, SIGNER, key)) }), 401, "invalid_client");
});

test("a client is held to the method it registered: a private_key_jwt client's secret, a secret client's assertion and a public client's are refused", async (t) => {
  const { s, key } = await server(t);
  await assertJsonError(t, await clientCredentials(s, {}, basic(SIGNER, "any-secret-of-twenty")), 401, "invalid_client");
  await assertJsonError(t, await clientCredentials(s, { client_id: SIGNER, client_secret: "any-secret-of-twenty" }), 401, "invalid_client");
  await assertJsonError(t, await clientCredentials(s, { client_id: SIGNER }), 401, "invalid_client");
  // M2M authenticates by secret; an assertion with its id, signed by a key it never registered.
  await assertJsonError(t, await clientCredentials(s, byAssertion(await assertion(s, M2M.id, key))), 401, "invalid_client");
  await assertJsonError(
    t,
    await token(s, { grant_type: "refresh_token", refresh_token: "x", ...byAssertion(await assertion(s, SPA.id, key)) }),
    401,
    "invalid_client",
  );
  // And M2M's secret still works.
  t.is((await clientCredentials(s, {}, basic(M2M.id, M2M.secret))).status, 200);
});

test("introspection, revocation and pushed authorization requests take the assertion too, each once", async (t) => {
  const { s, key } = await server(t);
  const issued = (await (await clientCredentials(s, byAssertion(await assertion(s, SIGNER, key)))).json()) as { access_token: string };

  const introspectWith = async (value: string) => postForm(`${s.project}/introspect`, { token: issued.access_token, ...byAssertion(value) });
  const first = await assertion(s, SIGNER, key);
  const active = await introspectWith(first);
  t.is(active.status, 200);
  t.is(((await active.json()) as { active: boolean; client_id: string }).client_id, SIGNER);
  await assertJsonError(t, await introspectWith(first), 401, "invalid_client");

  const pushWith = async (value: string) =>
    postForm(`${s.project}/par`, {
      response_type: "code",
      client_id: SIGNER,
      redirect_uri: "https://keys.example/cb",
      scope: "openid",
      code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
      code_challenge_method: "S256",
      ...byAssertion(value),
    });
  t.is((await pushWith(await assertion(s, SIGNER, key))).status, 201);
  // RFC 9126 §2: the endpoint's own URL is an audience there, and only there.
  t.is((await pushWith(await assertion(s, SIGNER, key, { claims: { aud: `${ISSUER}/par` } }))).status, 201);
  await assertJsonError(t, await introspectWith(await assertion(s, SIGNER, key, { claims: { aud: `${ISSUER}/par` } })), 401, "invalid_client");
  await assertJsonError(t, await pushWith(await assertion(s, SIGNER, key, { claims: { aud: [ISSUER] } })), 401, "invalid_client");

  const revokeWith = async (value: string) => postForm(`${s.project}/revoke`, { token: issued.access_token, ...byAssertion(value) });
  await assertJsonError(t, await revokeWith(await assertion(s, SIGNER, key, { claims: { exp: undefined } })), 401, "invalid_client");
  t.is((await revokeWith(await assertion(s, SIGNER, key))).status, 200);
  const after = (await (await introspectWith(await assertion(s, SIGNER, key))).json()) as { active: boolean };
  t.false(after.active, "revoked by the client authenticated with its assertion");
});

test("keys at a jwks_uri: fetched once and used; a key the client adds later is found by the refetch its new kid causes", async (t) => {
  const s = await startTestServer({ config: { jwksUriPrivateNetworks: true } });
  t.teardown(() => s.close());
  const first = await clientKey();
  const published = [first];
  let fetches = 0;
  const keysServer = createServer((_req, res) => {
    fetches++;
    res.setHeader("content-type", "application/json");
    res.end(jwksOf(...published));
  });
  await new Promise<void>((resolve) => keysServer.listen(0, "127.0.0.1", resolve));
  t.teardown(() => keysServer.close());
  const jwksUri = `http://127.0.0.1:${(keysServer.address() as AddressInfo).port}/jwks.json`;
  await seedKeyClient(s, SIGNER, [], { jwks: "", jwksUri });

  for (let i = 0; i < 3; i++) t.is((await clientCredentials(s, byAssertion(await assertion(s, SIGNER, first)))).status, 200);
  t.is(fetches, 1, "fetched once, then cached");
  // The client rotates: a new key, published at its jwks_uri, known by its kid once the cooldown allows a refetch.
  const second = await clientKey();
  published.push(second);
  s.clock.advance(31);
  t.is((await clientCredentials(s, byAssertion(await assertion(s, SIGNER, second)))).status, 200);
  t.is(fetches, 2);
});

test("a jwks_uri that never answers, or answers a huge body, is 401 invalid_client within the timeout, never a 5xx or a hung request", async (t) => {
  const s = await startTestServer({ config: { jwksUriPrivateNetworks: true, jwksUriTimeout: 1 } });
  t.teardown(() => s.close());
  const key = await clientKey();
  const keysServer = createServer((req, res) => {
    if (req.url === "/huge") {
      res.setHeader("content-type", "application/json");
      // The client's own key, in a set padded past 64 KiB: used, it would authenticate the assertion.
      res.end(`{"keys":[${JSON.stringify(key.publicJwk)}],"pad":"${"x".repeat(200_000)}"}`);
    }
    // "/silent": the request is taken and never answered.
  });
  await new Promise<void>((resolve) => keysServer.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    keysServer.closeAllConnections();
    keysServer.close();
  });
  const origin = `http://127.0.0.1:${(keysServer.address() as AddressInfo).port}`;
  for (const path of ["/silent", "/huge"]) {
    const id = `keys${path.replace("/", "-")}`;
    await seedKeyClient(s, id, [], { jwks: "", jwksUri: `${origin}${path}` });
    await assertJsonError(t, await clientCredentials(s, byAssertion(await assertion(s, id, key))), 401, "invalid_client");
  }
});
