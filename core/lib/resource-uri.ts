/**
 * The URI of a protected resource (RFC 8707 §2): what an administrator may
 * register, and what a client may name as `resource`. It must be an absolute
 * URI without a fragment; iam-core is stricter than the RFC's SHOULDs, since
 * the URI becomes a token's `aud` and is compared exactly: https (or http on
 * a loopback host, for development), no user info, no query, and already in
 * the form a URL parser writes it (lowercase scheme and host, no default
 * port, no dot segments), so that two spellings never name one resource.
 */
import { isLoopbackHost } from "./network-address.js";

/** Longer URIs are refused before parsing. */
export const MAX_RESOURCE_URI = 2048;


/** Why `uri` cannot name a resource, as a phrase ("it has a fragment"); undefined when it can. */
export function resourceUriProblem(uri: string): string | undefined {
  if (uri === "") return "it is empty";
  if (uri.length > MAX_RESOURCE_URI) return `it is longer than ${MAX_RESOURCE_URI} characters`;
  if (uri.includes("#")) return "it has a fragment";
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return "it contains white space or a control character";
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "it is not an absolute URI";
  }
  if (url.username !== "" || url.password !== "") return "it has user info";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    return "its scheme is not https (http only on a loopback host)";
  }
  if (url.hostname === "") return "it has no host";
  if (url.search !== "" || uri.includes("?")) return "it has a query";
  // URL writes an empty path as "/": both spellings of the root are the one the client chose.
  const written = url.href;
  if (written !== uri && !(url.pathname === "/" && written === `${uri}/`)) return `it is not in canonical form (${written})`;
  return undefined;
}
