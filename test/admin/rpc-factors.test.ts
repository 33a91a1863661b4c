/**
 * AdminService: a user's second factors (ListUserFactors, DeleteUserFactor,
 * ResetUserFactors) and a project's multi-factor policy (GetMfaPolicy,
 * UpdateMfaPolicy), with factors enrolled through the real sign-in flow and
 * the effect of each change on the next sign-in: a removed authenticator
 * signs no one in, a reset user enrols again where the policy requires it,
 * a policy changed through the RPC is followed at once although sign-ins
 * keep it in memory. Every change records its event; a refusal records only
 * its refusal and changes nothing.
 */
import { toJsonString } from "@bufbuild/protobuf";
import { Code, createClient, type CallOptions, type Client } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { AdminService, ClientType, ListUserFactorsResponseSchema, MfaRequirement } from "../../gen/iam/v1/admin_pb.js";
import { SECRET, updated } from "../../core/audit/changes.js";
import { totpCode } from "../../core/factors/totp.js";
import type { AuditEventRecord, ProjectRef } from "../../core/store/types.js";
import { BASE_URL, DEFAULT, type TestCore } from "../helpers.js";
import { ALICE, authorizeRequest, BOB, expectOAuthError, OTHER, seedOtherProject, setup } from "../core/flow.js";
import { SoftAuthenticator } from "../factors/_authenticator.js";
import { enrolTotp, nextStep, passwordStep, signInOf } from "../factors/_flow.js";
import { expectCode, globalAdminToken } from "./rpc-support.js";

interface World extends TestCore {
  admin: Client<typeof AdminService>;
  /** A global administrator's token (admin-client of iam-admins). */
  auth: CallOptions;
}

/** The seeded default project (alice holds role-alice, bob role-bob) and a global administrator. */
async function world(t: ExecutionContext): Promise<World> {
  const c = await setup(t);
  return { ...c, admin: createClient(AdminService, c.transport), auth: { headers: { authorization: `Bearer ${await globalAdminToken(c)}` } } };
}

const ALICE_REF = { ...DEFAULT, userId: ALICE.id };
const BOB_REF = { ...DEFAULT, userId: BOB.id };
const ADMIN_CLIENT = { kind: "client", id: "admin-client", project: "iam-admins/iam-admins" };
const seconds = (c: TestCore) => Math.floor(c.clock.now() / 1000);
const unauthorized = { error: "access_denied", status: "401", redirect: false } as const;

/** Sets the default project's policy through the RPC, as an administrator does. */
function requireOf(c: World, required: MfaRequirement, roles: string[] = []) {
  return c.admin.updateMfaPolicy({ ...DEFAULT, required, roles, updateMask: { paths: ["required", "roles"] } }, c.auth);
}

/** The events of an action in a chain, as they were said (no time, request or hash). */
async function eventsOf(c: TestCore, action: string, chain: ProjectRef = DEFAULT) {
  const events = await c.core.deps.store.listAuditEvents(chain, { actions: [action] }, { after: 0, limit: 100 });
  return events.map((e: AuditEventRecord) => ({ outcome: e.outcome, reason: e.reason, actor: e.actor, target: e.target, changes: e.changes }));
}

const removed = (f: { id: string; kind: string; name: string }) => ({ field: "factor", before: JSON.stringify({ id: f.id, kind: f.kind, name: f.name }), after: "" });

/** The second step of a new password sign-in of `user`: what Login asked. */
const stepOf = async (c: TestCore, user: { id: string; password: string } = ALICE) => (await passwordStep(c, { user })).login.secondFactor;

// --- ListUserFactors -------------------------------------------------------------

test("ListUserFactors answers a user's factors oldest first and their recovery codes: never a TOTP secret, a public key or a whole credential id", async (t) => {
  const c = await world(t);
  t.deepEqual(
    (await c.admin.listUserFactors(ALICE_REF, c.auth)).factors,
    [],
    "none before an enrolment",
  );
  t.like((await c.admin.listUserFactors(ALICE_REF, c.auth)).recoveryCodes, { total: 0, left: 0, issuedAt: 0n });

  await requireOf(c, MfaRequirement.EVERYONE);
  // At one enrolment step: an authenticator app started and never confirmed, then a passkey registered.
  const { requestId } = await passwordStep(c, { authorize: { scope: "openid", nonce: "n" } });
  const totp = await c.authorization.startTotpEnrolment({ signIn: signInOf(requestId) });
  const startedAt = seconds(c);
  c.clock.advance(5);
  const key = new SoftAuthenticator(BASE_URL, { uv: true, backedUp: true });
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  const enrolled = await c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: key.register(optionsJson), name: "YubiKey 5" });
  t.is(enrolled.recoveryCodes.length, 10);
  const registeredAt = seconds(c);

  // One recovery code spent at the next sign-in.
  c.clock.advance(60);
  const again = await passwordStep(c);
  t.deepEqual(again.login.secondFactor?.methods, ["passkey", "recovery_code"]);
  await c.authorization.verifyFactor({ signIn: signInOf(again.requestId), recoveryCode: enrolled.recoveryCodes[0]! });

  const stored = await c.core.deps.store.listFactors(DEFAULT, ALICE.id);
  const passkey = stored.find((f) => f.kind === "passkey")!;
  const res = await c.admin.listUserFactors(ALICE_REF, c.auth);
  t.deepEqual(
    res.factors.map((f) => [f.id, f.kind]),
    [
      [totp.factorId, "totp"],
      [passkey.id, "passkey"],
    ],
    "oldest first",
  );
  t.like(res.factors[0], {
    id: totp.factorId,
    kind: "totp",
    name: "Authenticator app",
    createdAt: BigInt(startedAt),
    lastUsedAt: 0n,
    confirmed: false,
    deviceType: "",
    backedUp: false,
    transports: [],
    credentialIdPrefix: "",
  });
  t.like(res.factors[1], {
    id: passkey.id,
    kind: "passkey",
    name: "YubiKey 5",
    createdAt: BigInt(registeredAt),
    lastUsedAt: BigInt(passkey.lastUsedAt ?? 0),
    confirmed: true,
    deviceType: "multiDevice",
    backedUp: true,
    transports: ["internal"],
    credentialIdPrefix: key.credentials[0]!.id.toString("base64url").slice(0, 8),
  });
  t.like(res.recoveryCodes, { total: 10, left: 9, issuedAt: BigInt(registeredAt) });

  const json = toJsonString(ListUserFactorsResponseSchema, res);
  for (const [what, value] of [
    ["the TOTP secret", totp.secret],
    ["the passkey's public key", passkey.secret],
    ["the passkey's credential id", passkey.credentialId],
    ["a recovery code", enrolled.recoveryCodes[1]!],
  ] as const) {
    t.false(json.includes(value), `${what} is not answered`);
  }
  t.is(passkey.credentialId, key.credentials[0]!.id.toString("base64url"));
});

// --- DeleteUserFactor ------------------------------------------------------------

test("DeleteUserFactor removes one factor: a code of the removed authenticator app is refused, the next sign-in enrols again under `everyone`; the recovery codes and the sessions stay; the event names the factor", async (t) => {
  const c = await world(t);
  await requireOf(c, MfaRequirement.EVERYONE);
  const { secret, factorId } = await enrolTotp(c, (await passwordStep(c)).requestId);
  const [session] = (await c.admin.listUserSessions(ALICE_REF, c.auth)).sessions;
  t.truthy(session, "the enrolment's sign-in opened a session");

  // A sign-in waiting at its second step when the factor goes.
  nextStep(c);
  const waiting = await passwordStep(c);
  t.deepEqual(waiting.login.secondFactor?.methods, ["totp", "recovery_code"]);
  await c.admin.deleteUserFactor({ ...ALICE_REF, factorId }, c.auth);

  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(waiting.requestId), totpCode: totpCode(secret, c.clock.now()) }), unauthorized);
  t.like(await stepOf(c), { stage: "enrol", methods: ["totp", "passkey"] }, "asked to enrol again");
  const listed = await c.admin.listUserFactors(ALICE_REF, c.auth);
  t.deepEqual(listed.factors, []);
  t.like(listed.recoveryCodes, { total: 10, left: 10 }, "the recovery codes stay");
  t.deepEqual((await c.admin.listUserSessions(ALICE_REF, c.auth)).sessions.map((s) => s.id), [session!.id], "the session stays");

  t.deepEqual(await eventsOf(c, "FACTOR_REMOVED"), [
    {
      outcome: "success",
      reason: "",
      actor: ADMIN_CLIENT,
      target: { kind: "user", id: ALICE.id, project: "" },
      changes: [removed({ id: factorId, kind: "totp", name: "Authenticator app" })],
    },
  ]);
});

test("under an optional policy, a user whose only factor was removed signs in with the password alone", async (t) => {
  const c = await world(t);
  await requireOf(c, MfaRequirement.EVERYONE);
  const { factorId } = await enrolTotp(c, (await passwordStep(c)).requestId);
  await requireOf(c, MfaRequirement.OPTIONAL);
  t.is((await stepOf(c))?.stage, "verify", "a user with a factor is asked for it under any policy");
  await c.admin.deleteUserFactor({ ...ALICE_REF, factorId }, c.auth);
  const { login } = await passwordStep(c);
  t.is(login.secondFactor, undefined);
  t.truthy(login.session?.value, "signed in");
});

// --- ResetUserFactors ------------------------------------------------------------

test("ResetUserFactors removes every factor and recovery code: the next password sign-in under `everyone` enrols again, a code of the old authenticator is refused, sessions stay; the event names each factor and the codes", async (t) => {
  const c = await world(t);
  await requireOf(c, MfaRequirement.EVERYONE);
  const first = await enrolTotp(c, (await passwordStep(c)).requestId);
  const codes = first.finished.recoveryCodes;
  t.is(codes.length, 10);
  // One code spent: nine are removed.
  nextStep(c);
  const spent = await passwordStep(c);
  await c.authorization.verifyFactor({ signIn: signInOf(spent.requestId), recoveryCode: codes[0]! });
  const sessionsBefore = (await c.admin.listUserSessions(ALICE_REF, c.auth)).sessions.map((s) => s.id);
  t.is(sessionsBefore.length, 2);

  nextStep(c);
  const waiting = await passwordStep(c);
  const res = await c.admin.resetUserFactors(ALICE_REF, c.auth);
  t.deepEqual([res.factorIds, res.recoveryCodesRemoved], [[first.factorId], 9]);

  const listed = await c.admin.listUserFactors(ALICE_REF, c.auth);
  t.deepEqual(listed.factors, []);
  t.like(listed.recoveryCodes, { total: 0, left: 0, issuedAt: 0n });
  await expectOAuthError(t, c.authorization.verifyFactor({ signIn: signInOf(waiting.requestId), totpCode: totpCode(first.secret, c.clock.now()) }), unauthorized);

  // The next password sign-in asks to enrol, and the user does: a new secret, new codes.
  const again = await passwordStep(c);
  t.like(again.login.secondFactor, { stage: "enrol", methods: ["totp", "passkey"] });
  const second = await enrolTotp(c, again.requestId);
  t.not(second.secret, first.secret);
  t.is(second.finished.recoveryCodes.length, 10);
  t.deepEqual((await c.admin.listUserFactors(ALICE_REF, c.auth)).factors.map((f) => [f.id, f.confirmed]), [[second.factorId, true]]);
  t.like((await c.admin.listUserFactors(ALICE_REF, c.auth)).recoveryCodes, { total: 10, left: 10 });
  const sessionsAfter = (await c.admin.listUserSessions(ALICE_REF, c.auth)).sessions.map((s) => s.id);
  for (const id of sessionsBefore) t.true(sessionsAfter.includes(id), "the sessions opened before the reset stay");

  // A user with nothing left: not an error, and still recorded.
  await c.admin.resetUserFactors(BOB_REF, c.auth);
  t.deepEqual(await eventsOf(c, "FACTOR_REMOVED"), [
    {
      outcome: "success",
      reason: "",
      actor: ADMIN_CLIENT,
      target: { kind: "user", id: ALICE.id, project: "" },
      changes: [removed({ id: first.factorId, kind: "totp", name: "Authenticator app" }), { field: "recovery_codes", before: "9", after: "" }],
    },
    { outcome: "success", reason: "", actor: ADMIN_CLIENT, target: { kind: "user", id: BOB.id, project: "" }, changes: [] },
  ]);
});

test("ResetUserFactors removes passkeys and unconfirmed authenticator apps alike, and names each", async (t) => {
  const c = await world(t);
  await requireOf(c, MfaRequirement.EVERYONE);
  const { requestId } = await passwordStep(c, { authorize: { scope: "openid", nonce: "n" } });
  const totp = await c.authorization.startTotpEnrolment({ signIn: signInOf(requestId) });
  const key = new SoftAuthenticator(BASE_URL);
  const { optionsJson } = await c.authorization.startPasskey({ signIn: signInOf(requestId), purpose: "register" });
  await c.authorization.finishEnrolment({ signIn: signInOf(requestId), passkeyResponse: key.register(optionsJson), name: "Laptop" });
  const passkey = (await c.core.deps.store.listFactors(DEFAULT, ALICE.id)).find((f) => f.kind === "passkey")!;

  const res = await c.admin.resetUserFactors(ALICE_REF, c.auth);
  t.deepEqual([...res.factorIds].sort(), [totp.factorId, passkey.id].sort());
  t.is(res.recoveryCodesRemoved, 10);
  t.is(await c.core.deps.store.findPasskey(DEFAULT, passkey.credentialId), undefined, "the passkey no longer names the user");
  const [event] = await eventsOf(c, "FACTOR_REMOVED");
  t.deepEqual(
    [...event!.changes].sort((a, b) => a.before.localeCompare(b.before)),
    [
      removed({ id: totp.factorId, kind: "totp", name: "Authenticator app" }),
      removed({ id: passkey.id, kind: "passkey", name: "Laptop" }),
      { field: "recovery_codes", before: "10", after: "" },
    ].sort((a, b) => a.before.localeCompare(b.before)),
  );
});

// --- GetMfaPolicy / UpdateMfaPolicy ---------------------------------------------

test("GetMfaPolicy answers the default; UpdateMfaPolicy changes the fields in update_mask, and the next sign-in follows each change at once", async (t) => {
  const c = await world(t);
  const policy = async () => (await c.admin.getMfaPolicy(DEFAULT, c.auth)).policy;
  t.like(await policy(), { ...DEFAULT, required: MfaRequirement.OPTIONAL, roles: [], passwordless: false });

  // Each sign-in below reads the policy from memory until a change moves the epoch.
  t.is(await stepOf(c), undefined, "optional: the password alone");
  t.is(await stepOf(c), undefined);

  const everyone = await c.admin.updateMfaPolicy({ ...DEFAULT, required: MfaRequirement.EVERYONE, updateMask: { paths: ["required"] } }, c.auth);
  t.like(everyone.policy, { ...DEFAULT, required: MfaRequirement.EVERYONE, roles: [], passwordless: false });
  t.is((await stepOf(c))?.stage, "enrol", "everyone: alice enrols");
  t.is((await stepOf(c, BOB))?.stage, "enrol", "and bob");

  const roles = await c.admin.updateMfaPolicy({ ...DEFAULT, required: MfaRequirement.ROLES, roles: ["role-bob", "role-bob"], updateMask: { paths: ["required", "roles"] } }, c.auth);
  t.like(roles.policy, { required: MfaRequirement.ROLES, roles: ["role-bob"], passwordless: false }, "each role once");
  t.is(await stepOf(c), undefined, "roles: alice holds no role listed");
  t.is((await stepOf(c, BOB))?.stage, "enrol", "bob holds role-bob");

  // A passkey alone, offered on the login page only where the policy allows it.
  const passkeyAlone = async () => {
    const auth = await c.authorization.authorize(authorizeRequest({ scope: "" }));
    return c.authorization.startPasskey({ signIn: signInOf(auth.requestId), purpose: "authenticate" });
  };
  await expectOAuthError(t, passkeyAlone(), { error: "invalid_request" });
  const passwordless = await c.admin.updateMfaPolicy({ ...DEFAULT, passwordless: true, updateMask: { paths: ["passwordless"] } }, c.auth);
  t.like(passwordless.policy, { required: MfaRequirement.ROLES, roles: ["role-bob"], passwordless: true }, "the other fields kept");
  t.truthy((await passkeyAlone()).optionsJson);

  const optional = await c.admin.updateMfaPolicy({ ...DEFAULT, required: MfaRequirement.OPTIONAL, updateMask: { paths: ["required"] } }, c.auth);
  t.like(optional.policy, { required: MfaRequirement.OPTIONAL, roles: [], passwordless: true }, "roles go with ROLES");
  t.is(await stepOf(c, BOB), undefined);
  t.like(await policy(), { required: MfaRequirement.OPTIONAL, roles: [], passwordless: true });

  const target = { kind: "project", id: "iam-admins/iam-admins", project: "" };
  const change = (field: string, before: unknown, after: unknown) => ({ field, before: JSON.stringify(before), after: JSON.stringify(after) });
  t.deepEqual(await eventsOf(c, "MFA_POLICY_UPDATED"), [
    { outcome: "success", reason: "", actor: ADMIN_CLIENT, target, changes: [change("required", "MFA_REQUIREMENT_OPTIONAL", "MFA_REQUIREMENT_EVERYONE")] },
    {
      outcome: "success",
      reason: "",
      actor: ADMIN_CLIENT,
      target,
      changes: [change("required", "MFA_REQUIREMENT_EVERYONE", "MFA_REQUIREMENT_ROLES"), change("roles", [], ["role-bob"])],
    },
    { outcome: "success", reason: "", actor: ADMIN_CLIENT, target, changes: [change("passwordless", false, true)] },
    {
      outcome: "success",
      reason: "",
      actor: ADMIN_CLIENT,
      target,
      changes: [change("required", "MFA_REQUIREMENT_ROLES", "MFA_REQUIREMENT_OPTIONAL"), change("roles", ["role-bob"], [])],
    },
  ]);
});

test("UpdateMfaPolicy refuses a bad mask, requirement or role with INVALID_ARGUMENT naming it, changes nothing, and records the refusal", async (t) => {
  const c = await world(t);
  await c.admin.updateMfaPolicy({ ...DEFAULT, required: MfaRequirement.EVERYONE, passwordless: true, updateMask: { paths: ["required", "passwordless"] } }, c.auth);
  const cases: [string, Parameters<typeof c.admin.updateMfaPolicy>[0], string][] = [
    ["no update_mask", { ...DEFAULT, required: MfaRequirement.OPTIONAL }, "update_mask must name the fields to change: required, roles, passwordless"],
    ["a field that is not the policy's", { ...DEFAULT, updateMask: { paths: ["enabled"] } }, "update_mask: enabled cannot be changed; use required, roles, passwordless"],
    ["required unspecified", { ...DEFAULT, updateMask: { paths: ["required"] } }, "required must be MFA_REQUIREMENT_OPTIONAL, MFA_REQUIREMENT_EVERYONE or MFA_REQUIREMENT_ROLES"],
    ["required out of the enum", { ...DEFAULT, required: 7 as MfaRequirement, updateMask: { paths: ["required"] } }, "required must be MFA_REQUIREMENT_OPTIONAL, MFA_REQUIREMENT_EVERYONE or MFA_REQUIREMENT_ROLES"],
    ["ROLES without roles", { ...DEFAULT, required: MfaRequirement.ROLES, updateMask: { paths: ["required"] } }, "MFA_REQUIREMENT_ROLES needs at least one role in roles"],
    ["ROLES with an empty list", { ...DEFAULT, required: MfaRequirement.ROLES, roles: [], updateMask: { paths: ["required", "roles"] } }, "MFA_REQUIREMENT_ROLES needs at least one role in roles"],
    ["an unknown role", { ...DEFAULT, required: MfaRequirement.ROLES, roles: ["role-alice", "no-such-role"], updateMask: { paths: ["required", "roles"] } }, "unknown role no-such-role: create it in the project first"],
    ["a role of another project only", { ...DEFAULT, required: MfaRequirement.ROLES, roles: ["shop-staff"], updateMask: { paths: ["required", "roles"] } }, "unknown role shop-staff: create it in the project first"],
    ["roles with EVERYONE", { ...DEFAULT, required: MfaRequirement.EVERYONE, roles: ["role-alice"], updateMask: { paths: ["required", "roles"] } }, "roles apply only when required is MFA_REQUIREMENT_ROLES"],
    ["roles alone, the policy being EVERYONE", { ...DEFAULT, roles: ["role-alice"], updateMask: { paths: ["roles"] } }, "roles apply only when required is MFA_REQUIREMENT_ROLES"],
  ];
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await c.admin.createProject({ organization: "acme", id: "shop" }, c.auth);
  await c.admin.createRole({ organization: "acme", project: "shop", roleId: "shop-staff" }, c.auth);
  for (const [what, request, message] of cases) {
    const err = await expectCode(t, c.admin.updateMfaPolicy(request, c.auth), Code.InvalidArgument, what);
    t.is(err?.rawMessage, message, what);
  }
  t.like((await c.admin.getMfaPolicy(DEFAULT, c.auth)).policy, { required: MfaRequirement.EVERYONE, roles: [], passwordless: true }, "nothing changed");
  t.is((await stepOf(c))?.stage, "enrol", "and the sign-in still follows the policy set");

  const refusals = (await eventsOf(c, "MFA_POLICY_UPDATED")).filter((e) => e.outcome === "failure");
  t.is(refusals.length, cases.length);
  t.like(refusals[0], { reason: "invalid_argument", actor: ADMIN_CLIENT, target: { kind: "project", id: "iam-admins/iam-admins", project: "" }, changes: [] });
});

test("the policy's passwordless flag is recorded by its value: it names no secret, where a password stays masked", (t) => {
  t.deepEqual(updated({ passwordless: false }, { passwordless: true }), [{ field: "passwordless", before: "false", after: "true" }]);
  t.deepEqual(updated({ password: "a" }, { password: "b" }), [{ field: "password", before: SECRET, after: SECRET }]);
  t.deepEqual(updated({ new_password: "a" }, { new_password: "b" }), [{ field: "new_password", before: SECRET, after: SECRET }]);
});

// --- NOT_FOUND and PERMISSION_DENIED --------------------------------------------

test("an unknown user, factor or project, another user's factor and another project's are NOT_FOUND, and remove nothing", async (t) => {
  const c = await world(t);
  await seedOtherProject(c);
  await requireOf(c, MfaRequirement.EVERYONE);
  const alice = await enrolTotp(c, (await passwordStep(c)).requestId);
  const bob = await enrolTotp(c, (await passwordStep(c, { user: BOB })).requestId);
  const NOWHERE = { organization: "acme", project: "nope" };

  const cases: [string, Promise<unknown>, string][] = [
    ["ListUserFactors of an unknown user", c.admin.listUserFactors({ ...DEFAULT, userId: "nobody" }, c.auth), "user nobody in iam-admins/iam-admins not found"],
    ["ListUserFactors in a missing project", c.admin.listUserFactors({ ...NOWHERE, userId: ALICE.id }, c.auth), "user alice in acme/nope not found"],
    ["DeleteUserFactor of an unknown user", c.admin.deleteUserFactor({ ...DEFAULT, userId: "nobody", factorId: alice.factorId }, c.auth), "user nobody in iam-admins/iam-admins not found"],
    ["an unknown factor", c.admin.deleteUserFactor({ ...ALICE_REF, factorId: "no-such-factor" }, c.auth), "factor no-such-factor of user alice in iam-admins/iam-admins not found"],
    ["an empty factor id", c.admin.deleteUserFactor({ ...ALICE_REF, factorId: "" }, c.auth), "factor  of user alice in iam-admins/iam-admins not found"],
    ["bob's factor named as alice's", c.admin.deleteUserFactor({ ...ALICE_REF, factorId: bob.factorId }, c.auth), `factor ${bob.factorId} of user alice in iam-admins/iam-admins not found`],
    ["alice's factor named in another project", c.admin.deleteUserFactor({ ...OTHER, userId: ALICE.id, factorId: alice.factorId }, c.auth), `factor ${alice.factorId} of user alice in acme/shop not found`],
    ["ResetUserFactors of an unknown user", c.admin.resetUserFactors({ ...DEFAULT, userId: "nobody" }, c.auth), "user nobody in iam-admins/iam-admins not found"],
    ["ResetUserFactors in a missing project", c.admin.resetUserFactors({ ...NOWHERE, userId: ALICE.id }, c.auth), "user alice in acme/nope not found"],
    ["GetMfaPolicy of a missing project", c.admin.getMfaPolicy(NOWHERE, c.auth), "project acme/nope not found"],
    ["GetMfaPolicy of a missing organization", c.admin.getMfaPolicy({ organization: "nope", project: "shop" }, c.auth), "project nope/shop not found"],
    ["UpdateMfaPolicy of a missing project", c.admin.updateMfaPolicy({ ...NOWHERE, required: MfaRequirement.EVERYONE, updateMask: { paths: ["required"] } }, c.auth), "project acme/nope not found"],
  ];
  for (const [what, call, message] of cases) {
    const err = await expectCode(t, call, Code.NotFound, what);
    t.is(err?.rawMessage, message, what);
  }
  t.deepEqual((await c.admin.listUserFactors(ALICE_REF, c.auth)).factors.map((f) => f.id), [alice.factorId], "alice's factor stays");
  t.deepEqual((await c.admin.listUserFactors(BOB_REF, c.auth)).factors.map((f) => f.id), [bob.factorId], "bob's factor stays");
  t.like((await c.admin.getMfaPolicy(OTHER, c.auth)).policy, { ...OTHER, required: MfaRequirement.OPTIONAL }, "another project's policy is its own");
  const refused = (await eventsOf(c, "FACTOR_REMOVED")).filter((e) => e.outcome === "failure").map((e) => e.reason);
  t.deepEqual(refused, ["not_found", "not_found", "not_found", "not_found", "not_found"], "the refusals in iam-admins are recorded there");
});

test("a project administrator manages the factors and policy of their own project only: another project's is PERMISSION_DENIED, as for sessions", async (t) => {
  const c = await world(t);
  await requireOf(c, MfaRequirement.EVERYONE);
  const alice = await enrolTotp(c, (await passwordStep(c)).requestId);
  const SHOP = { organization: "acme", project: "shop" };
  await c.admin.createOrganization({ id: "acme" }, c.auth);
  await c.admin.createProject({ ...SHOP, id: SHOP.project }, c.auth);
  await c.admin.createClient({ ...SHOP, clientId: "ops", type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"], secret: "ops-client-secret-0001" }, c.auth);
  await c.admin.assignRole({ ...SHOP, roleId: "project-admin", subject: { case: "clientId", value: "ops" } }, c.auth);
  await c.admin.createUser({ ...SHOP, userId: "carol", password: "carol-password" }, c.auth);
  const token = await c.tokens.token({ ...SHOP, grantType: "client_credentials", basic: { clientId: "ops", clientSecret: "ops-client-secret-0001" } });
  const shopAdmin = { headers: { authorization: `Bearer ${token.accessToken}` } };

  for (const [what, call] of [
    ["ListUserFactors", () => c.admin.listUserFactors(ALICE_REF, shopAdmin)],
    ["DeleteUserFactor", () => c.admin.deleteUserFactor({ ...ALICE_REF, factorId: alice.factorId }, shopAdmin)],
    ["ResetUserFactors", () => c.admin.resetUserFactors(ALICE_REF, shopAdmin)],
    ["GetMfaPolicy", () => c.admin.getMfaPolicy(DEFAULT, shopAdmin)],
    ["UpdateMfaPolicy", () => c.admin.updateMfaPolicy({ ...DEFAULT, required: MfaRequirement.OPTIONAL, updateMask: { paths: ["required"] } }, shopAdmin)],
    ["ListUserSessions, for comparison", () => c.admin.listUserSessions(ALICE_REF, shopAdmin)],
  ] as const) {
    const err = await expectCode(t, call(), Code.PermissionDenied, `${what} by the administrator of acme/shop`);
    t.is(err?.rawMessage, "the access token does not allow this call", what);
  }
  for (const [what, call] of [
    ["ListUserFactors", () => c.admin.listUserFactors(ALICE_REF)],
    ["ResetUserFactors", () => c.admin.resetUserFactors(ALICE_REF)],
    ["UpdateMfaPolicy", () => c.admin.updateMfaPolicy({ ...DEFAULT, required: MfaRequirement.OPTIONAL, updateMask: { paths: ["required"] } })],
  ] as const) {
    await expectCode(t, call(), Code.Unauthenticated, `${what} without a token`);
  }
  t.deepEqual((await c.admin.listUserFactors(ALICE_REF, c.auth)).factors.map((f) => f.id), [alice.factorId], "nothing was removed");
  t.is((await c.admin.getMfaPolicy(DEFAULT, c.auth)).policy?.required, MfaRequirement.EVERYONE, "nor the policy changed");
  const shopActor = { kind: "client", id: "ops", project: "acme/shop" };
  t.deepEqual(
    (await eventsOf(c, "FACTOR_REMOVED")).map((e) => [e.outcome, e.reason, e.actor]),
    [
      ["failure", "permission_denied", shopActor],
      ["failure", "permission_denied", shopActor],
    ],
    "each refused removal is recorded in the user's project",
  );
  t.deepEqual(
    (await eventsOf(c, "MFA_POLICY_UPDATED")).map((e) => [e.outcome, e.reason]),
    [
      ["success", ""],
      ["failure", "permission_denied"],
    ],
  );

  // In acme/shop, its own administrator may do each.
  const CAROL_REF = { ...SHOP, userId: "carol" };
  t.deepEqual((await c.admin.listUserFactors(CAROL_REF, shopAdmin)).factors, []);
  t.deepEqual((await c.admin.resetUserFactors(CAROL_REF, shopAdmin)).factorIds, []);
  t.like((await c.admin.getMfaPolicy(SHOP, shopAdmin)).policy, { ...SHOP, required: MfaRequirement.OPTIONAL });
  const updated = await c.admin.updateMfaPolicy({ ...SHOP, required: MfaRequirement.ROLES, roles: ["project-admin"], updateMask: { paths: ["required", "roles"] } }, shopAdmin);
  t.like(updated.policy, { ...SHOP, required: MfaRequirement.ROLES, roles: ["project-admin"] });
  t.like((await eventsOf(c, "MFA_POLICY_UPDATED", SHOP))[0], { outcome: "success", actor: shopActor, target: { kind: "project", id: "acme/shop", project: "" } });
  await expectCode(t, c.admin.deleteUserFactor({ ...CAROL_REF, factorId: alice.factorId }, shopAdmin), Code.NotFound, "a factor of iam-admins named in acme/shop");
  t.deepEqual((await c.admin.listUserFactors(ALICE_REF, c.auth)).factors.map((f) => f.id), [alice.factorId]);
});

test("DeleteRole refuses a role the multi-factor policy names (FAILED_PRECONDITION): its holders would stop being asked for a second factor; once out of the policy, it deletes", async (t) => {
  const c = await world(t);
  await requireOf(c, MfaRequirement.ROLES, ["role-alice"]);
  const err = await expectCode(t, c.admin.deleteRole({ ...DEFAULT, roleId: "role-alice" }, c.auth), Code.FailedPrecondition);
  t.regex(err?.rawMessage ?? "", /multi-factor policy requires a second factor of role role-alice's holders/);
  t.truthy(await c.core.deps.store.getRole(DEFAULT, "role-alice"), "the role stays");
  t.is((await stepOf(c))?.stage, "enrol", "and alice is still asked");
  // Another role deletes; so does this one once the policy no longer names it.
  await c.admin.deleteRole({ ...DEFAULT, roleId: "role-bob" }, c.auth);
  await requireOf(c, MfaRequirement.EVERYONE);
  await c.admin.deleteRole({ ...DEFAULT, roleId: "role-alice" }, c.auth);
  t.is(await c.core.deps.store.getRole(DEFAULT, "role-alice"), undefined);
});
