import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { instrument } from "../observe/instrument.js";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import * as reflectionV1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { AdminService } from "../../gen/iam/v1/admin_pb.js";
import { AuditService } from "../../gen/iam/v1/audit_pb.js";
import { AuthorizationService } from "../../gen/iam/v1/authorization_pb.js";
import { RegistrationService } from "../../gen/iam/v1/registration_pb.js";
import { TokenService } from "../../gen/iam/v1/token_pb.js";
import { createAdminService } from "../rpc/admin/service.js";
import { createAuditService } from "../rpc/audit.js";
import type { Deps } from "../deps.js";
import type { HealthState } from "./health.js";
import { createReflectionServices } from "./reflection.js";
import { createAuthorizationService, createRegistrationService, createTokenService } from "../rpc/services.js";

/** The services of iam-core itself, as reflection and health name them. */
export const IAM_SERVICES = [AuthorizationService, TokenService, RegistrationService, AdminService, AuditService] as const;

/**
 * Registers every service of the core, with gRPC health checking and server
 * reflection. The network server, the in-process transport and the tests all
 * use this one function.
 */
export function createRoutes(deps: Deps, health: HealthState): (router: ConnectRouter) => void {
  const authorization = createAuthorizationService(deps);
  const tokens = createTokenService(deps);
  const registration = createRegistrationService(deps);
  const admin = createAdminService(deps);
  const audit = createAuditService(deps);
  const reflection = createReflectionServices([...IAM_SERVICES, Health]);
  const observed = <T extends object>(service: DescService, impl: T) => instrument(service, impl, deps);
  const services = [
    [AuthorizationService, observed(AuthorizationService, authorization)],
    [TokenService, observed(TokenService, tokens)],
    [RegistrationService, observed(RegistrationService, registration)],
    [AdminService, observed(AdminService, admin)],
    [AuditService, observed(AuditService, audit)],
    [Health, observed(Health, health.service())],
    [reflectionV1.ServerReflection, observed(reflectionV1.ServerReflection, reflection.v1)],
    [reflectionV1alpha.ServerReflection, observed(reflectionV1alpha.ServerReflection, reflection.v1alpha)],
  ] as const;
  return (router) => {
    for (const [service, impl] of services) router.service(service as DescService, impl as never);
  };
}
