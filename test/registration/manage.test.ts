/**
 * The client configuration endpoint, {project}/register/{client_id} (RFC
 * 7592 §2): read, replace and delete with the registration access token;
 * a missing or wrong token, another client's, or a deleted client's is
 * 401 invalid_token with its Bearer challenge; an administrator sees and
 * deletes the client, which ends its registration; every change audited.
 */
import test from "ava";
import { exportJWK, generateKeyPair } from "jose";
import { TOKEN_EXCHANGE_GRANT } from "../../core/protocol/token-exchange.js";
import { sha256 } from "../../core/lib/crypto.js";
import { DEFAULT } from "../helpers.js";
import {
  assertError,
  assertInvalidToken,
  dynamicClients,
  eventsOf,
  manage,
  REDIRECT,
  registered,
  registrationServer,
  WEB_METADATA,
  type ClientInformation,
} from "./_support.js";

/** What an update request repeats of the registration: its metadata and client_id, without the server's own members. */
const updateOf = (info: ClientInformation, change: Record<string, unknown> = {}) => {
  const { registration_access_token, registration_client_uri, client_secret_expires_at, client_id_issued_at, client_secret, ...metadata } = info;
  return { ...metadata, ...change };
};

test("GET answers the registered client with the token as sent; a missing, wrong or other client's token is 401 invalid_token", async (t) => {
  const s = await registrationServer(t);
  const info = await registered(s, WEB_METADATA);
  const other = await registered(s, WEB_METADATA);
  const res = await manage(s, info, "GET", info.registration_access_token);
  t.is(res.status, 200);
  t.is(res.headers.get("cache-control"), "no-store");
  const { client_secret, ...expected } = info;
  t.deepEqual(await res.json(), expected, "the same information, but the secret, kept only as a hash");
  await assertInvalidToken(t, await manage(s, info, "GET", undefined));
  await assertInvalidToken(t, await manage(s, info, "GET", "wrong"));
  await assertInvalidToken(t, await manage(s, info, "GET", other.registration_access_token));
  await assertInvalidToken(t, await manage(s, { ...info, client_id: "admin-client" }, "GET", info.registration_access_token));
  t.regex((await manage(s, info, "GET", undefined)).headers.get("www-authenticate") ?? "", /^Bearer realm="/);
  // Kept as its SHA-256 only; the secret as an argon2id hash.
  t.is((await s.core.deps.store.getClientRegistration(DEFAULT, info.client_id))!.tokenHash, sha256(info.registration_access_token));
  t.regex((await s.core.deps.store.getClient(DEFAULT, info.client_id))!.secretHash ?? "", /^\$argon2id\$/);
});

test("PUT replaces the metadata (omitted members go back to their defaults), keeps the secret and the registration access token, and is audited", async (t) => {
  const s = await registrationServer(t);
  const info = await registered(s, { ...WEB_METADATA, client_uri: "https://app.example" });
  const res = await manage(s, info, "PUT", info.registration_access_token, {
    client_id: info.client_id,
    client_secret: info.client_secret,
    client_name: "Renamed",
    redirect_uris: ["https://app.example/new"],
    token_endpoint_auth_method: "client_secret_post",
    unknown_member: true,
  });
  const text = await res.text();
  t.is(res.status, 200, text);
  const updated = JSON.parse(text) as ClientInformation;
  t.like(updated, {
    client_id: info.client_id,
    client_name: "Renamed",
    redirect_uris: ["https://app.example/new"],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: "client_secret_post",
    registration_access_token: info.registration_access_token,
    client_id_issued_at: info.client_id_issued_at,
  });
  t.false("client_uri" in updated, "omitted: removed (RFC 7592 §2.2)");
  t.false("unknown_member" in updated);
  t.like((await s.admin.getClient({ ...DEFAULT, clientId: info.client_id }, s.auth)).client, { name: "Renamed", redirectUris: ["https://app.example/new"] });
  t.is((await manage(s, info, "GET", info.registration_access_token)).status, 200, "the token still works");
  const [event] = await eventsOf(s, "CLIENT_REGISTRATION_UPDATED");
  t.like(event, { outcome: "success", actor: { kind: "client", id: info.client_id }, target: { kind: "client", id: info.client_id } });
  t.deepEqual(event!.changes.map((c) => c.field).sort(), ["client_uri", "grant_types", "name", "redirect_uris", "token_endpoint_auth_method"]);
  t.false(JSON.stringify(event).includes(info.client_secret!));
});

test("PUT refuses what RFC 7592 §2.2 forbids, invalid metadata, a change of authentication kind, and a wrong token; nothing changes", async (t) => {
  const s = await registrationServer(t);
  const info = await registered(s, WEB_METADATA);
  const put = (body: unknown, token = info.registration_access_token) => manage(s, info, "PUT", token, body);
  await assertError(t, await put(updateOf(info, { client_id: "someone-else" })), 400, "invalid_request");
  await assertError(t, await put(updateOf(info, { client_id: undefined })), 400, "invalid_request");
  await assertError(t, await put({ ...updateOf(info), client_secret: "guessed-secret-value" }), 400, "invalid_request");
  await assertError(t, await put({ ...updateOf(info), registration_access_token: info.registration_access_token }), 400, "invalid_request");
  await assertError(t, await put({ ...updateOf(info), client_id_issued_at: 1 }), 400, "invalid_request");
  await assertError(t, await put(updateOf(info, { redirect_uris: ["http://app.example/cb"] })), 400, "invalid_redirect_uri");
  await assertError(t, await put(updateOf(info, { grant_types: ["authorization_code", "password"] })), 400, "invalid_client_metadata");
  await assertError(t, await put(updateOf(info, { security_profile: "fapi2" })), 400, "invalid_client_metadata");
  const kind = await assertError(t, await put(updateOf(info, { token_endpoint_auth_method: "none" })), 400, "invalid_client_metadata");
  t.regex(kind.error_description, /register a new client/);
  await assertInvalidToken(t, await put(updateOf(info, { client_name: "Hijacked" }), "wrong"));
  t.like((await s.admin.getClient({ ...DEFAULT, clientId: info.client_id }, s.auth)).client, { name: WEB_METADATA.client_name, redirectUris: [REDIRECT] });
  t.deepEqual((await eventsOf(s, "CLIENT_REGISTRATION_UPDATED")).map((e) => [e.outcome, e.reason]), [["failure", "invalid_token"]]);
});

test("DELETE is 204; the client, its grants and its registration go; its token is then 401, as is a second delete", async (t) => {
  const s = await registrationServer(t);
  const info = await registered(s, WEB_METADATA);
  await assertInvalidToken(t, await manage(s, info, "DELETE", "wrong"));
  const res = await manage(s, info, "DELETE", info.registration_access_token);
  t.is(res.status, 204);
  t.is(await res.text(), "");
  t.is(await s.core.deps.store.getClient(DEFAULT, info.client_id), undefined);
  t.is(await dynamicClients(s), 0);
  await assertInvalidToken(t, await manage(s, info, "GET", info.registration_access_token));
  await assertInvalidToken(t, await manage(s, info, "DELETE", info.registration_access_token));
  const events = await eventsOf(s, "CLIENT_REGISTRATION_DELETED");
  t.deepEqual(events.map((e) => [e.outcome, e.reason]), [["failure", "invalid_token"], ["success", ""], ["failure", "invalid_token"]]);
  t.like(events[1], { actor: { kind: "client", id: info.client_id }, target: { kind: "client", id: info.client_id } });
});

test("an administrator sees a registered client, and DeleteClient ends its registration: its token then fails", async (t) => {
  const s = await registrationServer(t);
  const info = await registered(s, WEB_METADATA);
  t.true((await s.admin.getClient({ ...DEFAULT, clientId: info.client_id }, s.auth)).client!.dynamicallyRegistered);
  await s.admin.deleteClient({ ...DEFAULT, clientId: info.client_id }, s.auth);
  await assertInvalidToken(t, await manage(s, info, "GET", info.registration_access_token));
  await assertInvalidToken(t, await manage(s, info, "PUT", info.registration_access_token, updateOf(info)));
  t.deepEqual((await eventsOf(s, "CLIENT_DELETED")).map((e) => e.outcome), ["success"]);
});

test("with registration turned off, the client configuration endpoint is 404 too; the client itself keeps working until deleted", async (t) => {
  const s = await registrationServer(t);
  const info = await registered(s, WEB_METADATA);
  await s.admin.updateProject({ ...DEFAULT, clientRegistration: "", updateMask: { paths: ["client_registration"] } }, s.auth);
  await assertError(t, await manage(s, info, "GET", info.registration_access_token), 404, "not_found");
  t.truthy(await s.core.deps.store.getClient(DEFAULT, info.client_id));
});

test("a client's own update keeps what only an administrator sets (FAPI 2.0 profile, token exchange grant and policy, may_act), and cannot leave what the profile requires", async (t) => {
  const s = await registrationServer(t);
  const { publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const info = await registered(s, {
    client_name: "Signed agent",
    redirect_uris: [REDIRECT],
    grant_types: ["authorization_code", "client_credentials"],
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [jwk] },
    id_token_signed_response_alg: "ES256",
  });
  const administered = {
    securityProfile: "fapi2",
    grantTypes: ["authorization_code", "client_credentials", TOKEN_EXCHANGE_GRANT],
    tokenExchangeSubjectClients: ["web-app"],
    tokenExchangeResources: ["https://mcp.example/mcp"],
    mayActClient: "gateway",
  };
  const paths = ["security_profile", "grant_types", "token_exchange_subject_clients", "token_exchange_resources", "may_act_client"];
  await s.admin.updateClient({ ...DEFAULT, clientId: info.client_id, ...administered, updateMask: { paths } }, s.auth);
  const clientOf = async () => (await s.admin.getClient({ ...DEFAULT, clientId: info.client_id }, s.auth)).client!;

  // RFC 7592 §2.2: the client sends back what GET answered, the grant an administrator added included, and renames itself.
  const read = (await (await manage(s, info, "GET", info.registration_access_token)).json()) as ClientInformation;
  t.true(read.grant_types.includes(TOKEN_EXCHANGE_GRANT));
  const res = await manage(s, info, "PUT", info.registration_access_token, updateOf(read, { client_name: "Renamed agent" }));
  t.is(res.status, 200, await res.clone().text());
  t.like(await clientOf(), { name: "Renamed agent", ...administered });

  // Dropping the grant from its own request does not remove it either: it is not the client's to give or take.
  const dropped = await manage(s, info, "PUT", info.registration_access_token, updateOf(read, { grant_types: ["authorization_code", "client_credentials"] }));
  t.is(dropped.status, 200);
  t.like(await clientOf(), administered);

  // A FAPI 2.0 client signs its ID tokens ES256: RS256 is refused, and nothing changes.
  const weaker = await manage(s, info, "PUT", info.registration_access_token, updateOf(read, { id_token_signed_response_alg: "RS256" }));
  await assertError(t, weaker, 400, "invalid_client_metadata");
  t.like(await clientOf(), { idTokenSignedResponseAlg: "ES256", ...administered });
});
