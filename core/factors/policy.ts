/**
 * When a sign-in needs a second factor. A user who has enrolled one is always
 * asked for it after their password. A user who has none enrols one now when
 * the project's policy requires it of them (everyone, or holders of given
 * roles) or the client asked for a multi-factor sign-in. A session that
 * proved one factor only is stepped up on the same terms.
 */
import type { Deps } from "../deps.js";
import type { AuthorizationRequestRecord, FactorRecord, UserRecord } from "../store/types.js";
import { isMultiFactor } from "./levels.js";

export interface SecondFactorDue {
  stage: "verify" | "enrol";
  /** The methods the page offers: `totp`, `passkey`, `recovery_code`. */
  methods: string[];
}

/** Whether the project's policy requires a second factor of this user. */
export async function policyRequires(deps: Deps, user: UserRecord): Promise<boolean> {
  const policy = await deps.store.getMfaPolicy(user);
  if (policy.required === "everyone") return true;
  if (policy.required === "optional" || policy.roles.length === 0) return false;
  const held = await deps.store.getRolesOf(user, { userId: user.id });
  return held.some((role) => policy.roles.includes(role));
}

/** The user's factors that sign in (confirmed ones). */
export async function usableFactors(deps: Deps, user: UserRecord): Promise<FactorRecord[]> {
  return (await deps.store.listFactors(user, user.id)).filter((f) => f.confirmed);
}

/**
 * What the sign-in of `user` still needs after a first factor whose `amr`
 * is `amr` (a password; or a session's, which may need no more): undefined
 * when nothing. `fromSession`: the first factor is a live session of one
 * factor (from before the user enrolled), which serves as it is unless a
 * second factor is required.
 */
export async function secondFactorDue(
  deps: Deps,
  pending: AuthorizationRequestRecord,
  user: UserRecord,
  amr: readonly string[],
  fromSession: boolean,
): Promise<SecondFactorDue | undefined> {
  // An action on the sign-in methods (iam_action) asks for every factor the
  // user has, whatever the session proved, then the action; a user with none
  // enrols one (which comes with recovery codes).
  if (pending.action === "") {
    if (isMultiFactor(amr)) return undefined;
    // A session of one factor serves what needs no more, without reading the
    // user's factors (the policy is kept in memory): silent sign-ins stay cheap.
    if (fromSession && !(pending.mfaRequested || (await policyRequires(deps, user)))) return undefined;
  }
  const factors = await usableFactors(deps, user);
  if (factors.length > 0) return { stage: "verify", methods: await methodsOf(deps, user, factors) };
  if (pending.action !== "") return { stage: "enrol", methods: ["totp", "passkey"] };
  const required = pending.mfaRequested || (await policyRequires(deps, user));
  return required ? { stage: "enrol", methods: ["totp", "passkey"] } : undefined;
}

/** The ways a user with `factors` can verify: `totp`, `passkey`, and `recovery_code` while codes are left. */
export async function methodsOf(deps: Deps, user: UserRecord, factors: readonly FactorRecord[]): Promise<string[]> {
  const methods: string[] = [...new Set(factors.map((f) => f.kind))].sort().reverse();
  if ((await deps.store.countRecoveryCodes(user, user.id)).left > 0) methods.push("recovery_code");
  return methods;
}
