import { presentedBinding } from "../browser-binding.js";
import { projectOf, type Endpoint } from "../endpoint.js";
import { BadRequest, mediaType, readFormOrJson, sentByScript, stringField, stringListField } from "../http.js";
import { authorizationError, json, redirect, toWireError } from "../respond.js";

/** Step 3, POST /consent: the user's decision, then back to the client with the code. */
export const consent: Endpoint = (deps) => async (ctx) => {
  let asJson = mediaType(ctx) === "application/json";
  try {
    // The person decides on the consent page; a page's script never decides for them (http.ts, sentByScript).
    if (sentByScript(ctx)) throw new BadRequest(403, "consent is given on the consent page, not by a script");
    const { form, body, params } = await readFormOrJson(ctx, deps.maxBodyBytes);
    asJson = !form;
    if (body.deny !== undefined && typeof body.deny !== "boolean") throw new BadRequest(400, "deny must be a boolean");
    const deny = body.deny === true;
    const answer = await deps.services.authorization.consent({
      ...projectOf(ctx),
      requestId: stringField(body, "request_id"),
      scopes: form ? (body.scopes as string[]) : stringListField(body, "scopes"),
      deny,
      browserBinding: presentedBinding(ctx, form),
      repeatedParameters: params?.repeated ?? [],
    });
    if (asJson) return json(ctx, 200, { redirect_to: answer.redirectTo });
    redirect(ctx, 303, answer.redirectTo);
  } catch (err) {
    authorizationError(ctx, toWireError(err, deps.logger), asJson, 303);
  }
};
