import type { Context } from "koa";
import { bindingOf, setBindingCookie } from "../browser-binding.js";
import { projectOf, projectPath, type Endpoint } from "../endpoint.js";
import { BadRequest, mediaType, parseParams, readBody, type Params } from "../http.js";
import { logoutConfirmationPage, signedOutPage } from "../logout-pages.js";
import { errorPage } from "../pages.js";
import { page, redirect, setRetryAfter, toWireError } from "../respond.js";
import { clearSessionCookie, readSessionCookie } from "../session-cookie.js";

/** The parameters of RP-Initiated Logout 1.0 §2 that the confirmation page posts back. */
const LOGOUT_PARAMETERS = ["id_token_hint", "client_id", "logout_hint", "post_logout_redirect_uri", "state", "ui_locales"] as const;

/** GET: the query string; POST: a form body (RP-Initiated Logout 1.0 §2 allows both). */
async function logoutParameters(ctx: Context, maxBytes: number): Promise<Params> {
  if (ctx.method !== "POST") return parseParams(ctx.querystring);
  if (mediaType(ctx) !== "application/x-www-form-urlencoded") throw new BadRequest(415, "send application/x-www-form-urlencoded");
  return parseParams(await readBody(ctx, maxBytes));
}

/**
 * The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0), GET and
 * POST: the core decides; the answer is the confirmation page, the way back
 * to the client (its post_logout_redirect_uri), or the signed-out page. A
 * refusal is always a page, never a redirect. No CORS: it is for browsers
 * navigating, not for scripts of other origins.
 */
export const endSession: Endpoint = (deps) => async (ctx) => {
  try {
    const params = await logoutParameters(ctx, deps.maxBodyBytes);
    const { binding, presented } = bindingOf(ctx);
    const answer = await deps.services.authorization.endSession({
      ...projectOf(ctx),
      idTokenHint: params.get("id_token_hint"),
      clientId: params.get("client_id"),
      logoutHint: params.get("logout_hint"),
      postLogoutRedirectUri: params.get("post_logout_redirect_uri"),
      state: params.get("state"),
      uiLocales: params.get("ui_locales"),
      // Only the confirmation form's POST carries it: the binding never travels in a URL.
      confirmation: ctx.method === "POST" ? params.get("confirmation") : "",
      session: readSessionCookie(deps, ctx),
      // Only a well-formed binding the browser presented: a new one proves nothing.
      browserBinding: presented === binding ? binding : "",
      repeatedParameters: params.repeated,
    });
    if (answer.confirm) {
      if (presented !== binding) setBindingCookie(deps, ctx, binding);
      return page(
        ctx,
        200,
        logoutConfirmationPage({
          action: `${projectPath(ctx)}/logout`,
          projectName: answer.projectName,
          clientName: answer.client?.name ?? "",
          parameters: Object.fromEntries(LOGOUT_PARAMETERS.map((name) => [name, params.get(name)])),
          confirmation: binding,
        }),
      );
    }
    if (answer.clearSession) clearSessionCookie(deps, ctx);
    if (answer.redirectTo !== "") return redirect(ctx, ctx.method === "POST" ? 303 : 302, answer.redirectTo);
    page(ctx, 200, signedOutPage({ projectName: answer.projectName }));
  } catch (err) {
    const e = toWireError(err, deps.logger);
    setRetryAfter(ctx, e);
    page(ctx, e.status, errorPage("Sign-out request refused", e.error, e.description));
  }
};
