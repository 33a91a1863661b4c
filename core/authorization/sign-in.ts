import { issuerOf, type Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { isSubset, selectScopes } from "../lib/scopes.js";
import { completeRequest } from "../rpc/consent.js";
import type { AuthorizationRequestRecord, ClientRecord, PermissionRecord, ResourceRecord, SessionRecord, UserRecord } from "../store/types.js";
import { oidcScopesOf } from "../tokens/oidc.js";
import { registeredResources, scopesForResources } from "../tokens/resources.js";
import { redirectError } from "./errors.js";

/** What a signed-in pending request leads to: the consent page for `offered`, or, consent remembered, the client. */
export interface SignedInOutcome {
  offered: PermissionRecord[];
  /** The resources the client asks access to (RFC 8707), for the consent page. */
  resources: ResourceRecord[];
  /** Set when the request is complete: send the user agent here. */
  redirectTo?: string;
}

/**
 * Records on a pending request that its user is authenticated, by a password
 * or by the browser's sign-in session, and answers what comes next: the
 * scopes the user may grant (those requested that they hold, or every one
 * they hold when none were requested), or, when the client remembers consent,
 * its identity is assured (`identityAssured`), `prompt=consent` was not asked
 * and the user approved every offered scope before, the completed request. A user who holds none of the requested
 * scopes sends the client `invalid_scope`.
 */
export async function signIn(
  deps: Deps,
  pending: AuthorizationRequestRecord,
  user: UserRecord,
  session: Pick<SessionRecord, "id" | "authTime" | "acr" | "amr">,
): Promise<SignedInOutcome> {
  const held = [...(await deps.store.getUserPermissions(pending, user.id)), ...oidcScopesOf(pending, pending.scopes)];
  const byId = new Map(held.map((p) => [p.id, p]));
  const refuse = async (error: "invalid_scope" | "invalid_target", description: string) => {
    await deps.store.consumeAuthorizationRequest(pending.idHash);
    return redirectError({ redirectUri: pending.redirectUri, state: pending.state, issuer: issuerOf(deps.config.baseUrl, pending) }, error, description);
  };
  // RFC 8707: only what the named resources accept, also when the request named no scope (everything held).
  // A resource deleted since the request was made is no longer a target.
  const resources = await registeredResources(deps.store, pending, pending.resources).catch(async (err: unknown) => {
    throw err instanceof OAuthError ? await refuse("invalid_target", err.message) : err;
  });
  const offered = scopesForResources(selectScopes(pending.scopes, [...byId.keys()]), resources).map((id) => byId.get(id)!);
  if (pending.scopes.length > 0 && offered.length === 0) throw await refuse("invalid_scope", "the user holds none of the requested scopes");
  const login = {
    userId: user.id,
    authTime: session.authTime,
    offeredScopes: offered.map((p) => p.id),
    sessionId: session.id,
    acr: session.acr,
    amr: session.amr,
  };
  await deps.store.authenticateAuthorizationRequest(pending.idHash, login);
  const signedIn = { ...pending, ...login };

  if (!pending.forceConsent && signedIn.offeredScopes.length > 0) {
    const client = await deps.store.getClient(pending, pending.clientId);
    if (client?.rememberConsent === true && identityAssured(client, pending.redirectUri)) {
      const remembered = await deps.store.getConsent(pending, user.id, client.id);
      if (remembered !== undefined && isSubset(signedIn.offeredScopes, remembered.scopes)) {
        return { offered, resources, redirectTo: await completeRequest(deps, signedIn, signedIn.offeredScopes, { answered: false }) };
      }
    }
  }
  return { offered, resources };
}

/**
 * Whether the client a code would go to is surely the one the user approved
 * before (RFC 8252 §8.6, RFC 6749 §10.2): a confidential client (it proves
 * itself at the token endpoint), or a public one whose redirect URI only it
 * can answer: https, or a loopback origin it registered as its web origin (a
 * page served there). A private-use scheme (`com.example.app:/cb`) or a bare
 * loopback port may be claimed by any app on the device: there a remembered
 * consent is not enough and the user is asked again.
 */
export function identityAssured(client: ClientRecord, redirectUri: string): boolean {
  if (client.type === "confidential") return true;
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return false;
  }
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && client.webOrigins.includes(url.origin);
}
