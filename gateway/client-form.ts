import type { Context } from "koa";
import { projectUrl, type EndpointDeps } from "./endpoint.js";
import { basicCredentials, BadRequest, mediaType, parseParams, readBody, type Params } from "./http.js";
import { clientError, toWireError } from "./respond.js";

export type BasicCredentials = ReturnType<typeof basicCredentials>;

/**
 * The client-authenticated form endpoints (token, introspection,
 * revocation): a form body, nothing in the query, client credentials by
 * Basic or in the body. Errors are RFC 6749 §5.2 JSON; invalid_client after
 * Basic carries WWW-Authenticate.
 */
export function clientForm(
  deps: EndpointDeps,
  name: string,
  handle: (ctx: Context, params: Params, basic: BasicCredentials) => Promise<void>,
) {
  return async (ctx: Context): Promise<void> => {
    let usedBasic = false;
    try {
      if (ctx.querystring !== "") throw new BadRequest(400, `${name} request parameters must be sent in the body, not the query`);
      if (mediaType(ctx) !== "application/x-www-form-urlencoded") {
        throw new BadRequest(400, `the ${name} request must be application/x-www-form-urlencoded`);
      }
      usedBasic = ctx.get("authorization") !== "";
      const basic = basicCredentials(ctx);
      await handle(ctx, parseParams(await readBody(ctx, deps.maxBodyBytes)), basic);
    } catch (err) {
      clientError(ctx, toWireError(err, deps.logger), usedBasic ? projectUrl(deps, ctx) : undefined);
    }
  };
}

/** The client authentication of introspection and revocation: in the body, or Basic. */
export function clientOf(params: Params, basic: BasicCredentials) {
  return { clientId: params.get("client_id"), clientSecret: params.get("client_secret"), basic };
}
