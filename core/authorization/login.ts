import type { MessageInitShape } from "@bufbuild/protobuf";
import type { LoginRequest, LoginResponseSchema } from "../../gen/iam/v1/authorization_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { selectScopes } from "../lib/scopes.js";
import { oidcScopesOf } from "../token/oidc.js";
import { redirectError } from "./errors.js";
import { loadPendingRequest } from "./pending.js";

const MAX_CREDENTIAL_LENGTH = 1024;
/** Failed logins one pending authorization request allows before it is spent. */
export const MAX_FAILED_LOGINS_PER_REQUEST = 5;

/**
 * Authenticates the resource owner of a pending request and answers the
 * scopes they may grant: those requested that they hold, or every one they
 * hold when none were requested. The same answer is given for an unknown
 * user, a disabled one and a wrong password, after the same work.
 */
export async function login(
  deps: Deps,
  request: LoginRequest,
): Promise<MessageInitShape<typeof LoginResponseSchema>> {
  const pending = await loadPendingRequest(deps, request);
  if (request.username.length > MAX_CREDENTIAL_LENGTH || request.password.length > MAX_CREDENTIAL_LENGTH) {
    throw new OAuthError("access_denied", "invalid username or password", { status: 401 });
  }
  const user = request.username === "" ? undefined : await deps.store.getUser(pending, request.username);
  const verified = await deps.passwords.verify(user?.passwordHash, request.password);
  if (user === undefined || !verified || !user.enabled) {
    // A pending request allows a few attempts, then is spent: guessing must
    // start a new authorization request each time.
    const failures = await deps.store.recordFailedLogin(pending.idHash);
    if (failures >= MAX_FAILED_LOGINS_PER_REQUEST) await deps.store.consumeAuthorizationRequest(pending.idHash);
    const reason = user === undefined ? "unknown user" : user.enabled ? "wrong password" : "user disabled";
    deps.metrics.loginFailures.inc({ reason: reason.replace(" ", "_") });
    throw new OAuthError("access_denied", "invalid username or password", {
      status: 401,
      detail: `${reason} (failure ${failures} of this request)`,
    });
  }

  const held = [...(await deps.store.getUserPermissions(pending, user.id)), ...oidcScopesOf(pending, pending.scopes)];
  const byId = new Map(held.map((p) => [p.id, p]));
  const offered = selectScopes(pending.scopes, [...byId.keys()]).map((id) => byId.get(id)!);
  if (pending.scopes.length > 0 && offered.length === 0) {
    await deps.store.consumeAuthorizationRequest(pending.idHash);
    throw redirectError(
      { redirectUri: pending.redirectUri, state: pending.state, issuer: issuerOf(deps.config.baseUrl, pending) },
      "invalid_scope",
      "the user holds none of the requested scopes",
    );
  }
  await deps.store.authenticateAuthorizationRequest(pending.idHash, {
    userId: user.id,
    authTime: epochSeconds(deps.clock),
    offeredScopes: offered.map((p) => p.id),
  });
  const client = await deps.store.getClient(pending, pending.clientId);
  return {
    requestId: request.requestId,
    scopes: offered.map((p) => ({ name: p.id, description: p.description })),
    client: { id: pending.clientId, name: client?.name ?? pending.clientId },
  };
}
