import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/**
 * OpenID Connect Core §6: request objects are not supported, so a request
 * that passes one (by value or by reference) is refused with the codes of
 * §6.1 and §3.1.2.6 rather than served with parameters it did not mean: a
 * `state` inside the object, say, would be silently lost. Dynamic
 * registration in the request (`registration`, §7.2.1) likewise. Runs once
 * the redirect URI is trusted, so the refusal is redirected to the client.
 *
 * The request_uri of a pushed request (RFC 9126 §4) never reaches here: the
 * request it stands for replaces it first (authorization/pushed.ts), and
 * a pushed request may not hold one (rpc/push-authorization-request.ts).
 * Any request_uri seen here is a request object by reference (RFC 9101).
 */
export const checkRequestObject: AuthorizeCheck = (ctx) => {
  const { request } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  if (request.request !== "") {
    throw redirectError(target, "request_not_supported", "request objects (the request parameter) are not supported");
  }
  if (request.requestUri !== "") {
    throw redirectError(target, "request_uri_not_supported", "request objects by reference (request_uri) are not supported");
  }
  if (request.registration !== "") {
    throw redirectError(target, "registration_not_supported", "the registration parameter is not supported");
  }
};
