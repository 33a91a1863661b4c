import { pkceRule } from "../../tokens/profile.js";
import { isPkceValue, parseChallengeMethod } from "../../lib/pkce.js";
import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/**
 * RFC 7636 §4.3 and §4.4.1: a challenge must be 43-128 unreserved characters
 * with a supported method; it is required from public clients and from
 * clients configured to require it (RFC 9700 §2.1.1), and only S256 is
 * taken from a FAPI 2.0 client.
 */
export const checkPkce: AuthorizeCheck = (ctx) => {
  const { request, client } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  if (request.codeChallenge === "") {
    if (request.codeChallengeMethod !== "") {
      throw redirectError(target, "invalid_request", "code_challenge_method given without code_challenge");
    }
    if (pkceRule(client!).required) {
      throw redirectError(target, "invalid_request", "code_challenge is required (PKCE, RFC 7636)");
    }
    ctx.codeChallengeMethod = "";
    return;
  }
  const method = parseChallengeMethod(request.codeChallengeMethod);
  if (method === undefined) {
    throw redirectError(target, "invalid_request", "code_challenge_method must be S256 or plain");
  }
  // FAPI 2.0 Security Profile §5.3.2.2 item 5: S256 only.
  if (method !== "S256" && pkceRule(client!).s256Only) {
    throw redirectError(target, "invalid_request", "code_challenge_method must be S256 for this client");
  }
  if (!isPkceValue(request.codeChallenge)) {
    throw redirectError(target, "invalid_request", "code_challenge must be 43-128 characters of [A-Za-z0-9-._~]");
  }
  ctx.codeChallengeMethod = method;
};
