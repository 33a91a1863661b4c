import { compactVerify, decodeProtectedHeader } from "jose";
import { issuerOf, type Deps } from "../deps.js";
import type { ProjectRef } from "../store/types.js";
import { GRANT_CLAIM } from "./issue.js";

/** What an ID token hint tells of the user it was issued for. */
export interface IdTokenHint {
  sub: string;
  aud: string[];
  sid?: string;
}

/** Longer than any ID token this server signs; anything longer is not one of them. */
const MAX_LENGTH = 16 * 1024;

/**
 * An ID token this project issued, given back as `id_token_hint` (OpenID
 * Connect Core §3.1.2.1, RP-Initiated Logout 1.0 §2): signed by one of the
 * project's published keys (current, or retired and still verifying), with
 * the algorithm of that key only, `iss` the project's issuer, and the header
 * `typ` absent or `JWT`, so that an access token (`at+jwt`) or a logout token
 * (`logout+jwt`) is never taken for one. An expired ID token is accepted, as
 * §3.1.2.1 allows; a bad signature never is. Undefined for anything else.
 */
export async function verifyIdTokenHint(
  deps: Pick<Deps, "keys" | "config">,
  ref: ProjectRef,
  token: string,
): Promise<IdTokenHint | undefined> {
  if (typeof token !== "string" || token.length > MAX_LENGTH || token.split(".").length !== 3) return undefined;
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
  if (header.typ !== undefined && header.typ !== "JWT") return undefined;
  if (typeof header.kid !== "string") return undefined;
  const key = await deps.keys.verifying(ref, header.kid);
  // The key's own algorithm, never the one the header asks for (RFC 8725 §3.1).
  if (key === undefined || header.alg !== key.alg) return undefined;

  let payload: Record<string, unknown>;
  try {
    const verified = await compactVerify(token, key.key, { algorithms: [key.alg] });
    payload = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(verified.payload)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
  if (payload.iss !== issuerOf(deps.config.baseUrl, ref)) return undefined;
  // Not an access token's claims nor a logout token's, whatever its header says.
  if (GRANT_CLAIM in payload || "events" in payload) return undefined;

  const { sub, aud, sid, exp, iat } = payload;
  if (typeof sub !== "string" || sub === "") return undefined;
  const audience = typeof aud === "string" ? [aud] : aud;
  if (!Array.isArray(audience) || audience.length === 0 || !audience.every((a) => typeof a === "string" && a !== "")) {
    return undefined;
  }
  // Core §2: exp and iat are required; their values are not checked here (expired hints are accepted).
  if (typeof exp !== "number" || typeof iat !== "number") return undefined;
  if (sid !== undefined && (typeof sid !== "string" || sid === "")) return undefined;
  return { sub, aud: audience as string[], ...(sid !== undefined ? { sid } : {}) };
}
