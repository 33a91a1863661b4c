import { createClient, type Transport } from "@connectrpc/connect";
import Router from "@koa/router";
import Koa from "koa";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { AuthorizationService } from "../gen/iam/v1/authorization_pb.js";
import { RegistrationService } from "../gen/iam/v1/registration_pb.js";
import { TokenService } from "../gen/iam/v1/token_pb.js";
import type { HttpMetrics, Logger } from "../wire/observe.js";
import type { EndpointDeps } from "./endpoint.js";
import { healthz, readyz } from "./endpoints/health.js";
import { metricsEndpoint } from "./endpoints/metrics.js";
import { DEFAULT_MAX_BODY } from "./http.js";
import { answerUnmatched } from "./respond.js";

export interface ManagementOptions {
  /**
   * Where readiness is asked (grpc.health.v1 Check of ""): the core in this
   * process, the cores the gateway calls, or the workers of a cluster.
   */
  transport: Transport;
  /** The Prometheus page of `GET /metrics`; absent (IAM_METRICS=false), 404. */
  metrics?: Pick<HttpMetrics, "render">;
  logger: Logger;
}

/**
 * The management listener's answers, on a port and interface of their own
 * (IAM_MANAGEMENT_PORT, IAM_MANAGEMENT_HOST), as Keycloak's management
 * interface: `GET /metrics`, which tells traffic volumes to whoever reads it
 * and so is never on the public port, with liveness (`/healthz`) and
 * readiness (`/readyz`). Requests here are neither logged nor counted: a
 * probe every few seconds would drown the public traffic's series.
 */
export function createManagementApp(options: ManagementOptions): Koa {
  // The readiness endpoint is the gateway's own: it asks the core's health service.
  const deps: EndpointDeps = {
    services: {
      authorization: createClient(AuthorizationService, options.transport),
      tokens: createClient(TokenService, options.transport),
      registration: createClient(RegistrationService, options.transport),
      health: createClient(Health, options.transport),
    },
    baseUrl: "",
    maxBodyBytes: DEFAULT_MAX_BODY,
    secureCookies: false,
    logger: options.logger,
  };
  const app = new Koa();
  app.use(answerUnmatched);
  const router = new Router();
  router.get("/healthz", healthz);
  router.get("/readyz", readyz(deps));
  if (options.metrics !== undefined) router.get("/metrics", metricsEndpoint(options.metrics));
  app.use(router.routes());
  app.use(router.allowedMethods());
  app.silent = true;
  return app;
}
