import { OAuthError } from "../../errors.js";
import { PARAMETERS, repeatedParameters } from "../../protocol/parameters.js";
import type { AuthorizeCheck, AuthorizeContext } from "../context.js";
import { clientNamed, MetadataDocumentRefused } from "../../clients/metadata-client.js";
import type { ClientRecord } from "../../store/types.js";

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
  const client = await clientOf(ctx);
  if (client === undefined) throw new OAuthError("invalid_request", "unknown client");
  if (!client.grantTypes.includes("authorization_code")) {
    throw new OAuthError("unauthorized_client", "this client may not use the authorization code flow");
  }
  ctx.project = project;
  ctx.client = client;
};

/** The client the request names; a document's refusal is invalid_request on the error page, with its detail logged. */
async function clientOf(ctx: AuthorizeContext): Promise<ClientRecord | undefined> {
  try {
    return await clientNamed(ctx.deps, ctx.request, ctx.request.clientId);
  } catch (err) {
    if (err instanceof MetadataDocumentRefused) throw new OAuthError("invalid_request", err.message, { detail: err.detail });
    throw err;
  }
}
