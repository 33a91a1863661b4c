import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { announceLogout } from "../../logout/backchannel.js";
import type { AuditParty, ProjectRef, SessionRecord, Store } from "../../store/types.js";
import { audited, party } from "../../audit/record.js";
import { fieldSet } from "../../audit/changes.js";
import { found, notFound, toSession, type Out } from "./convert.js";

/**
 * A user's sign-in sessions in administration: listed, and ended one or all.
 * Ending a session revokes every grant made in it (the store does, in the
 * same transaction) and then tells the clients it signed into by
 * back-channel logout, in the background: the answer never waits for them.
 */

const userOf = async (deps: Deps, ref: ProjectRef, id: string) =>
  found(await deps.store.getUser(ref, id), `user ${id} in ${ref.organization}/${ref.project}`);

/**
 * Ends every session of the user in `store` (the caller's transaction, when
 * the end goes with another change); answers those ended, for
 * {@link announceLogout} once the change is committed.
 */
export function endSessionsOf(deps: Deps, store: Store, ref: ProjectRef, userId: string): Promise<SessionRecord[]> {
  return store.endUserSessions(ref, userId, epochSeconds(deps.clock));
}

export async function listUserSessions(deps: Deps, r: pb.ListUserSessionsRequest): Out<typeof pb.ListUserSessionsResponseSchema> {
  await userOf(deps, r, r.userId);
  const now = epochSeconds(deps.clock);
  const idle = deps.config.sessionIdle;
  // The same rule as a browser's cookie meets (core/sessions/session.ts): an
  // idle or expired session that nothing ended yet is no longer one.
  const live = (await deps.store.listUserSessions(r, r.userId)).filter(
    (s) => s.endedAt === null && s.expiresAt > now && s.lastSeenAt + idle > now,
  );
  return { sessions: live.map((s) => toSession(s, idle)) };
}

/** The event names the session ended (its public id, never its cookie's secret). */
export async function revokeUserSession(deps: Deps, r: pb.RevokeUserSessionRequest, actor: AuditParty): Out<typeof pb.RevokeUserSessionResponseSchema> {
  await userOf(deps, r, r.userId);
  const what = `session ${r.sessionId} of user ${r.userId} in ${r.organization}/${r.project}`;
  const ended = await audited(
    deps,
    async (store) => {
      // A session of another user answers as an unknown one: nothing tells it exists.
      const session = await store.getSession(r, r.sessionId);
      if (session === undefined || session.userId !== r.userId) throw notFound(what);
      return found(await store.endSession(r, session.id, epochSeconds(deps.clock)), what);
    },
    (ended) => ({
      chain: r,
      action: "USER_SESSIONS_REVOKED",
      actor,
      target: party("user", r.userId),
      changes: [fieldSet("session_id", ended.id, undefined)],
    }),
  );
  announceLogout(deps, [ended]);
  return {};
}

/** The event names the sessions ended (none, when the user had none live). */
export async function revokeUserSessions(deps: Deps, r: pb.RevokeUserSessionsRequest, actor: AuditParty): Out<typeof pb.RevokeUserSessionsResponseSchema> {
  await userOf(deps, r, r.userId);
  const ended = await audited(
    deps,
    (store) => endSessionsOf(deps, store, r, r.userId),
    (ended) => ({
      chain: r,
      action: "USER_SESSIONS_REVOKED",
      actor,
      target: party("user", r.userId),
      changes: [fieldSet("session_ids", ended.map((s) => s.id), undefined)],
    }),
  );
  announceLogout(deps, ended);
  return { sessionIds: ended.map((s) => s.id) };
}
