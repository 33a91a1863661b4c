/**
 * The second step of a sign-in, shared by its RPCs (rpc/factors.ts): the
 * pending request it continues, the user its first factor identified, the
 * lockout both share with passwords, and how a failed attempt is counted.
 */
import { create } from "@bufbuild/protobuf";
import { LoginFailureSchema, type PendingSignIn } from "../../gen/iam/v1/authorization_pb.js";
import { fieldSet } from "../audit/changes.js";
import { party, recordRefusal, recordSuccess as recordEvent } from "../audit/record.js";
import { loadPendingRequest } from "../authorization/pending.js";
import { countAttempt, lockedOut, loginContext, MAX_FAILED_LOGINS_PER_REQUEST, recordFailure, refuseWhileLocked, signInKeys, type CountedAttempt, type LoginContext, type SignInKeys } from "../authorization/throttle.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import type { AuthorizationRequestRecord, SecondFactorStage, UserRecord } from "../store/types.js";
import { isMultiFactor } from "./levels.js";
import { methodsOf, usableFactors, type SecondFactorDue } from "./policy.js";

export interface Step {
  pending: AuthorizationRequestRecord;
  context: LoginContext;
  origin: { requestId: string; session: string; clientAddress: string; userAgent: string };
  /** Set once the user is known: the second step's stage, the user, and their lockout keys. */
  stage?: SecondFactorStage;
  user?: UserRecord;
  keys?: SignInKeys;
}

/** The pending request a second-step call names (as Login's), with what its pages show. */
export async function loadStep(deps: Deps, call: PendingSignIn | undefined): Promise<Step> {
  if (call === undefined) throw new OAuthError("invalid_request", "sign_in is missing");
  const pending = await loadPendingRequest(deps, call);
  const context = await loginContext(deps, pending);
  const origin = { requestId: call.requestId, session: call.session, clientAddress: call.clientAddress, userAgent: call.userAgent };
  return { pending, context, origin };
}

/**
 * The user a first factor identified, due `stage` ("verify" or "enrol");
 * refused when the request is at another step, the user is gone or
 * disabled, or their sign-in is locked.
 */
export async function identified(deps: Deps, step: Step, stage: SecondFactorStage["stage"]): Promise<Required<Step>> {
  const due = step.pending.secondFactor;
  if (step.pending.userId !== null || due === null || due.stage !== stage) {
    throw new OAuthError("invalid_request", stage === "verify" ? "this sign-in is not waiting for a second factor" : "this sign-in is not enrolling a factor");
  }
  const user = await deps.store.getUser(step.pending, due.userId);
  if (user === undefined || !user.enabled) {
    await deps.store.consumeAuthorizationRequest(step.pending.idHash);
    throw new OAuthError("access_denied", "the user can no longer sign in; start again from the application");
  }
  // A step-up continues the browser's session, its first factor: once that
  // session has ended (a logout, a new password, an administrator), it
  // proves nothing, and a second factor alone must not open a new one.
  if (due.sessionId !== "") {
    const session = await deps.store.getSession(step.pending, due.sessionId);
    if (session === undefined || session.userId !== user.id || session.endedAt !== null || session.expiresAt <= epochSeconds(deps.clock)) {
      await deps.store.consumeAuthorizationRequest(step.pending.idHash);
      throw new OAuthError("access_denied", "the sign-in session has ended; start again from the application");
    }
  }
  // An enrolment is a user's first factor only: one who has enrolled since
  // this step began (in another sign-in) verifies it instead, and no one who
  // merely knows the password adds a factor of their own beside it.
  // Adding one more (iam_action=add_factor) follows a second factor proven
  // in this very sign-in: its stage's amr says so.
  if (stage === "enrol" && !isMultiFactor(due.amr) && (await usableFactors(deps, user)).length > 0) {
    throw new OAuthError("invalid_request", "this sign-in is not enrolling a factor: the user has one now; start again from the application");
  }
  const keys = await lockable(deps, step, user);
  return { ...step, stage: due, user, keys };
}

/** Refuses a locked user or address at once; answers the user's lockout keys. */
export async function lockable(deps: Deps, step: Step, user: UserRecord): Promise<SignInKeys> {
  const keys = signInKeys(step.pending, user.id, step.origin.clientAddress);
  await refuseWhileLocked(deps, keys, step.context, () =>
    recordRefusal(deps, { ...note(step, user), action: "SIGN_IN_LOCKED_OUT", actor: null, reason: "sign-in locked" }),
  );
  return keys;
}

const note = (step: Step, user: UserRecord) => ({
  chain: { organization: step.pending.organization, project: step.pending.project },
  target: party("user", user.id),
  clientAddress: step.origin.clientAddress,
  userAgent: step.origin.userAgent,
});

/**
 * Counts a guess of a code (six digits can be guessed) against the request
 * and the username before it is checked, so that guesses sent at once
 * cannot outrun either limit: one past the request's allowance, or past
 * the username's maximum, is refused unchecked. The check that follows
 * either succeeds (the sign-in's success clears the username's count) or is
 * refused by refuseFactor, which counts it no further against them.
 */
export async function countGuess(deps: Deps, step: Required<Step>): Promise<CountedAttempt> {
  return countAttempt(deps, step.pending.idHash, step.keys, step.context, () =>
    recordRefusal(deps, { ...note(step, step.user), action: "SIGN_IN_LOCKED_OUT", actor: null, reason: "sign-in locked" }),
  );
}

/**
 * A wrong, replayed or foreign factor: counted against the request (spent
 * after a few) and against the user's and address's lockout exactly as a
 * wrong password (unless `counted` before it was checked), recorded, and
 * refused with 401 (429 once locked).
 */
export async function refuseFactor(deps: Deps, step: Required<Step>, reason: string, method: string, message = "the code is not valid", counted?: CountedAttempt): Promise<never> {
  // A code was counted before it was checked (countGuess); anything else is counted now.
  const failures = counted?.failures ?? (await deps.store.recordFailedLogin(step.pending.idHash));
  if (failures >= MAX_FAILED_LOGINS_PER_REQUEST) await deps.store.consumeAuthorizationRequest(step.pending.idHash);
  deps.metrics.loginFailures.inc({ reason: "wrong_factor" });
  const lockout = await recordFailure(deps, step.keys, counted?.user);
  await recordRefusal(deps, {
    ...note(step, step.user),
    action: "FACTOR_VERIFIED",
    actor: null,
    changes: [fieldSet("method", undefined, method)],
    reason: lockout > 0 ? `${reason}; sign-in now locked` : reason,
  });
  const detail = `${reason} (failure ${failures} of this request)`;
  if (lockout > 0) throw lockedOut(lockout, step.context, `${detail}; sign-in now locked`);
  // The page is shown again, as it was: unless the request is spent.
  const shown = failures >= MAX_FAILED_LOGINS_PER_REQUEST ? undefined : { ...(await stepOf(deps, step.user, step.stage.stage)), username: step.user.id };
  throw new OAuthError("access_denied", message, {
    status: 401,
    detail,
    details: [{ desc: LoginFailureSchema, value: create(LoginFailureSchema, { ...step.context, secondFactor: shown }) }],
  });
}

/** The step a user is shown: the methods they can verify with, or those they can enrol. */
export async function stepOf(deps: Deps, user: UserRecord, stage: SecondFactorStage["stage"]): Promise<SecondFactorDue> {
  if (stage === "enrol") return { stage, methods: ["totp", "passkey"] };
  return { stage, methods: await methodsOf(deps, user, await usableFactors(deps, user)) };
}

/** Records a factor used to sign in. */
export async function factorUsed(deps: Deps, step: Step, user: UserRecord, what: { factor: string; method: string }): Promise<void> {
  await recordEvent(deps, {
    ...note(step, user),
    action: "FACTOR_VERIFIED",
    actor: party("user", user.id),
    changes: [fieldSet("method", undefined, what.method), fieldSet("factor", undefined, what.factor)],
  });
}
