import { authorizationParameters } from "../authorization-parameters.js";
import { clientForm, clientOf } from "../client-form.js";
import { projectOf, type Endpoint } from "../endpoint.js";
import { json } from "../respond.js";

/**
 * POST /par, the pushed authorization request endpoint (RFC 9126 §2): a
 * form body holding an authorization request's parameters and the client's
 * authentication, read as the authorization endpoint and the token endpoint
 * read them; the core decides. The answer is 201 with the request_uri and
 * its lifetime, never cached (§2.2); a refusal is the token endpoint's JSON
 * error (§2.3), invalid_client 401 (with its Basic challenge after Basic).
 */
export const par: Endpoint = (deps) =>
  clientForm(
    deps,
    "pushed authorization",
    async (ctx, params, basic) => {
      const answer = await deps.services.authorization.pushAuthorizationRequest({
        ...projectOf(ctx),
        client: clientOf(params, basic),
        authorization: authorizationParameters(params),
        repeatedParameters: params.repeated,
        // RFC 9449 §10.1: a proof of possession binds the code to its key.
        dpopProof: ctx.get("dpop"),
      });
      json(ctx, 201, { request_uri: answer.requestUri, expires_in: Number(answer.expiresIn) });
    },
    415,
  );
