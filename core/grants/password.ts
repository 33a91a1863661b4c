import { grantKeyOf } from "../dpop/binding.js";
import { party, recordSuccess } from "../audit/record.js";
import { OAuthError } from "../errors.js";
import { policyRequires, usableFactors } from "../factors/policy.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken } from "../lib/crypto.js";
import { parseScope } from "../lib/scopes.js";
import { issueTokens, type IssuedTokens } from "../tokens/issue.js";
import { accessTarget } from "../tokens/resources.js";
import { userHoldings } from "../tokens/oidc.js";
import { grantEvent, refusalsRecorded, resourcesNoted, type GrantEvent } from "./audit.js";
import type { Grant, GrantContext } from "./types.js";

const GRANT_TYPE = "password";
/** A username in an event: at most as long as a username may be (rpc/admin/validate.ts). */
const MAX_USERNAME_IN_EVENT = 128;

/**
 * `password`, the resource owner password credentials grant (RFC 6749 §4.3).
 * RFC 9700 §2.4 says it MUST NOT be used: the client sees the user's
 * password, and the flow cannot carry a second factor. It exists for
 * migrations only, for clients explicitly configured with it; no client has
 * it by default.
 *
 * Audited: TOKEN_ISSUED in the transaction that creates the grant, or,
 * refused, with the RFC error as reason (a wrong password is invalid_grant).
 */
export const passwordGrant: Grant = {
  grantType: GRANT_TYPE,
  parameters: ["username", "password", "scope", "resource"],
  async handler(ctx) {
    const { request, project, client } = ctx;
    if (request.username === "" || request.password === "") {
      throw new OAuthError("invalid_request", "username and password are required");
    }
    // The username as given (an unknown one too), cut as sign-in cuts it.
    const event = grantEvent(project, client, GRANT_TYPE, party("user", request.username.slice(0, MAX_USERNAME_IN_EVENT)));
    return refusalsRecorded(ctx.deps, event, "TOKEN_ISSUED", () => issue(ctx, event));
  },
};

/** The password checked and the grant made, for the scopes the user holds. */
async function issue({ deps, request, project, client, dpop }: GrantContext, event: GrantEvent): Promise<IssuedTokens> {
  const requested = parseScope(request.scope);
  if (requested === undefined) throw new OAuthError("invalid_scope", "scope has characters RFC 6749 §3.3 does not allow");
  const user = request.username.length > 1024 ? undefined : await deps.store.getUser(project, request.username);
  const verified = await deps.passwords.verify(user?.passwordHash, request.password.slice(0, 1024));
  if (user === undefined || !verified || !user.enabled) {
    const reason = user === undefined ? "unknown user" : user.enabled ? "wrong password" : "user disabled";
    deps.metrics.loginFailures.inc({ reason: reason.replace(" ", "_") });
    throw new OAuthError("invalid_grant", "invalid username or password", { detail: reason });
  }
  // The grant cannot carry a second factor: a user who has one, or whom the
  // project's policy requires to, signs in through the authorization code flow.
  if ((await usableFactors(deps, user)).length > 0 || (await policyRequires(deps, user))) {
    throw new OAuthError("invalid_grant", "this user signs in with a second factor: use the authorization code flow", { detail: "second factor required" });
  }
  const { permissions, holds } = await userHoldings(deps.store, project, user.id);
  // Empty asks for every permission held (the OpenID scopes only when named).
  const scopes = requested.length === 0 ? permissions : requested.filter(holds);
  if (requested.length > 0 && scopes.length === 0) {
    throw new OAuthError("invalid_scope", "the user holds none of the requested scopes");
  }
  // RFC 8707 §2 as at every other grant: a token asked for some resources is
  // for them only, never the project's audience, whatever grant asks for it.
  const target = await accessTarget(deps.store, project, request.resource, [], scopes);
  if (requested.length > 0 && target.scopes.length === 0) {
    throw new OAuthError("invalid_scope", "the requested resources accept none of the requested scopes");
  }
  const now = epochSeconds(deps.clock);
  return deps.store.transaction(async (store) => {
    const grant = {
      organization: project.organization,
      project: project.project,
      id: randomToken(16),
      clientId: client.id,
      kind: "user" as const,
      userId: user.id,
      scopes,
      authTime: now,
      createdAt: now,
      expiresAt: now,
      sessionId: "",
      acr: "",
      amr: [],
      claims: "",
      revokedAt: null,
      // RFC 9449 §5: the key its refreshes need (binding.ts).
      dpopJkt: grantKeyOf(dpop),
      resources: target.resources,
    };
    await store.createGrant(grant);
    // As for a code exchange: re-read once the grant holds the user's row.
    const holder = await store.getUser(project, user.id);
    if ((await store.getClient(project, client.id)) === undefined) throw new OAuthError("invalid_client", "client deleted meanwhile");
    if (holder === undefined || !holder.enabled) throw new OAuthError("invalid_grant", "invalid username or password", { detail: "user disabled or deleted meanwhile" });
    const tokens = await issueTokens(deps, store, project, grant, client, target.scopes, scopes, { user, nonce: "" }, null, dpop?.jkt);
    await recordSuccess(deps, { ...event, action: "TOKEN_ISSUED", target: party("user", user.id), scopes: target.scopes, ...resourcesNoted(target.resources) }, store);
    return tokens;
  });
}
