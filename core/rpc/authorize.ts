import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AuthorizeRequest, AuthorizeResponseSchema } from "../../gen/iam/v1/authorization_pb.js";
import type { Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import type { OpenIdParameters } from "../authorization/context.js";
import { redirectError } from "../authorization/errors.js";
import { isPushedRequestUri, pushedRequest } from "../authorization/pushed.js";
import { signIn } from "../authorization/sign-in.js";
import { clientSummary } from "../clients/metadata-client.js";
import { validateAuthorizationRequest } from "../authorization/validate.js";
import { secondFactorDue } from "../factors/policy.js";
import { liveSession, recordSessionUse } from "../sessions/session.js";
import type { AuthorizationRequestRecord, SessionRecord } from "../store/types.js";

/**
 * @see RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1–§3.1.2.6, RFC 9126 §4.
 *
 * A request that names a pushed request by its request_uri is that request
 * (authorization/pushed.ts). A valid request is recorded as pending. When
 * the browser's sign-in session may authenticate it (single sign-on), no
 * password is asked: the answer is the consent page's scopes or, consent
 * remembered, the way back to the client. Otherwise it is the login page's
 * context; with `prompt=none`, the client is told `login_required` or
 * `consent_required` instead.
 */
export async function authorize(
  deps: Deps,
  call: AuthorizeRequest,
): Promise<MessageInitShape<typeof AuthorizeResponseSchema>> {
  const pushed = isPushedRequestUri(call.requestUri);
  const request = pushed ? await pushedRequest(deps, call) : call;
  const ctx = await validateAuthorizationRequest(deps, request, pushed);
  const openid = ctx.openid!;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };

  const now = epochSeconds(deps.clock);
  const session = request.session === "" ? undefined : await liveSession(deps, request, request.session);
  const serving = session !== undefined && sessionMayServe(session, openid, now) ? session : undefined;
  if (openid.prompt.has("none") && serving === undefined) {
    // A session that may not serve (another user hinted, too old) answers
    // consent_required, like a serving one, unless its user already approved
    // this client: a client the user never approved must not learn whether
    // the user it guesses is the one signed in.
    if (session !== undefined && (await deps.store.getConsent(request, session.userId, ctx.client!.id)) === undefined) {
      throw redirectError(target, "consent_required", CONSENT_REQUIRED);
    }
    throw redirectError(target, "login_required", "the user must sign in");
  }

  const requestId = randomToken();
  const ttl = deps.config.authorizationRequestTtl;
  const pending: AuthorizationRequestRecord = {
    organization: request.organization,
    project: request.project,
    idHash: sha256(requestId),
    clientId: ctx.client!.id,
    redirectUri: ctx.redirectUri!,
    scopes: ctx.scopes!,
    state: request.state,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: ctx.codeChallengeMethod!,
    nonce: request.nonce,
    browserBindingHash: request.browserBinding === "" ? "" : sha256(request.browserBinding),
    userId: null,
    authTime: null,
    offeredScopes: null,
    sessionId: "",
    acr: "",
    amr: [],
    claims: openid.claims,
    forceConsent: openid.prompt.has("consent"),
    mfaRequested: openid.mfaRequested,
    action: openid.action,
    secondFactor: null,
    createdAt: now,
    expiresAt: now + ttl,
    dpopJkt: request.dpopJkt,
    resources: ctx.resources!.map((r) => r.uri),
  };
  await deps.store.createAuthorizationRequest(pending);
  const answer = {
    requestId,
    client: clientSummary(ctx.client!),
    scopesRequested: ctx.scopes!,
    expiresIn: BigInt(ttl),
    organization: request.organization,
    project: request.project,
    projectName: ctx.project!.name,
  };

  const user = serving === undefined ? undefined : await deps.store.getUser(request, serving.userId);
  if (serving === undefined || user === undefined) {
    // The login page: filled with the user the client named, or the one a
    // new sign-in was asked of.
    const passwordless = (await deps.store.getMfaPolicy(request)).passwordless;
    return { ...answer, loginHint: openid.loginHint || openid.hintedUser || session?.userId || "", passwordless };
  }
  // A session of one factor, where the client or the policy requires two:
  // its user steps up with a second factor (or enrols one), no password asked.
  const due = await secondFactorDue(deps, pending, user, serving.amr, true);
  if (due !== undefined) {
    if (openid.prompt.has("none")) {
      await deps.store.consumeAuthorizationRequest(pending.idHash);
      throw redirectError(target, "interaction_required", "the user must sign in with a second factor");
    }
    await deps.store.awaitSecondFactor(pending.idHash, { userId: user.id, stage: due.stage, amr: serving.amr, sessionId: serving.id });
    return { ...answer, secondFactor: { ...due, username: user.id } };
  }
  await recordSessionUse(deps, serving);
  const outcome = await signIn(deps, pending, user, serving);
  if (outcome.redirectTo !== undefined) return { requestId, redirectTo: outcome.redirectTo };
  if (openid.prompt.has("none")) {
    await deps.store.consumeAuthorizationRequest(pending.idHash);
    throw redirectError(target, "consent_required", CONSENT_REQUIRED);
  }
  return {
    ...answer,
    signedIn: true,
    scopes: outcome.offered.map((p) => ({ name: p.id, description: p.description })),
    resources: outcome.resources.map((r) => ({ uri: r.uri, name: r.name })),
  };
}

const CONSENT_REQUIRED = "the user has not consented to this client's request";

/**
 * Whether a live session may authenticate this request without a new
 * sign-in: not when the request asks for one (`prompt=login`, or
 * `select_account`, where choosing means signing in as the account), when
 * the sign-in is older than `max_age` (`max_age=0`: always), for an action
 * on the sign-in methods (`iam_action`), or when an
 * `id_token_hint` names another user than the session's.
 */
function sessionMayServe(session: SessionRecord, openid: OpenIdParameters, now: number): boolean {
  if (openid.prompt.has("login") || openid.prompt.has("select_account")) return false;
  // A change to the sign-in methods follows a new sign-in, whatever the session.
  if (openid.action !== "") return false;
  if (openid.maxAge !== undefined && (openid.maxAge === 0 || now - session.authTime > openid.maxAge)) return false;
  if (openid.hintedUser !== undefined && openid.hintedUser !== session.userId) return false;
  return true;
}
