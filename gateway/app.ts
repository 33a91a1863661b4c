import { createClient, type Transport } from "@connectrpc/connect";
import Router from "@koa/router";
import Koa from "koa";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { AuthorizationService } from "../gen/iam/v1/authorization_pb.js";
import { RegistrationService } from "../gen/iam/v1/registration_pb.js";
import { TokenService } from "../gen/iam/v1/token_pb.js";
import { propagateRequestId } from "../wire/request-id.js";
import type { HttpMetrics, Logger } from "../wire/observe.js";
import { consoleApi, CONSOLE_API_PREFIX } from "./console/api.js";
import { consoleAsset, consolePage } from "./console/shell.js";
import { anyOrigin, registeredOrigins } from "./cors.js";
import { PREFIX, type EndpointDeps } from "./endpoint.js";
import { asset } from "./endpoints/assets.js";
import { authorize } from "./endpoints/authorize.js";
import { consent } from "./endpoints/consent.js";
import { discovery } from "./endpoints/discovery.js";
import { endSession } from "./endpoints/end-session.js";
import { factor, factorPasskeyOptions, factorTotp } from "./endpoints/factor.js";
import { healthz, readyz } from "./endpoints/health.js";
import { introspect } from "./endpoints/introspect.js";
import { jwks } from "./endpoints/jwks.js";
import { login } from "./endpoints/login.js";
import { par } from "./endpoints/par.js";
import { redirectPage } from "./endpoints/redirect-page.js";
import { clientConfiguration, register } from "./endpoints/register.js";
import { revoke } from "./endpoints/revoke.js";
import { token } from "./endpoints/token.js";
import { userinfo } from "./endpoints/userinfo.js";
import { DEFAULT_MAX_BODY } from "./http.js";
import { observeRequests } from "./observe.js";
import { answerUnmatched } from "./respond.js";

export interface GatewayOptions {
  /** How the gateway reaches the core: in process, or over the network. */
  transport: Transport;
  /** Public base URL; decides whether cookies are Secure. */
  baseUrl: string;
  logger: Logger;
  /** Where request counts and latencies go; the management listener renders them (gateway/management.ts). */
  metrics: HttpMetrics;
  /** Largest request body read, bytes (default 16 KiB). */
  maxBodyBytes?: number;
  /** Take the client address from X-Forwarded-For (default false). */
  trustProxy?: boolean;
  /** Serve the administration console and its API at /admin (default true). */
  serveConsole?: boolean;
}

/**
 * The browser- and client-facing HTTP surface. It holds no state and no
 * domain rules: it parses HTTP, calls the core, and renders the answer
 * (respond.ts). One file per endpoint in endpoints/; here, their routes.
 */
export function createGateway(options: GatewayOptions): Koa {
  const transport = propagateRequestId(options.transport);
  const deps: EndpointDeps = {
    services: {
      authorization: createClient(AuthorizationService, transport),
      tokens: createClient(TokenService, transport),
      registration: createClient(RegistrationService, transport),
      health: createClient(Health, transport),
    },
    baseUrl: options.baseUrl,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY,
    secureCookies: options.baseUrl.startsWith("https:"),
    logger: options.logger,
  };
  const app = new Koa();
  // Behind a reverse proxy, the client address is the one it reports in X-Forwarded-For.
  app.proxy = options.trustProxy === true;
  app.use(observeRequests(options.logger, options.metrics));
  app.use(answerUnmatched);

  // Outside any project: liveness and readiness, also here for load balancers
  // that probe the port they send traffic to; they tell nothing but up or
  // down. The metrics are on the management listener only (gateway/management.ts).
  const probes = new Router();
  probes.get("/healthz", healthz);
  probes.get("/readyz", readyz(deps));
  // The passkey pages' two scripts.
  probes.get("/assets/:name", asset);
  app.use(probes.routes());

  // The administration console: one page, its two files, and its API (console/api.ts); IAM_CONSOLE=false turns it off.
  if (options.serveConsole !== false) {
    const admin = new Router();
    admin.get("/admin/assets/:name", consoleAsset);
    admin.post(`${CONSOLE_API_PREFIX}/:service/:method`, consoleApi(transport));
    admin.get("/admin", consolePage(options.baseUrl));
    admin.get("/admin/*path", consolePage(options.baseUrl));
    app.use(admin.routes());
  }

  // CORS (cors.ts): the public documents for any page; what a single-page
  // application calls with its tokens for the project's web origins only.
  // The authorization, sign-in and consent endpoints have none, ever.
  const publicDocument = anyOrigin(["GET"]);
  // `dpop`: a browser client's proof of possession (RFC 9449 §4.1).
  const tokenCall = registeredOrigins(deps, ["POST"], ["authorization", "content-type", "dpop"]);
  const userinfoCall = registeredOrigins(deps, ["GET", "POST"], ["authorization", "content-type", "dpop"]);

  // RFC 8414 §3.1: for an issuer with a path, the metadata lives at the
  // well-known path inserted between host and issuer path.
  const wellKnown = new Router();
  wellKnown.get(`/.well-known/oauth-authorization-server${PREFIX}`, publicDocument.answer, discovery(deps));
  wellKnown.options(`/.well-known/oauth-authorization-server${PREFIX}`, publicDocument.preflight);
  app.use(wellKnown.routes());

  // A project's endpoints, in the order of the flow.
  const project = new Router({ prefix: PREFIX });
  project.get("/authorize", authorize(deps));
  project.post("/authorize", login(deps));
  project.post("/factor", factor(deps));
  project.post("/factor/totp", factorTotp(deps));
  project.post("/factor/passkey-options", factorPasskeyOptions(deps));
  project.post("/consent", consent(deps));
  project.get("/redirect", redirectPage(deps));
  // RP-Initiated Logout: pages for the browser, so no CORS.
  project.get("/logout", endSession(deps));
  project.post("/logout", endSession(deps));
  project.post("/token", tokenCall.answer, token(deps));
  project.options("/token", tokenCall.preflight);
  // Pushed authorization requests: the token endpoint's kind (a client's
  // own back-channel call, authenticated as there), so its CORS too: a
  // single-page application pushes its requests as it redeems its codes.
  project.post("/par", tokenCall.answer, par(deps));
  project.options("/par", tokenCall.preflight);
  // Dynamic Client Registration (RFC 7591) and its management (RFC 7592):
  // a program's back-channel calls, so no CORS (docs/registration.md).
  project.post("/register", register(deps));
  project.get("/register/:clientId", clientConfiguration(deps));
  project.put("/register/:clientId", clientConfiguration(deps));
  project.delete("/register/:clientId", clientConfiguration(deps));
  project.post("/introspect", introspect(deps));
  project.post("/revoke", tokenCall.answer, revoke(deps));
  project.options("/revoke", tokenCall.preflight);
  project.get("/userinfo", userinfoCall.answer, userinfo(deps));
  project.post("/userinfo", userinfoCall.answer, userinfo(deps));
  project.options("/userinfo", userinfoCall.preflight);
  for (const path of ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"]) {
    project.get(path, publicDocument.answer, discovery(deps));
    project.options(path, publicDocument.preflight);
  }
  project.get("/.well-known/jwks.json", publicDocument.answer, jwks(deps));
  project.options("/.well-known/jwks.json", publicDocument.preflight);
  app.use(project.routes());
  app.use(project.allowedMethods());
  // Koa's own error output would print stack traces in development: never.
  app.silent = true;
  return app;
}
