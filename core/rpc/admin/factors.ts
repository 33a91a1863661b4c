import * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import type { AuditChange, AuditParty, FactorRecord, MfaPolicyRecord, ProjectRef, Store } from "../../store/types.js";
import { audited, party, projectName } from "../../audit/record.js";
import { fieldSet, updated, type Fields } from "../../audit/changes.js";
import { found, maskOf, MFA_REQUIREMENTS, notFound, toFactor, toMfaPolicy, toRecoveryCodes, type Out } from "./convert.js";
import { invalid } from "./validate.js";

/**
 * A user's second factors in administration (the support desk: list them,
 * remove one, reset them all) and each project's multi-factor policy.
 * Removing factors leaves the user's sessions and tokens alone: a factor
 * lost is not a factor stolen, and RevokeUserSessions ends them where it is.
 * The sign-in reads factors from the database at every attempt
 * (core/factors/policy.ts), so a removal counts in every process at once;
 * the policy is kept in memory until the change epoch moves, which setting
 * it does.
 */

const userOf = async (store: Store, ref: ProjectRef, id: string) =>
  found(await store.getUser(ref, id), `user ${id} in ${ref.organization}/${ref.project}`);

/** A factor as the audit trail names it (FACTOR_ENROLLED's `factor`): never its secret or key. */
const factorNamed = (f: FactorRecord) => ({ id: f.id, kind: f.kind, name: f.name });
const factorRemoved = (f: FactorRecord): AuditChange => fieldSet("factor", factorNamed(f), undefined);

export async function listUserFactors(deps: Deps, r: pb.ListUserFactorsRequest): Out<typeof pb.ListUserFactorsResponseSchema> {
  await userOf(deps.store, r, r.userId);
  const [factors, codes] = await Promise.all([deps.store.listFactors(r, r.userId), deps.store.countRecoveryCodes(r, r.userId)]);
  return { factors: factors.map(toFactor), recoveryCodes: toRecoveryCodes(codes) };
}

/** The event names the factor removed; the recovery codes stay. */
export async function deleteUserFactor(deps: Deps, r: pb.DeleteUserFactorRequest, actor: AuditParty): Out<typeof pb.DeleteUserFactorResponseSchema> {
  await audited(
    deps,
    async (store) => {
      await userOf(store, r, r.userId);
      // Another user's factor answers as an unknown one: nothing tells it exists.
      const removed = await store.deleteFactor(r, r.userId, r.factorId);
      if (removed === undefined) throw notFound(`factor ${r.factorId} of user ${r.userId} in ${r.organization}/${r.project}`);
      return removed;
    },
    (removed) => ({ chain: r, action: "FACTOR_REMOVED", actor, target: party("user", r.userId), changes: [factorRemoved(removed)] }),
  );
  return {};
}

/**
 * The event names each factor removed and, when the user had recovery
 * codes, how many were left unspent (`recovery_codes`, as
 * RECOVERY_CODES_ISSUED counts them). A user with nothing is not an error.
 */
export async function resetUserFactors(deps: Deps, r: pb.ResetUserFactorsRequest, actor: AuditParty): Out<typeof pb.ResetUserFactorsResponseSchema> {
  const { removed, codes } = await audited(
    deps,
    async (store) => {
      await userOf(store, r, r.userId);
      const codes = await store.countRecoveryCodes(r, r.userId);
      return { removed: await store.deleteUserFactors(r, r.userId), codes };
    },
    ({ removed, codes }) => ({
      chain: r,
      action: "FACTOR_REMOVED",
      actor,
      target: party("user", r.userId),
      changes: [...removed.map(factorRemoved), ...(codes.total > 0 ? [fieldSet("recovery_codes", codes.left, undefined)] : [])],
    }),
  );
  return { factorIds: removed.map((f) => f.id), recoveryCodesRemoved: codes.left };
}

/** A policy's fields, as the audit trail records them (MfaPolicy of admin.proto; its project is the chain). */
const policyFields = (p: MfaPolicyRecord): Fields => ({
  required: `MFA_REQUIREMENT_${p.required.toUpperCase()}`,
  roles: p.roles,
  passwordless: p.passwordless,
});

const projectOf = async (store: Store, ref: ProjectRef) => found(await store.getProject(ref), `project ${ref.organization}/${ref.project}`);

export async function getMfaPolicy(deps: Deps, r: pb.GetMfaPolicyRequest): Out<typeof pb.GetMfaPolicyResponseSchema> {
  await projectOf(deps.store, r);
  return { policy: toMfaPolicy(await deps.store.getMfaPolicy(r)) };
}

const REQUIRED_OF = new Map<pb.MfaRequirement, MfaPolicyRecord["required"]>(
  Object.entries(MFA_REQUIREMENTS).map(([word, value]) => [value, word as MfaPolicyRecord["required"]]),
);

function requiredOf(value: pb.MfaRequirement): MfaPolicyRecord["required"] {
  const required = REQUIRED_OF.get(value);
  if (required === undefined) throw invalid("required must be MFA_REQUIREMENT_OPTIONAL, MFA_REQUIREMENT_EVERYONE or MFA_REQUIREMENT_ROLES");
  return required;
}

/** Each role named once, and each a role of the project: a policy naming none that exists would require nothing. */
async function rolesOf(store: Store, ref: ProjectRef, roles: readonly string[]): Promise<string[]> {
  const named = [...new Set(roles)];
  for (const role of named) {
    if ((await store.getRole(ref, role)) === undefined) throw invalid(`unknown role ${role}: create it in the project first`);
  }
  return named;
}

/**
 * Roles apply under ROLES only: naming them with another requirement is
 * refused, and moving to another requirement clears them, so that the
 * policy stored reads as what it does.
 */
export async function updateMfaPolicy(deps: Deps, r: pb.UpdateMfaPolicyRequest, actor: AuditParty): Out<typeof pb.UpdateMfaPolicyResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  const { next } = await audited(
    deps,
    async (store) => {
      await projectOf(store, ref);
      const paths = maskOf(r.updateMask?.paths, ["required", "roles", "passwordless"]);
      // Read inside the transaction: a field the request does not set keeps what the database holds now.
      const current = await store.getMfaPolicy(ref);
      const required = paths.has("required") ? requiredOf(r.required) : current.required;
      let roles = paths.has("roles") ? await rolesOf(store, ref, r.roles) : current.roles;
      if (required !== "roles") {
        if (paths.has("roles") && roles.length > 0) throw invalid("roles apply only when required is MFA_REQUIREMENT_ROLES");
        roles = [];
      } else if (roles.length === 0) {
        throw invalid("MFA_REQUIREMENT_ROLES needs at least one role in roles");
      }
      const next: MfaPolicyRecord = { ...ref, required, roles, passwordless: paths.has("passwordless") ? r.passwordless : current.passwordless };
      await store.setMfaPolicy(next);
      return { current, next };
    },
    ({ current, next }) => ({
      chain: ref,
      action: "MFA_POLICY_UPDATED",
      actor,
      target: party("project", projectName(ref)),
      changes: updated(policyFields(current), policyFields(next)),
    }),
  );
  return { policy: toMfaPolicy(next) };
}
