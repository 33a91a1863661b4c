import { Code, ConnectError } from "@connectrpc/connect";
import { DEFAULT_TENANT, GLOBAL_ADMIN_PERMISSION, PROJECT_ADMIN_PERMISSION } from "./default-tenant.js";
import type { Deps } from "../../deps.js";
import { party, projectName } from "../../audit/record.js";
import type { AuditParty, ProjectRef } from "../../store/types.js";
import { inspectAccessToken } from "../../tokens/access-token.js";

/** Who is calling the admin API, as far as authorization is concerned. */
export type Principal = (
  /** A token of iam-admins/iam-admins holding iam.global.admin: everything. */
  | { kind: "global"; subject: string }
  /** A token of a project holding iam.project.admin: that project only. */
  | { kind: "project"; subject: string; organization: string; project: string }
  /** A valid token with no administration rights. */
  | { kind: "none"; subject: string }
  /** The `iam` command working on the database file: the machine's operator. */
  | { kind: "operator" }
) & {
  /** Who acts, as the audit trail names them: the token's user or client, and its project. */
  actor: AuditParty;
};

/** The machine's operator, as the `iam` command acts. */
export const OPERATOR: Principal = { kind: "operator", actor: { kind: "operator", id: "", project: "" } };

/** What a call touches: the whole server, or one project. */
export type Target = { scope: "global" } | ({ scope: "project" } & ProjectRef);

export const GLOBAL: Target = { scope: "global" };
export const projectTarget = (ref: ProjectRef): Target => ({
  scope: "project",
  organization: ref.organization,
  project: ref.project,
});

/**
 * Authenticates an admin call from its `authorization: Bearer` metadata. The
 * token is verified as VerifyToken does; the tenant it was issued by comes
 * from its verified issuer, never from its scope strings alone: a project
 * whose admins create a permission named `iam.global.admin` gains nothing,
 * because global administration is only recognised from iam-admins/iam-admins.
 */
export async function authenticate(deps: Deps, headers: Headers): Promise<Principal> {
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(headers.get("authorization")?.trim() ?? "");
  if (match === null) throw new ConnectError("an access token is required (authorization: Bearer …)", Code.Unauthenticated);
  const inspected = await inspectAccessToken(deps, match[1]!);
  if (!inspected.ok) throw new ConnectError("the access token is not active", Code.Unauthenticated);
  const { grant, ref } = inspected.token;
  const subject = inspected.token.payload.sub ?? "";
  // Administration rights are what the token carries and its subject still
  // holds: taking a role away ends them at once, not when the token expires.
  const holding = new Set(
    (grant.kind === "user"
      ? await deps.store.getUserPermissions(ref, grant.userId)
      : await deps.store.getClientPermissions(ref, grant.clientId)
    ).map((p) => p.id),
  );
  const scopes = inspected.token.scopes.filter((scope) => holding.has(scope));
  const actor = party(grant.kind === "user" ? "user" : "client", subject, projectName(ref));
  const fromAdminProject = ref.organization === DEFAULT_TENANT.organization && ref.project === DEFAULT_TENANT.project;
  if (fromAdminProject && scopes.includes(GLOBAL_ADMIN_PERMISSION)) return { kind: "global", subject, actor };
  // iam-admins is administered by global administrators only: whoever could
  // manage it could grant themselves global administration.
  if (scopes.includes(PROJECT_ADMIN_PERMISSION) && !fromAdminProject) {
    return { kind: "project", subject, organization: ref.organization, project: ref.project, actor };
  }
  return { kind: "none", subject, actor };
}

/** Throws PERMISSION_DENIED unless the principal may act on the target. */
export function authorize(principal: Principal, target: Target): void {
  if (principal.kind === "global" || principal.kind === "operator") return;
  if (
    principal.kind === "project" &&
    target.scope === "project" &&
    target.organization === principal.organization &&
    target.project === principal.project
  ) {
    return;
  }
  throw new ConnectError("the access token does not allow this call", Code.PermissionDenied);
}
