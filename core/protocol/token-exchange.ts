/** The names RFC 8693 gives to token exchange and to the tokens it takes and issues. */

/** RFC 8693 §2.1: the grant type of a token exchange request. */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

/** RFC 8693 §3: an OAuth 2.0 access token, the only type iam-core takes and issues in an exchange. */
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/**
 * How many exchanges may be chained (a token exchanged, its result exchanged
 * again…): the depth of `act` nesting, and of the grants an exchanged grant
 * hangs off, which every verification walks.
 */
export const MAX_DELEGATION_DEPTH = 4;
