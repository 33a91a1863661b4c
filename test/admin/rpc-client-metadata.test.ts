/**
 * AdminService: the client fields of OpenID Connect logout, ID tokens and
 * browser-based applications (post_logout_redirect_uris,
 * backchannel_logout_uri, id_token_signed_response_alg, web_origins): their
 * defaults, their round trip through Create, Get, List and Update, and the
 * exact refusal of each bad value, which changes nothing.
 */
import { Code } from "@connectrpc/connect";
import test from "ava";
import { decodeProtectedHeader } from "jose";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { queryOf } from "../helpers.js";
import { ACME, ALICE, createTenant, expectCode, fullTenant, REDIRECT, startAdmin, type AdminTest } from "./rpc-support.js";

const confidential = (overrides: Record<string, unknown> = {}) => ({
  ...ACME,
  clientId: "web",
  type: ClientType.CONFIDENTIAL,
  redirectUris: [REDIRECT],
  ...overrides,
});

/** A core with ACME; `privateNetworks` lets back-channel logout URIs name loopback hosts (IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS). */
async function tenant(t: import("ava").ExecutionContext, privateNetworks = false): Promise<AdminTest> {
  const c = await startAdmin(t, { backchannelLogoutPrivateNetworks: privateNetworks });
  await createTenant(c, ACME);
  return c;
}

const FIELDS = {
  postLogoutRedirectUris: ["https://web.example/bye", "com.example.app:/signed-out", "http://127.0.0.1:8080/bye?x=1"],
  backchannelLogoutUri: "https://web.example/backchannel-logout?tenant=1",
  idTokenSignedResponseAlg: "ES256",
  webOrigins: ["https://web.example", "http://localhost:3000"],
};

test("a client's logout URIs, ID token algorithm and web origins default to none, RS256 and none", async (t) => {
  const c = await tenant(t);
  const created = await c.admin.createClient(confidential(), c.auth);
  const expected = { postLogoutRedirectUris: [], backchannelLogoutUri: "", idTokenSignedResponseAlg: "RS256", webOrigins: [] };
  t.like(created.client, expected);
  t.like((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, expected);
  t.like((await c.admin.listClients(ACME, c.auth)).clients.find((x) => x.id === "web"), expected);
  // The default tenant's admin-client as well (OpenID Connect Registration §2).
  const admin = await c.admin.getClient({ organization: "iam-admins", project: "iam-admins", clientId: "admin-client" }, c.auth);
  t.like(admin.client, expected);
});

test("CreateClient registers them; GetClient and ListClients answer them as registered", async (t) => {
  const c = await tenant(t);
  const created = await c.admin.createClient(confidential(FIELDS), c.auth);
  t.like(created.client, FIELDS);
  t.like((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, FIELDS);
  t.like((await c.admin.listClients(ACME, c.auth)).clients.find((x) => x.id === "web"), FIELDS);
  const pub = await c.admin.createClient(
    { ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: ["https://spa.example/cb"], idTokenSignedResponseAlg: "RS256", webOrigins: ["https://spa.example"] },
    c.auth,
  );
  t.like(pub.client, { idTokenSignedResponseAlg: "RS256", webOrigins: ["https://spa.example"] });
});

test("web origins are stored as browsers send Origin: lowercase, the default port dropped", async (t) => {
  const c = await tenant(t);
  const given = ["HTTPS://Web.Example:443", "https://web.example:8443", "http://LOCALHOST:80", "http://127.0.0.1:3000", "http://[::1]:8080", "https://bücher.example"];
  const res = await c.admin.createClient(confidential({ webOrigins: given }), c.auth);
  const stored = ["https://web.example", "https://web.example:8443", "http://localhost", "http://127.0.0.1:3000", "http://[::1]:8080", "https://xn--bcher-kva.example"];
  t.deepEqual(res.client?.webOrigins, stored);
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client?.webOrigins, stored);
  const updated = await c.admin.updateClient({ ...ACME, clientId: "web", webOrigins: ["https://APP.example:443"], updateMask: { paths: ["web_origins"] } }, c.auth);
  t.deepEqual(updated.client?.webOrigins, ["https://app.example"]);
});

test("UpdateClient replaces the fields named in update_mask, and only those", async (t) => {
  const c = await tenant(t, true);
  await c.admin.createClient(confidential(FIELDS), c.auth);
  const ref = { ...ACME, clientId: "web" };

  const one = await c.admin.updateClient(
    { ...ref, postLogoutRedirectUris: ["https://web.example/goodbye"], backchannelLogoutUri: "", webOrigins: [], updateMask: { paths: ["post_logout_redirect_uris"] } },
    c.auth,
  );
  t.like(one.client, { ...FIELDS, postLogoutRedirectUris: ["https://web.example/goodbye"] }, "outside the mask nothing changes");

  const all = await c.admin.updateClient(
    {
      ...ref,
      postLogoutRedirectUris: [],
      backchannelLogoutUri: "http://localhost:9000/bc",
      idTokenSignedResponseAlg: "RS256",
      webOrigins: ["https://other.example"],
      updateMask: { paths: ["post_logout_redirect_uris", "backchannel_logout_uri", "id_token_signed_response_alg", "web_origins"] },
    },
    c.auth,
  );
  const expected = { postLogoutRedirectUris: [], backchannelLogoutUri: "http://localhost:9000/bc", idTokenSignedResponseAlg: "RS256", webOrigins: ["https://other.example"] };
  t.like(all.client, expected);
  t.like((await c.admin.getClient(ref, c.auth)).client, { ...expected, redirectUris: [REDIRECT], name: "web" });

  await c.admin.updateClient({ ...ref, idTokenSignedResponseAlg: "ES256", updateMask: { paths: ["id_token_signed_response_alg"] } }, c.auth);
  const reset = await c.admin.updateClient(
    { ...ref, idTokenSignedResponseAlg: "", backchannelLogoutUri: "", updateMask: { paths: ["id_token_signed_response_alg", "backchannel_logout_uri"] } },
    c.auth,
  );
  t.like(reset.client, { idTokenSignedResponseAlg: "RS256", backchannelLogoutUri: "" }, "empty means the default, and no back-channel logout");
});

/** Each bad value, its field, and the exact refusal. */
const BAD: { what: string; field: keyof typeof FIELDS; value: string | string[]; message: string }[] = [
  { what: "relative post-logout URI", field: "postLogoutRedirectUris", value: ["/bye"], message: "post-logout redirect URI /bye is not an absolute URI" },
  { what: "empty post-logout URI", field: "postLogoutRedirectUris", value: [""], message: "a post-logout redirect URI must not be empty" },
  { what: "post-logout URI with a fragment", field: "postLogoutRedirectUris", value: ["https://web.example/bye#x"], message: "post-logout redirect URI https://web.example/bye#x must not have a fragment" },
  { what: "post-logout URI over plain http", field: "postLogoutRedirectUris", value: ["http://web.example/bye"], message: "post-logout redirect URI http://web.example/bye: http is allowed only for loopback hosts" },
  { what: "post-logout URI with credentials", field: "postLogoutRedirectUris", value: ["https://u:p@web.example/bye"], message: "post-logout redirect URI https://u:p@web.example/bye must not carry credentials" },
  {
    what: "javascript: post-logout URI",
    field: "postLogoutRedirectUris",
    value: ["javascript:alert(1)"],
    message: "post-logout redirect URI javascript:alert(1): the scheme must be https, http on a loopback host, or a private-use scheme such as com.example.app",
  },
  { what: "repeated post-logout URIs", field: "postLogoutRedirectUris", value: ["https://web.example/bye", "https://web.example/bye"], message: "post_logout_redirect_uris must not repeat" },
  { what: "21 post-logout URIs", field: "postLogoutRedirectUris", value: Array.from({ length: 21 }, (_, i) => `https://web.example/bye${i}`), message: "at most 20 post_logout_redirect_uris" },
  { what: "relative back-channel URI", field: "backchannelLogoutUri", value: "web.example/bc", message: "backchannel_logout_uri web.example/bc is not an absolute URI" },
  { what: "back-channel URI with a fragment", field: "backchannelLogoutUri", value: "https://web.example/bc#f", message: "backchannel_logout_uri https://web.example/bc#f must not have a fragment" },
  { what: "back-channel URI over plain http", field: "backchannelLogoutUri", value: "http://web.example/bc", message: "backchannel_logout_uri http://web.example/bc: http is allowed only for loopback hosts" },
  { what: "back-channel URI on a private address", field: "backchannelLogoutUri", value: "http://10.0.0.1/bc", message: "backchannel_logout_uri http://10.0.0.1/bc: http is allowed only for loopback hosts" },
  { what: "back-channel URI with credentials", field: "backchannelLogoutUri", value: "https://u@web.example/bc", message: "backchannel_logout_uri https://u@web.example/bc must not carry credentials" },
  { what: "back-channel URI of a private-use scheme", field: "backchannelLogoutUri", value: "com.example.app:/bc", message: "backchannel_logout_uri com.example.app:/bc: the scheme must be https, or http on a loopback host" },
  { what: "HS256", field: "idTokenSignedResponseAlg", value: "HS256", message: "id_token_signed_response_alg must be RS256 or ES256" },
  { what: "alg none", field: "idTokenSignedResponseAlg", value: "none", message: "id_token_signed_response_alg must be RS256 or ES256" },
  { what: "lowercase alg", field: "idTokenSignedResponseAlg", value: "rs256", message: "id_token_signed_response_alg must be RS256 or ES256" },
  { what: "origin with a trailing slash", field: "webOrigins", value: ["https://web.example/"], message: "web origin https://web.example/ must be scheme://host[:port], with no path, query or fragment" },
  { what: "origin with a path", field: "webOrigins", value: ["https://web.example/app"], message: "web origin https://web.example/app must be scheme://host[:port], with no path, query or fragment" },
  { what: "origin with a query", field: "webOrigins", value: ["https://web.example?x=1"], message: "web origin https://web.example?x=1 must be scheme://host[:port], with no path, query or fragment" },
  { what: "origin with a fragment", field: "webOrigins", value: ["https://web.example#f"], message: "web origin https://web.example#f must be scheme://host[:port], with no path, query or fragment" },
  { what: "origin without a scheme", field: "webOrigins", value: ["web.example"], message: "web origin web.example must be scheme://host[:port], with no path, query or fragment" },
  { what: "wildcard origin", field: "webOrigins", value: ["*"], message: "web origin * must be scheme://host[:port], with no path, query or fragment" },
  { what: "null origin", field: "webOrigins", value: ["null"], message: "web origin null must be scheme://host[:port], with no path, query or fragment" },
  { what: "empty origin", field: "webOrigins", value: [""], message: "a web origin must not be empty" },
  { what: "origin over plain http", field: "webOrigins", value: ["http://web.example"], message: "web origin http://web.example: http is allowed only for loopback hosts" },
  { what: "origin of another scheme", field: "webOrigins", value: ["ftp://web.example"], message: "web origin ftp://web.example: the scheme must be https, or http on a loopback host" },
  { what: "origin with credentials", field: "webOrigins", value: ["https://u@web.example"], message: "web origin https://u@web.example must not carry credentials" },
  { what: "origin with a bad port", field: "webOrigins", value: ["https://web.example:99999"], message: "web origin https://web.example:99999 is not an absolute URI" },
  { what: "origins equal once normalised", field: "webOrigins", value: ["https://web.example", "HTTPS://WEB.example:443"], message: "web_origins must not repeat" },
  { what: "21 origins", field: "webOrigins", value: Array.from({ length: 21 }, (_, i) => `https://o${i}.example`), message: "at most 20 web_origins" },
];

const MASK_PATH: Record<keyof typeof FIELDS, string> = {
  postLogoutRedirectUris: "post_logout_redirect_uris",
  backchannelLogoutUri: "backchannel_logout_uri",
  idTokenSignedResponseAlg: "id_token_signed_response_alg",
  webOrigins: "web_origins",
};

test("CreateClient refuses each bad logout URI, ID token algorithm or web origin with InvalidArgument and its exact message, creating nothing", async (t) => {
  const c = await tenant(t);
  for (const bad of BAD) {
    const err = await expectCode(t, c.admin.createClient(confidential({ [bad.field]: bad.value }), c.auth), Code.InvalidArgument, bad.what);
    t.is(err?.rawMessage, bad.message, bad.what);
  }
  await expectCode(t, c.admin.getClient({ ...ACME, clientId: "web" }, c.auth), Code.NotFound, "nothing was created");
});

test("UpdateClient refuses each bad logout URI, ID token algorithm or web origin with InvalidArgument and its exact message, changing nothing", async (t) => {
  const c = await tenant(t);
  await c.admin.createClient(confidential(FIELDS), c.auth);
  for (const bad of BAD) {
    const err = await expectCode(
      t,
      c.admin.updateClient({ ...ACME, clientId: "web", name: "Renamed", [bad.field]: bad.value, updateMask: { paths: ["name", MASK_PATH[bad.field]] } }, c.auth),
      Code.InvalidArgument,
      bad.what,
    );
    t.is(err?.rawMessage, bad.message, bad.what);
  }
  t.like((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, { ...FIELDS, name: "web" }, "nothing changed");
});

test("the URIs and origins allowed: https anywhere, http on loopback hosts (for back-channel logout where the server allows private networks), private-use schemes for post-logout redirects only", async (t) => {
  const c = await tenant(t, true);
  const res = await c.admin.createClient(
    confidential({
      postLogoutRedirectUris: ["http://localhost/bye", "http://[::1]:9000/bye", "https://web.example:8443/bye?a=b", "com.example.app:/bye"],
      backchannelLogoutUri: "http://127.0.0.1:4000/backchannel",
      webOrigins: ["http://127.0.0.1", "https://web.example:8443"],
    }),
    c.auth,
  );
  t.like(res.client, {
    postLogoutRedirectUris: ["http://localhost/bye", "http://[::1]:9000/bye", "https://web.example:8443/bye?a=b", "com.example.app:/bye"],
    backchannelLogoutUri: "http://127.0.0.1:4000/backchannel",
    webOrigins: ["http://127.0.0.1", "https://web.example:8443"],
  });
  for (const uri of ["http://[::1]/bc", "http://localhost/bc", "https://rp.example/logout?tenant=1"]) {
    const updated = await c.admin.updateClient({ ...ACME, clientId: "web", backchannelLogoutUri: uri, updateMask: { paths: ["backchannel_logout_uri"] } }, c.auth);
    t.is(updated.client?.backchannelLogoutUri, uri);
  }
});

test("the ID tokens of a client are signed with its registered algorithm: RS256 by default, ES256 when it registered that", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const idTokenOf = async () => {
    const auth = await c.authorization.authorize({ ...ACME, responseType: "code", clientId: app.id, redirectUri: app.redirectUri, scope: "openid", nonce: "n" });
    await c.authorization.login({ ...ACME, requestId: auth.requestId, username: ALICE.id, password: ALICE.password });
    const consent = await c.authorization.consent({ ...ACME, requestId: auth.requestId, scopes: ["openid"] });
    const tokens = await c.tokens.token({
      ...ACME,
      grantType: "authorization_code",
      code: queryOf(consent.redirectTo).get("code")!,
      redirectUri: app.redirectUri,
      basic: { clientId: app.id, clientSecret: app.secret },
    });
    return decodeProtectedHeader(tokens.idToken);
  };
  const [es256, rs256] = (await c.tokens.getJwks(ACME)).keys;
  t.like(await idTokenOf(), { alg: "RS256", kid: rs256!.kid });
  await c.admin.updateClient({ ...ACME, clientId: app.id, idTokenSignedResponseAlg: "ES256", updateMask: { paths: ["id_token_signed_response_alg"] } }, c.auth);
  t.like(await idTokenOf(), { alg: "ES256", kid: es256!.kid });
});
