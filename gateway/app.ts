import { randomBytes } from "node:crypto";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import Router from "@koa/router";
import Koa, { type Context } from "koa";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { AuthorizationService, LoginFailureSchema } from "../gen/iam/v1/authorization_pb.js";
import { TokenService } from "../gen/iam/v1/token_pb.js";
import type { Logger } from "../core/observe/log.js";
import { inRequest, propagateRequestId, REQUEST_ID_HEADER, requestIdFrom } from "../core/observe/context.js";
import type { Metrics } from "../core/observe/metrics.js";
import { toWireError, type WireError } from "./errors.js";
import {
  BadRequest,
  basicCredentials,
  DEFAULT_MAX_BODY,
  mediaType,
  parseJsonObject,
  parseParams,
  readBody,
  type Params,
  readCookie,
  stringField,
  stringListField,
  wantsJson,
} from "./http.js";
import { consentPage, errorPage, loginPage, PAGE_SECURITY_HEADERS, redirectPage } from "./pages.js";

export interface GatewayOptions {
  /** How the gateway reaches the core: in process, or over the network. */
  transport: Transport;
  /** Public base URL; decides whether cookies are Secure. */
  baseUrl: string;
  logger: Logger;
  /** Where request counts and latencies go; `GET /metrics` renders it. */
  metrics: Metrics;
  /** Largest request body read, bytes (default 16 KiB). */
  maxBodyBytes?: number;
  /** Take the client address from X-Forwarded-For (default false). */
  trustProxy?: boolean;
  /** Answer `GET /metrics` (default true). */
  serveMetrics?: boolean;
}

const BROWSER_COOKIE = "iam_browser";

/** POSIX shell single quoting: the value reaches the command as it is, whatever it holds. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
/** curl's `-u` value: the client id, and the secret from the shell's $CLIENT_SECRET. */
function basicUser(clientId: string): string {
  return /^[A-Za-z0-9._~-]+$/.test(clientId) ? `"${clientId}:$CLIENT_SECRET"` : `${shellQuote(`${clientId}:`)}"$CLIENT_SECRET"`;
}
const BINDING_VALUE = /^[A-Za-z0-9_-]{43}$/;
const PREFIX = "/services/oauth2/:organization/:project";

interface Services {
  authorization: Client<typeof AuthorizationService>;
  tokens: Client<typeof TokenService>;
  health: Client<typeof Health>;
}

/**
 * The browser- and client-facing HTTP surface. It holds no state and no
 * domain rules: it parses HTTP, calls the core, and renders the answer.
 */
export function createGateway(options: GatewayOptions): Koa {
  const { logger, metrics } = options;
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const transport = propagateRequestId(options.transport);
  const services: Services = {
    authorization: createClient(AuthorizationService, transport),
    tokens: createClient(TokenService, transport),
    health: createClient(Health, transport),
  };
  const secureCookies = options.baseUrl.startsWith("https:");
  const app = new Koa();
  // Behind a reverse proxy, the client address is the one it reports in X-Forwarded-For.
  app.proxy = options.trustProxy === true;
  const router = new Router({ prefix: PREFIX });

  app.use(async (ctx, next) => {
    const started = performance.now();
    const scope = { requestId: requestIdFrom(ctx.get(REQUEST_ID_HEADER)) };
    ctx.set("X-Request-Id", scope.requestId);
    try {
      await inRequest(scope, next);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      // Routes are patterns (…/:organization/:project/token): few series, no identifiers.
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? "unmatched";
      const labels = { method: ctx.method, route: String(route), status: String(ctx.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpSeconds.observe(labels, seconds);
      // The path only: query strings and bodies carry codes, states and secrets.
      inRequest(scope, () =>
        logger.info("http", {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(seconds * 10_000) / 10,
        }),
      );
    }
  });

  const project = (ctx: Context) => ({
    organization: ctx.params.organization as string,
    project: ctx.params.project as string,
  });
  const base = (ctx: Context) =>
    `/services/oauth2/${encodeURIComponent(ctx.params.organization!)}/${encodeURIComponent(ctx.params.project!)}`;

  const page = (ctx: Context, status: number, body: string) => {
    ctx.set(PAGE_SECURITY_HEADERS);
    ctx.status = status;
    ctx.type = "text/html; charset=utf-8";
    ctx.body = body;
  };
  const json = (ctx: Context, status: number, body: unknown) => {
    ctx.set({ "Cache-Control": "no-store", Pragma: "no-cache", "X-Content-Type-Options": "nosniff" });
    ctx.status = status;
    ctx.body = body;
  };

  /**
   * Location is set as the core built it: Koa's ctx.redirect would re-encode
   * it through URL, and the redirect URI must stay byte for byte the one the
   * client registered.
   */
  const redirect = (ctx: Context, status: 302 | 303, location: string) => {
    ctx.body = null;
    ctx.status = status;
    ctx.set({ Location: location, "Cache-Control": "no-store" });
  };

  /** Renders an error of the authorization endpoints: a redirect to the client, JSON, or a page. */
  const authorizationError = (ctx: Context, e: WireError, asJson: boolean, redirectStatus: 302 | 303) => {
    if (e.retryAfter !== undefined) ctx.set("Retry-After", String(e.retryAfter));
    if (e.redirectTo !== undefined) {
      if (asJson && ctx.method === "POST") {
        return json(ctx, e.status, { error: e.error, error_description: e.description, redirect_to: e.redirectTo });
      }
      return redirect(ctx, redirectStatus, e.redirectTo);
    }
    if (asJson) return json(ctx, e.status, { error: e.error, error_description: e.description });
    return page(ctx, e.status, errorPage("Authorization request refused", e.error, e.description));
  };

  /** The body of a POST to /authorize or /consent: a form, or JSON. */
  const readPost = async (ctx: Context) => {
    const type = mediaType(ctx);
    const text = await readBody(ctx, maxBody);
    if (type === "application/json") return { form: false, body: parseJsonObject(text), params: undefined };
    if (type === "application/x-www-form-urlencoded") {
      const params = parseParams(text);
      const body: Record<string, unknown> = {
        request_id: params.get("request_id"),
        username: params.get("username"),
        password: params.get("password"),
        scopes: params.getAll("scope"),
        deny: params.get("action") === "deny",
      };
      return { form: true, body, params };
    }
    throw new BadRequest(415, "send application/x-www-form-urlencoded or application/json");
  };

  /**
   * Step 1, the authorization request (RFC 6749 §4.1.1), by GET or, as
   * OpenID Connect Core §3.1.2.1 requires too, by a form POST.
   */
  const authorizationRequest = async (ctx: Context, params: Params, redirectStatus: 302 | 303) => {
    const asJson = wantsJson(ctx);
    try {
      const existing = readCookie(ctx, BROWSER_COOKIE);
      const binding = existing !== undefined && BINDING_VALUE.test(existing) ? existing : randomBytes(32).toString("base64url");
      const answer = await services.authorization.authorize({
        ...project(ctx),
        responseType: params.get("response_type"),
        clientId: params.get("client_id"),
        redirectUri: params.get("redirect_uri"),
        scope: params.get("scope"),
        state: params.get("state"),
        codeChallenge: params.get("code_challenge"),
        codeChallengeMethod: params.get("code_challenge_method"),
        nonce: params.get("nonce"),
        browserBinding: binding,
        repeatedParameters: params.repeated,
      });
      if (existing !== binding) {
        ctx.append(
          "Set-Cookie",
          `${BROWSER_COOKIE}=${binding}; Path=${base(ctx)}/; HttpOnly; SameSite=Lax${secureCookies ? "; Secure" : ""}`,
        );
      }
      if (asJson) {
        return json(ctx, 200, {
          request_id: answer.requestId,
          client: { id: answer.client?.id ?? "", name: answer.client?.name ?? "" },
          scopes_requested: answer.scopesRequested,
          expires_in: Number(answer.expiresIn),
        });
      }
      page(
        ctx,
        200,
        loginPage({
          action: `${base(ctx)}/authorize`,
          requestId: answer.requestId,
          clientName: answer.client?.name ?? "",
          projectName: answer.projectName,
        }),
      );
    } catch (err) {
      authorizationError(ctx, toWireError(err, logger), asJson, redirectStatus);
    }
  };

  router.get("/authorize", (ctx) => authorizationRequest(ctx, parseParams(ctx.querystring), 302));

  // Step 2: the user's credentials.
  router.post("/authorize", async (ctx) => {
    let asJson = mediaType(ctx) === "application/json";
    let requestId = "";
    let username = "";
    try {
      const { form, body, params } = await readPost(ctx);
      // A form post without request_id but with response_type is an
      // authorization request sent by POST, not a login.
      if (params !== undefined && params.get("request_id") === "" && params.get("response_type") !== "") {
        return await authorizationRequest(ctx, params, 303);
      }
      asJson = !form;
      requestId = stringField(body, "request_id");
      username = stringField(body, "username");
      const answer = await services.authorization.login({
        ...project(ctx),
        requestId,
        username,
        password: stringField(body, "password"),
        browserBinding: form ? (readCookie(ctx, BROWSER_COOKIE) ?? "") : undefined,
        clientAddress: ctx.ip,
        repeatedParameters: params?.repeated ?? [],
      });
      const scopes = answer.scopes.map(({ name, description }) => ({ name, description }));
      if (answer.redirectTo !== "") {
        // The client remembers consent and the user had given it: the request is complete.
        if (asJson) return json(ctx, 200, { request_id: answer.requestId, scopes, redirect_to: answer.redirectTo });
        return redirect(ctx, 303, answer.redirectTo);
      }
      if (asJson) return json(ctx, 200, { request_id: answer.requestId, scopes });
      page(
        ctx,
        200,
        consentPage({
          action: `${base(ctx)}/consent`,
          requestId: answer.requestId,
          clientName: answer.client?.name ?? "",
          projectName: answer.projectName,
          scopes: answer.scopes,
        }),
      );
    } catch (err) {
      const e = toWireError(err, logger);
      const failure = err instanceof ConnectError ? err.findDetails(LoginFailureSchema)[0] : undefined;
      if (e.status === 401 || e.status === 429) {
        // A failed or locked sign-in: the form again, with a message that
        // does not say which part was wrong, or how long to wait.
        const retryAfter = e.status === 429 ? Math.max(1, Number(failure?.retryAfter ?? 60n)) : 0;
        if (retryAfter > 0) ctx.set("Retry-After", String(retryAfter));
        if (asJson) {
          return json(ctx, e.status, {
            error: e.error,
            error_description: e.description,
            ...(retryAfter > 0 ? { retry_after: retryAfter } : {}),
          });
        }
        return page(
          ctx,
          e.status,
          loginPage({
            action: `${base(ctx)}/authorize`,
            requestId,
            clientName: failure?.client?.name || "The application",
            projectName: failure?.projectName || project(ctx).project,
            username,
            error: "Invalid username or password.",
            lockedFor: retryAfter,
          }),
        );
      }
      authorizationError(ctx, e, asJson, 303);
    }
  });

  // Step 3: consent, then back to the client with the code.
  router.post("/consent", async (ctx) => {
    let asJson = mediaType(ctx) === "application/json";
    try {
      const { form, body, params } = await readPost(ctx);
      asJson = !form;
      if (body.deny !== undefined && typeof body.deny !== "boolean") throw new BadRequest(400, "deny must be a boolean");
      const deny = body.deny === true;
      const answer = await services.authorization.consent({
        ...project(ctx),
        requestId: stringField(body, "request_id"),
        scopes: form ? (body.scopes as string[]) : stringListField(body, "scopes"),
        deny,
        browserBinding: form ? (readCookie(ctx, BROWSER_COOKIE) ?? "") : undefined,
        repeatedParameters: params?.repeated ?? [],
      });
      if (asJson) return json(ctx, 200, { redirect_to: answer.redirectTo });
      redirect(ctx, 303, answer.redirectTo);
    } catch (err) {
      authorizationError(ctx, toWireError(err, logger), asJson, 303);
    }
  });

  // Step 4: the callback page of the client the core names, for people following the flow by hand.
  router.get("/redirect", async (ctx, next) => {
    let metadata;
    try {
      metadata = await services.tokens.getServerMetadata(project(ctx));
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.NotFound) return next();
      const e = toWireError(err, logger);
      return json(ctx, e.status, { error: e.error, error_description: e.description });
    }
    const callback = metadata.callbackPage;
    if (callback === undefined) return next();
    const params = parseParams(ctx.querystring);
    // Every value is shell-quoted: the page invites pasting this into a terminal.
    const tokenCurl = [
      `curl -s -X POST ${shellQuote(metadata.tokenEndpoint)} \\`,
      `  -u ${basicUser(callback.clientId)} \\`,
      `  --data-urlencode grant_type=authorization_code \\`,
      `  --data-urlencode ${shellQuote(`code=${params.get("code")}`)} \\`,
      `  --data-urlencode ${shellQuote(`redirect_uri=${callback.redirectUri}`)}`,
    ].join("\n");
    page(
      ctx,
      200,
      redirectPage({
        code: params.get("code"),
        state: params.get("state"),
        error: params.get("error"),
        errorDescription: params.get("error_description"),
        tokenCurl,
      }),
    );
  });

  /**
   * The client-authenticated form endpoints (token, introspection,
   * revocation): a form body, nothing in the query, client credentials by
   * Basic or in the body. Errors are RFC 6749 §5.2 JSON; invalid_client after
   * Basic carries WWW-Authenticate.
   */
  const formEndpoint = (name: string, handle: (ctx: Context, params: Params, basic: ReturnType<typeof basicCredentials>) => Promise<void>) =>
    async (ctx: Context) => {
      let usedBasic = false;
      try {
        if (ctx.querystring !== "") throw new BadRequest(400, `${name} request parameters must be sent in the body, not the query`);
        if (mediaType(ctx) !== "application/x-www-form-urlencoded") {
          throw new BadRequest(400, `the ${name} request must be application/x-www-form-urlencoded`);
        }
        usedBasic = ctx.get("authorization") !== "";
        const basic = basicCredentials(ctx);
        await handle(ctx, parseParams(await readBody(ctx, maxBody)), basic);
      } catch (err) {
        const e = toWireError(err, logger);
        if (e.retryAfter !== undefined) ctx.set("Retry-After", String(e.retryAfter));
        if (e.error === "invalid_client" && usedBasic) {
          ctx.set("WWW-Authenticate", `Basic realm="${options.baseUrl}${base(ctx)}", charset="UTF-8"`);
        }
        json(ctx, e.status, { error: e.error, error_description: e.description });
      }
    };
  const clientOf = (params: Params, basic: ReturnType<typeof basicCredentials>) => ({
    clientId: params.get("client_id"),
    clientSecret: params.get("client_secret"),
    basic,
  });

  // Step 5: the token endpoint (RFC 6749 §3.2).
  router.post(
    "/token",
    formEndpoint("token", async (ctx, params, basic) => {
      const answer = await services.tokens.token({
        ...project(ctx),
        grantType: params.get("grant_type"),
        code: params.get("code"),
        redirectUri: params.get("redirect_uri"),
        codeVerifier: params.get("code_verifier"),
        refreshToken: params.get("refresh_token"),
        scope: params.get("scope"),
        clientId: params.get("client_id"),
        clientSecret: params.get("client_secret"),
        username: params.get("username"),
        password: params.get("password"),
        basic,
        repeatedParameters: params.repeated,
      });
      json(ctx, 200, {
        access_token: answer.accessToken,
        token_type: answer.tokenType,
        expires_in: Number(answer.expiresIn),
        ...(answer.refreshToken !== "" ? { refresh_token: answer.refreshToken } : {}),
        scope: answer.scope,
        ...(answer.idToken !== "" ? { id_token: answer.idToken } : {}),
      });
    }),
  );

  // Token introspection (RFC 7662 §2).
  router.post(
    "/introspect",
    formEndpoint("introspection", async (ctx, params, basic) => {
      const a = await services.tokens.introspect({
        ...project(ctx),
        token: params.get("token"),
        tokenTypeHint: params.get("token_type_hint"),
        client: clientOf(params, basic),
        repeatedParameters: params.repeated,
      });
      if (!a.active) return json(ctx, 200, { active: false });
      json(ctx, 200, {
        active: true,
        scope: a.scope,
        client_id: a.clientId,
        ...(a.username !== "" ? { username: a.username } : {}),
        token_type: a.tokenType,
        exp: Number(a.exp),
        iat: Number(a.iat),
        sub: a.sub,
        aud: a.aud.length === 1 ? a.aud[0] : a.aud,
        iss: a.iss,
        ...(a.jti !== "" ? { jti: a.jti } : {}),
      });
    }),
  );

  // Token revocation (RFC 7009 §2): 200 with an empty body, also for unknown tokens.
  router.post(
    "/revoke",
    formEndpoint("revocation", async (ctx, params, basic) => {
      await services.tokens.revoke({
        ...project(ctx),
        token: params.get("token"),
        tokenTypeHint: params.get("token_type_hint"),
        client: clientOf(params, basic),
        repeatedParameters: params.repeated,
      });
      ctx.set({ "Cache-Control": "no-store", Pragma: "no-cache" });
      ctx.status = 200;
      ctx.body = "";
    }),
  );

  // UserInfo (OpenID Connect Core §5.3), GET or POST, Bearer token (RFC 6750 §2.1, §2.2).
  const userinfo = async (ctx: Context) => {
    const realm = `${options.baseUrl}${base(ctx)}`;
    try {
      let token = "";
      const header = ctx.get("authorization");
      if (header !== "") {
        const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
        if (match === null) throw new BadRequest(401, "the Authorization header must be a Bearer token");
        token = match[1]!;
      }
      if (ctx.method === "POST" && mediaType(ctx) === "application/x-www-form-urlencoded") {
        const params = parseParams(await readBody(ctx, maxBody));
        const inBody = params.get("access_token");
        // RFC 6750 §2: one method per request.
        if (inBody !== "" && token !== "") throw new BadRequest(400, "send the access token once");
        token ||= inBody;
      }
      if (token === "") {
        ctx.set("WWW-Authenticate", `Bearer realm="${realm}"`);
        return json(ctx, 401, { error: "invalid_token", error_description: "an access token is required" });
      }
      const answer = await services.tokens.userInfo({ ...project(ctx), token });
      json(ctx, 200, {
        sub: answer.sub,
        ...(answer.name !== undefined ? { name: answer.name } : {}),
        ...(answer.preferredUsername !== undefined ? { preferred_username: answer.preferredUsername } : {}),
        ...(answer.email !== undefined ? { email: answer.email } : {}),
      });
    } catch (err) {
      const e = toWireError(err, logger);
      const error = e.status === 401 ? "invalid_token" : e.error;
      const scope = error === "insufficient_scope" ? ', scope="openid"' : "";
      ctx.set("WWW-Authenticate", `Bearer realm="${realm}", error="${error}", error_description="${e.description.replace(/["\\]/g, "")}"${scope}`);
      json(ctx, e.status, { error, error_description: e.description });
    }
  };
  router.get("/userinfo", userinfo);
  router.post("/userinfo", userinfo);

  // Discovery: OpenID Connect Discovery §4 and RFC 8414 §3 (path-appended form).
  const discovery = async (ctx: Context) => {
    try {
      const m = await services.tokens.getServerMetadata(project(ctx));
      ctx.set("Cache-Control", "public, max-age=300");
      ctx.body = {
        issuer: m.issuer,
        authorization_endpoint: m.authorizationEndpoint,
        token_endpoint: m.tokenEndpoint,
        jwks_uri: m.jwksUri,
        userinfo_endpoint: m.userinfoEndpoint,
        introspection_endpoint: m.introspectionEndpoint,
        revocation_endpoint: m.revocationEndpoint,
        response_types_supported: m.responseTypesSupported,
        response_modes_supported: m.responseModesSupported,
        grant_types_supported: m.grantTypesSupported,
        code_challenge_methods_supported: m.codeChallengeMethodsSupported,
        token_endpoint_auth_methods_supported: m.tokenEndpointAuthMethodsSupported,
        introspection_endpoint_auth_methods_supported: m.introspectionEndpointAuthMethodsSupported,
        revocation_endpoint_auth_methods_supported: m.revocationEndpointAuthMethodsSupported,
        scopes_supported: m.scopesSupported,
        claims_supported: m.claimsSupported,
        subject_types_supported: m.subjectTypesSupported,
        id_token_signing_alg_values_supported: m.idTokenSigningAlgValuesSupported,
        authorization_response_iss_parameter_supported: m.authorizationResponseIssParameterSupported,
        request_parameter_supported: m.requestParameterSupported,
        request_uri_parameter_supported: m.requestUriParameterSupported,
        claims_parameter_supported: m.claimsParameterSupported,
      };
    } catch (err) {
      const e = toWireError(err, logger);
      json(ctx, e.status, { error: e.error, error_description: e.description });
    }
  };
  router.get("/.well-known/openid-configuration", discovery);
  router.get("/.well-known/oauth-authorization-server", discovery);

  // The project's public keys, for local verification of access tokens.
  router.get("/.well-known/jwks.json", async (ctx) => {
    try {
      const answer = await services.tokens.getJwks(project(ctx));
      ctx.set("Cache-Control", "public, max-age=300");
      ctx.body = { keys: answer.keys.map(({ kty, crv, x, y, kid, alg, use }) => ({ kty, crv, x, y, kid, alg, use })) };
    } catch (err) {
      const e = toWireError(err, logger);
      json(ctx, e.status, { error: e.error, error_description: e.description });
    }
  });

  // Unknown paths and methods answer JSON too, never Koa's plain text.
  app.use(async (ctx, next) => {
    await next();
    // 501 is the router's answer to a method it does not know at all (PROPFIND, LOCK…): still just a method not allowed here.
    if (ctx.status === 405 || ctx.status === 501) {
      json(ctx, 405, { error: "invalid_request", error_description: `method ${ctx.method} is not allowed here` });
    } else if (ctx.status === 404 && ctx.body == null) {
      json(ctx, 404, { error: "not_found", error_description: "no such endpoint" });
    }
  });
  // Liveness (the process answers) and readiness (the core answers SERVING,
  // which it does once its database is open and until it drains).
  const probes = new Router();
  probes.get("/healthz", (ctx) => json(ctx, 200, { status: "ok" }));
  if (options.serveMetrics !== false) {
    probes.get("/metrics", async (ctx) => {
      ctx.set("Cache-Control", "no-store");
      try {
        const { body, contentType } = await metrics.render();
        ctx.type = contentType;
        ctx.body = body;
      } catch (err) {
        // Several workers: the primary could not collect them all.
        ctx.status = 503;
        ctx.type = "text/plain";
        ctx.body = `${err instanceof Error ? err.message : String(err)}\n`;
      }
    });
  }
  probes.get("/readyz", async (ctx) => {
    try {
      const { status } = await services.health.check({ service: "" });
      const ready = status === HealthCheckResponse_ServingStatus.SERVING;
      json(ctx, ready ? 200 : 503, { status: ready ? "ready" : "not serving" });
    } catch {
      json(ctx, 503, { status: "core unreachable" });
    }
  });
  app.use(probes.routes());

  // RFC 8414 §3.1: for an issuer with a path, the metadata lives at the
  // well-known path inserted between host and issuer path.
  const wellKnown = new Router();
  wellKnown.get("/.well-known/oauth-authorization-server/services/oauth2/:organization/:project", discovery);
  app.use(wellKnown.routes());
  app.use(router.routes());
  app.use(router.allowedMethods());
  // Koa's own error output would print stack traces in development: never.
  app.silent = true;
  return app;
}
