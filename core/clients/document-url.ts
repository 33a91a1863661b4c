/**
 * Which client_id values are client ID metadata document URLs, and which of
 * those may be fetched (draft-ietf-oauth-client-id-metadata-document §3).
 */

/** The longest URL taken as a client_id. */
export const MAX_URL_LENGTH = 2048;

/**
 * Whether a client_id is meant as a URL: it begins with a scheme. The
 * AdminService's client ids cannot hold `:` (rpc/admin/validate.ts), so no
 * registered client is taken for one.
 */
export const isDocumentClientId = (clientId: string): boolean => /^[A-Za-z][A-Za-z0-9+.-]*:/.test(clientId);

/**
 * The client_id as a URL that may name a metadata document, or why not
 * (§3): the https scheme, a path component, no single- or double-dot path
 * segment, no fragment, no username or password. It must also be written as
 * the URL parser writes it (lower-case host, no default port, no
 * percent-encoding left to normalise), so that one document has one
 * client_id: the document's own `client_id` is compared to it as a string.
 */
export function documentUrl(clientId: string): URL | string {
  if (clientId.length > MAX_URL_LENGTH) return `a client_id URL must be at most ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return "the client_id is not a URL";
  }
  if (url.protocol !== "https:") return "a client_id URL must use the https scheme";
  if (url.username !== "" || url.password !== "") return "a client_id URL must not contain a username or password";
  if (clientId.includes("#")) return "a client_id URL must not contain a fragment";
  // Checked on the text as given: the parser removes dot segments.
  const path = clientId.slice(clientId.indexOf("//") + 2).replace(/^[^/?]*/, "").replace(/\?.*$/, "");
  if (path.split("/").some((segment) => segment === "." || segment === ".." || /^(%2e|\.){1,2}$/i.test(segment))) {
    return "a client_id URL must not contain dot path segments";
  }
  if (url.pathname === "/" || url.pathname === "") return "a client_id URL must have a path";
  if (url.href !== clientId) return `a client_id URL must be in its normal form (${url.href})`;
  return url;
}
