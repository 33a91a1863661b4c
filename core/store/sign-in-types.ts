/**
 * The storage contract of signing in (see types.ts, which re-exports it):
 * sign-in sessions and the logout deliveries told of their end, and the
 * counters of failed sign-ins.
 */
import type { EpochSeconds, ProjectRef } from "./types.js";

/**
 * A sign-in session (single sign-on): a browser signed in to a project. The
 * browser holds a random secret in a cookie; only its SHA-256 is stored. The
 * session's public id (`sid`) appears in ID tokens and logout tokens.
 */
export interface SessionRecord extends ProjectRef {
  /** The public session id, `sid` (random, unrelated to the secret). */
  id: string;
  /** SHA-256 of the cookie's secret. */
  secretHash: string;
  userId: string;
  /** When the user last authenticated with a credential in this session. */
  authTime: EpochSeconds;
  /** How (OpenID Connect Core §2 `amr`, RFC 8176), e.g. ["pwd"]. */
  amr: string[];
  /** The `acr` the authentication satisfies; "" for none. */
  acr: string;
  createdAt: EpochSeconds;
  /** Last use, for the idle lifetime; updated at most once a minute. */
  lastSeenAt: EpochSeconds;
  /** The absolute end of the session, whatever its use. */
  expiresAt: EpochSeconds;
  /** The client address and User-Agent of the sign-in, for the user's list of sessions. */
  clientAddress: string;
  userAgent: string;
  /** The clients this session signed the user into, in the order it first did. */
  clients: string[];
  /** Set when the session was ended (logout, administration); it is then refused. */
  endedAt: EpochSeconds | null;
}

/** One attempt to tell a client of a logout (Back-Channel Logout 1.0 §2.5). */
export interface LogoutDeliveryRecord extends ProjectRef {
  sessionId: string;
  clientId: string;
  uri: string;
  /** The HTTP status answered, 0 when none was (network error, timeout). */
  status: number;
  /** "delivered" or "failed" (after the last attempt). */
  outcome: "delivered" | "failed";
  attempts: number;
  /** What went wrong, for the operator; never a token. */
  error: string;
  at: EpochSeconds;
}

export interface SessionStore {
  createSession(session: SessionRecord): Promise<void>;
  /** The session whose cookie secret hashes to `secretHash`, ended or not; undefined when none. */
  findSessionBySecret(secretHash: string): Promise<SessionRecord | undefined>;
  getSession(ref: ProjectRef, id: string): Promise<SessionRecord | undefined>;
  /**
   * A new sign-in of the same user in a live session (prompt=login, max_age):
   * a new cookie secret (no fixation), auth time, amr and acr; the sid stays.
   * False when the session is ended or gone.
   */
  reauthenticateSession(
    ref: ProjectRef,
    id: string,
    change: { secretHash: string; authTime: EpochSeconds; amr: string[]; acr: string; lastSeenAt: EpochSeconds; expiresAt: EpochSeconds },
  ): Promise<boolean>;
  /** Records a use of a live session: `lastSeenAt`, and `clientId` added to its clients when new. False when it is ended or gone. */
  touchSession(ref: ProjectRef, id: string, lastSeenAt: EpochSeconds, clientId: string | null): Promise<boolean>;
  /** The user's live (not ended) sessions, newest first. */
  listUserSessions(ref: ProjectRef, userId: string): Promise<SessionRecord[]>;
  /**
   * Ends a live session and revokes every grant made in it (and their
   * refresh tokens); answers the session as it was just before (endedAt
   * null; its clients are those to tell), or undefined when it was not live.
   */
  endSession(ref: ProjectRef, id: string, at: EpochSeconds): Promise<SessionRecord | undefined>;
  /** Ends every live session of the user, as endSession; answers those ended. */
  endUserSessions(ref: ProjectRef, userId: string, at: EpochSeconds): Promise<SessionRecord[]>;
  recordLogoutDelivery(delivery: LogoutDeliveryRecord): Promise<void>;
  /** The deliveries recorded for a session, oldest first. */
  listLogoutDeliveries(ref: ProjectRef, sessionId: string): Promise<LogoutDeliveryRecord[]>;
}

export interface LoginFailurePolicy {
  /** Failures within the window that lock the key. */
  maxFailures: number;
  windowSeconds: number;
  lockoutSeconds: number;
}

export interface LoginThrottleStore {
  /** The latest `locked_until` among these keys still in the future, or 0. */
  lockedUntil(keys: readonly string[], now: EpochSeconds): Promise<EpochSeconds>;
  /** Counts a failure of `key`; answers the failures in the window and the lockout it led to (0 when none). */
  recordLoginFailure(key: string, now: EpochSeconds, policy: LoginFailurePolicy): Promise<{ failures: number; lockedUntil: EpochSeconds }>;
  clearLoginFailures(key: string): Promise<void>;
}

