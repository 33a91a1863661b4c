import { AuditAction, AuditOutcome, AuditPartyKind, type AuditEvent, type AuditParty } from "../../gen/iam/v1/audit_pb.js";

/**
 * The audit trail in people's words: each action's name, grouped as the
 * filter offers them, and who or what a party is. Every action of the enum
 * has its name here (the type checker says when one is added).
 */
export const ACTION_LABELS: Record<AuditAction, string> = {
  [AuditAction.UNSPECIFIED]: "Unspecified",
  [AuditAction.SIGN_IN]: "Sign-in",
  [AuditAction.SIGN_IN_LOCKED_OUT]: "Sign-in locked out",
  [AuditAction.ORGANIZATION_CREATED]: "Organization created",
  [AuditAction.ORGANIZATION_UPDATED]: "Organization updated",
  [AuditAction.ORGANIZATION_DELETED]: "Organization deleted",
  [AuditAction.PROJECT_CREATED]: "Project created",
  [AuditAction.PROJECT_UPDATED]: "Project updated",
  [AuditAction.PROJECT_DELETED]: "Project deleted",
  [AuditAction.CLIENT_CREATED]: "Client created",
  [AuditAction.CLIENT_UPDATED]: "Client updated",
  [AuditAction.CLIENT_SECRET_ROTATED]: "Client secret rotated",
  [AuditAction.CLIENT_DELETED]: "Client deleted",
  [AuditAction.USER_CREATED]: "User created",
  [AuditAction.USER_UPDATED]: "User updated",
  [AuditAction.USER_PASSWORD_SET]: "User password set",
  [AuditAction.USER_DELETED]: "User deleted",
  [AuditAction.USER_CONSENT_REVOKED]: "User consent revoked",
  [AuditAction.USER_SESSIONS_REVOKED]: "User sessions revoked",
  [AuditAction.PERMISSION_CREATED]: "Permission created",
  [AuditAction.PERMISSION_DELETED]: "Permission deleted",
  [AuditAction.ROLE_CREATED]: "Role created",
  [AuditAction.ROLE_DELETED]: "Role deleted",
  [AuditAction.ROLE_ASSIGNED]: "Role assigned",
  [AuditAction.ROLE_UNASSIGNED]: "Role unassigned",
  [AuditAction.SIGNING_KEY_ROTATED]: "Signing key rotated",
  [AuditAction.SIGNING_KEY_ADDED]: "Signing key added",
  [AuditAction.SESSION_ENDED]: "Session ended (logout)",
  [AuditAction.CONSENT_GIVEN]: "Consent given",
  [AuditAction.CONSENT_DENIED]: "Consent denied",
  [AuditAction.CODE_ISSUED]: "Authorization code issued",
  [AuditAction.CODE_EXCHANGED]: "Authorization code exchanged",
  [AuditAction.CODE_REPLAYED]: "Authorization code replayed",
  [AuditAction.TOKEN_ISSUED]: "Token issued",
  [AuditAction.TOKEN_REFRESHED]: "Token refreshed",
  [AuditAction.REFRESH_TOKEN_REUSED]: "Refresh token reused",
  [AuditAction.TOKEN_REVOKED]: "Token revoked",
  [AuditAction.CLIENT_AUTHENTICATION_FAILED]: "Client authentication failed",
  [AuditAction.FACTOR_ENROLLED]: "Second factor enrolled",
  [AuditAction.FACTOR_VERIFIED]: "Second factor verified",
  [AuditAction.FACTOR_REMOVED]: "Second factor removed",
  [AuditAction.RECOVERY_CODES_ISSUED]: "Recovery codes issued",
  [AuditAction.RECOVERY_CODE_USED]: "Recovery code used",
  [AuditAction.MFA_POLICY_UPDATED]: "Multi-factor policy updated",
  [AuditAction.CLIENT_REGISTERED]: "Client registered itself",
  [AuditAction.CLIENT_REGISTRATION_UPDATED]: "Client registration updated",
  [AuditAction.CLIENT_REGISTRATION_DELETED]: "Client registration deleted",
  [AuditAction.INITIAL_ACCESS_TOKEN_CREATED]: "Initial access token created",
  [AuditAction.INITIAL_ACCESS_TOKEN_REVOKED]: "Initial access token revoked",
  [AuditAction.CLIENT_METADATA_DOCUMENT_RULE_SET]: "Client metadata document blocked or pinned",
  [AuditAction.CLIENT_METADATA_DOCUMENT_RULE_DELETED]: "Client metadata document rule removed",
  [AuditAction.CLIENT_METADATA_DOCUMENT_ADMITTED]: "Client from a metadata document",
  [AuditAction.AUDIT_EVENTS_PURGED]: "Audit events purged",
  [AuditAction.SIGNING_KEYS_RESEALED]: "Signing keys sealed again",
  [AuditAction.RESOURCE_CREATED]: "Resource registered",
  [AuditAction.RESOURCE_UPDATED]: "Resource updated",
  [AuditAction.RESOURCE_DELETED]: "Resource removed",
  [AuditAction.TOKEN_EXCHANGED]: "Token exchanged",
};

const A = AuditAction;

/** The actions as the filter lists them, in groups. */
export const ACTION_GROUPS: readonly (readonly [string, readonly AuditAction[]])[] = [
  ["Sign-in and sessions", [A.SIGN_IN, A.SIGN_IN_LOCKED_OUT, A.SESSION_ENDED, A.CONSENT_GIVEN, A.CONSENT_DENIED]],
  ["Second factors", [A.FACTOR_ENROLLED, A.FACTOR_VERIFIED, A.FACTOR_REMOVED, A.RECOVERY_CODES_ISSUED, A.RECOVERY_CODE_USED, A.MFA_POLICY_UPDATED]],
  [
    "Codes and tokens",
    [A.CODE_ISSUED, A.CODE_EXCHANGED, A.CODE_REPLAYED, A.TOKEN_ISSUED, A.TOKEN_REFRESHED, A.REFRESH_TOKEN_REUSED, A.TOKEN_EXCHANGED, A.TOKEN_REVOKED, A.CLIENT_AUTHENTICATION_FAILED],
  ],
  ["Organizations and projects", [A.ORGANIZATION_CREATED, A.ORGANIZATION_UPDATED, A.ORGANIZATION_DELETED, A.PROJECT_CREATED, A.PROJECT_UPDATED, A.PROJECT_DELETED]],
  [
    "Clients",
    [
      A.CLIENT_CREATED,
      A.CLIENT_UPDATED,
      A.CLIENT_SECRET_ROTATED,
      A.CLIENT_DELETED,
      A.CLIENT_REGISTERED,
      A.CLIENT_REGISTRATION_UPDATED,
      A.CLIENT_REGISTRATION_DELETED,
      A.INITIAL_ACCESS_TOKEN_CREATED,
      A.INITIAL_ACCESS_TOKEN_REVOKED,
      A.CLIENT_METADATA_DOCUMENT_ADMITTED,
      A.CLIENT_METADATA_DOCUMENT_RULE_SET,
      A.CLIENT_METADATA_DOCUMENT_RULE_DELETED,
    ],
  ],
  ["Users", [A.USER_CREATED, A.USER_UPDATED, A.USER_PASSWORD_SET, A.USER_DELETED, A.USER_CONSENT_REVOKED, A.USER_SESSIONS_REVOKED]],
  ["Roles and permissions", [A.PERMISSION_CREATED, A.PERMISSION_DELETED, A.ROLE_CREATED, A.ROLE_DELETED, A.ROLE_ASSIGNED, A.ROLE_UNASSIGNED]],
  ["Resources", [A.RESOURCE_CREATED, A.RESOURCE_UPDATED, A.RESOURCE_DELETED]],
  ["Keys and the trail", [A.SIGNING_KEY_ROTATED, A.SIGNING_KEY_ADDED, A.SIGNING_KEYS_RESEALED, A.AUDIT_EVENTS_PURGED]],
];

/** An action as people read it; an action newer than this console by its number. */
export const actionLabel = (action: AuditAction): string => ACTION_LABELS[action] ?? `Action ${action}`;

/** An action's name in a URL: the enum's own (`SIGN_IN`), so that a bookmark survives a reordering. */
export const actionName = (action: AuditAction): string => AuditAction[action] ?? String(action);

export function actionOf(name: string): AuditAction | undefined {
  const value = (AuditAction as unknown as Record<string, unknown>)[name];
  return typeof value === "number" && value !== AuditAction.UNSPECIFIED ? (value as AuditAction) : undefined;
}

export function outcomeText(event: Pick<AuditEvent, "outcome" | "reason">): string {
  if (event.outcome === AuditOutcome.SUCCESS) return "Success";
  if (event.outcome === AuditOutcome.FAILURE) return event.reason === "" ? "Failure" : `Failure: ${event.reason}`;
  return "—";
}

const KINDS: Record<AuditPartyKind, string> = {
  [AuditPartyKind.UNSPECIFIED]: "",
  [AuditPartyKind.USER]: "user",
  [AuditPartyKind.CLIENT]: "client",
  [AuditPartyKind.OPERATOR]: "operator",
  [AuditPartyKind.ORGANIZATION]: "organization",
  [AuditPartyKind.PROJECT]: "project",
  [AuditPartyKind.PERMISSION]: "permission",
  [AuditPartyKind.ROLE]: "role",
  [AuditPartyKind.SERVER]: "iam-core",
  [AuditPartyKind.RESOURCE]: "resource",
};

/** "user alice", "client web", "operator", "iam-core"; "—" for no party. */
export function partyText(party: AuditParty | undefined): string {
  if (party === undefined || party.kind === AuditPartyKind.UNSPECIFIED) return "—";
  const kind = KINDS[party.kind] ?? "";
  return party.id === "" ? kind : `${kind} ${party.id}`;
}
