import type { Context } from "koa";
import { bindingOf, setBindingCookie } from "../browser-binding.js";
import { projectOf, projectPath, type Endpoint, type EndpointDeps } from "../endpoint.js";
import { parseParams, wantsJson, type Params } from "../http.js";
import { loginPage } from "../pages.js";
import { authorizationError, json, page, toWireError } from "../respond.js";

/**
 * Step 1, the authorization request (RFC 6749 §4.1.1), by GET or, as
 * OpenID Connect Core §3.1.2.1 requires too, by a form POST (login.ts):
 * the login page, or its context as JSON.
 */
export async function authorizationRequest(deps: EndpointDeps, ctx: Context, params: Params, redirectStatus: 302 | 303): Promise<void> {
  const asJson = wantsJson(ctx);
  try {
    const { binding, presented } = bindingOf(ctx);
    const answer = await deps.services.authorization.authorize({
      ...projectOf(ctx),
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
    if (presented !== binding) setBindingCookie(deps, ctx, binding);
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
        action: `${projectPath(ctx)}/authorize`,
        requestId: answer.requestId,
        clientName: answer.client?.name ?? "",
        projectName: answer.projectName,
      }),
    );
  } catch (err) {
    authorizationError(ctx, toWireError(err, deps.logger), asJson, redirectStatus);
  }
}

/** GET /authorize: errors the core redirects go back to the client with 302. */
export const authorize: Endpoint = (deps) => (ctx) => authorizationRequest(deps, ctx, parseParams(ctx.querystring), 302);
