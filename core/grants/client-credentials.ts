import { party, recordSuccess } from "../audit/record.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken } from "../lib/crypto.js";
import { parseScope, selectScopes } from "../lib/scopes.js";
import { issueAccessToken, type IssuedTokens } from "../tokens/issue.js";
import { accessTarget } from "../tokens/resources.js";
import { grantEvent, refusalsRecorded, resourcesNoted, type GrantEvent } from "./audit.js";
import type { Grant, GrantContext } from "./types.js";

const GRANT_TYPE = "client_credentials";
/** How far past a new token's expiry a client grant is pushed, so most issuances write nothing. */
const EXTENSION = 3600;

/**
 * `client_credentials` (RFC 6749 §4.4): a confidential client acting for
 * itself. Its scopes are the permissions of its own roles; no refresh token
 * is issued (§4.4.3). Every token of a client hangs off one grant of the
 * client, so deleting the client (or revoking that grant) stops them all.
 *
 * Audited: TOKEN_ISSUED, the client its own target, or, refused, with the
 * RFC error as reason.
 */
export const clientCredentialsGrant: Grant = {
  grantType: GRANT_TYPE,
  parameters: ["scope", "resource"],
  async handler(ctx) {
    const event = grantEvent(ctx.project, ctx.client, GRANT_TYPE, party("client", ctx.client.id));
    return refusalsRecorded(ctx.deps, event, "TOKEN_ISSUED", () => issue(ctx, event));
  },
};

/** The client's scopes selected and its token signed, off its one client grant. */
async function issue({ deps, request, project, client, dpop }: GrantContext, event: GrantEvent): Promise<IssuedTokens> {
  if (client.type !== "confidential") {
    throw new OAuthError("unauthorized_client", "only confidential clients may use client_credentials");
  }
  const requested = parseScope(request.scope);
  if (requested === undefined) throw new OAuthError("invalid_scope", "scope has characters RFC 6749 §3.3 does not allow");
  const held = (await deps.store.getClientPermissions(project, client.id)).map((p) => p.id);
  const selected = selectScopes(requested, held);
  if (requested.length > 0 && selected.length === 0) {
    throw new OAuthError("invalid_scope", "the client holds none of the requested scopes");
  }
  // RFC 8707 §2: registered resources of the project; the token is for them only, with the scopes they accept.
  const { resources, scopes } = await accessTarget(deps.store, project, request.resource, [], selected);
  if (requested.length > 0 && scopes.length === 0) {
    throw new OAuthError("invalid_scope", "the requested resources accept none of the client's scopes");
  }

  const now = epochSeconds(deps.clock);
  let grant = await deps.store.findClientGrant(project, client.id);
  if (grant === undefined) {
    grant = {
      organization: project.organization,
      project: project.project,
      id: randomToken(16),
      clientId: client.id,
      kind: "client",
      userId: "",
      scopes: [],
      authTime: now,
      createdAt: now,
      expiresAt: now + client.accessTokenTtl + EXTENSION,
      sessionId: "",
      acr: "",
      amr: [],
      claims: "",
      revokedAt: null,
      dpopJkt: "",
      // Shared by all the client's tokens: each names its own resources.
      resources: [],
    };
    const made = grant;
    await deps.store.transaction(async (store) => {
      await store.createGrant(made);
      // Again, once the grant holds the client's row: a client deleted by another replica meanwhile gets nothing.
      if ((await store.getClient(project, client.id)) === undefined) throw new OAuthError("invalid_client", "client deleted meanwhile");
    });
  } else if (grant.expiresAt < now + client.accessTokenTtl) {
    await deps.store.extendGrant(grant.id, now + client.accessTokenTtl + EXTENSION);
  }
  const access = await issueAccessToken(deps, project, grant, client, scopes, dpop?.jkt, resources);
  // Nothing else is written here most of the time: the event is queued and
  // committed with the others of this turn (core/store/sqlite/transactions.ts).
  // Awaited, so that no token leaves without its event on disk.
  await recordSuccess(deps, { ...event, action: "TOKEN_ISSUED", scopes, ...resourcesNoted(resources) });
  return { accessToken: access.token, expiresIn: access.expiresIn, scopes };
}
