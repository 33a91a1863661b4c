/**
 * RFC 9700 §4.1.3 and RFC 6749 §3.1.2.3: the redirect URI of a request must
 * equal one registered for the client, compared as exact strings: no
 * normalization, no prefix or pattern matching.
 */
export function isRegisteredRedirectUri(registered: readonly string[], presented: string): boolean {
  return presented !== "" && registered.includes(presented);
}

/**
 * Adds response parameters to a redirect URI, keeping the query it already
 * has (RFC 6749 §3.1.2: the registered URI may carry a query, which must be
 * retained).
 */
export function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") query.append(name, value);
  }
  if (query.size === 0) return uri;
  // Appended as text rather than through URL, so the registered part stays
  // byte for byte what the client registered.
  const separator = uri.includes("?") ? (uri.endsWith("?") || uri.endsWith("&") ? "" : "&") : "?";
  return uri + separator + query.toString();
}
