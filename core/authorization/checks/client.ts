import { OAuthError } from "../../errors.js";
import { PARAMETERS, repeatedParameters } from "../../protocol/parameters.js";
import type { AuthorizeCheck } from "../context.js";
import { clientNamed } from "../../clients/metadata-client.js";

/**
 * The project and the client must exist. Failures are shown to the user, never
 * redirected: without a known client there is no redirect URI to trust
 * (RFC 6749 §4.1.2.1). A client_id that is a URL names a client ID metadata
 * document, fetched and validated before anything else is trusted
 * (draft-ietf-oauth-client-id-metadata-document §4, §6).
 */
export const checkClient: AuthorizeCheck = async (ctx) => {
  const { request, deps } = ctx;
  if (repeatedParameters(PARAMETERS.authorize, request.repeatedParameters).includes("client_id")) {
    throw new OAuthError("invalid_request", "client_id must not be repeated");
  }
  const project = await deps.store.getProject(request);
  if (project === undefined) throw new OAuthError("invalid_request", "unknown organization or project");
  if (request.clientId === "") throw new OAuthError("invalid_request", "client_id is missing");
  const client = await clientNamed(deps, request, request.clientId, "invalid_request");
  if (client === undefined) throw new OAuthError("invalid_request", "unknown client");
  if (!client.grantTypes.includes("authorization_code")) {
    throw new OAuthError("unauthorized_client", "this client may not use the authorization code flow");
  }
  ctx.project = project;
  ctx.client = client;
};
