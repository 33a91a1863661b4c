import { projectOf, type Endpoint } from "../endpoint.js";
import { errorJson, publicJson, toWireError } from "../respond.js";

/** The project's public keys (RFC 7517 JWK Set), for local verification of access tokens. */
export const jwks: Endpoint = (deps) => async (ctx) => {
  try {
    const answer = await deps.services.tokens.getJwks(projectOf(ctx));
    publicJson(ctx, { keys: answer.keys.map(({ kty, crv, x, y, kid, alg, use }) => ({ kty, crv, x, y, kid, alg, use })) });
  } catch (err) {
    errorJson(ctx, toWireError(err, deps.logger));
  }
};
