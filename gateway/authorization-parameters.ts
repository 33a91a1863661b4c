import type { Params } from "./http.js";

/**
 * The parameters of an authorization request, as AuthorizeRequest names
 * them, from the query of GET /authorize, the form of POST /authorize or the
 * body of a pushed request (POST /par, RFC 9126 §2.1): one reading for the
 * three, so that a parameter the authorization endpoint learns is read
 * wherever a request can be sent. The core decides what each means.
 */
export function authorizationParameters(params: Params) {
  return {
    responseType: params.get("response_type"),
    clientId: params.get("client_id"),
    redirectUri: params.get("redirect_uri"),
    scope: params.get("scope"),
    state: params.get("state"),
    codeChallenge: params.get("code_challenge"),
    codeChallengeMethod: params.get("code_challenge_method"),
    nonce: params.get("nonce"),
    prompt: params.get("prompt"),
    maxAge: params.get("max_age"),
    idTokenHint: params.get("id_token_hint"),
    loginHint: params.get("login_hint"),
    acrValues: params.get("acr_values"),
    uiLocales: params.get("ui_locales"),
    claimsLocales: params.get("claims_locales"),
    claims: params.get("claims"),
    request: params.get("request"),
    requestUri: params.get("request_uri"),
    display: params.get("display"),
    responseMode: params.get("response_mode"),
    registration: params.get("registration"),
    iamAction: params.get("iam_action"),
    dpopJkt: params.get("dpop_jkt"),
    // RFC 8707 §2: every value, in order.
    resource: params.getAll("resource"),
  };
}
