import { projectOf, projectUrl, type Endpoint } from "../endpoint.js";
import { BadRequest, mediaType, parseParams, readBody } from "../http.js";
import { bearerError, bearerTokenRequired, json, toWireError } from "../respond.js";

/** UserInfo (OpenID Connect Core §5.3), GET or POST, Bearer token (RFC 6750 §2.1, §2.2) or DPoP-bound token (RFC 9449 §7). */
export const userinfo: Endpoint = (deps) => async (ctx) => {
  const realm = projectUrl(deps, ctx);
  // The scheme the token came with: a refusal is told under it (RFC 9449 §7.1).
  let scheme: "Bearer" | "DPoP" = "Bearer";
  try {
    let token = "";
    const header = ctx.get("authorization");
    if (header !== "") {
      // RFC 6750 §2.1, and RFC 9449 §7.1 for a DPoP-bound token.
      const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
      if (match === null) throw new BadRequest(401, "the Authorization header must be a Bearer or DPoP token");
      scheme = match[1]!.toLowerCase() === "dpop" ? "DPoP" : "Bearer";
      token = match[2]!;
    }
    if (ctx.method === "POST" && mediaType(ctx) === "application/x-www-form-urlencoded") {
      const params = parseParams(await readBody(ctx, deps.maxBodyBytes));
      const inBody = params.get("access_token");
      // RFC 6750 §2: one method per request.
      if (inBody !== "" && token !== "") throw new BadRequest(400, "send the access token once");
      token ||= inBody;
    }
    if (token === "") return bearerTokenRequired(ctx, realm);
    const answer = await deps.services.tokens.userInfo({
      ...projectOf(ctx),
      token,
      authorizationScheme: scheme,
      dpopProof: ctx.get("dpop"),
      httpMethod: ctx.method,
    });
    json(ctx, 200, {
      sub: answer.sub,
      ...(answer.name !== undefined ? { name: answer.name } : {}),
      ...(answer.givenName !== undefined ? { given_name: answer.givenName } : {}),
      ...(answer.familyName !== undefined ? { family_name: answer.familyName } : {}),
      ...(answer.preferredUsername !== undefined ? { preferred_username: answer.preferredUsername } : {}),
      ...(answer.email !== undefined ? { email: answer.email } : {}),
      ...(answer.emailVerified !== undefined ? { email_verified: answer.emailVerified } : {}),
    });
  } catch (err) {
    bearerError(ctx, toWireError(err, deps.logger), realm, scheme);
  }
};
