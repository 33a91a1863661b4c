import { boundKeyOf } from "../dpop/resource.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { IntrospectRequest, IntrospectResponseSchema } from "../../gen/iam/v1/token_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import type { ProjectRecord } from "../store/types.js";
import { inspectAccessToken, signInOf } from "../tokens/access-token.js";
import { tokenActorOf } from "../tokens/act.js";
import { authenticateClient, NO_CREDENTIALS } from "../tokens/client-auth.js";
import { PARAMETERS, refuseRepeatedParameters } from "../protocol/parameters.js";

type Answer = MessageInitShape<typeof IntrospectResponseSchema>;
const INACTIVE: Answer = { active: false };

/** `access_token` or `refresh_token` (RFC 7009 §2.1, RFC 7662 §2.1); anything else is refused. */
export function tokenTypeHint(hint: string): "access_token" | "refresh_token" | undefined {
  if (hint === "") return undefined;
  if (hint === "access_token" || hint === "refresh_token") return hint;
  throw new OAuthError("unsupported_token_type", "token_type_hint must be access_token or refresh_token");
}

/** The project of an introspection or revocation call; an unknown one fails client authentication. */
export async function endpointProject(deps: Deps, ref: { organization: string; project: string }): Promise<ProjectRecord> {
  const project = await deps.store.getProject(ref);
  if (project === undefined) throw new OAuthError("invalid_client", "client authentication failed", { detail: "unknown project" });
  return project;
}

/**
 * Token introspection (RFC 7662). Only confidential clients of the project,
 * authenticated, may ask (§2.1: the endpoint must be protected). Access tokens
 * are checked as VerifyToken does, restricted to this project; refresh tokens
 * must be unrotated, unexpired, of a live grant and of an enabled user. Every
 * other case, foreign and garbage tokens included, is `{"active": false}`.
 * A user's token is answered with how and when the user signed in.
 */
export async function introspect(deps: Deps, request: IntrospectRequest): Promise<Answer> {
  refuseRepeatedParameters(PARAMETERS.introspect, request.repeatedParameters);
  const project = await endpointProject(deps, request);
  const { client } = await authenticateClient(deps, project, request.client ?? NO_CREDENTIALS, "introspect");
  if (client.type !== "confidential") {
    throw new OAuthError("invalid_client", "introspection is for confidential clients", { detail: "public client" });
  }
  if (request.token === "") throw new OAuthError("invalid_request", "token is missing");
  const hint = tokenTypeHint(request.tokenTypeHint);
  const order = hint === "refresh_token" ? [asRefresh, asAccess] : [asAccess, asRefresh];
  for (const attempt of order) {
    const answer = await attempt(deps, project, request.token);
    if (answer.active) {
      deps.metrics.introspections.inc({ active: "true" });
      return answer;
    }
  }
  deps.metrics.introspections.inc({ active: "false" });
  return INACTIVE;
}

async function asAccess(deps: Deps, project: ProjectRecord, token: string): Promise<Answer> {
  if (token.split(".").length !== 3) return INACTIVE;
  const inspected = await inspectAccessToken(deps, token, project);
  if (!inspected.ok) return INACTIVE;
  const { payload, grant, issuer, audience, scopes } = inspected.token;
  return {
    active: true,
    scope: scopes.join(" "),
    clientId: payload.client_id,
    username: grant.kind === "user" ? grant.userId : "",
    // RFC 9449 §6.2: a bound token's type and key.
    tokenType: boundKeyOf(payload) === "" ? "Bearer" : "DPoP",
    cnfJkt: boundKeyOf(payload),
    exp: BigInt(payload.exp!),
    iat: BigInt(payload.iat!),
    sub: payload.sub!,
    aud: audience,
    iss: issuer,
    jti: payload.jti!,
    // RFC 8693 §4.1: who acts for the subject, for a token from an exchange.
    act: tokenActorOf(payload.act),
    ...signInOf(grant),
  };
}

async function asRefresh(deps: Deps, project: ProjectRecord, token: string): Promise<Answer> {
  const record = await deps.store.getRefreshToken(sha256(token));
  if (record === undefined || record.rotatedAt !== null || record.expiresAt <= epochSeconds(deps.clock)) return INACTIVE;
  const grant = await deps.store.getGrant(record.grantId);
  if (grant === undefined || grant.revokedAt !== null) return INACTIVE;
  if (grant.organization !== project.organization || grant.project !== project.project) return INACTIVE;
  const user = await deps.store.getUser(project, grant.userId);
  if (user === undefined || !user.enabled) return INACTIVE;
  return {
    active: true,
    scope: record.scopes.join(" "),
    clientId: record.clientId,
    username: user.id,
    tokenType: "refresh_token",
    exp: BigInt(record.expiresAt),
    iat: BigInt(record.createdAt),
    sub: user.id,
    // RFC 8707 §2.2: a refresh token serves every resource of its grant.
    aud: grant.resources.length > 0 ? grant.resources : [project.audience],
    iss: issuerOf(deps.config.baseUrl, project),
    jti: "",
    cnfJkt: grant.dpopJkt,
    ...signInOf(grant),
  };
}
