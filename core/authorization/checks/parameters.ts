import { PARAMETERS, REPEATED_PARAMETERS, repeatedParameters } from "../../protocol/parameters.js";
import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

const MAX_LENGTH = 2048;

/**
 * RFC 6749 §3.1: parameters must not be repeated (client_id and redirect_uri
 * are refused earlier, on the page). Values beyond a sane length are refused
 * rather than stored.
 */
export const checkParameters: AuthorizeCheck = (ctx) => {
  const { request } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  if (repeatedParameters(PARAMETERS.authorize, request.repeatedParameters).length > 0) {
    throw redirectError(target, "invalid_request", REPEATED_PARAMETERS);
  }
  for (const [name, value] of [
    ["state", request.state],
    ["nonce", request.nonce],
    ["scope", request.scope],
  ] as const) {
    if (value.length > MAX_LENGTH) {
      throw redirectError({ ...target, state: "" }, "invalid_request", `${name} is longer than ${MAX_LENGTH} characters`);
    }
  }
};
