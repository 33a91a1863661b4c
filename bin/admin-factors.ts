/**
 * The `iam` commands of multi-factor sign-in: a user's factors (listed,
 * one removed, all reset) and a project's policy (shown, changed).
 */
import * as pb from "../gen/iam/v1/admin_pb.js";
import { booleanOf, lines, ref, time, update, UsageError, type Command } from "./admin-command.js";

/** Text a user chose (a factor's name), shown without the control characters that would move a terminal's cursor or colours. */
const printable = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "?");

const factorLine = (f: pb.Factor) =>
  [
    f.id,
    f.kind,
    printable(f.name),
    f.confirmed ? "confirmed" : "awaiting its first code",
    `enrolled ${time(f.createdAt)}`,
    f.lastUsedAt === 0n ? "never used" : `last used ${time(f.lastUsedAt)}`,
    f.kind === "passkey"
      ? [`credential ${f.credentialIdPrefix}…`, f.deviceType, f.backedUp ? "backed up" : "not backed up", f.transports.join(",") || "-"].join(" ")
      : "-",
  ].join("\t");

const recoveryLine = (c: pb.RecoveryCodes | undefined) =>
  c === undefined || c.total === 0 ? "recovery codes: none" : `recovery codes: ${c.left} of ${c.total} left, issued ${time(c.issuedAt)}`;

const REQUIREMENTS: Record<string, pb.MfaRequirement> = {
  optional: pb.MfaRequirement.OPTIONAL,
  everyone: pb.MfaRequirement.EVERYONE,
  roles: pb.MfaRequirement.ROLES,
};

function requirementOf(value: string | undefined): pb.MfaRequirement | undefined {
  if (value === undefined) return undefined;
  const required = REQUIREMENTS[value];
  if (required === undefined) throw new UsageError("--required must be optional, everyone or roles");
  return required;
}

/** `--roles a,b`: the list; `--roles ''` empties it. */
const rolesOf = (value: string | undefined) => (value === undefined ? undefined : value.split(",").map((r) => r.trim()).filter((r) => r !== ""));

const policyLines = (p: pb.MfaPolicy) => [
  `required\t${pb.MfaRequirement[p.required]!.toLowerCase()}`,
  `roles\t${p.roles.join(",") || "-"}`,
  `passwordless\t${p.passwordless}`,
];

/** `iam project mfa-policy … --required …`: the options given change the policy. */
const UPDATE_MFA_POLICY: Command = {
  method: "updateMfaPolicy", request: pb.UpdateMfaPolicyRequestSchema, response: pb.UpdateMfaPolicyResponseSchema,
  args: ["org", "project"],
  build: (a, o) => ({
    ...ref(a),
    ...update(
      [["required", "required", requirementOf(o.required)], ["roles", "roles", rolesOf(o.roles)], ["passwordless", "passwordless", booleanOf("--passwordless", o.passwordless)]],
      "--required, --roles, --passwordless",
    ),
  }),
  show: (r) => policyLines(r.policy),
};

export const FACTOR_COMMANDS: Record<string, Command> = {
  "project mfa-policy": {
    method: "getMfaPolicy", request: pb.GetMfaPolicyRequestSchema, response: pb.GetMfaPolicyResponseSchema,
    args: ["org", "project"], build: (a) => ref(a),
    show: (r) => policyLines(r.policy),
    instead: (o) => (o.required === undefined && o.roles === undefined && o.passwordless === undefined ? undefined : UPDATE_MFA_POLICY),
  },
  "user factors": {
    method: "listUserFactors", request: pb.ListUserFactorsRequestSchema, response: pb.ListUserFactorsResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id }),
    show: (r) => [...lines(r.factors, factorLine), recoveryLine(r.recoveryCodes)],
  },
  "user factors remove": {
    method: "deleteUserFactor", request: pb.DeleteUserFactorRequestSchema, response: pb.DeleteUserFactorResponseSchema,
    args: ["org", "project", "id", "factor"], build: (a) => ({ ...ref(a), userId: a.id, factorId: a.factor }),
    show: () => ["factor removed; the user's sessions stay open (iam user end-sessions ends them)"],
  },
  "user factors reset": {
    method: "resetUserFactors", request: pb.ResetUserFactorsRequestSchema, response: pb.ResetUserFactorsResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), userId: a.id }),
    show: (r) => [
      `removed ${r.factorIds.length} factor(s)${r.factorIds.length === 0 ? "" : `: ${r.factorIds.join(" ")}`} and ${r.recoveryCodesRemoved} unspent recovery code(s)`,
      "the user enrols again at their next sign-in if the project's policy requires it; their sessions stay open (iam user end-sessions ends them)",
    ],
  },
};
