import { clientForm, clientOf } from "../client-form.js";
import { projectOf, type Endpoint } from "../endpoint.js";
import { json } from "../respond.js";

/**
 * Token revocation (RFC 7009 §2): 200, also for unknown tokens. §2.2 says the
 * client ignores the content; the answer is the empty JSON object, never
 * cached, which every client accepts: those that read the status only, those
 * that refuse any media type but JSON (oidc-client-ts), and those that parse
 * a 200 answer as JSON.
 */
export const revoke: Endpoint = (deps) =>
  clientForm(deps, "revocation", async (ctx, params, basic) => {
    await deps.services.tokens.revoke({
      ...projectOf(ctx),
      token: params.get("token"),
      tokenTypeHint: params.get("token_type_hint"),
      client: clientOf(params, basic),
      repeatedParameters: params.repeated,
    });
    json(ctx, 200, {});
  });
