import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { LoginFailureSchema, type LoginRequest, type LoginResponseSchema } from "../../gen/iam/v1/authorization_pb.js";
import { party, recordRefusal } from "../audit/record.js";
import { issuerOf, type Deps } from "../deps.js";
import { redirectError } from "../authorization/errors.js";
import { requestedClaims, requiredSubject } from "../authorization/checks/openid.js";
import { OAuthError } from "../errors.js";
import { completeSignIn } from "../authorization/complete-sign-in.js";
import { PASSWORD_ACR, PASSWORD_AMR } from "../factors/levels.js";
import { secondFactorDue } from "../factors/policy.js";
import { PARAMETERS, refuseRepeatedParameters } from "../protocol/parameters.js";
import { loadPendingRequest } from "../authorization/pending.js";
import { countRequestFailure, lockedOut, loginContext, recordFailure, recordSuccess, refuseWhileLocked, signInKeys } from "../authorization/throttle.js";

const MAX_CREDENTIAL_LENGTH = 1024;
/** A username in an event: at most as long as a username may be (admin/validate.ts). */
const MAX_USERNAME_IN_EVENT = 128;

/**
 * Authenticates the resource owner of a pending request and answers the
 * scopes they may grant: those requested that they hold, or every one they
 * hold when none were requested. The same answer is given for an unknown
 * user, a disabled one and a wrong password, after the same work. A locked
 * username or address is refused before any password is checked (throttle.ts).
 * A user with a second factor, or due to enrol one, is asked for it next
 * (rpc/factors.ts): the answer names the step and nothing is signed in yet.
 * Otherwise the sign-in opens the browser's sign-in session (single sign-on,
 * sessions/session.ts) and answers its cookie. When the client remembers
 * consent and the user approved every offered scope before, the request
 * completes here (authorization/sign-in.ts).
 */
export async function login(
  deps: Deps,
  request: LoginRequest,
): Promise<MessageInitShape<typeof LoginResponseSchema>> {
  refuseRepeatedParameters(PARAMETERS.login, request.repeatedParameters);
  const pending = await loadPendingRequest(deps, request);
  const context = await loginContext(deps, pending);
  const keys = signInKeys(pending, request.username.slice(0, MAX_CREDENTIAL_LENGTH), request.clientAddress);
  const attempt = {
    chain: { organization: pending.organization, project: pending.project },
    // The username as given (an unknown one too), cut to the longest a username may be.
    target: party("user", request.username.slice(0, MAX_USERNAME_IN_EVENT)),
    clientAddress: request.clientAddress,
    userAgent: request.userAgent,
  };
  await refuseWhileLocked(deps, keys, context, () =>
    recordRefusal(deps, { ...attempt, action: "SIGN_IN_LOCKED_OUT", actor: null, reason: "sign-in locked" }),
  );

  const tooLong = request.username.length > MAX_CREDENTIAL_LENGTH || request.password.length > MAX_CREDENTIAL_LENGTH;
  const user = tooLong || request.username === "" ? undefined : await deps.store.getUser(pending, request.username);
  const verified = !tooLong && (await deps.passwords.verify(user?.passwordHash, request.password));
  if (user === undefined || !verified || !user.enabled) {
    // A pending request allows a few attempts, then is spent.
    const failures = await countRequestFailure(deps, pending.idHash);
    const reason = user === undefined ? "unknown user" : !user.enabled ? "user disabled" : "wrong password";
    deps.metrics.loginFailures.inc({ reason: reason.replace(" ", "_") });
    const detail = `${reason} (failure ${failures} of this request)`;
    const lockout = await recordFailure(deps, keys);
    await recordRefusal(deps, { ...attempt, action: "SIGN_IN", actor: null, reason: lockout > 0 ? `${reason}; sign-in now locked` : reason });
    if (lockout > 0) throw lockedOut(lockout, context, `${detail}; sign-in now locked`);
    throw new OAuthError("access_denied", "invalid username or password", {
      status: 401,
      detail,
      details: [{ desc: LoginFailureSchema, value: create(LoginFailureSchema, context) }],
    });
  }
  // OpenID Connect Core §5.5.1: the client asked for this user's sign-in only.
  const required = requiredSubject(requestedClaims(pending.claims));
  if (required !== undefined && required !== user.id) {
    await deps.store.consumeAuthorizationRequest(pending.idHash);
    throw redirectError(
      { redirectUri: pending.redirectUri, state: pending.state, issuer: issuerOf(deps.config.baseUrl, pending) },
      "access_denied",
      "the client asked for another user's sign-in",
    );
  }
  // A second factor due: the request waits for it, no session is opened, and
  // the username's failures stand until the sign-in completes.
  const due = await secondFactorDue(deps, pending, user, PASSWORD_AMR, false);
  if (due !== undefined) {
    await deps.store.awaitSecondFactor(pending.idHash, { userId: user.id, stage: due.stage, amr: [...PASSWORD_AMR], sessionId: "" });
    return { requestId: request.requestId, client: context.client, projectName: context.projectName, secondFactor: { ...due, username: user.id } };
  }
  await recordSuccess(deps, keys);
  return completeSignIn(deps, pending, user, { amr: [...PASSWORD_AMR], acr: PASSWORD_ACR }, request, context);
}
