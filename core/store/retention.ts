/** How long what has ended is kept before purgeExpired deletes it, the same on every backend. */

/** Seconds an ended sign-in session is kept: its cookie, presented again, is still known as ended. */
export const SESSION_KEPT_ENDED = 86_400;

/** Seconds an expired initial access token (RFC 7591 §3) stays listed, so that an administrator sees it expired. */
export const INITIAL_ACCESS_TOKENS_KEPT_EXPIRED = 7 * 86_400;

/**
 * Seconds a client ID metadata document's client row is kept once nothing
 * refers to it (no grant, code, pending or pushed request): the row is a copy
 * of a document anyone can publish, so that rows of documents used once, or
 * never past /authorize, do not pile up. The client's next request fetches
 * the document again and recreates it.
 */
export const METADATA_DOCUMENT_CLIENTS_KEPT_IDLE = 86_400;

/** Seconds the record of a logout delivery is kept, for the operator. */
export const DELIVERIES_KEPT = 30 * 86_400;
