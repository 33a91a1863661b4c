/**
 * What a grant remembers of DPoP (RFC 9449 §5), and what its refreshes then
 * need. A grant records the key of the request that made it: a public
 * client's refresh tokens need a proof of that same key (they are bound to
 * it); a confidential client authenticates each refresh itself and may move
 * to a new key, but a grant begun with DPoP never goes back to bearer tokens.
 */
import { OAuthError } from "../errors.js";
import type { ClientRecord, GrantRecord } from "../store/types.js";
import type { CheckedProof } from "./proof.js";

/** The key a new grant records: the proof's, "" for none. */
export const grantKeyOf = (dpop: CheckedProof | undefined): string => dpop?.jkt ?? "";

/** Throws invalid_grant unless a refresh of `grant` by `client` comes with the proof its binding needs. */
export function checkRefreshBinding(grant: GrantRecord, client: ClientRecord, dpop: CheckedProof | undefined): void {
  if (grant.dpopJkt === "") return;
  if (dpop === undefined) throw new OAuthError("invalid_grant", "the refresh token was issued with DPoP: send a DPoP proof");
  if (client.type === "public" && dpop.jkt !== grant.dpopJkt) {
    throw new OAuthError("invalid_grant", "the DPoP proof's key is not the one the refresh token is bound to");
  }
}
