import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/** RFC 6749 §4.1.1 and §4.1.2.1: only `code` is supported. */
export const checkResponseType: AuthorizeCheck = (ctx) => {
  const { request } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  if (request.responseType === "") throw redirectError(target, "invalid_request", "response_type is missing");
  if (request.responseType !== "code") {
    throw redirectError(target, "unsupported_response_type", "only response_type=code is supported");
  }
};
