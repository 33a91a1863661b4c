/** @see RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Splits a space-delimited scope parameter into distinct scope tokens, in the
 * order given. Answers undefined when a token has characters RFC 6749 §3.3
 * does not allow.
 */
export function parseScope(scope: string): string[] | undefined {
  const tokens = scope.split(" ").filter((token) => token !== "");
  if (!tokens.every((token) => SCOPE_TOKEN.test(token))) return undefined;
  return [...new Set(tokens)];
}

export function formatScope(scopes: readonly string[]): string {
  return scopes.join(" ");
}

/**
 * The scopes a subject receives: those requested that it holds, or all it
 * holds when none were requested. Order follows the request (or the holdings).
 */
export function selectScopes(requested: readonly string[], held: readonly string[]): string[] {
  if (requested.length === 0) return [...held];
  const holding = new Set(held);
  return requested.filter((scope) => holding.has(scope));
}

/** True when every scope of `subset` is in `superset`. */
export function isSubset(subset: readonly string[], superset: readonly string[]): boolean {
  const all = new Set(superset);
  return subset.every((scope) => all.has(scope));
}
