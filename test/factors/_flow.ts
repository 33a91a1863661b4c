/**
 * Shared steps of the multi-factor tests: a sign-in that stops at its second
 * step, TOTP enrolment computing codes from the secret as an app would, and
 * the project's policy. Not a test file itself.
 */
import { totpCode } from "../../core/factors/totp.js";
import type { MfaPolicyRecord } from "../../core/store/types.js";
import { DEFAULT, type TestCore } from "../helpers.js";
import { ALICE, authorizeRequest, type AuthorizeInit } from "../core/flow.js";

export const ADDRESS = "198.51.100.7";

export async function setPolicy(c: TestCore, policy: Partial<Omit<MfaPolicyRecord, "organization" | "project">>): Promise<void> {
  await c.core.deps.store.setMfaPolicy({ ...DEFAULT, required: "optional", roles: [], passwordless: false, ...policy });
}

/** Authorize then Login with a password: the Login answer and the request's id. */
export async function passwordStep(c: TestCore, options: { authorize?: Partial<AuthorizeInit>; user?: { id: string; password: string }; session?: string } = {}) {
  const user = options.user ?? ALICE;
  const auth = await c.authorization.authorize(authorizeRequest({ scope: "", ...options.authorize }));
  const login = await c.authorization.login({ ...DEFAULT, requestId: auth.requestId, username: user.id, password: user.password, clientAddress: ADDRESS, session: options.session ?? "" });
  return { requestId: auth.requestId, login };
}

export const signInOf = (requestId: string, session = "") => ({ ...DEFAULT, requestId, clientAddress: ADDRESS, userAgent: "test", session });

/** Enrols an authenticator app for the user of a request at its enrolment step; answers the secret and what FinishEnrolment said. */
export async function enrolTotp(c: TestCore, requestId: string) {
  const started = await c.authorization.startTotpEnrolment({ signIn: signInOf(requestId) });
  const finished = await c.authorization.finishEnrolment({ signIn: signInOf(requestId), factorId: started.factorId, totpCode: totpCode(started.secret, c.clock.now()) });
  return { secret: started.secret, uri: started.uri, factorId: started.factorId, finished };
}

/** Moves the clock to the next 30-second step, so that a new code is due. */
export function nextStep(c: TestCore): void {
  c.clock.ms = (Math.floor(c.clock.ms / 30_000) + 1) * 30_000 + 1000;
}
