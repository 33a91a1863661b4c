import { codeTtl } from "../tokens/profile.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ConsentRequest, ConsentResponseSchema } from "../../gen/iam/v1/authorization_pb.js";
import { party, recordRefusal, recordSuccess, type AuditNote } from "../audit/record.js";
import { issuerOf, type Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import { withQuery } from "../lib/redirect-uri.js";
import { isSubset } from "../lib/scopes.js";
import type { AuthorizationRequestRecord } from "../store/types.js";
import { loadPendingRequest } from "../authorization/pending.js";
import { PARAMETERS, refuseRepeatedParameters } from "../protocol/parameters.js";

/**
 * Records the user's decision. Approval of a subset of the offered scopes
 * issues a single-use authorization code bound to the client, redirect URI,
 * PKCE challenge, user, scopes and nonce (RFC 6749 §4.1.2); approving nothing,
 * or denying, answers `access_denied` to the client. Either way the pending
 * request is spent. A client that remembers consent remembers the approval.
 */
export async function consent(
  deps: Deps,
  request: ConsentRequest,
): Promise<MessageInitShape<typeof ConsentResponseSchema>> {
  refuseRepeatedParameters(PARAMETERS.consent, request.repeatedParameters);
  const pending = await loadPendingRequest(deps, request);
  if (pending.userId === null || pending.offeredScopes === null || pending.authTime === null) {
    throw new OAuthError("invalid_request", "log in before giving consent");
  }
  const approved = [...new Set(request.scopes)];
  if (!request.deny && !isSubset(approved, pending.offeredScopes)) {
    throw new OAuthError("invalid_request", "consent names a scope that was not offered");
  }
  const signedIn = { ...pending, userId: pending.userId, offeredScopes: pending.offeredScopes, authTime: pending.authTime };
  return { redirectTo: await completeRequest(deps, signedIn, request.deny ? [] : approved, { answered: true }) };
}

type SignedIn = AuthorizationRequestRecord & { userId: string; offeredScopes: string[]; authTime: number };

/**
 * Spends a signed-in pending request: with no approved scope, the client is
 * told `access_denied`; otherwise a code is issued for the approved ones (and
 * remembered, for a client that remembers consent). Answers where to send the
 * user agent. The decision's events land in the same transaction: the user's
 * answer to the consent page (`answered`; a remembered consent answers
 * without it), and the code issued.
 */
export async function completeRequest(
  deps: Deps,
  pending: SignedIn,
  approved: readonly string[],
  { answered }: { answered: boolean },
): Promise<string> {
  const issuer = issuerOf(deps.config.baseUrl, pending);
  const now = epochSeconds(deps.clock);
  const decision = {
    chain: { organization: pending.organization, project: pending.project },
    actor: party("user", pending.userId),
    target: party("client", pending.clientId),
  } satisfies Partial<AuditNote>;
  return deps.store.transaction(async (store) => {
    if (!(await store.consumeAuthorizationRequest(pending.idHash))) {
      throw new OAuthError("invalid_request", "the authorization request was already completed");
    }
    if (approved.length === 0) {
      await recordRefusal(deps, { ...decision, action: "CONSENT_DENIED", reason: "access_denied" }, store);
      return withQuery(pending.redirectUri, {
        error: "access_denied",
        error_description: "the user did not grant access",
        state: pending.state,
        iss: issuer,
      });
    }
    // Kept in the order they were offered, whatever order the form sent.
    const scopes = pending.offeredScopes.filter((scope) => approved.includes(scope));
    const code = randomToken();
    const client = await store.getClient(pending, pending.clientId);
    await store.createAuthorizationCode({
      organization: pending.organization,
      project: pending.project,
      codeHash: sha256(code),
      clientId: pending.clientId,
      userId: pending.userId,
      redirectUri: pending.redirectUri,
      scopes,
      codeChallenge: pending.codeChallenge,
      codeChallengeMethod: pending.codeChallengeMethod,
      nonce: pending.nonce,
      authTime: pending.authTime,
      sessionId: pending.sessionId,
      acr: pending.acr,
      amr: pending.amr,
      claims: pending.claims,
      createdAt: now,
      // FAPI 2.0 §5.3.2.1 item 11: at most 60 s for a client under the profile.
      expiresAt: now + (client === undefined ? deps.config.authorizationCodeTtl : codeTtl(client, deps.config.authorizationCodeTtl)),
      consumedAt: null,
      grantId: null,
      dpopJkt: pending.dpopJkt,
      resources: pending.resources,
    });
    // The session now signs the user into this client: it is told of the session's end.
    if (pending.sessionId !== "") await store.touchSession(pending, pending.sessionId, now, pending.clientId);
    if (client?.rememberConsent === true) {
      await store.rememberConsent({ ...pending, userId: pending.userId, clientId: pending.clientId, scopes, grantedAt: now });
    }
    if (answered) await recordSuccess(deps, { ...decision, action: "CONSENT_GIVEN", scopes }, store);
    await recordSuccess(deps, { ...decision, action: "CODE_ISSUED", scopes }, store);
    return withQuery(pending.redirectUri, { code, state: pending.state, iss: issuer });
  });
}
