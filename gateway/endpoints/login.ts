import { presentedBinding } from "../browser-binding.js";
import { projectOf, projectPath, type Endpoint } from "../endpoint.js";
import { mediaType, readFormOrJson, stringField } from "../http.js";
import { consentPage } from "../pages.js";
import { authorizationError, json, page, redirect, toWireError } from "../respond.js";
import { readSessionCookie, setSessionCookie } from "../session-cookie.js";
import { authorizationRequest } from "./authorize.js";
import { loginPageAgain, resourcesJson, secondFactorJson, showSecondFactor, signInRefusal } from "./factor.js";

/**
 * Step 2, POST /authorize: the user's credentials, from the login form or as
 * JSON. The answer is the consent page (or the scopes as JSON), or, when the
 * client remembers a consent already given, the way back to it.
 */
export const login: Endpoint = (deps) => async (ctx) => {
  let asJson = mediaType(ctx) === "application/json";
  let requestId = "";
  let username = "";
  try {
    const { form, body, params } = await readFormOrJson(ctx, deps.maxBodyBytes);
    // A form post without request_id but with response_type (or the
    // request_uri of a pushed request, RFC 9126 §4) is an authorization
    // request sent by POST, not a login.
    if (params !== undefined && params.get("request_id") === "" && (params.get("response_type") !== "" || params.get("request_uri") !== "")) {
      return await authorizationRequest(deps, ctx, params, 303);
    }
    asJson = !form;
    requestId = stringField(body, "request_id");
    username = stringField(body, "username");
    const answer = await deps.services.authorization.login({
      ...projectOf(ctx),
      requestId,
      username,
      password: stringField(body, "password"),
      browserBinding: presentedBinding(ctx, form),
      clientAddress: ctx.ip,
      repeatedParameters: params?.repeated ?? [],
      userAgent: ctx.get("user-agent"),
      session: readSessionCookie(deps, ctx),
    });
    // A second factor due: its page (or, as JSON, what to call next).
    if (answer.secondFactor !== undefined) {
      if (asJson) return json(ctx, 200, secondFactorJson(answer.requestId, answer.secondFactor));
      const names = { clientName: answer.client?.name ?? "", projectName: answer.projectName };
      return await showSecondFactor(deps, ctx, { requestId: answer.requestId, step: answer.secondFactor, ...names, binding: presentedBinding(ctx, true) });
    }
    if (answer.session !== undefined) setSessionCookie(deps, ctx, answer.session);
    const scopes = answer.scopes.map(({ name, description }) => ({ name, description }));
    if (answer.redirectTo !== "") {
      // The client remembers consent and the user had given it: the request is complete.
      if (asJson) return json(ctx, 200, { request_id: answer.requestId, scopes, redirect_to: answer.redirectTo });
      return redirect(ctx, 303, answer.redirectTo);
    }
    if (asJson) return json(ctx, 200, { request_id: answer.requestId, scopes, ...resourcesJson(answer.resources) });
    page(
      ctx,
      200,
      consentPage({
        action: `${projectPath(ctx)}/consent`,
        requestId: answer.requestId,
        clientName: answer.client?.name ?? "",
        clientHost: answer.client?.metadataDocumentHost ?? "",
        projectName: answer.projectName,
        scopes: answer.scopes,
        resources: answer.resources,
      }),
    );
  } catch (err) {
    const e = toWireError(err, deps.logger);
    const refusal = signInRefusal(ctx, e, err);
    if (refusal === undefined) return authorizationError(ctx, e, asJson, 303);
    if (asJson) return refusal.json();
    // A failed or locked sign-in: the form again, with a message that does
    // not say which part was wrong, or how long to wait.
    const shown = { requestId, ...refusal.names, username, error: "Invalid username or password.", lockedFor: refusal.retryAfter };
    await loginPageAgain(deps, ctx, e.status, shown, refusal.failure?.passwordless === true);
  }
};
