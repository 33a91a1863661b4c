/**
 * Who may use the registration endpoints (RFC 7591 §3, RFC 7592 §2): a
 * project that allows registration, a caller under its rate, and, where
 * required, an initial access token; a registered client's registration
 * access token for its own registration. Every token fault is invalid_token
 * (RFC 6750 §3.1), 401: the gateway answers it with its Bearer challenge.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { constantEquals, sha256 } from "../lib/crypto.js";
import type { ClientRecord, ClientRegistrationRecord, InitialAccessTokenRecord, ProjectRecord, ProjectRef } from "../store/types.js";

/**
 * The project, when it allows registration. Otherwise NOT_FOUND, which the
 * gateway answers 404: discovery names no registration endpoint for it, so
 * there is none to find (RFC 8414 §2), and a caller learns nothing of a
 * project that does not exist either.
 */
export async function registrationProject(deps: Deps, ref: ProjectRef): Promise<ProjectRecord> {
  const project = await deps.store.getProject(ref);
  if (project === undefined || project.clientRegistration === "") {
    throw new ConnectError("this project has no client registration endpoint", Code.NotFound);
  }
  return project;
}

/**
 * Registration calls per client address and project (IAM_REGISTRATION_RATE_PER_ADDRESS):
 * past it 429 with Retry-After, before anything is read or written, so a
 * flood costs neither hashing nor storage.
 */
export function limitRegistration(deps: Deps, ref: ProjectRef, address: string): void {
  const wait = deps.limits.registration.take(`${ref.organization}/${ref.project}/${address}`, deps.clock.now());
  if (wait > 0) {
    throw new OAuthError("temporarily_unavailable", `too many client registration requests from this address: retry in ${wait} s`, {
      status: 429,
      code: Code.ResourceExhausted,
      retryAfter: wait,
    });
  }
}

export const invalidToken = (description: string, detail?: string) => new OAuthError("invalid_token", description, { detail });

/**
 * The initial access token presented (RFC 7591 §3): one of the project's,
 * not expired, with a use left. Its use is spent with the registration
 * itself (spendInitialAccessToken), so a refused registration spends none.
 */
export async function validInitialAccessToken(deps: Deps, ref: ProjectRef, token: string): Promise<InitialAccessTokenRecord> {
  if (token === "") throw invalidToken("this project registers clients with an initial access token only");
  const found = await deps.store.findInitialAccessToken(ref, sha256(token));
  if (found === undefined) throw invalidToken("the initial access token is not valid", "unknown initial access token");
  if (found.expiresAt <= epochSeconds(deps.clock)) throw invalidToken("the initial access token is not valid", `initial access token ${found.id} expired`);
  if (found.usesLeft !== null && found.usesLeft <= 0) throw invalidToken("the initial access token is not valid", `initial access token ${found.id} spent`);
  return found;
}

/**
 * The client and registration a registration access token is for (RFC 7592
 * §2): its hash compared in constant time. An unknown client, one not
 * registered dynamically, or a wrong token are all the same 401 (§2.1: the
 * server must not tell a deleted client from a wrong token).
 */
export async function registeredClientOf(
  deps: Deps,
  ref: ProjectRef,
  clientId: string,
  token: string,
): Promise<{ client: ClientRecord; registration: ClientRegistrationRecord }> {
  if (token === "") throw invalidToken("a registration access token is required");
  const registration = await deps.store.getClientRegistration(ref, clientId);
  const client = registration === undefined ? undefined : await deps.store.getClient(ref, clientId);
  if (registration === undefined || client === undefined || !constantEquals(registration.tokenHash, sha256(token))) {
    throw invalidToken("the registration access token is not valid for this client", registration === undefined ? "unknown registration" : "wrong registration access token");
  }
  return { client, registration };
}
