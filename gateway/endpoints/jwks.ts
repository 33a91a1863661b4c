import { projectOf, type Endpoint } from "../endpoint.js";
import { errorJson, publicJson, toWireError } from "../respond.js";

/**
 * The project's public keys (RFC 7517 JWK Set): EC keys with crv, x and y
 * (RFC 7518 §6.2), RSA keys with n and e (§6.3); the members of the other
 * key type, empty in the core's answer, are left out.
 */
export const jwks: Endpoint = (deps) => async (ctx) => {
  try {
    const answer = await deps.services.tokens.getJwks(projectOf(ctx));
    publicJson(ctx, {
      keys: answer.keys.map(({ kty, crv, x, y, n, e, kid, alg, use }) =>
        Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid, alg, use }).filter(([, value]) => value !== "")),
      ),
    });
  } catch (err) {
    errorJson(ctx, toWireError(err, deps.logger));
  }
};
