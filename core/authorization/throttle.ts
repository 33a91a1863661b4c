import { isIP } from "node:net";
import { clientSummary } from "../clients/metadata-client.js";
import { Code } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { LoginFailureSchema } from "../../gen/iam/v1/authorization_pb.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import type { AuthorizationRequestRecord, ProjectRef } from "../store/types.js";

/**
 * Brute-force defence of the sign-in step. Failed sign-ins are counted per
 * username (in its project, whether or not such a user exists, so a lockout
 * reveals nothing) and per client address, in a window; at the policy's
 * maximum the key is locked for a while, and every attempt on it is refused
 * before any password is checked. Repeated failures are also answered more
 * slowly. The counts live in the database: they survive restarts.
 */
/** Failed logins one pending authorization request allows before it is spent. */
export const MAX_FAILED_LOGINS_PER_REQUEST = 5;

/**
 * Counts a failed attempt against a pending request (a password, a code, a
 * passkey) and spends the request at the allowance: guessing must start a
 * new authorization request each time. Answers the failures so far.
 */
export async function countRequestFailure(deps: Deps, idHash: string): Promise<number> {
  const failures = await deps.store.recordFailedLogin(idHash);
  if (failures >= MAX_FAILED_LOGINS_PER_REQUEST) await deps.store.consumeAuthorizationRequest(idHash);
  return failures;
}

export interface SignInKeys {
  user: string;
  address: string | undefined;
}

/** The keys of an attempt that names no username yet (a passkey alone): its address's only. */
export type AddressKeys = Omit<SignInKeys, "user"> & { user?: undefined };

const addressKey = (address: string) => (isIP(address) === 0 ? undefined : `address:${address.toLowerCase()}`);

export function signInKeys(ref: ProjectRef, username: string, address: string): SignInKeys {
  // Hashed: a username may be anything a caller typed, of any length.
  return { user: `user:${sha256(`${ref.organization}/${ref.project}/${username}`)}`, address: addressKey(address) };
}

export const addressKeys = (address: string): AddressKeys => ({ address: addressKey(address) });

const keysOf = (keys: SignInKeys | AddressKeys) => [keys.user, keys.address].filter((key): key is string => key !== undefined);

export interface LoginContext {
  client: { id: string; name: string; metadataDocumentHost: string };
  projectName: string;
  /** Whether the project lets a passkey alone sign in (the login page shown again offers it). */
  passwordless?: boolean;
}

/**
 * What the pages of a pending request's sign-in show, and what a refusal
 * carries back to them: the client's and project's names, and whether the
 * project lets a passkey alone sign in (the login page offers one again).
 */
export async function loginContext(deps: Deps, pending: AuthorizationRequestRecord): Promise<LoginContext> {
  const client = await deps.store.getClient(pending, pending.clientId);
  const project = await deps.store.getProject(pending);
  return {
    client: clientSummary(client ?? { id: pending.clientId, name: pending.clientId }),
    projectName: project?.name ?? pending.project,
    passwordless: (await deps.store.getMfaPolicy(pending)).passwordless,
  };
}

/** The refusal of a locked sign-in: 429, with the seconds to wait. */
export function lockedOut(retryAfter: number, context: LoginContext, detail: string): OAuthError {
  const minutes = Math.ceil(retryAfter / 60);
  return new OAuthError(
    "access_denied",
    `too many failed sign-ins: try again in ${minutes === 1 ? "a minute" : `${minutes} minutes`}`,
    {
      status: 429,
      code: Code.ResourceExhausted,
      detail,
      details: [{ desc: LoginFailureSchema, value: create(LoginFailureSchema, { ...context, retryAfter: BigInt(retryAfter) }) }],
      retryAfter,
    },
  );
}

/**
 * Refuses the attempt at once when the address signs in faster than its rate
 * allows (whether the attempts fail or not), or the username or the address
 * is locked.
 */
export async function refuseWhileLocked(
  deps: Deps,
  keys: SignInKeys | AddressKeys,
  context: LoginContext,
  /** Told of a refusal because of a lockout (not of the address's rate, which sheds load and records nothing). */
  onLocked: () => Promise<void> = async () => {},
): Promise<void> {
  if (keys.address !== undefined) {
    const wait = deps.limits.login.take(keys.address, deps.clock.now());
    if (wait > 0) throw lockedOut(wait, context, "sign-in rate of the address exceeded");
  }
  const now = epochSeconds(deps.clock);
  const until = await deps.store.lockedUntil(keysOf(keys), now);
  if (until > now) {
    await onLocked();
    throw lockedOut(until - now, context, "sign-in locked");
  }
}

/** An attempt counted before it was checked: the request's failures so far and the username's count with it. */
export interface CountedAttempt {
  failures: number;
  user: { failures: number; lockedUntil: number };
}

/**
 * Counts an attempt (a password, a code) against its pending request and
 * its username before it is checked, so that attempts sent at once cannot
 * outrun either allowance: one past the request's is refused and spends
 * it; one past the username's maximum is refused as locked; neither is
 * checked. A success then clears the username's count (recordSuccess); a
 * failure is not counted against it twice (recordFailure's `userCounted`).
 */
export async function countAttempt(
  deps: Deps,
  idHash: string,
  keys: SignInKeys,
  context: LoginContext,
  /** Told of a refusal because of the username's lockout. */
  onLocked: () => Promise<void>,
): Promise<CountedAttempt> {
  const failures = await deps.store.recordFailedLogin(idHash);
  const now = epochSeconds(deps.clock);
  const user = await deps.store.recordLoginFailure(keys.user, now, userFailurePolicy(deps));
  // 0: the request was spent by another attempt meanwhile.
  if (failures === 0 || failures > MAX_FAILED_LOGINS_PER_REQUEST) {
    await deps.store.consumeAuthorizationRequest(idHash);
    throw new OAuthError("invalid_request", "the authorization request is unknown or has expired; start again from the application", {
      detail: "attempt past the request's allowance",
    });
  }
  if (user.failures > deps.config.loginMaxFailuresPerUser) {
    await onLocked();
    throw lockedOut(user.lockedUntil - now, context, "sign-in locked: attempt past the username's allowance");
  }
  return { failures, user };
}

/** The username's policy of failures: its window, its maximum, its lockout. */
export const userFailurePolicy = ({ config }: Deps) => ({ windowSeconds: config.loginFailureWindow, lockoutSeconds: config.loginLockout, maxFailures: config.loginMaxFailuresPerUser });

/**
 * Counts a failure against both keys (the username's already, when
 * `userCounted` is its count). Answers the lockout it caused (seconds to
 * wait, 0 when none), after holding back the answer when the username has
 * failed before in this window.
 */
export async function recordFailure(deps: Deps, keys: SignInKeys | AddressKeys, userCounted?: { failures: number; lockedUntil: number }): Promise<number> {
  const now = epochSeconds(deps.clock);
  const { config } = deps;
  const window = { windowSeconds: config.loginFailureWindow, lockoutSeconds: config.loginLockout };
  const user = userCounted ?? (keys.user === undefined ? { failures: 0, lockedUntil: 0 } : await deps.store.recordLoginFailure(keys.user, now, userFailurePolicy(deps)));
  const address =
    keys.address === undefined
      ? { failures: 0, lockedUntil: 0 }
      : await deps.store.recordLoginFailure(keys.address, now, { ...window, maxFailures: config.loginMaxFailuresPerAddress });
  const lockedUntil = Math.max(user.lockedUntil, address.lockedUntil);
  if (lockedUntil > 0) return lockedUntil - now;
  const delay = failureDelayMs(user.failures, config.loginFailureDelayMs);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  return 0;
}

/** The hold-back of the answer to the n-th failure in a window: none for the first, then base, 2×base, 4×base… at most 5 s. */
export function failureDelayMs(failures: number, baseMs: number): number {
  if (failures < 2 || baseMs === 0) return 0;
  return Math.min(baseMs * 2 ** (failures - 2), 5000);
}

/** A successful sign-in clears its username's failures (not its address's). */
export async function recordSuccess(deps: Deps, keys: SignInKeys): Promise<void> {
  await deps.store.clearLoginFailures(keys.user);
}
