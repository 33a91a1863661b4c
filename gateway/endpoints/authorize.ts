import type { Context } from "koa";
import { authorizationParameters } from "../authorization-parameters.js";
import { bindingOf, setBindingCookie } from "../browser-binding.js";
import { projectOf, projectPath, type Endpoint, type EndpointDeps } from "../endpoint.js";
import { parseParams, sentByScript, wantsJson, type Params } from "../http.js";
import { consentPage, loginPage, passkeyPageSecurityHeaders } from "../pages.js";
import { authorizationError, json, page, redirect, toWireError } from "../respond.js";
import { readSessionCookie } from "../session-cookie.js";
import { scriptUrls } from "./assets.js";
import { pendingSignIn, resourcesJson, secondFactorJson, showSecondFactor } from "./factor.js";

/**
 * Step 1, the authorization request (RFC 6749 §4.1.1, OpenID Connect Core
 * §3.1.2.1), by GET or by a form POST (login.ts): the login page, or its
 * context as JSON. When the browser's sign-in session authenticates the
 * request (single sign-on), the consent page instead, or, consent
 * remembered, straight back to the client.
 */
export async function authorizationRequest(deps: EndpointDeps, ctx: Context, params: Params, redirectStatus: 302 | 303): Promise<void> {
  const asJson = wantsJson(ctx);
  try {
    const { binding, presented } = bindingOf(ctx);
    const answer = await deps.services.authorization.authorize({
      ...projectOf(ctx),
      ...authorizationParameters(params),
      browserBinding: binding,
      repeatedParameters: params.repeated,
      // A page's script gets no single sign-on: it could read the code (http.ts, sentByScript).
      session: sentByScript(ctx) ? "" : readSessionCookie(deps, ctx),
    });
    if (presented !== binding) setBindingCookie(deps, ctx, binding);
    // Signed in by the browser's session, consent remembered: back to the client.
    if (answer.redirectTo !== "") {
      if (asJson) return json(ctx, 200, { request_id: answer.requestId, redirect_to: answer.redirectTo });
      return redirect(ctx, redirectStatus, answer.redirectTo);
    }
    const host = answer.client?.metadataDocumentHost ?? "";
    const client = { id: answer.client?.id ?? "", name: answer.client?.name ?? "", ...(host !== "" ? { metadata_document_host: host } : {}) };
    // The browser's session must step up: a second factor's page, no password asked.
    if (answer.secondFactor !== undefined) {
      if (asJson) return json(ctx, 200, { ...secondFactorJson(answer.requestId, answer.secondFactor), client, expires_in: Number(answer.expiresIn) });
      return await showSecondFactor(deps, ctx, { requestId: answer.requestId, step: answer.secondFactor, clientName: client.name, projectName: answer.projectName, binding });
    }
    // Signed in by the browser's session: the consent page.
    if (answer.signedIn) {
      const scopes = answer.scopes.map(({ name, description }) => ({ name, description }));
      const resources = resourcesJson(answer.resources);
      if (asJson) return json(ctx, 200, { request_id: answer.requestId, client, signed_in: true, scopes, ...resources, expires_in: Number(answer.expiresIn) });
      return page(
        ctx,
        200,
        consentPage({
          action: `${projectPath(ctx)}/consent`,
          requestId: answer.requestId,
          clientName: client.name,
          clientHost: host,
          projectName: answer.projectName,
          scopes: answer.scopes,
          resources: answer.resources,
        }),
      );
    }
    if (asJson) {
      return json(ctx, 200, {
        request_id: answer.requestId,
        client,
        scopes_requested: answer.scopesRequested,
        expires_in: Number(answer.expiresIn),
        ...(answer.loginHint !== "" ? { login_hint: answer.loginHint } : {}),
        ...(answer.passwordless ? { passwordless: true } : {}),
      });
    }
    // Where the project allows a passkey alone, the login page offers it (a ceremony begun for it).
    const passkey = answer.passwordless
      ? {
          options: (await deps.services.authorization.startPasskey({ signIn: pendingSignIn(deps, ctx, answer.requestId, binding), purpose: "authenticate" })).optionsJson,
          factorAction: `${projectPath(ctx)}/factor`,
          scripts: scriptUrls(deps.baseUrl),
        }
      : undefined;
    page(
      ctx,
      200,
      loginPage({
        action: `${projectPath(ctx)}/authorize`,
        requestId: answer.requestId,
        clientName: client.name,
        clientHost: host,
        projectName: answer.projectName,
        username: answer.loginHint,
        ...(passkey !== undefined ? { passkey } : {}),
      }),
      passkey === undefined ? undefined : passkeyPageSecurityHeaders(passkey.scripts),
    );
  } catch (err) {
    authorizationError(ctx, toWireError(err, deps.logger), asJson, redirectStatus);
  }
}

/** GET /authorize: errors the core redirects go back to the client with 302. */
export const authorize: Endpoint = (deps) => (ctx) => authorizationRequest(deps, ctx, parseParams(ctx.querystring), 302);
