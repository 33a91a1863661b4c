import { clientForm, clientOf } from "../client-form.js";
import { projectOf, type Endpoint } from "../endpoint.js";
import { json } from "../respond.js";

/**
 * Step 5, POST /token (RFC 6749 §3.2): the parameters, and the names given
 * more than once, go to the core, which decides what to refuse and what each
 * grant reads (core/protocol/parameters.ts).
 */
export const token: Endpoint = (deps) =>
  clientForm(deps, "token", async (ctx, params, basic) => {
    const answer = await deps.services.tokens.token({
      ...projectOf(ctx),
      grantType: params.get("grant_type"),
      code: params.get("code"),
      redirectUri: params.get("redirect_uri"),
      codeVerifier: params.get("code_verifier"),
      refreshToken: params.get("refresh_token"),
      scope: params.get("scope"),
      username: params.get("username"),
      password: params.get("password"),
      // RFC 8707 §2: every value, in order.
      resource: params.getAll("resource"),
      // Token exchange (RFC 8693 §2.1).
      subjectToken: params.get("subject_token"),
      subjectTokenType: params.get("subject_token_type"),
      actorToken: params.get("actor_token"),
      actorTokenType: params.get("actor_token_type"),
      audience: params.get("audience"),
      requestedTokenType: params.get("requested_token_type"),
      client: clientOf(params, basic),
      repeatedParameters: params.repeated,
      dpopProof: ctx.get("dpop"),
    });
    json(ctx, 200, {
      access_token: answer.accessToken,
      ...(answer.issuedTokenType !== "" ? { issued_token_type: answer.issuedTokenType } : {}),
      token_type: answer.tokenType,
      expires_in: Number(answer.expiresIn),
      ...(answer.refreshToken !== "" ? { refresh_token: answer.refreshToken } : {}),
      scope: answer.scope,
      ...(answer.idToken !== "" ? { id_token: answer.idToken } : {}),
    });
  });
