/**
 * The parties of a token exchange (RFC 8693 §1.1, §2.1): the subject, whose
 * user access token is presented, and the actor, the requesting client
 * itself, proven by its own access token. Each check refuses with the code
 * iam-core answers for a subject or actor token it will not take.
 */
import type { TokenRequest } from "../../gen/iam/v1/token_pb.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { ACCESS_TOKEN_TYPE, MAX_DELEGATION_DEPTH } from "../protocol/token-exchange.js";
import type { ClientRecord, ProjectRecord } from "../store/types.js";
import { ancestryOf, inspectAccessToken, type AccessToken } from "../tokens/access-token.js";
import { actClaimOf } from "../tokens/act.js";
import type { ActClaim } from "../tokens/issue.js";

/**
 * A subject or actor token iam-core will not take: invalid_request, as RFC
 * 8693 §2.2.2 requires ("MUST") for a token that is invalid for any reason
 * or unacceptable by policy. The description never says which check failed.
 */
export const refusedToken = (which: "subject_token" | "actor_token", detail: string) =>
  new OAuthError("invalid_request", `the ${which} is invalid, expired, revoked or not acceptable`, { detail });

/** RFC 8693 §2.1: each token comes with its type; iam-core takes access tokens only (§3). */
function checkTokenType(name: string, type: string): void {
  if (type === "") throw new OAuthError("invalid_request", `${name} is missing`);
  if (type !== ACCESS_TOKEN_TYPE) throw new OAuthError("invalid_request", `${name} must be ${ACCESS_TOKEN_TYPE}`);
}

/** The subject token: a user's live access token of this project, of a client whose users this client may act for. */
export async function subjectOf(deps: Deps, project: ProjectRecord, client: ClientRecord, request: TokenRequest): Promise<AccessToken> {
  if (request.subjectToken === "") throw new OAuthError("invalid_request", "subject_token is missing");
  checkTokenType("subject_token_type", request.subjectTokenType);
  // Verified as VerifyToken verifies it: signature by this project's key, type at+jwt (an ID token is not one), expiry, grant not revoked.
  const inspected = await inspectAccessToken(deps, request.subjectToken, project);
  if (!inspected.ok) throw refusedToken("subject_token", `subject token not active (failure ${inspected.failure})`);
  const subject = inspected.token;
  // A client's token for itself names no user to act for.
  if (subject.grant.kind !== "user") throw refusedToken("subject_token", "subject token of a client acting for itself");
  if (!client.tokenExchangeSubjectClients.includes(subject.payload.client_id)) {
    // RFC 8693 §2.2.2: a subject token unacceptable by policy is invalid_request.
    throw new OAuthError("invalid_request", "this client may not exchange tokens issued to that client", {
      detail: `subject token of client ${subject.payload.client_id}`,
    });
  }
  if ((await ancestryOf(deps, subject.grant)).depth >= MAX_DELEGATION_DEPTH) {
    throw refusedToken("subject_token", "delegation chain at its longest");
  }
  const user = await deps.store.getUser(project, subject.grant.userId);
  if (user === undefined || !user.enabled) throw refusedToken("subject_token", "user disabled or deleted");
  return subject;
}

/**
 * The actor (RFC 8693 §4.1): the requesting client, proven by an access
 * token of its own (client_credentials: sub and client_id are its id), with
 * the subject token's actor inside when there was one. Without an actor
 * token, the exchange is an impersonation, allowed only to a client
 * configured for it, and never of a token that already names an actor
 * (its chain would be lost). Answers the `act` claim, undefined when none.
 */
export async function actorOf(
  deps: Deps,
  project: ProjectRecord,
  client: ClientRecord,
  request: TokenRequest,
  subject: AccessToken,
): Promise<ActClaim | undefined> {
  const prior = actClaimOf(subject.payload.act);
  if (request.actorToken === "") {
    // §2.1: actor_token_type MUST NOT be given without an actor_token.
    if (request.actorTokenType !== "") throw new OAuthError("invalid_request", "actor_token_type without actor_token");
    if (!client.tokenExchangeImpersonation) {
      throw new OAuthError("invalid_request", "actor_token is missing: this client may not impersonate (exchange without an actor)");
    }
    if (subject.payload.act !== undefined) throw refusedToken("subject_token", "impersonation of a token that names an actor");
    checkMayAct(subject, client);
    return undefined;
  }
  checkTokenType("actor_token_type", request.actorTokenType);
  const inspected = await inspectAccessToken(deps, request.actorToken, project);
  if (!inspected.ok) throw refusedToken("actor_token", `actor token not active (failure ${inspected.failure})`);
  const actor = inspected.token;
  // "Its own credentials": a token the client holds for itself, not a user's nor another client's.
  if (actor.grant.kind !== "client" || actor.payload.client_id !== client.id || actor.payload.sub !== client.id) {
    throw refusedToken("actor_token", "actor token not of the requesting client acting for itself");
  }
  checkMayAct(subject, client);
  return { sub: actor.payload.sub, client_id: client.id, ...(prior !== undefined ? { act: prior } : {}) };
}

/**
 * RFC 8693 §4.4: a subject token naming in `may_act` who may act for its
 * subject is exchanged only by that party: every claim it names must be the
 * actor's (iam-core names clients: `sub` and `client_id`, both its id).
 */
function checkMayAct(subject: AccessToken, client: ClientRecord): void {
  const mayAct = subject.payload.may_act;
  if (mayAct === undefined) return;
  const named = typeof mayAct === "object" && mayAct !== null && !Array.isArray(mayAct) ? (mayAct as Record<string, unknown>) : {};
  const matches =
    Object.keys(named).length > 0 &&
    Object.entries(named).every(([claim, value]) => (claim === "sub" || claim === "client_id") && value === client.id);
  if (!matches) throw refusedToken("subject_token", `may_act does not name client ${client.id}`);
}
