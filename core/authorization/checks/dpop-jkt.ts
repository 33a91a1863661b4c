import type { AuthorizeCheck } from "../context.js";
import { redirectError } from "../errors.js";

/**
 * RFC 9449 §10: `dpop_jkt` binds the code to a DPoP key, named by its JWK
 * SHA-256 thumbprint (RFC 7638: 32 bytes, 43 base64url characters); the
 * code's exchange must then come with a proof of that key.
 */
export const checkDpopJkt: AuthorizeCheck = (ctx) => {
  const { request } = ctx;
  if (request.dpopJkt === "" || /^[A-Za-z0-9_-]{43}$/.test(request.dpopJkt)) return;
  throw redirectError(
    { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer },
    "invalid_request",
    "dpop_jkt must be a JWK SHA-256 thumbprint: 43 base64url characters",
  );
};
