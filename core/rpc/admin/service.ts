import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { AdminService } from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import { noteRefusal } from "../../observe/context.js";
import { AlreadyExists, type ProjectRef } from "../../store/types.js";
import { StorageUnavailable } from "../../store/faults.js";
import { storageUnavailable } from "../../errors.js";
import * as access from "./access.js";
import * as clients from "./clients.js";
import * as factors from "./factors.js";
import * as initialAccessTokens from "./initial-access-tokens.js";
import * as metadataDocuments from "./metadata-documents.js";
import { party, projectName, recordRefusal, SERVER_CHAIN, type AuditActionName } from "../../audit/record.js";
import type { AuditParty } from "../../store/types.js";
import * as overview from "./overview.js";
import * as resources from "./resources.js";
import { authenticate, authorize, GLOBAL, projectTarget, type Principal, type Target } from "./principal.js";
import * as sessions from "./sessions.js";
import * as tenants from "./tenants.js";
import * as users from "./users.js";

/** A handler: the call's request, and who makes it (for the audit trail). */
type Handler<I> = (deps: Deps, request: I, actor: AuditParty) => Promise<unknown>;

/**
 * What a change records: its action, and its target named from the request
 * (a refusal is recorded with them, since the handler may not have run).
 */
interface Change<I> {
  action: AuditActionName;
  target: (request: I) => AuditParty;
}

export interface AdminMethod<I> {
  target: (request: I) => Target;
  handler: Handler<I>;
  change?: Change<I>;
}

/** A global operation: global administrators only. */
const global = <I>(handler: Handler<I>, change?: Change<I>): AdminMethod<I> => ({ target: () => GLOBAL, handler, change });
/** An operation inside one project: its project administrators, or global ones. */
const inProject = <I extends ProjectRef>(handler: Handler<I>, change?: Change<I>): AdminMethod<I> => ({
  target: (r: I): Target => projectTarget(r),
  handler,
  change,
});
const recorded = <I>(action: AuditActionName, target: (request: I) => AuditParty): Change<I> => ({ action, target });
const organization = (r: { id: string }) => party("organization", r.id);
const project = (r: { organization: string; id: string }) => party("project", `${r.organization}/${r.id}`);
const ownProject = (r: ProjectRef) => party("project", projectName(r));
const client = (r: { clientId: string }) => party("client", r.clientId);
const user = (r: { userId: string }) => party("user", r.userId);
const documentUrl = (r: { url: string }) => party("client", r.url.slice(0, 2048));
const permission = (r: { permissionId: string }) => party("permission", r.permissionId);
const role = (r: { roleId: string }) => party("role", r.roleId);
const resource = (r: { uri: string }) => party("resource", r.uri);
const assignee = (r: { subject: { case: "userId" | "clientId" | undefined; value?: string } }) =>
  r.subject.case === "clientId" ? party("client", r.subject.value ?? "") : party("user", r.subject.value ?? "");

/**
 * Every AdminService method: who may call it (its target), what it does, and
 * for a change, what the audit trail records. The CLI runs the same handlers
 * as the machine's operator.
 */
export const ADMIN_METHODS = {
  createOrganization: global(tenants.createOrganization, recorded("ORGANIZATION_CREATED", organization)),
  getOrganization: global(tenants.getOrganization),
  listOrganizations: global(tenants.listOrganizations),
  updateOrganization: global(tenants.updateOrganization, recorded("ORGANIZATION_UPDATED", organization)),
  deleteOrganization: global(tenants.deleteOrganization, recorded("ORGANIZATION_DELETED", organization)),
  createProject: global(tenants.createProject, recorded("PROJECT_CREATED", project)),
  getProject: inProject(tenants.getProject),
  getProjectSummary: inProject(overview.getProjectSummary),
  listProjects: global(tenants.listProjects),
  updateProject: inProject(tenants.updateProject, recorded("PROJECT_UPDATED", ownProject)),
  deleteProject: global(tenants.deleteProject, recorded("PROJECT_DELETED", ownProject)),
  createClient: inProject(clients.createClient, recorded("CLIENT_CREATED", client)),
  getClient: inProject(clients.getClient),
  listClients: inProject(clients.listClients),
  updateClient: inProject(clients.updateClient, recorded("CLIENT_UPDATED", client)),
  rotateClientSecret: inProject(clients.rotateClientSecret, recorded("CLIENT_SECRET_ROTATED", client)),
  deleteClient: inProject(clients.deleteClient, recorded("CLIENT_DELETED", client)),
  createUser: inProject(users.createUser, recorded("USER_CREATED", user)),
  getUser: inProject(users.getUser),
  listUsers: inProject(users.listUsers),
  updateUser: inProject(users.updateUser, recorded("USER_UPDATED", user)),
  setUserPassword: inProject(users.setUserPassword, recorded("USER_PASSWORD_SET", user)),
  deleteUser: inProject(users.deleteUser, recorded("USER_DELETED", user)),
  listUserConsents: inProject(users.listUserConsents),
  revokeUserConsent: inProject(users.revokeUserConsent, recorded("USER_CONSENT_REVOKED", user)),
  listUserSessions: inProject(sessions.listUserSessions),
  revokeUserSession: inProject(sessions.revokeUserSession, recorded("USER_SESSIONS_REVOKED", user)),
  revokeUserSessions: inProject(sessions.revokeUserSessions, recorded("USER_SESSIONS_REVOKED", user)),
  listUserFactors: inProject(factors.listUserFactors),
  deleteUserFactor: inProject(factors.deleteUserFactor, recorded("FACTOR_REMOVED", user)),
  resetUserFactors: inProject(factors.resetUserFactors, recorded("FACTOR_REMOVED", user)),
  getMfaPolicy: inProject(factors.getMfaPolicy),
  updateMfaPolicy: inProject(factors.updateMfaPolicy, recorded("MFA_POLICY_UPDATED", ownProject)),
  createPermission: inProject(access.createPermission, recorded("PERMISSION_CREATED", permission)),
  listPermissions: inProject(access.listPermissions),
  deletePermission: inProject(access.deletePermission, recorded("PERMISSION_DELETED", permission)),
  createRole: inProject(access.createRole, recorded("ROLE_CREATED", role)),
  listRoles: inProject(access.listRoles),
  deleteRole: inProject(access.deleteRole, recorded("ROLE_DELETED", role)),
  assignRole: inProject(access.assignRole, recorded("ROLE_ASSIGNED", assignee)),
  unassignRole: inProject(access.unassignRole, recorded("ROLE_UNASSIGNED", assignee)),
  rotateSigningKey: inProject(tenants.rotateSigningKey, recorded("SIGNING_KEY_ROTATED", ownProject)),
  listSigningKeys: inProject(overview.listSigningKeys),
  createResource: inProject(resources.createResource, recorded("RESOURCE_CREATED", resource)),
  getResource: inProject(resources.getResource),
  listResources: inProject(resources.listResources),
  updateResource: inProject(resources.updateResource, recorded("RESOURCE_UPDATED", resource)),
  deleteResource: inProject(resources.deleteResource, recorded("RESOURCE_DELETED", resource)),
  createInitialAccessToken: inProject(initialAccessTokens.createInitialAccessToken, recorded("INITIAL_ACCESS_TOKEN_CREATED", ownProject)),
  listInitialAccessTokens: inProject(initialAccessTokens.listInitialAccessTokens),
  revokeInitialAccessToken: inProject(initialAccessTokens.revokeInitialAccessToken, recorded("INITIAL_ACCESS_TOKEN_REVOKED", ownProject)),
  setClientMetadataDocumentRule: inProject(metadataDocuments.setClientMetadataDocumentRule, recorded("CLIENT_METADATA_DOCUMENT_RULE_SET", documentUrl)),
  listClientMetadataDocumentRules: inProject(metadataDocuments.listClientMetadataDocumentRules),
  deleteClientMetadataDocumentRule: inProject(metadataDocuments.deleteClientMetadataDocumentRule, recorded("CLIENT_METADATA_DOCUMENT_RULE_DELETED", documentUrl)),
};

/**
 * The chain a refused change is recorded in: the project it aimed at, when
 * that project exists (so its administrators see the attempt), else the
 * server's (a caller cannot start chains for projects that do not exist).
 */
async function refusalChain(deps: Deps, target: Target): Promise<ProjectRef> {
  if (target.scope === "global") return SERVER_CHAIN;
  return (await deps.store.getProject(target)) === undefined ? SERVER_CHAIN : { organization: target.organization, project: target.project };
}

/** Codes of a refused change that the audit trail records: the caller was known, and was told no. */
const RECORDED_REFUSALS = new Set([Code.PermissionDenied, Code.InvalidArgument, Code.NotFound, Code.AlreadyExists, Code.FailedPrecondition]);

/**
 * Records a change the handler refused (or the caller was not allowed): the
 * action and target it asked for, the gRPC code as the reason. A caller that
 * could not be authenticated records nothing: the log line has it.
 */
export async function recordRefusedChange<I>(deps: Deps, method: AdminMethod<I>, request: I, actor: AuditParty, failure: ConnectError): Promise<void> {
  if (method.change === undefined || !RECORDED_REFUSALS.has(failure.code)) return;
  await recordRefusal(deps, {
    chain: await refusalChain(deps, method.target(request)),
    action: method.change.action,
    actor,
    target: method.change.target(request),
    reason: Code[failure.code]!.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase(),
  });
}

/** Turns store sentinels into their Connect codes, a storage fault into UNAVAILABLE; anything unexpected is logged and answered INTERNAL. */
export function toAdminError(deps: Deps, method: string, err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof AlreadyExists) return new ConnectError(err.message, Code.AlreadyExists);
  if (err instanceof StorageUnavailable) return storageUnavailable(err);
  deps.logger.error("unexpected error", { rpc: method, err });
  return new ConnectError("the server could not complete the request", Code.Internal);
}

export function createAdminService(deps: Deps): ServiceImpl<typeof AdminService> {
  const service: Record<string, (request: unknown, context: HandlerContext) => Promise<unknown>> = {};
  for (const [name, entry] of Object.entries(ADMIN_METHODS)) {
    const method = entry as AdminMethod<unknown>;
    service[name] = async (request, context) => {
      let principal: Principal;
      try {
        principal = await authenticate(deps, context.requestHeader);
      } catch (err) {
        throw toAdminError(deps, name, err);
      }
      try {
        try {
          authorize(principal, method.target(request));
        } catch (err) {
          noteRefusal("permission_denied", principal);
          throw err;
        }
        return await method.handler(deps, request, principal.actor);
      } catch (err) {
        const failure = toAdminError(deps, name, err);
        await recordRefusedChange(deps, method, request, principal.actor, failure);
        throw failure;
      }
    };
  }
  return service as unknown as ServiceImpl<typeof AdminService>;
}
