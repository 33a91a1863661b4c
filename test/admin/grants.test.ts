/**
 * Machine clients (client_credentials) and the password grant, set up
 * through the AdminService as an operator would: the scopes a client or user
 * receives follow the roles assigned to it, each client may use only its own
 * grant types, and the tokens stop when their client or role goes away.
 * Token errors are checked by their RFC 6749 code (`oauth-error` metadata).
 */
import test, { type ExecutionContext } from "ava";
import { createClient, type CallOptions } from "@connectrpc/connect";
import { decodeJwt } from "jose";
import { AdminService, ClientType } from "../../gen/iam/v1/admin_pb.js";
import type { TokenResponse } from "../../gen/iam/v1/token_pb.js";
import type { ProjectRef } from "../../core/store/types.js";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT, startTestCore, type TestCore } from "../helpers.js";
import { expectOAuthError, type TokenInit } from "../core/flow.js";
import { bearer, exists, issuerOf, outcomeOf, type AdminClient } from "./isolation-support.js";

const P: ProjectRef = { organization: "acme", project: "shop" };
const OTHER: ProjectRef = { organization: "globex", project: "b" };

const READ = "shop.orders.read";
const WRITE = "shop.orders.write";
const REFUND = "shop.orders.refund";

/** Confidential, client_credentials only, holding `reader` and `writer`. */
const MACHINE = { id: "billing-job", secret: "billing-job-secret-0001", ttl: 900 } as const;
/** Confidential, password and refresh_token. */
const LEGACY = { id: "legacy-app", secret: "legacy-app-secret-00001" } as const;
/** Confidential, password only (no refresh). */
const LEGACY_NOREFRESH = { id: "legacy-norefresh", secret: "legacy-norefresh-secret1" } as const;
/** Confidential, created without grant_types: authorization_code and refresh_token. */
const WEB = { id: "web", secret: "web-client-secret-00001", redirectUri: "https://web.example/cb" } as const;

const ALICE = { id: "alice", password: "alice-password" } as const; // reader, writer
const CAROL = { id: "carol", password: "carol-password" } as const; // reader, disabled

interface Setup {
  c: TestCore;
  admin: AdminClient;
  /** Call options of a global admin token issued now. */
  asGlobal(): Promise<CallOptions>;
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const c = await startTestCore();
  t.teardown(() => c.close());
  const admin = createClient(AdminService, c.transport);
  const asGlobal = async () =>
    bearer(
      (
        await c.tokens.token({
          ...DEFAULT,
          grantType: "client_credentials",
          basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET },
        })
      ).accessToken,
    );
  const o = await asGlobal();
  for (const ref of [P, OTHER]) {
    await admin.createOrganization({ id: ref.organization }, o);
    await admin.createProject({ organization: ref.organization, id: ref.project }, o);
  }
  for (const permissionId of [READ, WRITE, REFUND]) await admin.createPermission({ ...P, permissionId, description: permissionId }, o);
  await admin.createRole({ ...P, roleId: "reader", permissions: [READ] }, o);
  await admin.createRole({ ...P, roleId: "writer", permissions: [WRITE] }, o);
  await admin.createRole({ ...P, roleId: "refunder", permissions: [REFUND] }, o);

  await admin.createClient(
    {
      ...P,
      clientId: MACHINE.id,
      type: ClientType.CONFIDENTIAL,
      secret: MACHINE.secret,
      grantTypes: ["client_credentials"],
      accessTokenTtl: BigInt(MACHINE.ttl),
    },
    o,
  );
  await admin.createClient({ ...P, clientId: LEGACY.id, type: ClientType.CONFIDENTIAL, secret: LEGACY.secret, grantTypes: ["password", "refresh_token"] }, o);
  await admin.createClient(
    { ...P, clientId: LEGACY_NOREFRESH.id, type: ClientType.CONFIDENTIAL, secret: LEGACY_NOREFRESH.secret, grantTypes: ["password"] },
    o,
  );
  await admin.createClient({ ...P, clientId: WEB.id, type: ClientType.CONFIDENTIAL, secret: WEB.secret, redirectUris: [WEB.redirectUri] }, o);
  await admin.createUser({ ...P, userId: ALICE.id, password: ALICE.password }, o);
  await admin.createUser({ ...P, userId: CAROL.id, password: CAROL.password }, o);
  for (const roleId of ["reader", "writer"]) {
    await admin.assignRole({ ...P, roleId, subject: { case: "clientId", value: MACHINE.id } }, o);
    await admin.assignRole({ ...P, roleId, subject: { case: "userId", value: ALICE.id } }, o);
  }
  await admin.assignRole({ ...P, roleId: "reader", subject: { case: "userId", value: CAROL.id } }, o);
  await admin.updateUser({ ...P, userId: CAROL.id, enabled: false, updateMask: { paths: ["enabled"] } }, o);
  return { c, admin, asGlobal };
}

const cc = (client: { id: string; secret: string }, scope = "", ref: ProjectRef = P): TokenInit => ({
  ...ref,
  grantType: "client_credentials",
  scope,
  basic: { clientId: client.id, clientSecret: client.secret },
});

const passwordRequest = (user: { id: string; password: string }, scope = "", client: { id: string; secret: string } = LEGACY): TokenInit => ({
  ...P,
  grantType: "password",
  username: user.id,
  password: user.password,
  scope,
  basic: { clientId: client.id, clientSecret: client.secret },
});

const scopesOf = (res: TokenResponse) => res.scope.split(" ").filter((s) => s !== "").sort();

// ---------------------------------------------------------------- client_credentials

test("client_credentials: a confidential client gets every scope of its roles, as itself, without refresh token or auth_time", async (t) => {
  const { c } = await setup(t);
  const res = await c.tokens.token(cc(MACHINE));
  t.deepEqual(scopesOf(res), [READ, WRITE]);
  t.is(res.tokenType, "Bearer");
  t.is(res.expiresIn, BigInt(MACHINE.ttl));
  t.is(res.refreshToken, "", "no refresh token (RFC 6749 §4.4.3)");

  const claims = decodeJwt(res.accessToken);
  t.is(claims.sub, MACHINE.id, "sub is the client id");
  t.is(claims.client_id, MACHINE.id);
  t.is(claims.iss, issuerOf(P));
  t.is(claims.aud, issuerOf(P));
  t.false("auth_time" in claims, "a client acting for itself has no auth_time");
  t.deepEqual(String(claims.scope).split(" ").sort(), [READ, WRITE]);
  t.is(claims.exp! - claims.iat!, MACHINE.ttl);

  const verified = await c.tokens.verifyToken({ token: res.accessToken, ...P });
  t.true(verified.active);
  t.is(verified.subject, MACHINE.id);
  t.is(verified.clientId, MACHINE.id);
  t.deepEqual([...verified.scopes].sort(), [READ, WRITE]);
});

test("client_credentials: a requested subset of the held scopes is granted as asked; unknown or unheld ones are dropped", async (t) => {
  const { c } = await setup(t);
  t.is((await c.tokens.token(cc(MACHINE, READ))).scope, READ);
  t.is((await c.tokens.token(cc(MACHINE, WRITE))).scope, WRITE);
  t.is((await c.tokens.token(cc(MACHINE, `${READ} ${REFUND} nope.nope.nope`))).scope, READ);
  const both = await c.tokens.token(cc(MACHINE, `${WRITE} ${READ}`));
  t.deepEqual(scopesOf(both), [READ, WRITE]);
});

test("client_credentials: requesting only scopes the client lacks is invalid_scope", async (t) => {
  const { c } = await setup(t);
  await expectOAuthError(t, c.tokens.token(cc(MACHINE, REFUND)), { error: "invalid_scope" });
  await expectOAuthError(t, c.tokens.token(cc(MACHINE, "nope.nope.nope")), { error: "invalid_scope" });
  await expectOAuthError(t, c.tokens.token(cc(MACHINE, `${REFUND} iam.global.admin iam.project.admin`)), { error: "invalid_scope" });
});

test("client_credentials: an empty scope asks for every held scope; a client holding no role gets an empty scope", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  t.deepEqual(scopesOf(await c.tokens.token(cc(MACHINE, ""))), [READ, WRITE]);
  t.deepEqual(scopesOf(await c.tokens.token(cc(MACHINE, "   "))), [READ, WRITE]);

  const bare = { id: "bare-job", secret: "bare-job-secret-000001" };
  await admin.createClient({ ...P, clientId: bare.id, type: ClientType.CONFIDENTIAL, secret: bare.secret, grantTypes: ["client_credentials"] }, await asGlobal());
  const res = await c.tokens.token(cc(bare));
  t.is(res.scope, "");
  await expectOAuthError(t, c.tokens.token(cc(bare, READ)), { error: "invalid_scope" });
});

test("client_credentials: a client not allowed the grant is unauthorized_client, also after UpdateClient takes it away", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  await expectOAuthError(t, c.tokens.token(cc(WEB)), { error: "unauthorized_client" });
  await expectOAuthError(t, c.tokens.token(cc(LEGACY)), { error: "unauthorized_client" });

  await admin.updateClient({ ...P, clientId: MACHINE.id, grantTypes: ["password"], updateMask: { paths: ["grant_types"] } }, await asGlobal());
  await expectOAuthError(t, c.tokens.token(cc(MACHINE)), { error: "unauthorized_client" });
});

test("client_credentials: CreateClient refuses a public client with it (InvalidArgument), and UpdateClient cannot give it one", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  const o = await asGlobal();
  for (const grantTypes of [["client_credentials"], ["authorization_code", "client_credentials"]]) {
    t.is(
      await outcomeOf(
        admin.createClient({ ...P, clientId: "spa", type: ClientType.PUBLIC, redirectUris: ["https://spa.example/cb"], grantTypes }, o),
      ),
      "InvalidArgument",
      grantTypes.join(","),
    );
  }
  t.false(await exists(admin.getClient({ ...P, clientId: "spa" }, o)), "nothing was created");

  await admin.createClient({ ...P, clientId: "spa", type: ClientType.PUBLIC, redirectUris: ["https://spa.example/cb"] }, o);
  t.is(
    await outcomeOf(
      admin.updateClient(
        { ...P, clientId: "spa", grantTypes: ["authorization_code", "client_credentials"], updateMask: { paths: ["grant_types"] } },
        o,
      ),
    ),
    "InvalidArgument",
  );
  t.deepEqual((await admin.getClient({ ...P, clientId: "spa" }, o)).client!.grantTypes, ["authorization_code", "refresh_token"]);
  // Without the grant, the public client's attempt is refused.
  await expectOAuthError(t, c.tokens.token({ ...P, grantType: "client_credentials", clientId: "spa" }), { error: "unauthorized_client" });
});

test("client_credentials: a wrong secret, or another project's endpoint, is invalid_client", async (t) => {
  const { c } = await setup(t);
  await expectOAuthError(t, c.tokens.token(cc({ id: MACHINE.id, secret: "not-the-secret-000000" })), { error: "invalid_client" });
  await expectOAuthError(t, c.tokens.token(cc(MACHINE, "", OTHER)), { error: "invalid_client" });
});

test("client_credentials: the token verifies with VerifyToken and stops verifying after DeleteClient", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  const first = await c.tokens.token(cc(MACHINE));
  const second = await c.tokens.token(cc(MACHINE, READ));
  for (const { accessToken } of [first, second]) t.true((await c.tokens.verifyToken({ token: accessToken })).active);

  await admin.deleteClient({ ...P, clientId: MACHINE.id }, await asGlobal());
  for (const { accessToken } of [first, second]) {
    const verified = await c.tokens.verifyToken({ token: accessToken });
    t.false(verified.active);
    t.is(verified.subject, "");
  }
  await expectOAuthError(t, c.tokens.token(cc(MACHINE)), { error: "invalid_client" });

  // A client created again under the same id does not revive the old tokens.
  await admin.createClient(
    { ...P, clientId: MACHINE.id, type: ClientType.CONFIDENTIAL, secret: MACHINE.secret, grantTypes: ["client_credentials"] },
    await asGlobal(),
  );
  t.false((await c.tokens.verifyToken({ token: first.accessToken })).active);
});

test("client_credentials: after UnassignRole the next token lacks the scope; after AssignRole it has it", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  await admin.unassignRole({ ...P, roleId: "writer", subject: { case: "clientId", value: MACHINE.id } }, await asGlobal());
  const after = await c.tokens.token(cc(MACHINE));
  t.deepEqual(scopesOf(after), [READ]);
  t.deepEqual((await c.tokens.verifyToken({ token: after.accessToken })).scopes, [READ]);
  await expectOAuthError(t, c.tokens.token(cc(MACHINE, WRITE)), { error: "invalid_scope" });

  await admin.assignRole({ ...P, roleId: "refunder", subject: { case: "clientId", value: MACHINE.id } }, await asGlobal());
  t.deepEqual(scopesOf(await c.tokens.token(cc(MACHINE))), [READ, REFUND]);
});

test("client_credentials: a permission deleted from the project leaves the next token", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  await admin.deletePermission({ ...P, permissionId: WRITE }, await asGlobal());
  t.deepEqual(scopesOf(await c.tokens.token(cc(MACHINE))), [READ]);
});

test("client_credentials: a secret rotated through the admin API replaces the old one at once", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  t.truthy((await c.tokens.token(cc(MACHINE))).accessToken); // the old secret is now cached as verified
  const { secret } = await admin.rotateClientSecret({ ...P, clientId: MACHINE.id }, await asGlobal());
  await expectOAuthError(t, c.tokens.token(cc(MACHINE)), { error: "invalid_client" });
  t.deepEqual(scopesOf(await c.tokens.token(cc({ id: MACHINE.id, secret }))), [READ, WRITE]);
});

// ---------------------------------------------------------------- password

test("password: off by default, admin-client with the admin's right password is unauthorized_client", async (t) => {
  const { c } = await setup(t);
  await expectOAuthError(
    t,
    c.tokens.token({
      ...DEFAULT,
      grantType: "password",
      username: "admin",
      password: ADMIN_PASSWORD,
      basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET },
    }),
    { error: "unauthorized_client" },
  );
  // A client created without grant_types does not have it either.
  await expectOAuthError(t, c.tokens.token(passwordRequest(ALICE, "", WEB)), { error: "unauthorized_client" });
  await expectOAuthError(t, c.tokens.token(passwordRequest(ALICE, "", MACHINE)), { error: "unauthorized_client" });
});

test("password: a client configured for it gets tokens for the right credentials, scopes = the user's permissions ∩ requested", async (t) => {
  const { c } = await setup(t);
  const all = await c.tokens.token(passwordRequest(ALICE));
  t.deepEqual(scopesOf(all), [READ, WRITE]);
  t.is(all.tokenType, "Bearer");
  t.not(all.refreshToken, "", "the client may refresh");
  const claims = decodeJwt(all.accessToken);
  t.is(claims.sub, ALICE.id);
  t.is(claims.client_id, LEGACY.id);
  t.is(claims.iss, issuerOf(P));
  t.is(typeof claims.auth_time, "number", "a user authenticated: auth_time is there");
  const verified = await c.tokens.verifyToken({ token: all.accessToken, ...P });
  t.true(verified.active);
  t.is(verified.subject, ALICE.id);

  t.is((await c.tokens.token(passwordRequest(ALICE, READ))).scope, READ);
  t.is((await c.tokens.token(passwordRequest(ALICE, `${WRITE} ${REFUND}`))).scope, WRITE, "REFUND exists but alice does not hold it");
  await expectOAuthError(t, c.tokens.token(passwordRequest(ALICE, REFUND)), { error: "invalid_scope" });
});

test("password: wrong password, unknown user and disabled user are the same invalid_grant", async (t) => {
  const { c } = await setup(t);
  const errors = [
    await expectOAuthError(t, c.tokens.token(passwordRequest({ id: ALICE.id, password: "wrong-password" })), { error: "invalid_grant" }),
    await expectOAuthError(t, c.tokens.token(passwordRequest({ id: "nobody", password: ALICE.password })), { error: "invalid_grant" }),
    await expectOAuthError(t, c.tokens.token(passwordRequest(CAROL)), { error: "invalid_grant" }),
  ];
  const messages = errors.map((e) => e.rawMessage);
  t.deepEqual(new Set(messages).size, 1, `one description for every failed login: ${messages.join(" | ")}`);
  t.false(/alice|nobody|carol|disabled|unknown|wrong/i.test(messages[0] ?? ""), `${messages[0]} does not say which part was wrong`);
  t.deepEqual(new Set(errors.map((e) => [...e.metadata.entries()].filter(([k]) => k.startsWith("oauth-")).join(";"))).size, 1, "same metadata");
});

test("password: a user of another project is unknown here (invalid_grant)", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  await admin.createUser({ ...OTHER, userId: "bob", password: "bob-password" }, await asGlobal());
  await expectOAuthError(t, c.tokens.token(passwordRequest({ id: "bob", password: "bob-password" })), { error: "invalid_grant" });
});

test("password: the refresh token works, rotates, and stops when the user is disabled", async (t) => {
  const { c, admin, asGlobal } = await setup(t);
  const first = await c.tokens.token(passwordRequest(ALICE));
  const refreshed = await c.tokens.token({
    ...P,
    grantType: "refresh_token",
    refreshToken: first.refreshToken,
    basic: { clientId: LEGACY.id, clientSecret: LEGACY.secret },
  });
  t.deepEqual(scopesOf(refreshed), [READ, WRITE]);
  t.not(refreshed.refreshToken, "");
  t.not(refreshed.refreshToken, first.refreshToken, "rotated");
  t.is(decodeJwt(refreshed.accessToken).sub, ALICE.id);
  t.true((await c.tokens.verifyToken({ token: refreshed.accessToken })).active);

  await admin.updateUser({ ...P, userId: ALICE.id, enabled: false, updateMask: { paths: ["enabled"] } }, await asGlobal());
  t.false((await c.tokens.verifyToken({ token: refreshed.accessToken })).active);
  await expectOAuthError(
    t,
    c.tokens.token({ ...P, grantType: "refresh_token", refreshToken: refreshed.refreshToken, basic: { clientId: LEGACY.id, clientSecret: LEGACY.secret } }),
    { error: "invalid_grant" },
  );
});

test("password: a client without refresh_token gets no refresh token", async (t) => {
  const { c } = await setup(t);
  const res = await c.tokens.token(passwordRequest(ALICE, "", LEGACY_NOREFRESH));
  t.deepEqual(scopesOf(res), [READ, WRITE]);
  t.is(res.refreshToken, "");
});

// ---------------------------------------------------------------- per-client grant types

test("a client allowed only client_credentials is unauthorized_client for authorization_code, refresh_token and password", async (t) => {
  const { c } = await setup(t);
  const basic = { clientId: MACHINE.id, clientSecret: MACHINE.secret };
  await expectOAuthError(t, c.tokens.token({ ...P, grantType: "authorization_code", code: "x".repeat(43), redirectUri: WEB.redirectUri, basic }), {
    error: "unauthorized_client",
  });
  await expectOAuthError(t, c.tokens.token({ ...P, grantType: "refresh_token", refreshToken: "x".repeat(43), basic }), {
    error: "unauthorized_client",
  });
  await expectOAuthError(t, c.tokens.token({ ...P, grantType: "password", username: ALICE.id, password: ALICE.password, basic }), {
    error: "unauthorized_client",
  });
  // A real refresh token of another client changes nothing.
  const legacy = await c.tokens.token(passwordRequest(ALICE));
  await expectOAuthError(t, c.tokens.token({ ...P, grantType: "refresh_token", refreshToken: legacy.refreshToken, basic }), {
    error: "unauthorized_client",
  });
});

test("a password-only client is unauthorized_client for refresh_token, client_credentials and authorization_code", async (t) => {
  const { c } = await setup(t);
  const basic = { clientId: LEGACY_NOREFRESH.id, clientSecret: LEGACY_NOREFRESH.secret };
  for (const request of [
    { grantType: "refresh_token", refreshToken: "x".repeat(43) },
    { grantType: "client_credentials" },
    { grantType: "authorization_code", code: "x".repeat(43), redirectUri: WEB.redirectUri },
  ]) {
    await expectOAuthError(t, c.tokens.token({ ...P, ...request, basic }), { error: "unauthorized_client" });
  }
});

test("a code-flow client (the default grant types) is unauthorized_client for client_credentials and password", async (t) => {
  const { c } = await setup(t);
  await expectOAuthError(t, c.tokens.token(cc(WEB)), { error: "unauthorized_client" });
  await expectOAuthError(t, c.tokens.token(passwordRequest(ALICE, "", WEB)), { error: "unauthorized_client" });
});

test("CreateClient refuses an unknown grant type and the implicit grant", async (t) => {
  const { admin, asGlobal } = await setup(t);
  const o = await asGlobal();
  for (const grant of ["implicit", "urn:ietf:params:oauth:grant-type:device_code", "PASSWORD", ""]) {
    t.is(
      await outcomeOf(admin.createClient({ ...P, clientId: "odd", type: ClientType.CONFIDENTIAL, grantTypes: [grant] }, o)),
      "InvalidArgument",
      grant,
    );
  }
  t.false(await exists(admin.getClient({ ...P, clientId: "odd" }, o)));
});
