import { clientForm, clientOf } from "../client-form.js";
import { projectOf, type Endpoint } from "../endpoint.js";
import { emptyAnswer } from "../respond.js";

/** Token revocation (RFC 7009 §2): 200 with an empty body, also for unknown tokens. */
export const revoke: Endpoint = (deps) =>
  clientForm(deps, "revocation", async (ctx, params, basic) => {
    await deps.services.tokens.revoke({
      ...projectOf(ctx),
      token: params.get("token"),
      tokenTypeHint: params.get("token_type_hint"),
      client: clientOf(params, basic),
      repeatedParameters: params.repeated,
    });
    emptyAnswer(ctx);
  });
