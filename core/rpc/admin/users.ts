import { Code, ConnectError } from "@connectrpc/connect";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import type { ProjectRef, UserRecord } from "../../store/types.js";
import { found, maskOf, toUser, type Out } from "./convert.js";
import { pageOf, paginate } from "./pagination.js";
import { checkEmail, checkId, checkPassword, checkText } from "./validate.js";

const userOf = async (deps: Deps, ref: ProjectRef, id: string) =>
  found(await deps.store.getUser(ref, id), `user ${id} in ${ref.organization}/${ref.project}`);

const withRoles = async (deps: Deps, user: UserRecord) => toUser(user, await deps.store.getRolesOf(user, { userId: user.id }));

export async function createUser(deps: Deps, r: pb.CreateUserRequest): Out<typeof pb.CreateUserResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const id = checkId("user", "user_id", r.userId);
  // RFC 9068 §5: a client's own tokens carry its id as `sub`; a user with the same id would be indistinguishable.
  if ((await deps.store.getClient(r, id)) !== undefined) throw new ConnectError(`a client ${id} exists in this project`, Code.AlreadyExists);
  const record: UserRecord = {
    organization: r.organization,
    project: r.project,
    id,
    name: checkText("name", r.name) || id,
    email: checkEmail(r.email),
    emailVerified: false,
    givenName: "",
    familyName: "",
    passwordHash: await deps.passwords.hash(checkPassword("password", r.password)),
    enabled: true,
    createdAt: epochSeconds(deps.clock),
  };
  await deps.store.createUser(record);
  return { user: toUser(record, []) };
}

export async function getUser(deps: Deps, r: pb.GetUserRequest): Out<typeof pb.GetUserResponseSchema> {
  return { user: await withRoles(deps, await userOf(deps, r, r.userId)) };
}

export async function listUsers(deps: Deps, r: pb.ListUsersRequest): Out<typeof pb.ListUsersResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const page = pageOf(r);
  const { items, nextPageToken } = paginate(await deps.store.listUsers(r, page), page, (u) => u.id);
  return { users: await Promise.all(items.map((u) => withRoles(deps, u))), nextPageToken };
}

/** Disabling a user revokes every grant they hold: their refresh and access tokens stop at once. */
export async function updateUser(deps: Deps, r: pb.UpdateUserRequest): Out<typeof pb.UpdateUserResponseSchema> {
  const paths = maskOf(r.updateMask?.paths, ["name", "email", "enabled"]);
  const name = paths.has("name") ? checkText("name", r.name) : undefined;
  const email = paths.has("email") ? checkEmail(r.email) : undefined;
  const next = await deps.store.transaction(async (store) => {
    // Read inside the transaction, not from a copy in memory: a field the
    // request does not set keeps what the database holds now (a user disabled
    // a moment ago by another replica stays disabled).
    const current = await userOf(deps, r, r.userId);
    const next: UserRecord = {
      ...current,
      name: name === undefined ? current.name : name || current.id,
      email: email ?? current.email,
      enabled: paths.has("enabled") ? r.enabled : current.enabled,
    };
    await store.updateUser(next);
    // Revoked whenever the result is disabled (idempotent): a grant issued while it was being disabled goes too.
    if (!next.enabled) await store.revokeUserGrants(next, next.id, epochSeconds(deps.clock));
    return next;
  });
  return { user: await withRoles(deps, next) };
}

/** A new password ends every session of the old one: the user's grants are revoked (a reset usually follows a compromise). */
export async function setUserPassword(deps: Deps, r: pb.SetUserPasswordRequest): Out<typeof pb.SetUserPasswordResponseSchema> {
  const user = await userOf(deps, r, r.userId);
  const hash = await deps.passwords.hash(checkPassword("password", r.password));
  await deps.store.transaction(async (store) => {
    await store.setUserPassword(r, user.id, hash);
    await store.revokeUserGrants(r, user.id, epochSeconds(deps.clock));
  });
  return {};
}

export async function deleteUser(deps: Deps, r: pb.DeleteUserRequest): Out<typeof pb.DeleteUserResponseSchema> {
  if (!(await deps.store.deleteUser(r, r.userId))) found(undefined, `user ${r.userId} in ${r.organization}/${r.project}`);
  return {};
}

export async function listUserConsents(deps: Deps, r: pb.ListUserConsentsRequest): Out<typeof pb.ListUserConsentsResponseSchema> {
  await userOf(deps, r, r.userId);
  const consents = await deps.store.listConsents(r, r.userId);
  return { consents: consents.map((c) => ({ clientId: c.clientId, scopes: c.scopes, grantedAt: BigInt(c.grantedAt) })) };
}

export async function revokeUserConsent(deps: Deps, r: pb.RevokeUserConsentRequest): Out<typeof pb.RevokeUserConsentResponseSchema> {
  await userOf(deps, r, r.userId);
  if (!(await deps.store.revokeConsent(r, r.userId, r.clientId, epochSeconds(deps.clock)))) {
    found(undefined, `consent or grant of user ${r.userId} to client ${r.clientId}`);
  }
  return {};
}
