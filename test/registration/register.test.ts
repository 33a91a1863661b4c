/**
 * The client registration endpoint, POST {project}/register (RFC 7591 §3),
 * over HTTP on a real core and gateway: off unless the project turns it on,
 * the client information of a registration, each refusal with its RFC code
 * and nothing kept, the project's setting as discovery shows it.
 */
import test from "ava";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { DEFAULT } from "../helpers.js";
import { parsePrometheus, total } from "../observe/_prometheus.js";
import {
  assertError,
  dynamicClients,
  eventsOf,
  READ,
  REDIRECT,
  register,
  registered,
  registrationServer,
  WEB_METADATA,
} from "./_support.js";

const discoveryOf = async (project: string) =>
  (await (await fetch(`${project}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;

test("off by default: /register is 404, discovery names no registration_endpoint; turned on, both appear, and GetProject says so", async (t) => {
  const s = await registrationServer(t, "");
  t.is((await s.admin.getProject(DEFAULT, s.auth)).project!.clientRegistration, "");
  await assertError(t, await register(s, WEB_METADATA), 404, "not_found");
  t.false("registration_endpoint" in (await discoveryOf(s.project)));
  t.is(await dynamicClients(s), 0);

  await s.admin.updateProject({ ...DEFAULT, clientRegistration: "open", updateMask: { paths: ["client_registration"] } }, s.auth);
  t.is((await s.admin.getProject(DEFAULT, s.auth)).project!.clientRegistration, "open");
  t.is((await discoveryOf(s.project)).registration_endpoint, "http://iam.test/services/oauth2/iam-admins/iam-admins/register");
  t.is((await register(s, WEB_METADATA)).status, 201);

  await s.admin.updateProject({ ...DEFAULT, clientRegistration: "", updateMask: { paths: ["client_registration"] } }, s.auth);
  await assertError(t, await register(s, WEB_METADATA), 404, "not_found");
  await t.throwsAsync(
    s.admin.updateProject({ ...DEFAULT, clientRegistration: "anyone", updateMask: { paths: ["client_registration"] } }, s.auth),
    { message: /client_registration must be empty \(off\), open or initial_access_token/ },
  );
});

test("an open registration answers 201 with the client information; the client is an ordinary, dynamically registered one of the project, with no role", async (t) => {
  const s = await registrationServer(t);
  const res = await register(s, { ...WEB_METADATA, scope: `openid ${READ} unknown.scope.value`, logo_uri: "https://app.example/logo.png", made_up: "<b>x</b>" });
  t.is(res.status, 201);
  t.is(res.headers.get("cache-control"), "no-store");
  t.regex(res.headers.get("content-type") ?? "", /^application\/json/);
  t.is(res.headers.get("access-control-allow-origin"), null, "no CORS");
  const info = (await res.json()) as Record<string, unknown>;
  const id = info.client_id as string;
  t.regex(id, /^[A-Za-z0-9_-]{22}$/);
  t.regex(info.client_secret as string, /^[A-Za-z0-9_-]{43}$/);
  t.regex(info.registration_access_token as string, /^[A-Za-z0-9_-]{43}$/);
  t.deepEqual(info, {
    client_id: id,
    client_secret: info.client_secret,
    client_secret_expires_at: 0,
    client_id_issued_at: Math.floor(s.clock.now() / 1000),
    registration_access_token: info.registration_access_token,
    registration_client_uri: `http://iam.test/services/oauth2/iam-admins/iam-admins/register/${id}`,
    client_name: "Registered web app",
    application_type: "web",
    redirect_uris: [REDIRECT],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    // Unknown scope values are replaced away (RFC 7591 §3.2.1); the unknown member is not answered.
    scope: `openid ${READ}`,
    id_token_signed_response_alg: "RS256",
    dpop_bound_access_tokens: false,
    require_pushed_authorization_requests: false,
    logo_uri: "https://app.example/logo.png",
  });
  const { client } = await s.admin.getClient({ ...DEFAULT, clientId: id }, s.auth);
  t.like(client, { id, name: "Registered web app", dynamicallyRegistered: true, pkceRequired: true, roles: [], redirectUris: [REDIRECT] });
  t.is(client!.tokenEndpointAuthMethod, "client_secret_basic");
  const listed = (await s.admin.listClients({ ...DEFAULT, pageSize: 100 }, s.auth)).clients;
  t.deepEqual(listed.filter((c) => c.dynamicallyRegistered).map((c) => c.id), [id]);
  t.false(listed.find((c) => c.id === "admin-client")!.dynamicallyRegistered);
  // Neither the secret nor the registration access token reaches a log line.
  t.false(s.lines.join("").includes(info.client_secret as string));
  t.false(s.lines.join("").includes(info.registration_access_token as string));
});

test("a native app registers as a public client with loopback and private-use redirect URIs, localhost included", async (t) => {
  const s = await registrationServer(t);
  const info = await registered(s, {
    application_type: "native",
    redirect_uris: ["http://127.0.0.1:53124/cb", "http://[::1]/cb", "com.example.app:/oauth"],
    token_endpoint_auth_method: "none",
  });
  t.is(info.client_secret, undefined);
  t.is(info.client_secret_expires_at, undefined);
  t.is(info.token_endpoint_auth_method, "none");
  t.deepEqual(info.grant_types, ["authorization_code"], "RFC 7591 §2's default");
  t.like((await s.admin.getClient({ ...DEFAULT, clientId: info.client_id }, s.auth)).client, { dynamicallyRegistered: true, pkceRequired: true });

  // RFC 8252 §8.3 does not recommend localhost, but MCP clients (the MCP Inspector) register it.
  const local = await registered(s, { application_type: "native", redirect_uris: ["http://localhost:6274/oauth/callback"], token_endpoint_auth_method: "none" });
  t.deepEqual(local.redirect_uris, ["http://localhost:6274/oauth/callback"]);
});

test("a registration that names no application_type is native when only an app on the user's machine can receive its redirects, as MCP clients register", async (t) => {
  const s = await registrationServer(t);
  const app = await registered(s, { client_name: "MCP client", redirect_uris: ["http://127.0.0.1:33418/callback"], token_endpoint_auth_method: "none" });
  t.is(app.application_type, "native");
  const scheme = await registered(s, { redirect_uris: ["com.example.agent:/oauth"], token_endpoint_auth_method: "none" });
  t.is(scheme.application_type, "native");
  // One web redirect among them: web, whose rules refuse the loopback one.
  await assertError(t, await register(s, { redirect_uris: ["http://127.0.0.1:33418/callback", "https://app.example/cb"] }), 400, "invalid_redirect_uri");
  t.is((await registered(s, { ...WEB_METADATA })).application_type, "web");
});

test("redirect URIs: a foreign or malformed one, and http (even loopback) for a web client, are invalid_redirect_uri, and nothing is kept", async (t) => {
  const s = await registrationServer(t);
  for (const uris of [
    ["javascript:alert(1)"],
    ["https://app.example/cb#fragment"],
    ["http://app.example/cb"],
    ["https://user:pw@app.example/cb"],
    ["not a uri"],
    ["http://127.0.0.1:8000/cb"],
    ["https://localhost/cb"],
    [],
  ]) {
    await assertError(t, await register(s, { ...WEB_METADATA, application_type: "web", redirect_uris: uris }), 400, "invalid_redirect_uri");
  }
  await assertError(t, await register(s, { ...WEB_METADATA, redirect_uris: [REDIRECT, REDIRECT] }), 400, "invalid_client_metadata");
  await assertError(t, await register(s, { ...WEB_METADATA, redirect_uris: "https://app.example/cb" }), 400, "invalid_client_metadata");
  t.is(await dynamicClients(s), 0);
  t.is((await eventsOf(s, "CLIENT_REGISTERED")).length, 0);
});

test("authentication methods: unknown ones, private_key_jwt without keys, jwks beside jwks_uri, a public client with client_credentials are invalid_client_metadata", async (t) => {
  const s = await registrationServer(t);
  const refused = async (metadata: Record<string, unknown>, pattern: RegExp) => {
    const body = await assertError(t, await register(s, { ...WEB_METADATA, ...metadata }), 400, "invalid_client_metadata");
    t.regex(body.error_description, pattern);
  };
  await refused({ token_endpoint_auth_method: "client_secret_jwt" }, /token_endpoint_auth_method client_secret_jwt is not supported/);
  await refused({ token_endpoint_auth_method: "tls_client_auth" }, /not supported/);
  await refused({ token_endpoint_auth_method: "private_key_jwt" }, /private_key_jwt needs the client's public keys/);
  await refused({ token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [] }, jwks_uri: "https://app.example/jwks" }, /jwks/);
  await refused({ token_endpoint_auth_method: "client_secret_basic", jwks_uri: "https://app.example/jwks" }, /private_key_jwt/);
  await refused({ token_endpoint_auth_method: "none", grant_types: ["client_credentials"], redirect_uris: [] }, /public client cannot use client_credentials/);
  await refused({ token_endpoint_auth_method: 7 }, /must be a string/);
  t.is(await dynamicClients(s), 0);
});

test("grant and response types: the password grant, implicit and unknown grants, other response types and disagreeing ones are refused", async (t) => {
  const s = await registrationServer(t);
  const refused = async (metadata: Record<string, unknown>, pattern: RegExp) => {
    const body = await assertError(t, await register(s, { ...WEB_METADATA, ...metadata }), 400, "invalid_client_metadata");
    t.regex(body.error_description, pattern);
  };
  await refused({ grant_types: ["authorization_code", "password"] }, /password grant cannot be registered/);
  await refused({ grant_types: ["implicit"], response_types: ["token"] }, /grant type implicit is not supported/);
  await refused({ grant_types: ["urn:ietf:params:oauth:grant-type:device_code"] }, /not supported/);
  await refused({ response_types: ["code id_token"] }, /response type code id_token is not supported/);
  await refused({ grant_types: ["refresh_token", "client_credentials"], response_types: ["code"] }, /go together/);
  await refused({ grant_types: ["authorization_code"], response_types: [] }, /go together/);
  await refused({ security_profile: "fapi2" }, /cannot choose a security profile/);
  await refused({ application_type: "desktop" }, /application_type must be web or native/);
  await refused({ client_name: "a\u202ename" }, /control characters/);
  await refused({ logo_uri: "javascript:alert(1)" }, /logo_uri must be an (absolute )?https URL/);
  t.is(await dynamicClients(s), 0);

  // A confidential machine client: client_credentials alone, no redirect URI, no response type.
  const m2m = await registered(s, { grant_types: ["client_credentials"], token_endpoint_auth_method: "client_secret_post" });
  t.deepEqual([m2m.grant_types, m2m.response_types, m2m.redirect_uris], [["client_credentials"], [], []]);
  t.truthy(m2m.client_secret);
});

test("the body must be a JSON object sent as application/json", async (t) => {
  const s = await registrationServer(t);
  await assertError(t, await register(s, "not json"), 400, "invalid_client_metadata");
  await assertError(t, await register(s, "[1,2]"), 400, "invalid_client_metadata");
  await assertError(t, await register(s, JSON.stringify(WEB_METADATA), undefined, { "content-type": "application/x-www-form-urlencoded" }), 415, "invalid_request");
  await assertError(t, await register(s, "x".repeat(20_000)), 413, "invalid_request");
  t.is(await dynamicClients(s), 0);
});

test("registrations past the rate of one address are 429 with Retry-After, before anything is kept", async (t) => {
  const s = await registrationServer(t, "open", { config: { registrationRatePerAddress: 1, registrationRateBurst: 2 } });
  t.is((await register(s, WEB_METADATA)).status, 201);
  t.is((await register(s, { redirect_uris: ["bad"] })).status, 400, "a refused registration spends the budget too");
  const res = await register(s, WEB_METADATA);
  const body = await assertError(t, res, 429, "temporarily_unavailable");
  t.regex(body.error_description, /too many client registration requests/);
  t.is(res.headers.get("retry-after"), "60");
  t.is(await dynamicClients(s), 1);
  s.clock.advance(60);
  t.is((await register(s, WEB_METADATA)).status, 201, "the budget refills with time");
});

test("a project holds at most IAM_REGISTRATION_MAX_CLIENTS dynamically registered clients; past it 403 access_denied until one is deleted", async (t) => {
  const s = await registrationServer(t, "open", { config: { registrationMaxClients: 2 } });
  const first = await registered(s, WEB_METADATA);
  await registered(s, WEB_METADATA);
  const body = await assertError(t, await register(s, WEB_METADATA), 403, "access_denied");
  t.regex(body.error_description, /most dynamically registered clients it may \(2\)/);
  t.is(await dynamicClients(s), 2);
  await s.admin.deleteClient({ ...DEFAULT, clientId: first.client_id }, s.auth);
  t.is((await register(s, WEB_METADATA)).status, 201);
});

test("concurrent registrations never pass IAM_REGISTRATION_MAX_CLIENTS: exactly the ceiling is created, every other one 403 access_denied", async (t) => {
  const s = await registrationServer(t, "open", { config: { registrationMaxClients: 3, registrationRatePerAddress: 0 } });
  const answers = await Promise.all(Array.from({ length: 12 }, () => register(s, WEB_METADATA)));
  t.deepEqual(answers.map((r) => r.status).sort(), [...Array(3).fill(201), ...Array(9).fill(403)]);
  t.is(await dynamicClients(s), 3);
  const metrics = parsePrometheus((await s.core.deps.metrics.render()).body);
  t.is(total(metrics, "iam_client_registrations_total", { result: "registered" }), 3);
  t.is(total(metrics, "iam_client_registrations_total", { result: "access_denied" }), 9);
});

test("the operator's private network options are for its own clients: a registration naming a loopback or private jwks_uri or back-channel logout URI is invalid_client_metadata even with them on", async (t) => {
  const s = await registrationServer(t, "open", { config: { jwksUriPrivateNetworks: true, backchannelLogoutPrivateNetworks: true } });
  const cases: Record<string, unknown>[] = [
    { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://127.0.0.1:9/jwks" },
    { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://10.0.0.1/jwks" },
    { backchannel_logout_uri: "http://127.0.0.1:9/bc" },
    { backchannel_logout_uri: "https://192.168.1.1/bc" },
  ];
  for (const extra of cases) await assertError(t, await register(s, { ...WEB_METADATA, ...extra }), 400, "invalid_client_metadata");
  t.is(await dynamicClients(s), 0, "nothing registered");
  // An administrator's client may, as the options say.
  const made = await s.admin.createClient(
    { ...DEFAULT, clientId: "internal", type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"], tokenEndpointAuthMethod: "private_key_jwt", jwksUri: "http://127.0.0.1:9/jwks" },
    s.auth,
  );
  t.is(made.client?.jwksUri, "http://127.0.0.1:9/jwks");
});

test("hostile bodies: wrong types, prototype keys, private addresses to fetch, deep nesting; each a 400 with its code, never a 5xx, nothing kept", async (t) => {
  const s = await registrationServer(t);
  const cases: [unknown, string][] = [
    ["null", "invalid_client_metadata"],
    ['"a string"', "invalid_client_metadata"],
    [{}, "invalid_redirect_uri"],
    [{ ...WEB_METADATA, redirect_uris: [null] }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, redirect_uris: [{ uri: REDIRECT }] }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, client_name: { text: "x" } }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, contacts: "ops@app.example" }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, dpop_bound_access_tokens: "yes" }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, token_endpoint_auth_method: "private_key_jwt", jwks: "not an object" }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: "x" } }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://10.0.0.1/jwks" }, "invalid_client_metadata"],
    [{ ...WEB_METADATA, backchannel_logout_uri: "https://169.254.169.254/latest" }, "invalid_client_metadata"],
    [`{"__proto__":{"redirect_uris":["${REDIRECT}"]},"constructor":{"prototype":{"x":1}}}`, "invalid_redirect_uri"],
    [`${"[".repeat(2000)}${"]".repeat(2000)}`, "invalid_client_metadata"],
    [{ ...WEB_METADATA, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://app.example/cb${i}`) }, "invalid_client_metadata"],
  ];
  for (const [body, error] of cases) {
    await assertError(t, await register(s, body), 400, error);
  }
  t.is(await dynamicClients(s), 0);
  t.false(s.lines.some((line) => line.includes('"level":"error"')), "no unexpected error logged");
});
