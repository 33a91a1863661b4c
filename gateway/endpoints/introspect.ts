import type { TokenActor } from "../../gen/iam/v1/token_pb.js";
import { clientForm, clientOf } from "../client-form.js";
import { projectOf, type Endpoint } from "../endpoint.js";
import { json } from "../respond.js";

/** Token introspection (RFC 7662 §2): only `active` for a token that is not. */
export const introspect: Endpoint = (deps) =>
  clientForm(deps, "introspection", async (ctx, params, basic) => {
    const a = await deps.services.tokens.introspect({
      ...projectOf(ctx),
      token: params.get("token"),
      tokenTypeHint: params.get("token_type_hint"),
      client: clientOf(params, basic),
      repeatedParameters: params.repeated,
    });
    if (!a.active) return json(ctx, 200, { active: false });
    json(ctx, 200, {
      active: true,
      scope: a.scope,
      client_id: a.clientId,
      ...(a.username !== "" ? { username: a.username } : {}),
      token_type: a.tokenType,
      exp: Number(a.exp),
      iat: Number(a.iat),
      sub: a.sub,
      aud: a.aud.length === 1 ? a.aud[0] : a.aud,
      iss: a.iss,
      ...(a.jti !== "" ? { jti: a.jti } : {}),
      // RFC 9449 §6.2: the key a DPoP-bound token is bound to.
      ...(a.cnfJkt !== "" ? { cnf: { jkt: a.cnfJkt } } : {}),
      // How and when the user signed in (RFC 9470 §6.2); absent for a client's own token.
      ...(a.authTime !== 0n ? { auth_time: Number(a.authTime) } : {}),
      ...(a.acr !== "" ? { acr: a.acr } : {}),
      ...(a.amr.length > 0 ? { amr: a.amr } : {}),
      // RFC 8693 §4.1: the party acting for the subject, and the one before it in a chain.
      ...(a.act !== undefined ? { act: actJson(a.act) } : {}),
    });
  });

type Act = { sub: string; client_id: string; act?: Act };
const actJson = (a: TokenActor): Act => ({ sub: a.sub, client_id: a.clientId, ...(a.actor !== undefined ? { act: actJson(a.actor) } : {}) });
