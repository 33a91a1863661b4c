import type { ConnectRouter } from "@connectrpc/connect";
import { AdminService } from "../gen/iam/v1/admin_pb.js";
import { AuthorizationService } from "../gen/iam/v1/authorization_pb.js";
import { TokenService } from "../gen/iam/v1/token_pb.js";
import { createAdminService } from "./admin/service.js";
import type { Deps } from "./deps.js";
import { createAuthorizationService, createTokenService } from "./services.js";

/**
 * Registers every service of the core. The network server, the in-process
 * transport and the tests all use this one function.
 */
export function createRoutes(deps: Deps): (router: ConnectRouter) => void {
  const authorization = createAuthorizationService(deps);
  const tokens = createTokenService(deps);
  const admin = createAdminService(deps);
  return (router) => {
    router.service(AuthorizationService, authorization);
    router.service(TokenService, tokens);
    router.service(AdminService, admin);
  };
}
