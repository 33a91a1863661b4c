import { ConnectError } from "@connectrpc/connect";
import type { Context } from "koa";
import { LoginFailureSchema, type LoginResponse, type PendingSignIn, type SecondFactorStep } from "../../gen/iam/v1/authorization_pb.js";
import { presentedBinding } from "../browser-binding.js";
import { projectOf, projectPath, type Endpoint, type EndpointDeps } from "../endpoint.js";
import { challengePage, enrolPage, recoveryCodesPage, type RefusedMethod } from "../factor-pages.js";
import { BadRequest, mediaType, readFormOrJson, stringField } from "../http.js";
import { consentPage, loginPage, passkeyPageSecurityHeaders, type LoginPage } from "../pages.js";
import { authorizationError, json, page, redirect, toWireError, type WireError } from "../respond.js";
import { readSessionCookie, setSessionCookie } from "../session-cookie.js";
import { scriptUrls } from "./assets.js";

/** The pending sign-in a call of this browser (or API caller) continues. */
export function pendingSignIn(deps: EndpointDeps, ctx: Context, requestId: string, binding: string | undefined): PendingSignIn {
  return {
    $typeName: "iam.v1.PendingSignIn",
    ...projectOf(ctx),
    requestId,
    browserBinding: binding,
    clientAddress: ctx.ip,
    userAgent: ctx.get("user-agent"),
    session: readSessionCookie(deps, ctx),
  };
}

export interface ShownStep {
  requestId: string;
  step: Pick<SecondFactorStep, "stage" | "methods" | "username" | "adding">;
  clientName: string;
  projectName: string;
  /** The browser binding the forms will present ("" for none). */
  binding: string | undefined;
  error?: string;
  /** What the refused attempt used, whose field the page marks. */
  refused?: RefusedMethod;
  lockedFor?: number;
}

/**
 * The page of a sign-in's second step: the challenge, or the enrolment of a
 * first factor. It begins what the page needs: a passkey ceremony (its
 * single-use challenge), an authenticator app's secret.
 */
export async function showSecondFactor(deps: EndpointDeps, ctx: Context, shown: ShownStep, status = 200): Promise<void> {
  const signIn = pendingSignIn(deps, ctx, shown.requestId, shown.binding);
  const { authorization } = deps.services;
  const scripts = scriptUrls(deps.baseUrl);
  const common = {
    action: `${projectPath(ctx)}/factor`,
    requestId: shown.requestId,
    clientName: shown.clientName,
    projectName: shown.projectName,
    username: shown.step.username,
    scripts,
    ...(shown.error !== undefined ? { error: shown.error, refused: shown.refused } : {}),
    ...(shown.lockedFor !== undefined ? { lockedFor: shown.lockedFor } : {}),
  };
  const headers = passkeyPageSecurityHeaders(scripts);
  if (shown.step.stage === "enrol") {
    const totp = await authorization.startTotpEnrolment({ signIn });
    const passkey = await authorization.startPasskey({ signIn, purpose: "register" });
    return page(ctx, status, enrolPage({ ...common, adding: shown.step.adding === true, totp, passkeyOptions: passkey.optionsJson }), headers);
  }
  const passkey = shown.step.methods.includes("passkey") ? (await authorization.startPasskey({ signIn, purpose: "authenticate" })).optionsJson : undefined;
  page(ctx, status, challengePage({ ...common, methods: shown.step.methods, ...(passkey !== undefined ? { passkeyOptions: passkey } : {}) }), passkey === undefined ? undefined : headers);
}

/** A completed sign-in, for a browser: its session cookie, then the recovery codes, the consent page or the client. */
export function signedIn(deps: EndpointDeps, ctx: Context, answer: LoginResponse, recoveryCodes: readonly string[] = []): void {
  if (answer.session !== undefined) setSessionCookie(deps, ctx, answer.session);
  const consent = {
    action: `${projectPath(ctx)}/consent`,
    requestId: answer.requestId,
    clientName: answer.client?.name ?? "",
    clientHost: answer.client?.metadataDocumentHost ?? "",
    projectName: answer.projectName,
    scopes: answer.scopes,
    resources: answer.resources,
  };
  const done = answer.redirectTo !== "";
  if (recoveryCodes.length > 0) {
    return page(ctx, 200, recoveryCodesPage({ projectName: answer.projectName, codes: recoveryCodes, ...(done ? { redirectTo: answer.redirectTo } : { consent }) }));
  }
  if (done) return redirect(ctx, 303, answer.redirectTo);
  page(ctx, 200, consentPage(consent));
}

/** A completed sign-in, as JSON: what Login answers, and the recovery codes when there are any. */
export function signedInJson(deps: EndpointDeps, ctx: Context, answer: LoginResponse, recoveryCodes: readonly string[] = []): void {
  if (answer.session !== undefined) setSessionCookie(deps, ctx, answer.session);
  const scopes = answer.scopes.map(({ name, description }) => ({ name, description }));
  json(ctx, 200, {
    request_id: answer.requestId,
    scopes,
    ...resourcesJson(answer.resources),
    ...(answer.redirectTo !== "" ? { redirect_to: answer.redirectTo } : {}),
    ...(recoveryCodes.length > 0 ? { recovery_codes: recoveryCodes } : {}),
  });
}

/** The resources a client asks access to (RFC 8707), as the JSON answers beside `scopes` name them; nothing when none. */
export const resourcesJson = (resources: readonly { uri: string; name: string }[]) =>
  resources.length === 0 ? {} : { resources: resources.map(({ uri, name }) => ({ uri, name })) };

/** A step due, as JSON: what the client drives next (POST /factor, /factor/totp, /factor/passkey-options). */
export const secondFactorJson = (requestId: string, step: Pick<SecondFactorStep, "stage" | "methods" | "adding">) => ({
  request_id: requestId,
  second_factor: { stage: step.stage, methods: step.methods, ...(step.adding ? { adding: true } : {}) },
});

/**
 * POST /factor: a sign-in's second step, from its pages or as JSON.
 * `step=verify` with `totp_code`, `recovery_code` or `passkey_response`;
 * `step=enrol` with `factor_id` and `totp_code`, or `passkey_response`;
 * `step=passkey` (the login page's passkey alone) with `passkey_response`.
 */
export const factor: Endpoint = (deps) => async (ctx) => {
  let asJson = mediaType(ctx) === "application/json";
  let requestId = "";
  let stepName = "";
  let refused: RefusedMethod = "totp";
  try {
    const { form, body } = await readFormOrJson(ctx, deps.maxBodyBytes);
    asJson = !form;
    requestId = stringField(body, "request_id");
    stepName = stringField(body, "step");
    const signIn = pendingSignIn(deps, ctx, requestId, presentedBinding(ctx, form));
    const fields = { totpCode: stringField(body, "totp_code"), passkeyResponse: stringField(body, "passkey_response") };
    const recoveryCode = stringField(body, "recovery_code");
    refused = fields.passkeyResponse !== "" ? "passkey" : recoveryCode !== "" ? "recovery_code" : "totp";
    const { authorization } = deps.services;
    if (stepName === "enrol") {
      const answer = await authorization.finishEnrolment({ signIn, ...fields, factorId: stringField(body, "factor_id") });
      return (asJson ? signedInJson : signedIn)(deps, ctx, answer.login!, answer.recoveryCodes);
    }
    if (stepName !== "verify" && stepName !== "passkey") throw new BadRequest(400, 'step must be "verify", "enrol" or "passkey"');
    const answer = await authorization.verifyFactor({ signIn, ...fields, recoveryCode });
    const next = answer.login!.secondFactor;
    // iam_action=add_factor: now the enrolment of one more.
    if (next !== undefined) {
      if (asJson) return json(ctx, 200, secondFactorJson(answer.login!.requestId, next));
      const names = { clientName: answer.login!.client?.name ?? "", projectName: answer.login!.projectName };
      return await showSecondFactor(deps, ctx, { requestId, step: next, ...names, binding: presentedBinding(ctx, form) });
    }
    (asJson ? signedInJson : signedIn)(deps, ctx, answer.login!, answer.recoveryCodes);
  } catch (err) {
    const e = toWireError(err, deps.logger);
    const refusal = signInRefusal(ctx, e, err);
    if (refusal === undefined) return authorizationError(ctx, e, asJson, 303);
    if (asJson) return refusal.json();
    const { failure, retryAfter, names } = refusal;
    const message = e.status === 429 ? undefined : `${e.description.charAt(0).toUpperCase()}${e.description.slice(1)}.`;
    if (failure?.secondFactor !== undefined && e.status === 401) {
      return showSecondFactor(deps, ctx, { requestId, step: failure.secondFactor, ...names, binding: presentedBinding(ctx, true), error: message!, refused }, 401);
    }
    // A passkey alone refused, or a lockout: the login page again.
    await loginPageAgain(deps, ctx, e.status, { requestId, ...names, error: message ?? "", refusedElsewhere: true, lockedFor: retryAfter }, failure?.passwordless === true);
  }
};

/**
 * The login page shown again after a refusal, with its "Sign in with a
 * passkey" where the project allows it (a new ceremony: each is answered
 * once). Not while sign-in is locked, nor once the request is spent.
 */
export async function loginPageAgain(
  deps: EndpointDeps,
  ctx: Context,
  status: number,
  shown: Omit<LoginPage, "action" | "passkey">,
  passwordless: boolean,
): Promise<void> {
  let passkey: LoginPage["passkey"];
  if (passwordless && !(shown.lockedFor! > 0)) {
    try {
      const signIn = pendingSignIn(deps, ctx, shown.requestId, presentedBinding(ctx, true));
      const options = (await deps.services.authorization.startPasskey({ signIn, purpose: "authenticate" })).optionsJson;
      passkey = { options, factorAction: `${projectPath(ctx)}/factor`, scripts: scriptUrls(deps.baseUrl) };
    } catch {
      // The request is spent or gone: the page without a passkey, its own error says why.
    }
  }
  const body = loginPage({ action: `${projectPath(ctx)}/authorize`, ...shown, ...(passkey !== undefined ? { passkey } : {}) });
  page(ctx, status, body, passkey === undefined ? undefined : passkeyPageSecurityHeaders(passkey.scripts));
}

/**
 * A refused sign-in step (401, or 429 while locked), as the password and the
 * second step answer it: the LoginFailure its page needs, the seconds to
 * wait (told in Retry-After), and the JSON answer for API callers. Undefined
 * for any other error.
 */
export function signInRefusal(ctx: Context, e: WireError, err: unknown) {
  if (e.status !== 401 && e.status !== 429) return undefined;
  const failure = err instanceof ConnectError ? err.findDetails(LoginFailureSchema)[0] : undefined;
  const retryAfter = e.status === 429 ? Math.max(1, Number(failure?.retryAfter ?? 60n)) : 0;
  if (retryAfter > 0) ctx.set("Retry-After", String(retryAfter));
  return {
    failure,
    retryAfter,
    /** The project's and client's names for the page, from the failure when the request was known. */
    names: {
      clientName: failure?.client?.name || "The application",
      clientHost: failure?.client?.metadataDocumentHost ?? "",
      projectName: failure?.projectName || projectOf(ctx).project,
    },
    json: () => json(ctx, e.status, { error: e.error, error_description: e.description, ...(retryAfter > 0 ? { retry_after: retryAfter } : {}) }),
  };
}

/** POST /factor/totp (JSON): a new authenticator app secret for the user due to enrol. */
export const factorTotp: Endpoint = (deps) => async (ctx) => {
  try {
    const { form, body } = await readFormOrJson(ctx, deps.maxBodyBytes);
    const answer = await deps.services.authorization.startTotpEnrolment({ signIn: pendingSignIn(deps, ctx, stringField(body, "request_id"), presentedBinding(ctx, form)) });
    json(ctx, 200, { factor_id: answer.factorId, secret: answer.secret, uri: answer.uri });
  } catch (err) {
    authorizationError(ctx, toWireError(err, deps.logger), true, 303);
  }
};

/** POST /factor/passkey-options (JSON): the WebAuthn options of a ceremony, `purpose` `authenticate` or `register`. */
export const factorPasskeyOptions: Endpoint = (deps) => async (ctx) => {
  try {
    const { form, body } = await readFormOrJson(ctx, deps.maxBodyBytes);
    const signIn = pendingSignIn(deps, ctx, stringField(body, "request_id"), presentedBinding(ctx, form));
    const answer = await deps.services.authorization.startPasskey({ signIn, purpose: stringField(body, "purpose") });
    ctx.set("Cache-Control", "no-store");
    ctx.status = 200;
    ctx.type = "application/json";
    ctx.body = answer.optionsJson;
  } catch (err) {
    authorizationError(ctx, toWireError(err, deps.logger), true, 303);
  }
};
