/**
 * AdminService: users (Create/Get/List/Update/SetPassword/Delete), as a global
 * administrator, through the in-memory Connect transport, with their effect
 * on the login flow and on the tokens already issued.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import test from "ava";
import { GetUserResponseSchema, ListUsersResponseSchema } from "../../gen/iam/v1/admin_pb.js";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import {
  ACME,
  ALICE,
  createApp,
  createTenant,
  createUser,
  expectCode,
  expectOAuth,
  fullTenant,
  loginScopes,
  READ,
  refresh,
  startAdmin,
  userTokens,
  verify,
  type AdminTest,
} from "./rpc-support.js";

const nowSeconds = (c: AdminTest) => BigInt(Math.floor(c.clock.now() / 1000));

async function tenant(t: import("ava").ExecutionContext): Promise<AdminTest> {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  return c;
}

// --- CreateUser ------------------------------------------------------------------

test("CreateUser creates an enabled user who can log in; the name defaults to the id", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const res = await c.admin.createUser({ ...ACME, userId: "bob", name: "Bob B.", email: "bob@acme.example", password: "bob-password" }, c.auth);
  t.like(res.user, {
    organization: "acme",
    project: "shop",
    id: "bob",
    name: "Bob B.",
    email: "bob@acme.example",
    enabled: true,
    roles: [],
    createdAt: nowSeconds(c),
  });
  t.like((await c.admin.getUser({ ...ACME, userId: "bob" }, c.auth)).user, { id: "bob", name: "Bob B.", email: "bob@acme.example", enabled: true });
  t.deepEqual(await loginScopes(c, app, { id: "bob", password: "bob-password" }), [], "logs in, holding nothing");

  const plain = await c.admin.createUser({ ...ACME, userId: "carol", password: "carol-password" }, c.auth);
  t.like(plain.user, { name: "carol", email: "", enabled: true });
});

test("CreateUser refuses user ids that break the rules with InvalidArgument and accepts those that keep them", async (t) => {
  const c = await tenant(t);
  const bad: [string, string][] = [
    ["empty", ""],
    ["leading dot", ".alice"],
    ["leading hyphen", "-alice"],
    ["leading at sign", "@alice"],
    ["leading plus", "+alice"],
    ["space", "al ice"],
    ["slash", "al/ice"],
    ["colon", "al:ice"],
    ["quote", "al'ice"],
    ["non-ASCII", "alïce"],
    ["129 characters", "a".repeat(129)],
  ];
  for (const [what, userId] of bad) {
    await expectCode(t, c.admin.createUser({ ...ACME, userId, password: "a-good-password" }, c.auth), Code.InvalidArgument, `user id ${what}`);
  }
  const good = ["a", "7", "Alice", "alice.o-b_c~d@mail.example+tag", "b".repeat(128)];
  for (const userId of good) {
    t.is((await c.admin.createUser({ ...ACME, userId, password: "a-good-password" }, c.auth)).user?.id, userId);
  }
  t.deepEqual(
    (await c.admin.listUsers({ ...ACME, pageSize: 1000 }, c.auth)).users.map((u) => u.id),
    [...good].sort(),
  );
});

test("CreateUser refuses a password shorter than 8 or longer than 1024 characters, and a bad email, with InvalidArgument", async (t) => {
  const c = await tenant(t);
  for (const [what, password] of [
    ["empty", ""],
    ["7 characters", "1234567"],
    ["1025 characters", "p".repeat(1025)],
  ] as const) {
    await expectCode(t, c.admin.createUser({ ...ACME, userId: "alice", password }, c.auth), Code.InvalidArgument, `password ${what}`);
  }
  await expectCode(
    t,
    c.admin.createUser({ ...ACME, userId: "alice", password: "a-good-password", email: "not an email" }, c.auth),
    Code.InvalidArgument,
    "email",
  );
  await expectCode(t, c.admin.getUser({ ...ACME, userId: "alice" }, c.auth), Code.NotFound, "nothing created");
  t.is((await c.admin.createUser({ ...ACME, userId: "alice", password: "12345678" }, c.auth)).user?.id, "alice", "8 characters");
  t.is((await c.admin.createUser({ ...ACME, userId: "bob", password: "p".repeat(1024) }, c.auth)).user?.id, "bob", "1024 characters");
});

test("CreateUser of an existing user id is AlreadyExists; in a missing project NotFound", async (t) => {
  const c = await tenant(t);
  await c.admin.createUser({ ...ACME, userId: "alice", name: "Alice", password: "alice-password" }, c.auth);
  await expectCode(t, c.admin.createUser({ ...ACME, userId: "alice", name: "Other", password: "other-password" }, c.auth), Code.AlreadyExists);
  t.is((await c.admin.getUser({ ...ACME, userId: "alice" }, c.auth)).user?.name, "Alice", "the first one is kept");
  await expectCode(t, c.admin.createUser({ organization: "acme", project: "nope", userId: "bob", password: "bob-password" }, c.auth), Code.NotFound);
  await expectCode(t, c.admin.createUser({ organization: "nope", project: "shop", userId: "bob", password: "bob-password" }, c.auth), Code.NotFound);
  // The same id in another project is another user.
  await c.admin.createProject({ organization: "acme", id: "other" }, c.auth);
  t.is((await c.admin.createUser({ organization: "acme", project: "other", userId: "alice", password: "alice-password" }, c.auth)).user?.project, "other");
});

// --- GetUser / ListUsers -------------------------------------------------------

test("GetUser answers the user with their roles and never the password hash; a missing user is NotFound", async (t) => {
  const c = await startAdmin(t);
  await fullTenant(c, ACME);
  const got = await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth);
  t.like(got.user, { organization: "acme", project: "shop", id: ALICE.id, name: ALICE.id, enabled: true, roles: ["reader"] });
  const json = toJsonString(GetUserResponseSchema, got);
  t.false(/argon2|password|hash/i.test(json), json);
  t.false(json.includes(ALICE.password));
  await expectCode(t, c.admin.getUser({ ...ACME, userId: "nope" }, c.auth), Code.NotFound, "missing user");
  await expectCode(t, c.admin.getUser({ organization: "acme", project: "nope", userId: ALICE.id }, c.auth), Code.NotFound, "missing project");
});

test("ListUsers answers a project's users ordered by id, paginated, never with password hashes", async (t) => {
  const c = await tenant(t);
  const ids = ["user-e", "user-b", "user-g", "user-a", "user-f", "user-c", "user-d"];
  for (const userId of ids) await c.admin.createUser({ ...ACME, userId, password: `${userId}-password` }, c.auth);
  await c.admin.createProject({ organization: "acme", id: "other" }, c.auth);
  await c.admin.createUser({ organization: "acme", project: "other", userId: "elsewhere", password: "elsewhere-password" }, c.auth);

  const pages: string[][] = [];
  const tokens: string[] = [];
  let pageToken = "";
  do {
    const res = await c.admin.listUsers({ ...ACME, pageSize: 3, pageToken }, c.auth);
    t.false(/argon2|password/i.test(toJsonString(ListUsersResponseSchema, res)));
    pages.push(res.users.map((u) => u.id));
    tokens.push(res.nextPageToken);
    pageToken = res.nextPageToken;
  } while (pageToken !== "" && pages.length < 10);
  t.deepEqual(
    pages.map((p) => p.length),
    [3, 3, 1],
  );
  t.is(tokens[2], "");
  t.deepEqual(pages.flat(), [...ids].sort());
  t.is(new Set(pages.flat()).size, ids.length);

  await expectCode(t, c.admin.listUsers({ organization: "acme", project: "nope" }, c.auth), Code.NotFound, "missing project");
  await expectCode(t, c.admin.listUsers({ ...ACME, pageSize: -1 }, c.auth), Code.InvalidArgument, "negative page_size");
  await expectCode(t, c.admin.listUsers({ ...ACME, pageToken: "dXNlci1i=" }, c.auth), Code.InvalidArgument, "bad page_token");
});

// --- UpdateUser ----------------------------------------------------------------

test("UpdateUser with update_mask changes only the named fields", async (t) => {
  const c = await tenant(t);
  await c.admin.createUser({ ...ACME, userId: "alice", name: "Alice", email: "alice@acme.example", password: "alice-password" }, c.auth);
  const change = { ...ACME, userId: "alice", name: "Alice Liddell", email: "al@wonder.example", enabled: false };

  const named = await c.admin.updateUser({ ...change, updateMask: { paths: ["name"] } }, c.auth);
  t.like(named.user, { name: "Alice Liddell", email: "alice@acme.example", enabled: true });
  t.like((await c.admin.getUser({ ...ACME, userId: "alice" }, c.auth)).user, { name: "Alice Liddell", email: "alice@acme.example", enabled: true });

  const emailed = await c.admin.updateUser({ ...change, updateMask: { paths: ["email"] } }, c.auth);
  t.like(emailed.user, { name: "Alice Liddell", email: "al@wonder.example", enabled: true });
  t.like((await c.admin.getUser({ ...ACME, userId: "alice" }, c.auth)).user, { email: "al@wonder.example", enabled: true });

  const cleared = await c.admin.updateUser({ ...ACME, userId: "alice", email: "", updateMask: { paths: ["email"] } }, c.auth);
  t.is(cleared.user?.email, "");

  const disabled = await c.admin.updateUser({ ...change, updateMask: { paths: ["enabled"] } }, c.auth);
  t.like(disabled.user, { name: "Alice Liddell", email: "", enabled: false });
  t.false((await c.admin.getUser({ ...ACME, userId: "alice" }, c.auth)).user?.enabled);
});

test("CreateUser stores email_verified, given_name and family_name; GetUser and ListUsers answer them; they default to false and empty", async (t) => {
  const c = await tenant(t);
  const profile = { email: "alice@acme.example", emailVerified: true, givenName: "Alice", familyName: "Liddell" };
  const created = await c.admin.createUser({ ...ACME, userId: "alice", password: "alice-password", ...profile }, c.auth);
  t.like(created.user, { id: "alice", ...profile });
  t.like((await c.admin.getUser({ ...ACME, userId: "alice" }, c.auth)).user, profile);
  const plain = await c.admin.createUser({ ...ACME, userId: "bob", email: "bob@acme.example", password: "bob-password" }, c.auth);
  t.like(plain.user, { emailVerified: false, givenName: "", familyName: "" });
  t.deepEqual(
    (await c.admin.listUsers(ACME, c.auth)).users.map((u) => [u.id, u.emailVerified, u.givenName, u.familyName]),
    [
      ["alice", true, "Alice", "Liddell"],
      ["bob", false, "", ""],
    ],
  );
});

test("UpdateUser changes email_verified, given_name and family_name named in update_mask; a new email address is unverified unless the mask says otherwise", async (t) => {
  const c = await tenant(t);
  const ref = { ...ACME, userId: "alice" };
  await c.admin.createUser({ ...ref, email: "alice@acme.example", password: "alice-password" }, c.auth);
  const named = await c.admin.updateUser(
    { ...ref, emailVerified: true, givenName: "Alice", familyName: "Liddell", name: "ignored", updateMask: { paths: ["email_verified", "given_name", "family_name"] } },
    c.auth,
  );
  t.like(named.user, { name: "alice", email: "alice@acme.example", emailVerified: true, givenName: "Alice", familyName: "Liddell" });
  t.like((await c.admin.getUser(ref, c.auth)).user, { emailVerified: true, givenName: "Alice", familyName: "Liddell" });

  const same = await c.admin.updateUser({ ...ref, email: "alice@acme.example", updateMask: { paths: ["email"] } }, c.auth);
  t.true(same.user?.emailVerified, "the same address stays verified");
  const moved = await c.admin.updateUser({ ...ref, email: "al@wonder.example", updateMask: { paths: ["email"] } }, c.auth);
  t.like(moved.user, { email: "al@wonder.example", emailVerified: false, givenName: "Alice" }, "whoever verified the old address did not verify the new one");
  const verified = await c.admin.updateUser({ ...ref, email: "alice@wonder.example", emailVerified: true, updateMask: { paths: ["email", "email_verified"] } }, c.auth);
  t.like(verified.user, { email: "alice@wonder.example", emailVerified: true });
  const cleared = await c.admin.updateUser({ ...ref, givenName: "", familyName: "", emailVerified: false, updateMask: { paths: ["given_name", "family_name", "email_verified"] } }, c.auth);
  t.like(cleared.user, { email: "alice@wonder.example", emailVerified: false, givenName: "", familyName: "" });
});

test("CreateUser and UpdateUser refuse email_verified without an email address and names too long or with control characters, with InvalidArgument, changing nothing", async (t) => {
  const c = await tenant(t);
  const ref = { ...ACME, userId: "alice" };
  const refusals: [string, Record<string, unknown>, string][] = [
    ["verified without email", { emailVerified: true }, "email_verified needs an email address"],
    ["given_name of 201 characters", { givenName: "a".repeat(201) }, "given_name must be at most 200 characters"],
    ["family_name with a control character", { familyName: "Lid\u0000dell" }, "family_name must not contain control characters"],
    ["given_name with a bidirectional override", { givenName: "Ali\u202Ece" }, "given_name must not contain control characters"],
  ];
  for (const [what, fields, message] of refusals) {
    const err = await expectCode(t, c.admin.createUser({ ...ref, password: "alice-password", ...fields }, c.auth), Code.InvalidArgument, what);
    t.is(err?.rawMessage, message, what);
  }
  await expectCode(t, c.admin.getUser(ref, c.auth), Code.NotFound, "nothing was created");

  await c.admin.createUser({ ...ref, password: "alice-password", email: "alice@acme.example", emailVerified: true, givenName: "Alice" }, c.auth);
  const updates: [string, Record<string, unknown>, string[], string][] = [
    ["email removed while verified", { email: "" , emailVerified: true }, ["email", "email_verified"], "email_verified needs an email address"],
    ["given_name of 201 characters", { givenName: "a".repeat(201) }, ["given_name"], "given_name must be at most 200 characters"],
    ["family_name with a control character", { familyName: "x\u0007" }, ["family_name"], "family_name must not contain control characters"],
  ];
  for (const [what, fields, paths, message] of updates) {
    const err = await expectCode(t, c.admin.updateUser({ ...ref, ...fields, updateMask: { paths } }, c.auth), Code.InvalidArgument, what);
    t.is(err?.rawMessage, message, what);
  }
  t.like((await c.admin.getUser(ref, c.auth)).user, { email: "alice@acme.example", emailVerified: true, givenName: "Alice", familyName: "" }, "nothing changed");
  const unverifiedNoEmail = await c.admin.updateUser({ ...ref, email: "", updateMask: { paths: ["email"] } }, c.auth);
  t.like(unverifiedNoEmail.user, { email: "", emailVerified: false }, "removing the address removes its verification");
});

test("UpdateUser refuses a missing or unknown update_mask with InvalidArgument; a missing user is NotFound", async (t) => {
  const c = await tenant(t);
  await c.admin.createUser({ ...ACME, userId: "alice", name: "Alice", password: "alice-password" }, c.auth);
  const base = { ...ACME, userId: "alice", name: "X" };
  await expectCode(t, c.admin.updateUser(base, c.auth), Code.InvalidArgument, "no update_mask");
  await expectCode(t, c.admin.updateUser({ ...base, updateMask: { paths: [] } }, c.auth), Code.InvalidArgument, "empty update_mask");
  await expectCode(t, c.admin.updateUser({ ...base, updateMask: { paths: ["password"] } }, c.auth), Code.InvalidArgument, "password");
  await expectCode(t, c.admin.updateUser({ ...base, updateMask: { paths: ["name", "roles"] } }, c.auth), Code.InvalidArgument, "roles");
  await expectCode(t, c.admin.updateUser({ ...base, updateMask: { paths: ["user_id"] } }, c.auth), Code.InvalidArgument, "user_id");
  await expectCode(t, c.admin.updateUser({ ...base, email: "bad", updateMask: { paths: ["email"] } }, c.auth), Code.InvalidArgument, "bad email");
  t.like((await c.admin.getUser({ ...ACME, userId: "alice" }, c.auth)).user, { name: "Alice", enabled: true }, "nothing changed");
  await expectCode(t, c.admin.updateUser({ ...ACME, userId: "nope", name: "X", updateMask: { paths: ["name"] } }, c.auth), Code.NotFound, "missing user");
});

test("UpdateUser enabled=false revokes at once: the refresh token fails (invalid_grant), the access token verifies REVOKED, login fails", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const tokens = await userTokens(c, app, ALICE);
  const second = await userTokens(c, app, ALICE);
  t.true((await verify(c, tokens.accessToken)).active);
  t.not(tokens.refreshToken, "");
  // Bob is untouched.
  await createUser(c, ACME, { id: "bob", password: "bob-password" }, ["reader"]);
  const bob = await userTokens(c, app, { id: "bob", password: "bob-password" });

  await c.admin.updateUser({ ...ACME, userId: ALICE.id, enabled: false, updateMask: { paths: ["enabled"] } }, c.auth);

  for (const access of [tokens.accessToken, second.accessToken]) {
    const res = await verify(c, access);
    t.false(res.active);
    t.is(res.failure, TokenFailure.REVOKED, `failure ${TokenFailure[res.failure]}`);
  }
  await expectOAuth(t, refresh(c, app, tokens.refreshToken), "invalid_grant", Code.FailedPrecondition, "refresh");
  await expectOAuth(t, refresh(c, app, second.refreshToken), "invalid_grant", Code.FailedPrecondition, "second refresh");
  await expectOAuth(t, loginScopes(c, app, ALICE), "access_denied", Code.PermissionDenied, "login");

  t.true((await verify(c, bob.accessToken)).active, "another user's token");
  t.not((await refresh(c, app, bob.refreshToken)).accessToken, "");

  // Enabled again: she may log in, but what was revoked stays revoked.
  await c.admin.updateUser({ ...ACME, userId: ALICE.id, enabled: true, updateMask: { paths: ["enabled"] } }, c.auth);
  t.deepEqual(await loginScopes(c, app, ALICE), [READ]);
  t.false((await verify(c, tokens.accessToken)).active);
  await expectOAuth(t, refresh(c, app, tokens.refreshToken), "invalid_grant", Code.FailedPrecondition, "refresh after re-enabling");
});

test("UpdateUser of other fields leaves the user's tokens working", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const tokens = await userTokens(c, app, ALICE);
  await c.admin.updateUser({ ...ACME, userId: ALICE.id, name: "Alice", enabled: false, updateMask: { paths: ["name"] } }, c.auth);
  t.true((await verify(c, tokens.accessToken)).active);
  t.not((await refresh(c, app, tokens.refreshToken)).accessToken, "");
});

// --- SetUserPassword -----------------------------------------------------------

test("SetUserPassword: the old password fails at Login, the new one works", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  t.deepEqual(await loginScopes(c, app, ALICE), [READ]);
  await c.admin.setUserPassword({ ...ACME, userId: ALICE.id, password: "a-brand-new-password" }, c.auth);
  await expectOAuth(t, loginScopes(c, app, ALICE), "access_denied", Code.PermissionDenied, "old password");
  t.deepEqual(await loginScopes(c, app, { id: ALICE.id, password: "a-brand-new-password" }), [READ]);
  const tokens = await userTokens(c, app, { id: ALICE.id, password: "a-brand-new-password" });
  t.true((await verify(c, tokens.accessToken)).active);
});

test("SetUserPassword refuses a password out of 8-1024 characters with InvalidArgument; a missing user is NotFound", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  await expectCode(t, c.admin.setUserPassword({ ...ACME, userId: ALICE.id, password: "1234567" }, c.auth), Code.InvalidArgument, "7");
  await expectCode(t, c.admin.setUserPassword({ ...ACME, userId: ALICE.id, password: "" }, c.auth), Code.InvalidArgument, "empty");
  await expectCode(t, c.admin.setUserPassword({ ...ACME, userId: ALICE.id, password: "p".repeat(1025) }, c.auth), Code.InvalidArgument, "1025");
  t.deepEqual(await loginScopes(c, app, ALICE), [READ], "the password is unchanged");
  await expectCode(t, c.admin.setUserPassword({ ...ACME, userId: "nope", password: "a-good-password" }, c.auth), Code.NotFound, "missing user");
  await expectCode(
    t,
    c.admin.setUserPassword({ organization: "acme", project: "nope", userId: ALICE.id, password: "a-good-password" }, c.auth),
    Code.NotFound,
    "missing project",
  );
});

// --- DeleteUser ------------------------------------------------------------------

test("DeleteUser deletes the user: their tokens stop verifying, their refresh token fails, they cannot log in", async (t) => {
  const c = await startAdmin(t);
  const app = await fullTenant(c, ACME);
  const tokens = await userTokens(c, app, ALICE);
  await createUser(c, ACME, { id: "bob", password: "bob-password" }, ["reader"]);
  const bob = await userTokens(c, app, { id: "bob", password: "bob-password" });

  await c.admin.deleteUser({ ...ACME, userId: ALICE.id }, c.auth);

  await expectCode(t, c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth), Code.NotFound, "GetUser");
  const res = await verify(c, tokens.accessToken);
  t.false(res.active);
  t.not(res.failure, TokenFailure.UNSPECIFIED);
  await expectOAuth(t, refresh(c, app, tokens.refreshToken), "invalid_grant", Code.FailedPrecondition, "refresh");
  await expectOAuth(t, loginScopes(c, app, ALICE), "access_denied", Code.PermissionDenied, "login");
  t.deepEqual(
    (await c.admin.listUsers(ACME, c.auth)).users.map((u) => u.id),
    ["bob"],
  );
  t.true((await verify(c, bob.accessToken)).active, "another user's token");

  // Recreated with the same id and password: the old tokens stay dead, and the role went with her.
  await c.admin.createUser({ ...ACME, userId: ALICE.id, password: ALICE.password }, c.auth);
  t.false((await verify(c, tokens.accessToken)).active);
  await expectOAuth(t, refresh(c, app, tokens.refreshToken), "invalid_grant", Code.FailedPrecondition, "refresh after recreation");
  t.deepEqual((await c.admin.getUser({ ...ACME, userId: ALICE.id }, c.auth)).user?.roles, []);
  t.deepEqual(await loginScopes(c, app, ALICE), []);
});

test("DeleteUser of a missing user is NotFound", async (t) => {
  const c = await tenant(t);
  await createApp(c);
  await expectCode(t, c.admin.deleteUser({ ...ACME, userId: "nope" }, c.auth), Code.NotFound, "missing user");
  await expectCode(t, c.admin.deleteUser({ organization: "acme", project: "nope", userId: "alice" }, c.auth), Code.NotFound, "missing project");
  await c.admin.createUser({ ...ACME, userId: "alice", password: "alice-password" }, c.auth);
  await c.admin.deleteUser({ ...ACME, userId: "alice" }, c.auth);
  await expectCode(t, c.admin.deleteUser({ ...ACME, userId: "alice" }, c.auth), Code.NotFound, "deleting twice");
});
