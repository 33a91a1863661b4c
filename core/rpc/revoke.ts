import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RevokeRequest, RevokeResponseSchema } from "../../gen/iam/v1/token_pb.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import { endpointProject, tokenTypeHint } from "./introspect.js";
import { inspectAccessToken } from "../tokens/access-token.js";
import { PARAMETERS, refuseRepeatedParameters } from "../protocol/parameters.js";

/**
 * Token revocation (RFC 7009). The client authenticates (public clients by
 * their client_id, §2.1), and may revoke only tokens issued to it. Revoking
 * either a refresh or an access token revokes its whole grant: the refresh
 * token family and every access token of it stop at once (§2.1: "SHOULD also
 * invalidate the access token"; access tokens carry no per-token state, so
 * the grant is the unit). An unknown, expired or already revoked token is
 * answered like a success (§2.2).
 */
export async function revoke(deps: Deps, request: RevokeRequest): Promise<MessageInitShape<typeof RevokeResponseSchema>> {
  refuseRepeatedParameters(PARAMETERS.revoke, request.repeatedParameters);
  const project = await endpointProject(deps, request);
  const { client } = await deps.clients.authenticate(project, request.client ?? { clientId: "", clientSecret: "" });
  if (request.token === "") throw new OAuthError("invalid_request", "token is missing");
  const hint = tokenTypeHint(request.tokenTypeHint);
  const now = epochSeconds(deps.clock);
  const notYours = () =>
    new OAuthError("unauthorized_client", "the token was not issued to this client", { detail: "revocation of another client's token" });

  const refresh = async (): Promise<boolean> => {
    const record = await deps.store.getRefreshToken(sha256(request.token));
    if (record === undefined) return false;
    const grant = await deps.store.getGrant(record.grantId);
    if (grant === undefined || grant.organization !== project.organization || grant.project !== project.project) return false;
    if (record.clientId !== client.id) throw notYours();
    await deps.store.revokeGrant(grant.id, now);
    return true;
  };
  const access = async (): Promise<boolean> => {
    if (request.token.split(".").length !== 3) return false;
    const inspected = await inspectAccessToken(deps, request.token, project);
    if (!inspected.ok) return false;
    if (inspected.token.payload.client_id !== client.id) throw notYours();
    await deps.store.revokeGrant(inspected.token.grant.id, now);
    return true;
  };
  for (const attempt of hint === "access_token" ? [access, refresh] : [refresh, access]) {
    if (await attempt()) break;
  }
  return {};
}
