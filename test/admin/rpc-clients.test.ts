/**
 * AdminService: clients (Create/Get/List/Update/RotateSecret/Delete), as a
 * global administrator, through the in-memory Connect transport.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import test from "ava";
import { ClientType, GetClientResponseSchema, ListClientsResponseSchema } from "../../gen/iam/v1/admin_pb.js";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { CONSOLE_CLIENT_ID } from "../../core/rpc/admin/default-tenant.js";
import {
  ACME,
  ALICE,
  clientToken,
  createApp,
  createRole,
  createTenant,
  expectCode,
  expectOAuth,
  fullTenant,
  READ,
  REDIRECT,
  refresh,
  scopesOf,
  startAdmin,
  userTokens,
  verify,
  type AdminTest,
} from "./rpc-support.js";

const nowSeconds = (c: AdminTest) => BigInt(Math.floor(c.clock.now() / 1000));

/** A minimal valid CreateClient request in ACME, with overrides. */
const confidential = (overrides: Record<string, unknown> = {}) => ({
  ...ACME,
  clientId: "web",
  type: ClientType.CONFIDENTIAL,
  redirectUris: [REDIRECT],
  ...overrides,
});

async function tenant(t: import("ava").ExecutionContext): Promise<AdminTest> {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  return c;
}

// --- CreateClient ----------------------------------------------------------

test("CreateClient: a confidential client gets a generated 43-character secret and the documented defaults", async (t) => {
  const c = await tenant(t);
  const res = await c.admin.createClient(confidential(), c.auth);
  t.is(res.secret.length, 43, "256 bits, base64url");
  t.regex(res.secret, /^[A-Za-z0-9_-]{43}$/);
  t.like(res.client, {
    organization: "acme",
    project: "shop",
    id: "web",
    name: "web",
    type: ClientType.CONFIDENTIAL,
    redirectUris: [REDIRECT],
    grantTypes: ["authorization_code", "refresh_token"],
    pkceRequired: false,
    accessTokenTtl: 600n,
    refreshTokenTtl: 2_592_000n,
    roles: [],
    createdAt: nowSeconds(c),
  });
  const other = await c.admin.createClient(confidential({ clientId: "web2" }), c.auth);
  t.not(other.secret, res.secret, "each secret is random");
});

test("CreateClient: the generated secret works at the token endpoint (client_credentials, once a role is assigned)", async (t) => {
  const c = await tenant(t);
  const res = await c.admin.createClient(
    confidential({ clientId: "m2m", redirectUris: [], grantTypes: ["client_credentials"], accessTokenTtl: 300n }),
    c.auth,
  );
  await createRole(c, ACME, "reader", [READ]);
  await c.admin.assignRole({ ...ACME, roleId: "reader", subject: { case: "clientId", value: "m2m" } }, c.auth);

  const token = await clientToken(c, ACME, "m2m", res.secret);
  t.is(token.scope, READ);
  t.is(token.expiresIn, 300n);
  t.is(token.refreshToken, "", "no refresh token for client_credentials");
  const verified = await verify(c, token.accessToken);
  t.true(verified.active);
  t.is(verified.subject, "m2m");
  t.is(verified.clientId, "m2m");
  t.deepEqual(verified.scopes, [READ]);

  await expectOAuth(t, clientToken(c, ACME, "m2m", res.secret + "x"), "invalid_client", Code.Unauthenticated, "a wrong secret");
});

test("CreateClient: a caller-given secret is answered and works", async (t) => {
  const c = await tenant(t);
  const secret = "a-given-secret-of-some-length";
  const res = await c.admin.createClient(confidential({ secret, grantTypes: ["client_credentials"], redirectUris: [] }), c.auth);
  t.is(res.secret, secret);
  const token = await clientToken(c, ACME, "web", secret);
  t.true((await verify(c, token.accessToken)).active);
  t.is(token.scope, "", "no roles, no scopes");
});

test("CreateClient refuses a secret shorter than 16 or longer than 512 characters with InvalidArgument", async (t) => {
  const c = await tenant(t);
  await expectCode(t, c.admin.createClient(confidential({ secret: "x".repeat(15) }), c.auth), Code.InvalidArgument, "15 characters");
  await expectCode(t, c.admin.createClient(confidential({ secret: "x".repeat(513) }), c.auth), Code.InvalidArgument, "513 characters");
  await expectCode(t, c.admin.createClient(confidential({ secret: "short" }), c.auth), Code.InvalidArgument, "5 characters");
  t.is((await c.admin.createClient(confidential({ clientId: "a", secret: "x".repeat(16) }), c.auth)).secret, "x".repeat(16));
  t.is((await c.admin.createClient(confidential({ clientId: "b", secret: "y".repeat(512) }), c.auth)).secret, "y".repeat(512));
  await expectCode(t, c.admin.getClient({ ...ACME, clientId: "web" }, c.auth), Code.NotFound, "nothing was created");
});

test("CreateClient: a public client gets no secret and pkce_required true; a public client with a secret is InvalidArgument", async (t) => {
  const c = await tenant(t);
  const res = await c.admin.createClient(
    { ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: ["http://localhost:5173/callback"], pkceRequired: false },
    c.auth,
  );
  t.is(res.secret, "");
  t.like(res.client, { id: "spa", type: ClientType.PUBLIC, pkceRequired: true });
  t.like((await c.admin.getClient({ ...ACME, clientId: "spa" }, c.auth)).client, { type: ClientType.PUBLIC, pkceRequired: true });
  await expectCode(
    t,
    c.admin.createClient({ ...ACME, clientId: "spa2", type: ClientType.PUBLIC, redirectUris: [REDIRECT], secret: "a-secret-of-16-chars" }, c.auth),
    Code.InvalidArgument,
    "public client with a secret",
  );
});

test("CreateClient: a confidential client may require PKCE", async (t) => {
  const c = await tenant(t);
  const res = await c.admin.createClient(confidential({ pkceRequired: true }), c.auth);
  t.true(res.client?.pkceRequired);
  t.true((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client?.pkceRequired);
});

test("CreateClient refuses type CLIENT_TYPE_UNSPECIFIED with InvalidArgument", async (t) => {
  const c = await tenant(t);
  await expectCode(t, c.admin.createClient(confidential({ type: ClientType.UNSPECIFIED }), c.auth), Code.InvalidArgument);
  await expectCode(t, c.admin.createClient({ ...ACME, clientId: "web", redirectUris: [REDIRECT] }, c.auth), Code.InvalidArgument, "type omitted");
});

test("CreateClient refuses client ids that break the rules with InvalidArgument and accepts those that keep them", async (t) => {
  const c = await tenant(t);
  const bad: [string, string][] = [
    ["empty", ""],
    ["slash", "web/app"],
    ["space", "web app"],
    ["colon", "web:app"],
    ["at sign", "web@app"],
    ["plus", "web+app"],
    ["non-ASCII", "wéb"],
    ["129 characters", "a".repeat(129)],
  ];
  for (const [what, clientId] of bad) {
    await expectCode(t, c.admin.createClient(confidential({ clientId }), c.auth), Code.InvalidArgument, `client id ${what}`);
  }
  const good = ["W", "Web-App.v2_x~y", "-dash-first", "a".repeat(128)];
  for (const clientId of good) {
    t.is((await c.admin.createClient(confidential({ clientId }), c.auth)).client?.id, clientId);
  }
  const listed = (await c.admin.listClients({ ...ACME, pageSize: 1000 }, c.auth)).clients.map((x) => x.id);
  t.deepEqual(listed, [CONSOLE_CLIENT_ID, ...good].sort(), "the new project's console client, and those created");
});

test("CreateClient refuses redirect URIs that are relative, have a fragment or credentials, plain http on a non-loopback host, or javascript:", async (t) => {
  const c = await tenant(t);
  const bad: [string, string][] = [
    ["relative path", "/callback"],
    ["relative name", "callback"],
    ["scheme-relative", "//app.example/cb"],
    ["fragment", "https://app.example/cb#frag"],
    ["empty fragment", "https://app.example/cb#"],
    ["credentials", "https://user:pass@app.example/cb"],
    ["user name", "https://user@app.example/cb"],
    ["http non-loopback", "http://app.example/cb"],
    ["http private address", "http://192.168.1.10/cb"],
    ["http localhost look-alike", "http://localhost.evil.example/cb"],
    ["javascript:", "javascript:alert(1)"],
    ["data:", "data:text/html,hi"],
    ["empty", ""],
  ];
  for (const [what, uri] of bad) {
    await expectCode(t, c.admin.createClient(confidential({ redirectUris: [uri] }), c.auth), Code.InvalidArgument, `redirect URI ${what}`);
    await expectCode(
      t,
      c.admin.createClient(confidential({ redirectUris: ["https://good.example/cb", uri] }), c.auth),
      Code.InvalidArgument,
      `redirect URI ${what} after a good one`,
    );
  }
  await expectCode(t, c.admin.getClient({ ...ACME, clientId: "web" }, c.auth), Code.NotFound, "nothing was created");
});

test("CreateClient accepts http://localhost, http://127.0.0.1:8080, http://[::1], https and a private-use scheme as redirect URIs", async (t) => {
  const c = await tenant(t);
  const good = [
    "http://localhost",
    "http://localhost:3000/callback",
    "http://127.0.0.1:8080",
    "http://127.0.0.1:8080/cb?x=1",
    "http://[::1]",
    "http://[::1]:9000/cb",
    "https://app.example/callback",
    "https://app.example:8443/cb?tenant=1",
    "com.example.app:/cb",
    "com.example.app:/oauth2redirect",
  ];
  for (const [i, uri] of good.entries()) {
    const res = await c.admin.createClient(confidential({ clientId: `c${i}`, redirectUris: [uri] }), c.auth);
    t.deepEqual(res.client?.redirectUris, [uri], uri);
  }
  const all = await c.admin.createClient(confidential({ clientId: "all", redirectUris: good }), c.auth);
  t.deepEqual(all.client?.redirectUris, good);
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: "all" }, c.auth)).client?.redirectUris, good, "kept in order");
});

test("CreateClient refuses unknown, repeated or impossible grant types with InvalidArgument", async (t) => {
  const c = await tenant(t);
  await expectCode(t, c.admin.createClient(confidential({ grantTypes: ["implicit"] }), c.auth), Code.InvalidArgument, "implicit");
  await expectCode(
    t,
    c.admin.createClient(confidential({ grantTypes: ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"] }), c.auth),
    Code.InvalidArgument,
    "device_code",
  );
  await expectCode(t, c.admin.createClient(confidential({ grantTypes: [""] }), c.auth), Code.InvalidArgument, "empty grant type");
  await expectCode(
    t,
    c.admin.createClient(confidential({ grantTypes: ["authorization_code", "refresh_token", "authorization_code"] }), c.auth),
    Code.InvalidArgument,
    "repeated",
  );
  await expectCode(
    t,
    c.admin.createClient({ ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: [REDIRECT], grantTypes: ["client_credentials"] }, c.auth),
    Code.InvalidArgument,
    "client_credentials on a public client",
  );
  await expectCode(
    t,
    c.admin.createClient(
      { ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: [REDIRECT], grantTypes: ["authorization_code", "client_credentials"] },
      c.auth,
    ),
    Code.InvalidArgument,
    "client_credentials among others on a public client",
  );
  await expectCode(
    t,
    c.admin.createClient(confidential({ grantTypes: ["authorization_code"], redirectUris: [] }), c.auth),
    Code.InvalidArgument,
    "authorization_code without redirect URI",
  );
  await expectCode(t, c.admin.createClient(confidential({ redirectUris: [] }), c.auth), Code.InvalidArgument, "default grants without redirect URI");
  t.deepEqual((await c.admin.listClients(ACME, c.auth)).clients.map((x) => x.id), [CONSOLE_CLIENT_ID], "nothing was created beside the project's console client");
});

test("CreateClient accepts every documented grant type", async (t) => {
  const c = await tenant(t);
  const all = ["authorization_code", "refresh_token", "client_credentials", "password"];
  t.deepEqual((await c.admin.createClient(confidential({ grantTypes: all }), c.auth)).client?.grantTypes, all);
  t.deepEqual(
    (await c.admin.createClient(confidential({ clientId: "m2m", grantTypes: ["client_credentials"], redirectUris: [] }), c.auth)).client?.grantTypes,
    ["client_credentials"],
  );
  t.deepEqual(
    (await c.admin.createClient({ ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: [REDIRECT], grantTypes: ["authorization_code", "refresh_token"] }, c.auth))
      .client?.grantTypes,
    ["authorization_code", "refresh_token"],
  );
});

test("CreateClient refuses token lifetimes out of range with InvalidArgument; 0 means the default", async (t) => {
  const c = await tenant(t);
  for (const accessTokenTtl of [59n, 86_401n, -1n, -600n]) {
    await expectCode(t, c.admin.createClient(confidential({ accessTokenTtl }), c.auth), Code.InvalidArgument, `access_token_ttl ${accessTokenTtl}`);
  }
  for (const refreshTokenTtl of [59n, 31_536_001n, -1n]) {
    await expectCode(t, c.admin.createClient(confidential({ refreshTokenTtl }), c.auth), Code.InvalidArgument, `refresh_token_ttl ${refreshTokenTtl}`);
  }
  const low = await c.admin.createClient(confidential({ clientId: "low", accessTokenTtl: 60n, refreshTokenTtl: 60n }), c.auth);
  t.like(low.client, { accessTokenTtl: 60n, refreshTokenTtl: 60n });
  const high = await c.admin.createClient(confidential({ clientId: "high", accessTokenTtl: 86_400n, refreshTokenTtl: 31_536_000n }), c.auth);
  t.like(high.client, { accessTokenTtl: 86_400n, refreshTokenTtl: 31_536_000n });
  const zero = await c.admin.createClient(confidential({ clientId: "zero", accessTokenTtl: 0n, refreshTokenTtl: 0n }), c.auth);
  t.like(zero.client, { accessTokenTtl: 600n, refreshTokenTtl: 2_592_000n });
});

test("CreateClient of an existing client id is AlreadyExists; in a missing project NotFound", async (t) => {
  const c = await tenant(t);
  const first = await c.admin.createClient(confidential({ secret: "the-first-secret-1" }), c.auth);
  await expectCode(t, c.admin.createClient(confidential({ name: "Other" }), c.auth), Code.AlreadyExists, "duplicate");
  await expectCode(
    t,
    c.admin.createClient({ ...ACME, clientId: "web", type: ClientType.PUBLIC, redirectUris: [REDIRECT] }, c.auth),
    Code.AlreadyExists,
    "duplicate of another type",
  );
  t.like((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, { name: "web", type: ClientType.CONFIDENTIAL });
  t.is(first.secret, "the-first-secret-1");
  await expectCode(t, c.admin.createClient(confidential({ project: "nope" }), c.auth), Code.NotFound, "missing project");
  await expectCode(t, c.admin.createClient(confidential({ organization: "nope" }), c.auth), Code.NotFound, "missing organization");
  // The same id in another project is another client.
  await c.admin.createProject({ organization: "acme", id: "other" }, c.auth);
  t.is((await c.admin.createClient(confidential({ project: "other" }), c.auth)).client?.project, "other");
});

// --- GetClient / ListClients -------------------------------------------------

test("GetClient answers the client without its secret; a missing client is NotFound", async (t) => {
  const c = await tenant(t);
  const created = await c.admin.createClient(
    confidential({ name: "Web App", grantTypes: ["authorization_code", "client_credentials"], accessTokenTtl: 900n, refreshTokenTtl: 7200n }),
    c.auth,
  );
  const got = await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth);
  t.like(got.client, {
    organization: "acme",
    project: "shop",
    id: "web",
    name: "Web App",
    type: ClientType.CONFIDENTIAL,
    redirectUris: [REDIRECT],
    grantTypes: ["authorization_code", "client_credentials"],
    pkceRequired: false,
    accessTokenTtl: 900n,
    refreshTokenTtl: 7200n,
    roles: [],
    createdAt: nowSeconds(c),
  });
  const json = toJsonString(GetClientResponseSchema, got);
  t.false(json.includes(created.secret), "the secret is never answered again");
  t.false(/secret|argon2/i.test(json), "nor any hash of it");

  await expectCode(t, c.admin.getClient({ ...ACME, clientId: "nope" }, c.auth), Code.NotFound, "missing client");
  await expectCode(t, c.admin.getClient({ organization: "acme", project: "nope", clientId: "web" }, c.auth), Code.NotFound, "missing project");
});

test("ListClients answers a project's clients ordered by id, paginated, never with secrets", async (t) => {
  const c = await tenant(t);
  const secrets: string[] = [];
  const ids = ["web-d", "web-a", "web-e", "web-c", "web-b"];
  for (const clientId of ids) secrets.push((await c.admin.createClient(confidential({ clientId }), c.auth)).secret);
  await c.admin.createProject({ organization: "acme", id: "other" }, c.auth);
  await c.admin.createClient(confidential({ project: "other", clientId: "elsewhere" }), c.auth);

  const seen: string[] = [];
  let pageToken = "";
  let pages = 0;
  do {
    const res = await c.admin.listClients({ ...ACME, pageSize: 2, pageToken }, c.auth);
    const json = toJsonString(ListClientsResponseSchema, res);
    for (const secret of secrets) t.false(json.includes(secret));
    t.false(/secret|argon2/i.test(json));
    seen.push(...res.clients.map((x) => x.id));
    pageToken = res.nextPageToken;
    pages++;
  } while (pageToken !== "" && pages < 10);
  // The project's own console client, and those created.
  const expected = [CONSOLE_CLIENT_ID, ...ids].sort();
  t.is(pages, 3);
  t.deepEqual(seen, expected);

  const all = await c.admin.listClients(ACME, c.auth);
  t.deepEqual(
    all.clients.map((x) => x.id),
    expected,
  );
  t.is(all.nextPageToken, "");
  await expectCode(t, c.admin.listClients({ organization: "acme", project: "nope" }, c.auth), Code.NotFound, "missing project");
  await expectCode(t, c.admin.listClients({ ...ACME, pageSize: -1 }, c.auth), Code.InvalidArgument, "negative page_size");
  await expectCode(t, c.admin.listClients({ ...ACME, pageToken: "bm90IGFuIGlkIQ" }, c.auth), Code.InvalidArgument, "bad page_token");
});

// --- UpdateClient ------------------------------------------------------------

test("UpdateClient with update_mask changes only the named fields", async (t) => {
  const c = await tenant(t);
  await c.admin.createClient(
    confidential({ name: "Web", grantTypes: ["authorization_code", "refresh_token"], accessTokenTtl: 900n, refreshTokenTtl: 7200n }),
    c.auth,
  );
  const everything = {
    ...ACME,
    clientId: "web",
    name: "Renamed",
    redirectUris: ["https://new.example/cb"],
    grantTypes: ["client_credentials"],
    pkceRequired: true,
    accessTokenTtl: 120n,
    refreshTokenTtl: 240n,
  };
  const named = await c.admin.updateClient({ ...everything, updateMask: { paths: ["name"] } }, c.auth);
  const expectedAfterName = {
    id: "web",
    name: "Renamed",
    type: ClientType.CONFIDENTIAL,
    redirectUris: [REDIRECT],
    grantTypes: ["authorization_code", "refresh_token"],
    pkceRequired: false,
    accessTokenTtl: 900n,
    refreshTokenTtl: 7200n,
  };
  t.like(named.client, expectedAfterName);
  t.like((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, expectedAfterName);

  const two = await c.admin.updateClient({ ...everything, updateMask: { paths: ["access_token_ttl", "redirect_uris"] } }, c.auth);
  const expectedAfterTwo = { ...expectedAfterName, redirectUris: ["https://new.example/cb"], accessTokenTtl: 120n };
  t.like(two.client, expectedAfterTwo);
  t.like((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, expectedAfterTwo);

  const rest = await c.admin.updateClient(
    { ...everything, updateMask: { paths: ["grant_types", "pkce_required", "refresh_token_ttl"] } },
    c.auth,
  );
  const expectedAll = { ...expectedAfterTwo, grantTypes: ["client_credentials"], pkceRequired: true, refreshTokenTtl: 240n };
  t.like(rest.client, expectedAll);
  t.like((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, expectedAll);
});

test("UpdateClient changes take effect at the token endpoint", async (t) => {
  const c = await tenant(t);
  const app = await createApp(c, ACME, { grantTypes: ["authorization_code"] });
  await expectOAuth(t, clientToken(c, ACME, app.id, app.secret), "unauthorized_client", Code.PermissionDenied, "before");
  await c.admin.updateClient(
    { ...ACME, clientId: app.id, grantTypes: ["authorization_code", "client_credentials"], accessTokenTtl: 120n, updateMask: { paths: ["grant_types", "access_token_ttl"] } },
    c.auth,
  );
  const token = await clientToken(c, ACME, app.id, app.secret);
  t.is(token.expiresIn, 120n);
});

test("UpdateClient keeps pkce_required true for a public client", async (t) => {
  const c = await tenant(t);
  await c.admin.createClient({ ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: [REDIRECT] }, c.auth);
  const res = await c.admin.updateClient({ ...ACME, clientId: "spa", pkceRequired: false, updateMask: { paths: ["pkce_required"] } }, c.auth);
  t.true(res.client?.pkceRequired);
  t.true((await c.admin.getClient({ ...ACME, clientId: "spa" }, c.auth)).client?.pkceRequired);
});

test("UpdateClient refuses a missing or unknown update_mask and invalid values with InvalidArgument; a missing client is NotFound", async (t) => {
  const c = await tenant(t);
  await c.admin.createClient(confidential({ name: "Web" }), c.auth);
  await c.admin.createClient({ ...ACME, clientId: "spa", type: ClientType.PUBLIC, redirectUris: [REDIRECT] }, c.auth);
  const base = { ...ACME, clientId: "web" };
  const cases: [string, Record<string, unknown>][] = [
    ["no update_mask", { name: "X" }],
    ["empty update_mask", { name: "X", updateMask: { paths: [] } }],
    ["mask names secret", { name: "X", updateMask: { paths: ["name", "secret"] } }],
    ["mask names type", { updateMask: { paths: ["type"] } }],
    ["mask names id", { updateMask: { paths: ["client_id"] } }],
    ["http non-loopback redirect URI", { redirectUris: ["http://app.example/cb"], updateMask: { paths: ["redirect_uris"] } }],
    ["fragment in redirect URI", { redirectUris: ["https://app.example/cb#x"], updateMask: { paths: ["redirect_uris"] } }],
    ["no redirect URI with authorization_code", { redirectUris: [], updateMask: { paths: ["redirect_uris"] } }],
    ["unknown grant type", { grantTypes: ["implicit"], updateMask: { paths: ["grant_types"] } }],
    ["repeated grant type", { grantTypes: ["refresh_token", "refresh_token"], updateMask: { paths: ["grant_types"] } }],
    ["no grant type", { grantTypes: [], updateMask: { paths: ["grant_types"] } }],
    ["access_token_ttl 59", { accessTokenTtl: 59n, updateMask: { paths: ["access_token_ttl"] } }],
    ["access_token_ttl 86401", { accessTokenTtl: 86_401n, updateMask: { paths: ["access_token_ttl"] } }],
    ["refresh_token_ttl 59", { refreshTokenTtl: 59n, updateMask: { paths: ["refresh_token_ttl"] } }],
    ["refresh_token_ttl 31536001", { refreshTokenTtl: 31_536_001n, updateMask: { paths: ["refresh_token_ttl"] } }],
  ];
  for (const [what, change] of cases) {
    await expectCode(t, c.admin.updateClient({ ...base, ...change }, c.auth), Code.InvalidArgument, what);
  }
  await expectCode(
    t,
    c.admin.updateClient({ ...ACME, clientId: "spa", grantTypes: ["authorization_code", "client_credentials"], updateMask: { paths: ["grant_types"] } }, c.auth),
    Code.InvalidArgument,
    "client_credentials on a public client",
  );
  t.like((await c.admin.getClient(base, c.auth)).client, {
    name: "Web",
    redirectUris: [REDIRECT],
    grantTypes: ["authorization_code", "refresh_token"],
    accessTokenTtl: 600n,
    refreshTokenTtl: 2_592_000n,
  }, "nothing changed");
  await expectCode(
    t,
    c.admin.updateClient({ ...ACME, clientId: "nope", name: "X", updateMask: { paths: ["name"] } }, c.auth),
    Code.NotFound,
    "missing client",
  );
});

// --- RotateClientSecret --------------------------------------------------------

test("RotateClientSecret makes the old secret fail with invalid_client and the new one work", async (t) => {
  const c = await tenant(t);
  const app = await createApp(c, ACME, { grantTypes: ["client_credentials"], redirectUris: [] });
  const before = await clientToken(c, ACME, app.id, app.secret); // also warms the authenticator's cache
  t.true((await verify(c, before.accessToken)).active);

  const rotated = await c.admin.rotateClientSecret({ ...ACME, clientId: app.id }, c.auth);
  t.regex(rotated.secret, /^[A-Za-z0-9_-]{43}$/, "a generated 256-bit secret");
  t.not(rotated.secret, app.secret);
  await expectOAuth(t, clientToken(c, ACME, app.id, app.secret), "invalid_client", Code.Unauthenticated, "old secret");
  const after = await clientToken(c, ACME, app.id, rotated.secret);
  t.true((await verify(c, after.accessToken)).active);

  const given = "a-chosen-secret-for-web";
  t.is((await c.admin.rotateClientSecret({ ...ACME, clientId: app.id, secret: given }, c.auth)).secret, given);
  await expectOAuth(t, clientToken(c, ACME, app.id, rotated.secret), "invalid_client", Code.Unauthenticated, "second old secret");
  t.true((await verify(c, (await clientToken(c, ACME, app.id, given)).accessToken)).active);
});

test("RotateClientSecret refuses a secret out of 16-512 characters with InvalidArgument; a missing client is NotFound", async (t) => {
  const c = await tenant(t);
  const app = await createApp(c, ACME, { grantTypes: ["client_credentials"], redirectUris: [] });
  await expectCode(t, c.admin.rotateClientSecret({ ...ACME, clientId: app.id, secret: "x".repeat(15) }, c.auth), Code.InvalidArgument, "15");
  await expectCode(t, c.admin.rotateClientSecret({ ...ACME, clientId: app.id, secret: "x".repeat(513) }, c.auth), Code.InvalidArgument, "513");
  t.true((await verify(c, (await clientToken(c, ACME, app.id, app.secret)).accessToken)).active, "the secret is unchanged");
  await expectCode(t, c.admin.rotateClientSecret({ ...ACME, clientId: "nope" }, c.auth), Code.NotFound, "missing client");
  await expectCode(t, c.admin.rotateClientSecret({ organization: "acme", project: "nope", clientId: app.id }, c.auth), Code.NotFound, "missing project");
});

// --- DeleteClient --------------------------------------------------------------

test("DeleteClient deletes the client and its tokens stop verifying", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  await c.admin.assignRole({ ...ACME, roleId: "reader", subject: { case: "clientId", value: app.id } }, c.auth);
  const user = await userTokens(c, app, ALICE);
  const machine = await clientToken(c, ACME, app.id, app.secret);
  t.deepEqual(scopesOf(machine.scope), [READ]);
  // Another client of the project keeps working.
  const other = await createApp(c, ACME, { clientId: "other" });
  const otherUser = await userTokens(c, other, ALICE);

  await c.admin.deleteClient({ ...ACME, clientId: app.id }, c.auth);

  await expectCode(t, c.admin.getClient({ ...ACME, clientId: app.id }, c.auth), Code.NotFound, "GetClient");
  for (const [what, token] of [
    ["user token", user.accessToken],
    ["client_credentials token", machine.accessToken],
  ] as const) {
    const res = await verify(c, token);
    t.false(res.active, what);
    t.not(res.failure, TokenFailure.UNSPECIFIED);
  }
  await expectOAuth(t, clientToken(c, ACME, app.id, app.secret), "invalid_client", Code.Unauthenticated, "client_credentials");
  await expectOAuth(t, refresh(c, app, user.refreshToken), "invalid_client", Code.Unauthenticated, "refresh");
  t.deepEqual(
    (await c.admin.listClients(ACME, c.auth)).clients.map((x) => x.id),
    [CONSOLE_CLIENT_ID, "other"],
  );
  t.true((await verify(c, otherUser.accessToken)).active, "the other client's token");
  t.is((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.id, ALICE.id, "users stay");
  t.deepEqual((await c.admin.listRoles(ACME, c.auth)).roles.map((r) => r.id), ["project-admin", "reader"], "roles stay");

  // Recreated with the same id and secret, the old tokens stay dead.
  await createApp(c, ACME, { secret: app.secret });
  t.false((await verify(c, user.accessToken)).active);
  t.false((await verify(c, machine.accessToken)).active);
  await expectOAuth(t, refresh(c, app, user.refreshToken), "invalid_grant", Code.FailedPrecondition, "old refresh token");
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: app.id }, c.auth)).client?.roles, [], "its role assignments went with it");
});

test("DeleteClient of a missing client is NotFound", async (t) => {
  const c = await tenant(t);
  await expectCode(t, c.admin.deleteClient({ ...ACME, clientId: "nope" }, c.auth), Code.NotFound, "missing client");
  await expectCode(t, c.admin.deleteClient({ organization: "acme", project: "nope", clientId: "web" }, c.auth), Code.NotFound, "missing project");
  await createApp(c);
  await c.admin.deleteClient({ ...ACME, clientId: "web" }, c.auth);
  await expectCode(t, c.admin.deleteClient({ ...ACME, clientId: "web" }, c.auth), Code.NotFound, "deleting twice");
});
