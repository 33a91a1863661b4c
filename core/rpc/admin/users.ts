import { Code, ConnectError } from "@connectrpc/connect";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { LONGEST_USER_FIELD, type AuditParty, type ProjectRef, type UserRecord, type UserStore } from "../../store/types.js";
import { audited, party } from "../../audit/record.js";
import { created, deleted, fieldSet, secretChanged, updated, type Fields } from "../../audit/changes.js";
import { found, maskOf, notFound, toUser, type Out } from "./convert.js";
import { pageOf, paginate } from "./pagination.js";
import { announceLogout } from "../../logout/backchannel.js";
import { endSessionsOf } from "./sessions.js";
import { checkEmail, checkId, checkPassword, checkText, invalid } from "./validate.js";

const userOf = async (store: UserStore, ref: ProjectRef, id: string) =>
  found(await store.getUser(ref, id), `user ${id} in ${ref.organization}/${ref.project}`);

/** A user's fields, as the audit trail records them (User of admin.proto; its project is the chain). */
const userFields = (u: UserRecord): Fields => ({
  id: u.id,
  name: u.name,
  email: u.email,
  email_verified: u.emailVerified,
  given_name: u.givenName,
  family_name: u.familyName,
  enabled: u.enabled,
  created_at: u.createdAt,
});

/** `email_verified` speaks of an address: a user without one cannot have it verified. */
function checkVerified(user: UserRecord): UserRecord {
  if (user.emailVerified && user.email === "") throw invalid("email_verified needs an email address");
  return user;
}

const withRoles = async (deps: Deps, user: UserRecord) => toUser(user, await deps.store.getRolesOf(user, { userId: user.id }));

export async function createUser(deps: Deps, r: pb.CreateUserRequest, actor: AuditParty): Out<typeof pb.CreateUserResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const id = checkId("user", "user_id", r.userId);
  // RFC 9068 §5: a client's own tokens carry its id as `sub`; a user with the same id would be indistinguishable.
  if ((await deps.store.getClient(r, id)) !== undefined) throw new ConnectError(`a client ${id} exists in this project`, Code.AlreadyExists);
  const record: UserRecord = checkVerified({
    organization: r.organization,
    project: r.project,
    id,
    name: checkText("name", r.name) || id,
    email: checkEmail(r.email),
    emailVerified: r.emailVerified,
    givenName: checkText("given_name", r.givenName),
    familyName: checkText("family_name", r.familyName),
    passwordHash: await deps.passwords.hash(checkPassword("password", r.password)),
    enabled: true,
    createdAt: epochSeconds(deps.clock),
  });
  await audited(
    deps,
    (store) => store.createUser(record),
    // The password's value stays out: only that one was set.
    () => ({ chain: r, action: "USER_CREATED", actor, target: party("user", id), changes: created({ ...userFields(record), password: "" }) }),
  );
  return { user: toUser(record, []) };
}

export async function getUser(deps: Deps, r: pb.GetUserRequest): Out<typeof pb.GetUserResponseSchema> {
  return { user: await withRoles(deps, await userOf(deps.store, r, r.userId)) };
}

/**
 * With `query`, the users whose id or email begins with it. The page token
 * only says where the next page starts (after an id): the filter is applied
 * to every page, so that no token reaches a user outside it.
 */
export async function listUsers(deps: Deps, r: pb.ListUsersRequest): Out<typeof pb.ListUsersResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const page = pageOf(r);
  const query = checkText("query", r.query, LONGEST_USER_FIELD);
  const { items, nextPageToken } = paginate(await deps.store.listUsers(r, page, query), page, (u) => u.id);
  return { users: await Promise.all(items.map((u) => withRoles(deps, u))), nextPageToken };
}

/**
 * Disabling a user revokes every grant they hold and ends their sign-in
 * sessions: their refresh and access tokens stop at once, and the clients
 * their sessions signed into are told by back-channel logout.
 */
export async function updateUser(deps: Deps, r: pb.UpdateUserRequest, actor: AuditParty): Out<typeof pb.UpdateUserResponseSchema> {
  const paths = maskOf(r.updateMask?.paths, ["name", "email", "enabled", "email_verified", "given_name", "family_name"]);
  const name = paths.has("name") ? checkText("name", r.name) : undefined;
  const email = paths.has("email") ? checkEmail(r.email) : undefined;
  const givenName = paths.has("given_name") ? checkText("given_name", r.givenName) : undefined;
  const familyName = paths.has("family_name") ? checkText("family_name", r.familyName) : undefined;
  const { next, ended } = await audited(
    deps,
    async (store) => {
      // Read inside the transaction, not from a copy in memory: a field the
      // request does not set keeps what the database holds now (a user disabled
      // a moment ago by another replica stays disabled).
      const current = await userOf(store, r, r.userId);
      const newAddress = email !== undefined && email !== current.email;
      const next: UserRecord = checkVerified({
        ...current,
        name: name === undefined ? current.name : name || current.id,
        email: email ?? current.email,
        // Whoever verified the old address did not verify the new one.
        emailVerified: paths.has("email_verified") ? r.emailVerified : current.emailVerified && !newAddress,
        givenName: givenName ?? current.givenName,
        familyName: familyName ?? current.familyName,
        enabled: paths.has("enabled") ? r.enabled : current.enabled,
      });
      await store.updateUser(next);
      if (next.enabled) return { current, next, ended: [] };
      // Whenever the result is disabled (idempotent): a grant or session opened while it was being disabled goes too.
      await store.revokeUserGrants(next, next.id, epochSeconds(deps.clock));
      return { current, next, ended: await endSessionsOf(deps, store, next, next.id) };
    },
    ({ current, next }) => ({
      chain: r,
      action: "USER_UPDATED",
      actor,
      target: party("user", next.id),
      changes: updated(userFields(current), userFields(next)),
    }),
  );
  announceLogout(deps, ended);
  return { user: await withRoles(deps, next) };
}

/**
 * A new password ends whatever the old one opened: the user's grants are
 * revoked and their sign-in sessions ended, their clients told by
 * back-channel logout (a reset usually follows a compromise).
 */
export async function setUserPassword(deps: Deps, r: pb.SetUserPasswordRequest, actor: AuditParty): Out<typeof pb.SetUserPasswordResponseSchema> {
  const user = await userOf(deps.store, r, r.userId);
  // Hashed before the transaction, which every writer waits for on SQLite.
  const hash = await deps.passwords.hash(checkPassword("password", r.password));
  const ended = await audited(
    deps,
    async (store) => {
      if (!(await store.setUserPassword(r, user.id, hash))) found(undefined, `user ${user.id} in ${r.organization}/${r.project}`);
      await store.revokeUserGrants(r, user.id, epochSeconds(deps.clock));
      return endSessionsOf(deps, store, r, user.id);
    },
    () => ({ chain: r, action: "USER_PASSWORD_SET", actor, target: party("user", user.id), changes: [secretChanged("password")] }),
  );
  announceLogout(deps, ended);
  return {};
}

/** Deleting a user ends their sign-in sessions first, so that their clients are told by back-channel logout. */
export async function deleteUser(deps: Deps, r: pb.DeleteUserRequest, actor: AuditParty): Out<typeof pb.DeleteUserResponseSchema> {
  const { ended } = await audited(
    deps,
    async (store) => {
      const user = await store.getUser(r, r.userId);
      if (user === undefined) throw notFound(`user ${r.userId} in ${r.organization}/${r.project}`);
      const ended = await endSessionsOf(deps, store, r, user.id);
      await store.deleteUser(r, user.id);
      return { user, ended };
    },
    ({ user }) => ({ chain: r, action: "USER_DELETED", actor, target: party("user", user.id), changes: deleted(userFields(user)) }),
  );
  announceLogout(deps, ended);
  return {};
}

export async function listUserConsents(deps: Deps, r: pb.ListUserConsentsRequest): Out<typeof pb.ListUserConsentsResponseSchema> {
  await userOf(deps.store, r, r.userId);
  const consents = await deps.store.listConsents(r, r.userId);
  return { consents: consents.map((c) => ({ clientId: c.clientId, scopes: c.scopes, grantedAt: BigInt(c.grantedAt) })) };
}

/** The event names the client, and the scopes the consent held when there was one (not only grants). */
export async function revokeUserConsent(deps: Deps, r: pb.RevokeUserConsentRequest, actor: AuditParty): Out<typeof pb.RevokeUserConsentResponseSchema> {
  await userOf(deps.store, r, r.userId);
  await audited(
    deps,
    async (store) => {
      const consent = await store.getConsent(r, r.userId, r.clientId);
      if (!(await store.revokeConsent(r, r.userId, r.clientId, epochSeconds(deps.clock)))) {
        found(undefined, `consent or grant of user ${r.userId} to client ${r.clientId}`);
      }
      return consent;
    },
    (consent) => ({
      chain: r,
      action: "USER_CONSENT_REVOKED",
      actor,
      target: party("user", r.userId),
      changes: [fieldSet("client_id", r.clientId, undefined), ...(consent === undefined ? [] : [fieldSet("scopes", consent.scopes, undefined)])],
    }),
  );
  return {};
}
