import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EndSessionRequest, EndSessionResponseSchema } from "../../gen/iam/v1/authorization_pb.js";
import { fieldSet } from "../audit/changes.js";
import { audited, party } from "../audit/record.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { constantEquals } from "../lib/crypto.js";
import { isRegisteredRedirectUri, withQuery } from "../lib/redirect-uri.js";
import { announceLogout } from "../logout/backchannel.js";
import { PARAMETERS, refuseRepeatedParameters } from "../protocol/parameters.js";
import { liveSession } from "../sessions/session.js";
import { verifyIdTokenHint } from "../tokens/id-token-hint.js";

/** Longest value read of each parameter: an ID token (RS256, with profile claims) fits well within the first. */
const MAX_HINT_LENGTH = 8192;
const MAX_LENGTH = 2048;

/**
 * OpenID Connect RP-Initiated Logout 1.0 §2–§3: ends the browser's sign-in
 * session of the project, tells its clients (Back-Channel Logout), and says
 * where the user agent goes next. Every refusal is shown to the user, never
 * redirected: an `id_token_hint` this project did not sign, one whose
 * audience is not `client_id`, a `post_logout_redirect_uri` not registered
 * exactly for the client the request names (§3: "MUST NOT perform
 * post-logout redirection" otherwise).
 *
 * §2: the OP "MUST ask the End-User" whether to log out when the request
 * carries no ID token of the current session's user. So the session ends at
 * once only when the hint names the session's user (and its `sid`, when it
 * has one); otherwise the answer is `confirm`, and the confirmation page
 * posts the same parameters back with the browser binding as `confirmation`.
 * A browser that presents no session cookie is asked too: the cookie is
 * SameSite=Lax, so a logout form posted from the client's site arrives
 * without it, and the same-site confirmation form brings it. A cookie that
 * names no live session has nothing to end: the logout succeeds at once.
 */
export async function endSession(deps: Deps, request: EndSessionRequest): Promise<MessageInitShape<typeof EndSessionResponseSchema>> {
  refuseRepeatedParameters(PARAMETERS.endSession, request.repeatedParameters);
  const project = await deps.store.getProject(request);
  if (project === undefined) throw new ConnectError("unknown organization or project", Code.NotFound);
  if (request.idTokenHint.length > MAX_HINT_LENGTH) throw new OAuthError("invalid_request", `id_token_hint is longer than ${MAX_HINT_LENGTH} characters`);
  for (const [name, value] of [
    ["client_id", request.clientId],
    ["logout_hint", request.logoutHint],
    ["post_logout_redirect_uri", request.postLogoutRedirectUri],
    ["state", request.state],
    ["ui_locales", request.uiLocales],
    ["confirmation", request.confirmation],
  ] as const) {
    if (value.length > MAX_LENGTH) throw new OAuthError("invalid_request", `${name} is longer than ${MAX_LENGTH} characters`);
  }

  // §2: the OP "MUST validate that it was the issuer of the ID Token"; an expired one is fine.
  const hint = request.idTokenHint === "" ? undefined : await verifyIdTokenHint(deps, request, request.idTokenHint);
  if (request.idTokenHint !== "" && hint === undefined) {
    throw new OAuthError("invalid_request", "id_token_hint is not an ID token issued by this project");
  }
  // §2: "When both client_id and id_token_hint are present, the OP MUST verify
  // that the Client Identifier matches the one used when issuing the ID Token."
  if (hint !== undefined && request.clientId !== "" && !hint.aud.includes(request.clientId)) {
    throw new OAuthError("invalid_request", "client_id is not the audience of id_token_hint");
  }

  const clientId = request.clientId !== "" ? request.clientId : hint?.aud.length === 1 ? hint.aud[0]! : "";
  const client = clientId === "" ? undefined : await deps.store.getClient(request, clientId);
  if (request.clientId !== "" && client === undefined) throw new OAuthError("invalid_request", "client_id names no client of this project");

  // §3: only to a URI registered for the client, compared as exact strings, with `state` when given.
  let redirectTo = "";
  if (request.postLogoutRedirectUri !== "") {
    if (client === undefined) {
      throw new OAuthError("invalid_request", "post_logout_redirect_uri needs the client: send client_id or id_token_hint");
    }
    if (!isRegisteredRedirectUri(client.postLogoutRedirectUris, request.postLogoutRedirectUri)) {
      throw new OAuthError("invalid_request", "post_logout_redirect_uri is not registered for this client");
    }
    redirectTo = withQuery(request.postLogoutRedirectUri, { state: request.state });
  }

  const answer = { client: client === undefined ? undefined : { id: client.id, name: client.name }, projectName: project.name };
  const presented = request.session !== "";
  const session = presented ? await liveSession(deps, request, request.session) : undefined;
  if (request.confirmation !== "") {
    // The confirmation page's form carries the browser binding it was shown
    // with; another site cannot read it, so it cannot post the form for the user.
    if (request.browserBinding === "" || !constantEquals(request.confirmation, request.browserBinding)) {
      throw new OAuthError("access_denied", "this sign-out form was not shown in this browser; sign out again from the application", {
        detail: "confirmation differs from the browser binding cookie",
      });
    }
  } else {
    const hintIsSessions =
      hint !== undefined && session !== undefined && hint.sub === session.userId && (hint.sid === undefined || hint.sid === session.id);
    if (!presented || (session !== undefined && !hintIsSessions)) return { ...answer, confirm: true };
  }

  if (session !== undefined) {
    // The store revokes the grants made in the session with it (tokens issued
    // under it stop verifying); its event lands with it, unless another
    // request ended it first.
    const ended = await audited(
      deps,
      (store) => store.endSession(request, session.id, epochSeconds(deps.clock)),
      (ended) =>
        ended === undefined
          ? undefined
          : {
              chain: { organization: request.organization, project: request.project },
              action: "SESSION_ENDED",
              actor: party("user", ended.userId),
              target: party("user", ended.userId),
              changes: [fieldSet("session_id", ended.id, undefined)],
            },
    );
    if (ended !== undefined) announceLogout(deps, [ended]);
  }
  return { ...answer, clearSession: presented, redirectTo };
}
