import type { Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import type { ProjectRef, SessionRecord, UserRecord } from "../store/types.js";

/**
 * Sign-in sessions (single sign-on). A successful sign-in opens a session of
 * the project; the browser keeps its random secret in a cookie, the store only
 * the secret's SHA-256. A later authorization request of that browser to any
 * client of the project is authenticated by it, until it is idle for
 * `IAM_SESSION_IDLE`, older than `IAM_SESSION_MAX`, or ended (logout,
 * administration, the user disabled or their password set).
 */

/** What a session's secret looks like: 256 random bits, base64url. Anything else is no session. */
const SECRET = /^[A-Za-z0-9_-]{43}$/;


/** How often a used session's last use is written: more often costs a write per sign-in for nothing. */
const TOUCH_INTERVAL = 60;

/**
 * The live session a cookie names in this project: undefined for an empty,
 * malformed, forged or foreign cookie, and for a session that is ended, idle
 * for too long, past its absolute lifetime or whose user is disabled or gone.
 * Never an error: a bad cookie means "no session". Read from the database at
 * every call, so a session ended by any process is refused at once.
 */
export async function liveSession(deps: Deps, ref: ProjectRef, cookie: string): Promise<SessionRecord | undefined> {
  if (!SECRET.test(cookie)) return undefined;
  const session = await deps.store.findSessionBySecret(sha256(cookie));
  if (session === undefined || session.organization !== ref.organization || session.project !== ref.project) return undefined;
  if (!withinLifetimes(deps, session)) return undefined;
  const user = await deps.store.getUser(ref, session.userId);
  if (user === undefined || !user.enabled) return undefined;
  return session;
}

/** Whether a session is neither ended, nor idle for `IAM_SESSION_IDLE`, nor past its absolute end. */
export function withinLifetimes(deps: Deps, session: SessionRecord): boolean {
  const now = epochSeconds(deps.clock);
  return session.endedAt === null && session.expiresAt > now && session.lastSeenAt + deps.config.sessionIdle > now;
}

/** The cookie a browser keeps for a session: its secret and the seconds it has left. */
export interface SessionCookie {
  value: string;
  maxAge: number;
}

/**
 * Opens the session of a sign-in, made as `level` says (its `amr` and
 * `acr`: a password, with or without a second factor). When the browser already
 * holds a live session of the same user (a new sign-in forced by
 * `prompt=login` or `max_age`), that session is kept (same `sid`, so its
 * clients stay signed in) with a new secret, so a secret seen before the
 * sign-in is worth nothing after it. A session of another user is ended:
 * one browser, one user per project. Answers the session and its cookie,
 * and the sessions ended (for back-channel logout).
 */
export async function openSession(
  deps: Deps,
  user: UserRecord,
  sign: { previousCookie: string; clientAddress: string; userAgent: string },
  level: { amr: string[]; acr: string },
): Promise<{ session: SessionRecord; cookie: SessionCookie; ended: SessionRecord[] }> {
  const now = epochSeconds(deps.clock);
  const secret = randomToken();
  const expiresAt = now + deps.config.sessionMax;
  const cookie = { value: secret, maxAge: deps.config.sessionMax };
  const fresh = { secretHash: sha256(secret), authTime: now, amr: level.amr, acr: level.acr, lastSeenAt: now, expiresAt };
  const previous = await liveSession(deps, user, sign.previousCookie);
  if (previous !== undefined && previous.userId === user.id) {
    if (await deps.store.reauthenticateSession(user, previous.id, fresh)) {
      return { session: { ...previous, ...fresh }, cookie, ended: [] };
    }
  }
  const ended: SessionRecord[] = [];
  if (previous !== undefined && previous.userId !== user.id) {
    const gone = await deps.store.endSession(user, previous.id, now);
    if (gone !== undefined) ended.push(gone);
  }
  const session: SessionRecord = {
    organization: user.organization,
    project: user.project,
    id: randomToken(16),
    userId: user.id,
    ...fresh,
    createdAt: now,
    clientAddress: sign.clientAddress.slice(0, 64),
    userAgent: sign.userAgent.slice(0, 512),
    clients: [],
    endedAt: null,
  };
  await deps.store.createSession(session);
  return { session, cookie, ended };
}

/**
 * Records a use of the session (it authenticated an authorization request):
 * the idle clock restarts, written at most once a minute.
 */
export async function recordSessionUse(deps: Deps, session: SessionRecord): Promise<void> {
  const now = epochSeconds(deps.clock);
  if (now - session.lastSeenAt < TOUCH_INTERVAL) return;
  await deps.store.touchSession(session, session.id, now, null);
}
