import type { Context } from "koa";
import { projectUrl, type EndpointDeps } from "./endpoint.js";
import { basicCredentials, BadRequest, mediaType, parseParams, readBody, type Params } from "./http.js";
import { clientError, toWireError } from "./respond.js";

export type BasicCredentials = ReturnType<typeof basicCredentials>;

/**
 * The client-authenticated form endpoints (token, introspection,
 * revocation, pushed authorization requests): a form body, nothing in the
 * query, client credentials by Basic or in the body. Errors are RFC 6749
 * §5.2 JSON; invalid_client after Basic carries WWW-Authenticate. A body of
 * another media type is refused with `mediaTypeStatus`: 400 where the
 * endpoint always answered so, 415 (RFC 9110 §15.5.16) for the others.
 */
export function clientForm(
  deps: EndpointDeps,
  name: string,
  handle: (ctx: Context, params: Params, basic: BasicCredentials) => Promise<void>,
  mediaTypeStatus: 400 | 415 = 400,
) {
  return async (ctx: Context): Promise<void> => {
    let usedBasic = false;
    try {
      if (ctx.querystring !== "") throw new BadRequest(400, `${name} request parameters must be sent in the body, not the query`);
      if (mediaType(ctx) !== "application/x-www-form-urlencoded") {
        throw new BadRequest(mediaTypeStatus, `the ${name} request must be application/x-www-form-urlencoded`);
      }
      usedBasic = ctx.get("authorization") !== "";
      const basic = basicCredentials(ctx);
      await handle(ctx, parseParams(await readBody(ctx, deps.maxBodyBytes)), basic);
    } catch (err) {
      clientError(ctx, toWireError(err, deps.logger), usedBasic ? projectUrl(deps, ctx) : undefined);
    }
  };
}

/**
 * The client authentication of every client-authenticated endpoint (the
 * core's ClientAuthentication): a secret in the body or by Basic, or a
 * private_key_jwt assertion (RFC 7523 §2.2), read here for them all.
 */
export function clientOf(params: Params, basic: BasicCredentials) {
  return {
    clientId: params.get("client_id"),
    clientSecret: params.get("client_secret"),
    basic,
    clientAssertionType: params.get("client_assertion_type"),
    clientAssertion: params.get("client_assertion"),
  };
}
