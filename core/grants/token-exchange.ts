import { created, type Json } from "../audit/changes.js";
import { party, recordSuccess } from "../audit/record.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken } from "../lib/crypto.js";
import { resourceUriProblem } from "../lib/resource-uri.js";
import { isSubset, parseScope } from "../lib/scopes.js";
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from "../protocol/token-exchange.js";
import type { GrantRecord, ResourceRecord } from "../store/types.js";
import type { AccessToken } from "../tokens/access-token.js";
import { issueAccessToken, type ActClaim, type IssuedTokens } from "../tokens/issue.js";
import { userHoldings } from "../tokens/oidc.js";
import { grantEvent, refusalsRecorded, type GrantEvent } from "./audit.js";
import { actorOf, refusedToken, subjectOf } from "./exchange-parties.js";
import type { Grant, GrantContext } from "./types.js";

/**
 * Token exchange for delegation (RFC 8693): a confidential client presents a
 * user's access token (the subject token, §2.1) and its own access token
 * (the actor token), and receives an access token for one registered
 * resource, for the same user, carrying `act` (§4.1) — the client as actor,
 * the subject token's own actor inside it. Its policy decides whose tokens it
 * may take (token_exchange_subject_clients), for which resources
 * (token_exchange_resources), and whether it may go without an actor token
 * (token_exchange_impersonation: a token without `act`). A subject token
 * naming another party in `may_act` (§4.4) is refused.
 *
 * The new token has a grant of its own that hangs off the subject token's:
 * revoking that grant, ending the user's session or withdrawing the user's
 * consent to the subject's client stops it (tokens/access-token.ts); it
 * never outlives the subject token, and no refresh token is issued (§2.2.1).
 *
 * Audited: TOKEN_EXCHANGED with the resource, the `act` chain and the
 * subject token's client, or, refused, with the RFC error as reason.
 */
export const tokenExchangeGrant: Grant = {
  grantType: TOKEN_EXCHANGE_GRANT,
  parameters: ["subject_token", "subject_token_type", "actor_token", "actor_token_type", "resource", "audience", "scope", "requested_token_type"],
  async handler(ctx) {
    const event = grantEvent(ctx.project, ctx.client, TOKEN_EXCHANGE_GRANT, party("client", ctx.client.id));
    return refusalsRecorded(ctx.deps, event, "TOKEN_EXCHANGED", () => exchange(ctx, event));
  },
};

async function exchange(ctx: GrantContext, event: GrantEvent): Promise<IssuedTokens> {
  const { deps, request, project, client } = ctx;
  // The AdminService gives the grant to confidential clients only; one stored otherwise is refused all the same.
  if (client.type !== "confidential") throw new OAuthError("unauthorized_client", "only confidential clients may exchange tokens");
  // §2.1: iam-core issues access tokens only.
  if (request.requestedTokenType !== "" && request.requestedTokenType !== ACCESS_TOKEN_TYPE) {
    throw new OAuthError("invalid_request", `requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  const subject = await subjectOf(deps, project, client, request);
  // From here the refusal concerns this user: the trail names them.
  event.target = party("user", subject.grant.userId);
  const act = await actorOf(deps, project, client, request, subject);
  const resource = await targetOf(ctx);
  const scopes = await scopesOf(ctx, subject, resource);

  const now = epochSeconds(deps.clock);
  const notAfter = Number(subject.payload.exp);
  const grant: GrantRecord = {
    organization: project.organization,
    project: project.project,
    id: randomToken(16),
    clientId: client.id,
    kind: "user",
    userId: subject.grant.userId,
    scopes,
    // The user's sign-in is the subject token's: acr, amr and auth_time go on.
    authTime: subject.grant.authTime,
    createdAt: now,
    expiresAt: Math.min(now + client.accessTokenTtl, notAfter),
    // Ending the user's session revokes this grant with the others of the session.
    sessionId: subject.grant.sessionId,
    acr: subject.grant.acr,
    amr: subject.grant.amr,
    claims: "",
    revokedAt: null,
    dpopJkt: "",
    resources: [resource.uri],
    parentGrantId: subject.grant.id,
  };
  const access = await deps.store.transaction(async (store) => {
    // Again, in the transaction: a revocation of the subject's grant since the checks must not be answered with a token.
    if ((await store.getGrant(subject.grant.id))?.revokedAt !== null) throw refusedToken("subject_token", "subject grant revoked meanwhile");
    await store.createGrant(grant);
    const issued = await issueAccessToken(deps, project, grant, client, scopes, ctx.dpop?.jkt, grant.resources, { act, notAfter });
    await recordSuccess(deps, { ...event, action: "TOKEN_EXCHANGED", scopes, changes: exchangeFields(resource, act, subject) }, store);
    return issued;
  });
  return { accessToken: access.token, expiresIn: access.expiresIn, scopes, issuedTokenType: ACCESS_TOKEN_TYPE };
}

/**
 * The one resource the token is for (§2.1 `resource` or `audience`): a URI
 * registered in the project and allowed to this client. iam-core takes
 * `audience` only as such a URI, and one target only: both parameters at
 * once, or a repeated one, are refused rather than guessed between.
 */
async function targetOf({ deps, request, project, client }: GrantContext): Promise<ResourceRecord> {
  if (request.resource.length > 0 && request.audience !== "") {
    throw new OAuthError("invalid_request", "give resource or audience, not both");
  }
  // `resource` may repeat at the token endpoint (RFC 8707 §2); an exchange is for one.
  if (request.resource.length > 1 || request.repeatedParameters.includes("audience")) {
    throw new OAuthError("invalid_target", "a token exchange is for one resource");
  }
  const uri = request.resource[0] ?? request.audience;
  if (uri === "") throw new OAuthError("invalid_request", "resource (or audience) is missing: an exchanged token is for one resource");
  if (resourceUriProblem(uri) !== undefined) throw new OAuthError("invalid_target", "the resource is not a valid resource URI");
  const resource = await deps.store.getResource(project, uri);
  // One answer for unknown and not allowed: a client learns nothing of the project's other resources.
  if (resource === undefined || !client.tokenExchangeResources.includes(uri)) {
    throw new OAuthError("invalid_target", "this client may not obtain tokens for that resource", {
      detail: resource === undefined ? "unknown resource" : "resource not in the client's token_exchange_resources",
    });
  }
  return resource;
}

/**
 * The scopes of the new token: at most those of the subject token that the
 * resource defines and the user still holds; all of them when none are
 * asked (RFC 8693 §2.1 `scope`, RFC 6749 §3.3).
 */
async function scopesOf({ deps, request, project }: GrantContext, subject: AccessToken, resource: ResourceRecord): Promise<string[]> {
  const requested = parseScope(request.scope);
  if (requested === undefined) throw new OAuthError("invalid_scope", "scope has characters RFC 6749 §3.3 does not allow");
  const { holds } = await userHoldings(deps.store, project, subject.grant.userId);
  const available = subject.scopes.filter((s) => resource.scopes.includes(s) && holds(s));
  if (!isSubset(requested, available)) {
    throw new OAuthError("invalid_scope", "the requested scope exceeds what the subject token grants for that resource");
  }
  const scopes = requested.length === 0 ? available : requested;
  if (scopes.length === 0) throw new OAuthError("invalid_scope", "the subject token grants no scope of that resource");
  return scopes;
}

/** What the trail records of an exchange, beside actor, target and scopes: never a token. */
function exchangeFields(resource: ResourceRecord, act: ActClaim | undefined, subject: AccessToken) {
  return created({
    resource: resource.uri,
    subject_client: subject.payload.client_id,
    act: act === undefined ? null : (act as unknown as Json),
  });
}
