import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RevokeRequest, RevokeResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { audited, party, recordRefusal } from "../audit/record.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import { endpointProject, tokenTypeHint } from "./introspect.js";
import type { GrantRecord } from "../store/types.js";
import { inspectAccessToken } from "../tokens/access-token.js";
import { authenticateClient, NO_CREDENTIALS } from "../tokens/client-auth.js";
import { PARAMETERS, refuseRepeatedParameters } from "../protocol/parameters.js";

/**
 * Token revocation (RFC 7009). The client authenticates (public clients by
 * their client_id, §2.1), and may revoke only tokens issued to it. Revoking
 * either a refresh or an access token revokes its whole grant: the refresh
 * token family and every access token of it stop at once (§2.1: "SHOULD also
 * invalidate the access token"; access tokens carry no per-token state, so
 * the grant is the unit). An unknown, expired or already revoked token is
 * answered like a success (§2.2).
 *
 * Audited: TOKEN_REVOKED in the transaction that revokes the grant; an
 * attempt on another client's token as TOKEN_REVOKED FAILURE.
 */
export async function revoke(deps: Deps, request: RevokeRequest): Promise<MessageInitShape<typeof RevokeResponseSchema>> {
  refuseRepeatedParameters(PARAMETERS.revoke, request.repeatedParameters);
  const project = await endpointProject(deps, request);
  const { client } = await authenticateClient(deps, project, request.client ?? NO_CREDENTIALS, "revoke");
  if (request.token === "") throw new OAuthError("invalid_request", "token is missing");
  const hint = tokenTypeHint(request.tokenTypeHint);
  const now = epochSeconds(deps.clock);
  const event = (grant: GrantRecord) => ({
    chain: { organization: project.organization, project: project.project },
    actor: party("client", client.id),
    target: grant.kind === "user" ? party("user", grant.userId) : party("client", grant.clientId),
  });
  // A client holding another client's token is refused, and recorded: the token leaked.
  const notYours = async (grant: GrantRecord) => {
    await recordRefusal(deps, { ...event(grant), action: "TOKEN_REVOKED", reason: "unauthorized_client" });
    return new OAuthError("unauthorized_client", "the token was not issued to this client", { detail: "revocation of another client's token" });
  };

  /** The grant of the token, as a refresh token of the project; undefined for none. */
  const refresh = async (): Promise<GrantRecord | undefined> => {
    const record = await deps.store.getRefreshToken(sha256(request.token));
    if (record === undefined) return undefined;
    const grant = await deps.store.getGrant(record.grantId);
    if (grant === undefined || grant.organization !== project.organization || grant.project !== project.project) return undefined;
    if (record.clientId !== client.id) throw await notYours(grant);
    return grant;
  };
  /** The grant of the token, as a live access token of the project; undefined for none. */
  const access = async (): Promise<GrantRecord | undefined> => {
    if (request.token.split(".").length !== 3) return undefined;
    const inspected = await inspectAccessToken(deps, request.token, project);
    if (!inspected.ok) return undefined;
    if (inspected.token.payload.client_id !== client.id) throw await notYours(inspected.token.grant);
    return inspected.token.grant;
  };
  let grant: GrantRecord | undefined;
  for (const attempt of hint === "access_token" ? [access, refresh] : [refresh, access]) {
    grant = await attempt();
    if (grant !== undefined) break;
  }
  // Only a revocation that revokes something is recorded: an unknown token,
  // or one already revoked, is answered the same (§2.2) but changes nothing.
  if (grant !== undefined) {
    const revoked = grant;
    await audited(
      deps,
      (store) => store.revokeGrant(revoked.id, now),
      (live) => (live ? { ...event(revoked), action: "TOKEN_REVOKED" } : undefined),
    );
  }
  return {};
}
