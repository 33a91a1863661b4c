import { issuerOf, type Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken } from "../lib/crypto.js";
import { signJwt } from "../tokens/keys.js";
import type { ClientRecord, SessionRecord } from "../store/types.js";

/** @see OpenID Connect Back-Channel Logout 1.0 §2.4: the event a logout token carries. */
export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

/** @see Back-Channel Logout 1.0 §2.4: the explicit type of a logout token (RFC 8725 §3.11). */
export const LOGOUT_TOKEN_TYPE = "logout+jwt";

/** Seconds a logout token is valid: long enough to reach the client, too short to be worth keeping. */
export const LOGOUT_TOKEN_TTL = 120;

/**
 * The logout token telling `client` that `session` ended (Back-Channel
 * Logout 1.0 §2.4): iss, aud (the client), iat, exp, jti, sub, sid and the
 * back-channel logout event; never a nonce (§2.4: it would let a logout token
 * pass for an ID token). Signed with the algorithm the client registered for
 * its ID tokens, which is the one it verifies (§2.6 step 3 follows ID tokens).
 */
export async function signLogoutToken(deps: Deps, session: SessionRecord, client: ClientRecord): Promise<string> {
  const { kid, key, alg } = await deps.keys.signing(session, client.idTokenSignedResponseAlg);
  const iat = epochSeconds(deps.clock);
  return signJwt(
    { alg, typ: LOGOUT_TOKEN_TYPE, kid },
    {
      iss: issuerOf(deps.config.baseUrl, session),
      aud: client.id,
      iat,
      exp: iat + LOGOUT_TOKEN_TTL,
      jti: randomToken(16),
      sub: session.userId,
      sid: session.id,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    },
    key,
  );
}
