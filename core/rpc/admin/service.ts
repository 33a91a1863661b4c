import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { AdminService } from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import { noteRefusal } from "../../observe/context.js";
import { AlreadyExists, type ProjectRef } from "../../store/types.js";
import * as access from "./access.js";
import * as clients from "./clients.js";
import { authenticate, authorize, GLOBAL, projectTarget, type Target } from "./principal.js";
import * as sessions from "./sessions.js";
import * as tenants from "./tenants.js";
import * as users from "./users.js";

type Handler<I> = (deps: Deps, request: I) => Promise<unknown>;

/** A global operation: global administrators only. */
const global = <I>(handler: Handler<I>) => ({ target: (_: I): Target => GLOBAL, handler });
/** An operation inside one project: its project administrators, or global ones. */
const inProject = <I extends ProjectRef>(handler: Handler<I>) => ({ target: (r: I): Target => projectTarget(r), handler });

/**
 * Every AdminService method: who may call it (its target) and what it does.
 * The CLI runs the same handlers as the machine's operator.
 */
export const ADMIN_METHODS = {
  createOrganization: global(tenants.createOrganization),
  getOrganization: global(tenants.getOrganization),
  listOrganizations: global(tenants.listOrganizations),
  updateOrganization: global(tenants.updateOrganization),
  deleteOrganization: global(tenants.deleteOrganization),
  createProject: global(tenants.createProject),
  getProject: inProject(tenants.getProject),
  listProjects: global(tenants.listProjects),
  updateProject: inProject(tenants.updateProject),
  deleteProject: global(tenants.deleteProject),
  createClient: inProject(clients.createClient),
  getClient: inProject(clients.getClient),
  listClients: inProject(clients.listClients),
  updateClient: inProject(clients.updateClient),
  rotateClientSecret: inProject(clients.rotateClientSecret),
  deleteClient: inProject(clients.deleteClient),
  createUser: inProject(users.createUser),
  getUser: inProject(users.getUser),
  listUsers: inProject(users.listUsers),
  updateUser: inProject(users.updateUser),
  setUserPassword: inProject(users.setUserPassword),
  deleteUser: inProject(users.deleteUser),
  listUserConsents: inProject(users.listUserConsents),
  revokeUserConsent: inProject(users.revokeUserConsent),
  listUserSessions: inProject(sessions.listUserSessions),
  revokeUserSession: inProject(sessions.revokeUserSession),
  revokeUserSessions: inProject(sessions.revokeUserSessions),
  createPermission: inProject(access.createPermission),
  listPermissions: inProject(access.listPermissions),
  deletePermission: inProject(access.deletePermission),
  createRole: inProject(access.createRole),
  listRoles: inProject(access.listRoles),
  deleteRole: inProject(access.deleteRole),
  assignRole: inProject(access.assignRole),
  unassignRole: inProject(access.unassignRole),
  rotateSigningKey: inProject(tenants.rotateSigningKey),
};

/** Turns store sentinels into their Connect codes; anything unexpected is logged and answered INTERNAL. */
export function toAdminError(deps: Deps, method: string, err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof AlreadyExists) return new ConnectError(err.message, Code.AlreadyExists);
  deps.logger.error("unexpected error", { rpc: method, err });
  return new ConnectError("the server could not complete the request", Code.Internal);
}

export function createAdminService(deps: Deps): ServiceImpl<typeof AdminService> {
  const service: Record<string, (request: unknown, context: HandlerContext) => Promise<unknown>> = {};
  for (const [name, method] of Object.entries(ADMIN_METHODS)) {
    const { target, handler } = method as { target: (r: unknown) => Target; handler: Handler<unknown> };
    service[name] = async (request, context) => {
      try {
        const principal = await authenticate(deps, context.requestHeader);
        try {
          authorize(principal, target(request));
        } catch (err) {
          noteRefusal("permission_denied", principal);
          throw err;
        }
        return await handler(deps, request);
      } catch (err) {
        throw toAdminError(deps, name, err);
      }
    };
  }
  return service as unknown as ServiceImpl<typeof AdminService>;
}
