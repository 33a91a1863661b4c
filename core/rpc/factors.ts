import { randomBytes } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  FinishEnrolmentRequest,
  FinishEnrolmentResponseSchema,
  StartPasskeyRequest,
  StartPasskeyResponseSchema,
  StartTotpEnrolmentRequest,
  StartTotpEnrolmentResponseSchema,
  VerifyFactorRequest,
  VerifyFactorResponseSchema,
} from "../../gen/iam/v1/authorization_pb.js";
import { fieldSet } from "../audit/changes.js";
import { audited, party, recordRefusal } from "../audit/record.js";
import { requestedClaims, requiredSubject } from "../authorization/checks/openid.js";
import { redirectError } from "../authorization/errors.js";
import { completeSignIn } from "../authorization/complete-sign-in.js";
import { addressKeys, countRequestFailure, lockedOut, recordFailure, recordSuccess, refuseWhileLocked, type AddressKeys, type SignInKeys } from "../authorization/throttle.js";
import { issuerOf, type Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { factorAmr, passkeyOnly, withSecondFactor } from "../factors/levels.js";
import { authenticationOptions, passkeyError, PasskeyRefused, registrationOptions, verifyAuthentication, verifyRegistration } from "../factors/passkeys.js";
import { usableFactors } from "../factors/policy.js";
import { newRecoveryCodes, normalizeRecoveryCode, recoveryCodeHash } from "../factors/recovery.js";
import { countGuess, factorUsed, identified, loadStep, lockable, refuseFactor, type Step } from "../factors/step.js";
import { newTotpSecret, totpStep, totpUri } from "../factors/totp.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256Digest } from "../lib/crypto.js";
import type { FactorRecord } from "../store/types.js";

const MAX_NAME_LENGTH = 64;

/**
 * StartPasskey: the WebAuthn options of a ceremony for a pending request.
 * `authenticate` at a second step gets the user's passkeys; at the login
 * page (no first factor yet) any discoverable passkey, where the project
 * allows a passkey alone. `register` only at an enrolment step.
 */
export async function startPasskey(deps: Deps, request: StartPasskeyRequest): Promise<MessageInitShape<typeof StartPasskeyResponseSchema>> {
  const step = await loadStep(deps, request.signIn);
  if (request.purpose === "register") {
    const at = await identified(deps, step, "enrol");
    const factors = await deps.store.listFactors(at.user, at.user.id);
    return { optionsJson: await registrationOptions(deps, step.pending, at.user, step.context.projectName, factors) };
  }
  if (request.purpose !== "authenticate") throw new OAuthError("invalid_request", 'purpose must be "authenticate" or "register"');
  if (step.pending.secondFactor === null) {
    await passwordlessAllowed(deps, step);
    return { optionsJson: await authenticationOptions(deps, step.pending, undefined, []) };
  }
  const at = await identified(deps, step, "verify");
  const factors = await usableFactors(deps, at.user);
  if (!factors.some((f) => f.kind === "passkey")) throw new OAuthError("invalid_request", "the user has no passkey");
  return { optionsJson: await authenticationOptions(deps, step.pending, at.user, factors) };
}

async function passwordlessAllowed(deps: Deps, step: Step): Promise<void> {
  if (step.pending.userId !== null) throw new OAuthError("invalid_request", "this sign-in is complete");
  if (!(await deps.store.getMfaPolicy(step.pending)).passwordless) {
    throw new OAuthError("invalid_request", "this project does not allow signing in with a passkey alone");
  }
}

/**
 * The id of the authenticator app a sign-in enrols, derived from its pending
 * request: only that sign-in finds its secret again or confirms it, never
 * another sign-in of the same user (whoever knows the password can start one).
 */
const enrolmentFactorId = (pending: { idHash: string }) => sha256Digest(`totp-enrolment:${pending.idHash}`).toString("hex").slice(0, 24);

/**
 * A passkey's id: 96 random bits in hex. Never base64url: an id beginning
 * with "-" would read as an option to the `iam` command that removes it.
 */
const newFactorId = () => randomBytes(12).toString("hex");

/** StartTotpEnrolment: a new secret for the user due to enrol; unconfirmed until its first code. */
export async function startTotpEnrolment(deps: Deps, request: StartTotpEnrolmentRequest): Promise<MessageInitShape<typeof StartTotpEnrolmentResponseSchema>> {
  const at = await identified(deps, await loadStep(deps, request.signIn), "enrol");
  // One enrolment under way at a time. The page shown again (after a wrong
  // code) shows the same secret, the one the user's app already has; a
  // secret another sign-in was enrolling is removed, never shown here.
  const now = epochSeconds(deps.clock);
  const id = enrolmentFactorId(at.pending);
  for (const old of await deps.store.listFactors(at.user, at.user.id)) {
    if (old.confirmed) continue;
    if (old.kind === "totp" && old.id === id) {
      return { factorId: old.id, secret: old.secret, uri: totpUri(old.secret, at.context.projectName, at.user.id) };
    }
    await deps.store.deleteFactor(at.user, at.user.id, old.id);
  }
  const secret = newTotpSecret();
  const factor: FactorRecord = {
    organization: at.user.organization,
    project: at.user.project,
    id,
    userId: at.user.id,
    kind: "totp",
    name: "Authenticator app",
    secret,
    credentialId: "",
    counter: 0,
    transports: [],
    deviceType: "",
    backedUp: false,
    confirmed: false,
    createdAt: now,
    lastUsedAt: null,
  };
  await deps.store.createFactor(factor);
  return { factorId: factor.id, secret, uri: totpUri(secret, at.context.projectName, at.user.id) };
}

/** VerifyFactor: the second factor of a sign-in, or a passkey alone. */
export async function verifyFactor(deps: Deps, request: VerifyFactorRequest): Promise<MessageInitShape<typeof VerifyFactorResponseSchema>> {
  const given = [request.totpCode, request.recoveryCode, request.passkeyResponse].filter((v) => v !== "").length;
  if (given !== 1) throw new OAuthError("invalid_request", "give exactly one of totp_code, recovery_code and passkey_response");
  const step = await loadStep(deps, request.signIn);
  if (step.pending.secondFactor === null && request.passkeyResponse !== "") return { login: await passkeyAlone(deps, step, request.passkeyResponse) };
  const at = await identified(deps, step, "verify");
  const now = epochSeconds(deps.clock);
  let method: string;
  let factorId = "";
  if (request.totpCode !== "") {
    const counted = await countGuess(deps, at);
    const code = request.totpCode.replace(/\s/g, "");
    const totps = (await usableFactors(deps, at.user)).filter((f) => f.kind === "totp");
    const matched = totps.map((f) => ({ f, s: totpStep(f.secret, code, deps.clock.now()) })).find((m) => m.s !== undefined);
    if (matched === undefined) return refuseFactor(deps, at, "wrong code", "totp", undefined, counted);
    // The step is kept: the same code, or an older one, is refused from now on, by every process.
    if (!(await deps.store.useFactor(at.user, matched.f.id, matched.s!, now))) return refuseFactor(deps, at, "code already used", "totp", undefined, counted);
    method = factorAmr(matched.f);
    factorId = matched.f.id;
  } else if (request.recoveryCode !== "") {
    const code = normalizeRecoveryCode(request.recoveryCode);
    // The code is spent and its use recorded together, with the codes left.
    const used =
      code !== "" &&
      (await audited(
        deps,
        async (store) => (await store.useRecoveryCode(at.user, at.user.id, recoveryCodeHash(at.user.id, code), now)) && (await store.countRecoveryCodes(at.user, at.user.id)),
        (spent) => (spent === false ? undefined : { ...eventOf(at), action: "RECOVERY_CODE_USED", changes: [fieldSet("recovery_codes_left", undefined, spent.left)] }),
      ));
    if (used === false) return refuseFactor(deps, at, "wrong or used recovery code", "recovery_code", "the recovery code is not valid");
    method = factorAmr("recovery_code");
  } else {
    const verified = await verifyPasskey(deps, at, request.passkeyResponse);
    method = factorAmr(verified.factor);
    factorId = verified.factor.id;
  }
  await factorUsed(deps, at, at.user, { factor: factorId, method: request.recoveryCode !== "" ? "recovery_code" : method });
  await recordSuccess(deps, at.keys);
  const level = withSecondFactor(at.stage.amr, method);
  // An action on the sign-in methods (iam_action), now that the user proved every factor.
  if (at.pending.action === "add_factor") {
    await deps.store.awaitSecondFactor(at.pending.idHash, { userId: at.user.id, stage: "enrol", amr: level.amr, sessionId: at.stage.sessionId });
    const adding = { stage: "enrol", methods: ["totp", "passkey"], username: at.user.id, adding: true };
    return { login: { requestId: at.origin.requestId, client: at.context.client, projectName: at.context.projectName, secondFactor: adding } };
  }
  const recoveryCodes = at.pending.action === "new_recovery_codes" ? await issueRecoveryCodes(deps, at) : [];
  return { login: await completeSignIn(deps, at.pending, at.user, level, at.origin, at.context), recoveryCodes };
}

/** Ten new recovery codes for the user, the old ones gone, recorded; answered once. */
async function issueRecoveryCodes(deps: Deps, at: Required<Step>): Promise<string[]> {
  const codes = newRecoveryCodes();
  await audited(
    deps,
    (store) => store.setRecoveryCodes(at.user, at.user.id, codes.map((c) => recoveryCodeHash(at.user.id, normalizeRecoveryCode(c))), epochSeconds(deps.clock)),
    () => ({ ...eventOf(at), action: "RECOVERY_CODES_ISSUED", changes: [fieldSet("recovery_codes", undefined, codes.length)] }),
  );
  return codes;
}

const eventOf = (at: Required<Step>) => ({
  chain: { organization: at.pending.organization, project: at.pending.project },
  actor: party("user", at.user.id),
  target: party("user", at.user.id),
  clientAddress: at.origin.clientAddress,
  userAgent: at.origin.userAgent,
});

/** A passkey answer verified and its use recorded; a refusal counts as a failed sign-in. */
async function verifyPasskey(deps: Deps, at: Required<Step>, raw: string) {
  try {
    const verified = await verifyAuthentication(deps, at.pending, at.user, raw);
    await usePasskey(deps, verified);
    return verified;
  } catch (err) {
    if (!(err instanceof PasskeyRefused)) throw err;
    return refuseFactor(deps, at, err.reason, "passkey", "the passkey could not be verified");
  }
}

/** Records a passkey's use: refused when its counter went backwards or stood still (a cloned authenticator), by any process. */
async function usePasskey(deps: Deps, verified: { factor: FactorRecord; counter: number; backedUp: boolean }): Promise<void> {
  if (!(await deps.store.useFactor(verified.factor, verified.factor.id, verified.counter, epochSeconds(deps.clock), { backedUp: verified.backedUp }))) {
    throw new PasskeyRefused("signature counter did not increase: a cloned authenticator?");
  }
}

/**
 * A sign-in with a passkey alone, where the project allows it: the
 * credential names the user, whom the authenticator verified (a PIN or
 * biometric), itself two factors. A refusal counts against the request and
 * the address; there is no username to count it against.
 */
async function passkeyAlone(deps: Deps, step: Step, raw: string) {
  await passwordlessAllowed(deps, step);
  // No username yet: the address's rate and lockout apply, as to a password.
  const address = addressKeys(step.origin.clientAddress);
  await refuseWhileLocked(deps, address, step.context);
  // A refusal counts against the request and the keys known (the address;
  // the user too once the credential named one), is recorded, and shows the
  // login page again.
  const refuse = async (reason: string, keys: SignInKeys | AddressKeys, user: string | null): Promise<never> => {
    const failures = await countRequestFailure(deps, step.pending.idHash);
    deps.metrics.loginFailures.inc({ reason: "wrong_factor" });
    const lockout = await recordFailure(deps, keys);
    const said = lockout > 0 ? `${reason}; sign-in now locked` : reason;
    await recordRefusal(deps, {
      chain: { organization: step.pending.organization, project: step.pending.project },
      action: "FACTOR_VERIFIED",
      actor: null,
      target: user === null ? null : party("user", user),
      changes: [fieldSet("method", undefined, "passkey")],
      clientAddress: step.origin.clientAddress,
      userAgent: step.origin.userAgent,
      reason: said,
    });
    const detail = `${said} (failure ${failures} of this request)`;
    if (lockout > 0) throw lockedOut(lockout, step.context, detail);
    throw passkeyError(detail, step.context);
  };
  let verified;
  try {
    verified = await verifyAuthentication(deps, step.pending, undefined, raw);
  } catch (err) {
    if (!(err instanceof PasskeyRefused)) throw err;
    return refuse(err.reason, address, null);
  }
  const user = await deps.store.getUser(step.pending, verified.factor.userId);
  if (user === undefined || !user.enabled) return refuse("the passkey's user is disabled or gone", address, null);
  const keys = await lockable(deps, step, user);
  try {
    await usePasskey(deps, verified);
  } catch (err) {
    if (!(err instanceof PasskeyRefused)) throw err;
    return refuse(err.reason, keys, user.id);
  }
  await requiredUser(deps, step, user.id);
  const method = factorAmr(verified.factor);
  await factorUsed(deps, step, user, { factor: verified.factor.id, method });
  await recordSuccess(deps, keys);
  return completeSignIn(deps, step.pending, user, passkeyOnly(method), step.origin, step.context);
}

/** OpenID Connect Core §5.5.1: a request for one user's sign-in only is not completed by another's passkey. */
async function requiredUser(deps: Deps, step: Step, userId: string): Promise<void> {
  const required = requiredSubject(requestedClaims(step.pending.claims));
  if (required !== undefined && required !== userId) {
    await deps.store.consumeAuthorizationRequest(step.pending.idHash);
    throw redirectError(
      { redirectUri: step.pending.redirectUri, state: step.pending.state, issuer: issuerOf(deps.config.baseUrl, step.pending) },
      "access_denied",
      "the client asked for another user's sign-in",
    );
  }
}

const enrolled = (at: Required<Step>, f: FactorRecord) => ({
  ...eventOf(at),
  action: "FACTOR_ENROLLED" as const,
  changes: [fieldSet("factor", undefined, { id: f.id, kind: f.kind, name: f.name })],
});

/**
 * FinishEnrolment: the factor confirmed (a TOTP secret's first code, a
 * passkey's attestation), the user's first factor given ten recovery codes,
 * and the sign-in completed as a multi-factor one. A wrong code counts as a
 * failed sign-in.
 */
export async function finishEnrolment(deps: Deps, request: FinishEnrolmentRequest): Promise<MessageInitShape<typeof FinishEnrolmentResponseSchema>> {
  const at = await identified(deps, await loadStep(deps, request.signIn), "enrol");
  // What the user calls it, shown in lists and terminals: no control or format characters.
  const name = request.name.replace(/[\p{Cc}\p{Cf}]/gu, "").trim().slice(0, MAX_NAME_LENGTH);
  const now = epochSeconds(deps.clock);
  let factor: FactorRecord;
  if (request.factorId !== "" && request.passkeyResponse === "") {
    const id = enrolmentFactorId(at.pending);
    const pending = request.factorId !== id ? undefined : (await deps.store.listFactors(at.user, at.user.id)).find((f) => f.id === id && f.kind === "totp" && !f.confirmed);
    if (pending === undefined) throw new OAuthError("invalid_request", "no authenticator app is being enrolled with this factor_id; start again");
    const step = totpStep(pending.secret, request.totpCode.replace(/\s/g, ""), deps.clock.now());
    factor = { ...pending, confirmed: true, counter: step ?? 0, lastUsedAt: now };
    const confirmed =
      step !== undefined &&
      (await audited(deps, (store) => store.useFactor(at.user, pending.id, step, now, { confirm: true }), (ok) => (ok ? enrolled(at, factor) : undefined)));
    if (!confirmed) return refuseFactor(deps, at, "wrong code at enrolment", "totp");
  } else if (request.passkeyResponse !== "" && request.factorId === "") {
    try {
      factor = { ...(await verifyRegistration(deps, at.pending, at.user, request.passkeyResponse, name || "Passkey")), id: newFactorId() };
    } catch (err) {
      if (!(err instanceof PasskeyRefused)) throw err;
      return refuseFactor(deps, at, err.reason, "passkey", "the passkey could not be registered");
    }
    const registered = factor;
    await audited(deps, (store) => store.createFactor(registered), () => enrolled(at, registered));
  } else {
    throw new OAuthError("invalid_request", "give factor_id and totp_code, or passkey_response");
  }
  // The first factor comes with recovery codes, shown once.
  const recoveryCodes = (await deps.store.countRecoveryCodes(at.user, at.user.id)).left === 0 ? await issueRecoveryCodes(deps, at) : [];
  await recordSuccess(deps, at.keys);
  const login = await completeSignIn(deps, at.pending, at.user, withSecondFactor(at.stage.amr, factorAmr(factor)), at.origin, at.context);
  return { login, recoveryCodes };
}
