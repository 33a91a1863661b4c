import { projectOf, type Endpoint } from "../endpoint.js";
import { errorJson, publicJson, toWireError } from "../respond.js";

/** The project's public keys (RFC 7517 JWK Set), for local verification of access tokens. */
export const jwks: Endpoint = (deps) => async (ctx) => {
  try {
    const answer = await deps.services.tokens.getJwks(projectOf(ctx));
    // Each key with the members of its type only: EC (RFC 7518 §6.2.1) or RSA (§6.3.1).
    const keys = answer.keys.map(({ kty, crv, x, y, n, e, kid, alg, use }) =>
      kty === "RSA" ? { kty, n, e, kid, alg, use } : { kty, crv, x, y, kid, alg, use },
    );
    publicJson(ctx, { keys });
  } catch (err) {
    errorJson(ctx, toWireError(err, deps.logger));
  }
};
