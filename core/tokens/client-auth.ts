import { Code } from "@connectrpc/connect";
import { party, recordRefusal } from "../audit/record.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { sameDigest, sha256Digest } from "../lib/crypto.js";
import type { PasswordHashing } from "../lib/password.js";
import type { ClientRecord, ClientStore, ProjectRef } from "../store/types.js";

/**
 * The client credentials of a token, introspection, revocation or pushed
 * authorization request, as the HTTP request held them (ClientAuthentication
 * of token.proto). Every endpoint that authenticates clients takes them so
 * and hands them to `authenticateClient`: a new way to authenticate
 * (private_key_jwt, RFC 7523 §2.2) is a field here and a case in
 * `credentialsOf`, and reaches them all.
 */
export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  basic?: { clientId: string; clientSecret: string } | undefined;
}

/** A request that carried no credentials at all. */
export const NO_CREDENTIALS: ClientCredentials = { clientId: "", clientSecret: "" };

export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "none";

export interface AuthenticatedClient {
  client: ClientRecord;
  method: ClientAuthMethod;
}

const CACHE_LIMIT = 10_000;
/** A client id in an event: at most as long as a client id may be (rpc/admin/validate.ts). */
const MAX_CLIENT_ID_IN_EVENT = 128;

/** A client of the project that failed to authenticate (not an unknown client id). */
class ClientAuthenticationFailed extends OAuthError {
  readonly clientId: string;

  constructor(clientId: string, detail: string) {
    super("invalid_client", "client authentication failed", { detail });
    this.clientId = clientId;
  }
}

/**
 * Before authentication: guessing a client's secret is limited too, at the
 * token endpoint and at the pushed authorization request endpoint, which
 * authenticates clients the same way (one budget per client for both, else
 * either would be a way around the other's). Only requests that present a
 * secret are counted: a public client's id is no secret, and a bucket anyone
 * can spend with it would let anyone stop every user of that application
 * from signing in. Its codes and refresh tokens are not guessable, and
 * sign-in itself is limited per address.
 */
export function limitSecretGuessing(deps: Deps, project: ProjectRef, request: ClientCredentials, endpoint: string): void {
  const clientId = request.basic?.clientId || request.clientId;
  if (clientId === "" || (request.basic === undefined && request.clientSecret === "")) return;
  const wait = deps.limits.token.take(`${project.organization}/${project.project}/${clientId}`, deps.clock.now());
  if (wait > 0) {
    throw new OAuthError("temporarily_unavailable", `too many ${endpoint} requests from this client: retry in ${wait} s`, {
      status: 429,
      code: Code.ResourceExhausted,
      retryAfter: wait,
    });
  }
}

/**
 * Authenticates the client of a token, introspection, revocation or pushed
 * authorization request
 * (`deps.clients`). A client of the project that fails is recorded
 * (CLIENT_AUTHENTICATION_FAILED); an unknown client id is not: it names
 * nothing of the project, and anyone could fill the trail with made-up ids.
 */
export async function authenticateClient(deps: Deps, project: ProjectRef, request: ClientCredentials): Promise<AuthenticatedClient> {
  try {
    return await deps.clients.authenticate(project, request);
  } catch (err) {
    if (err instanceof ClientAuthenticationFailed) {
      await recordRefusal(deps, {
        chain: { organization: project.organization, project: project.project },
        action: "CLIENT_AUTHENTICATION_FAILED",
        actor: null,
        target: party("client", err.clientId.slice(0, MAX_CLIENT_ID_IN_EVENT)),
        reason: err.error,
      });
    }
    throw err;
  }
}

/**
 * Client authentication at the token endpoint (RFC 6749 §2.3). Secrets are
 * stored as argon2id hashes; since a confidential client presents the same
 * secret on every call, a successful verification is remembered (as the
 * SHA-256 of the secret next to the stored hash it matched), so later calls
 * cost one hash and a constant-time compare instead of an argon2id run. A
 * rotated secret changes the stored hash and so misses the cache.
 */
export class ClientAuthenticator {
  readonly #store: ClientStore;
  readonly #passwords: PasswordHashing;
  readonly #verified = new Map<string, { secretHash: string; digest: Buffer }>();

  constructor(store: ClientStore, passwords: PasswordHashing) {
    this.#store = store;
    this.#passwords = passwords;
  }

  async authenticate(ref: ProjectRef, request: ClientCredentials): Promise<AuthenticatedClient> {
    const { id, secret, method } = credentialsOf(request);
    const client = id === "" ? undefined : await this.#store.getClient(ref, id);
    if (client === undefined) {
      // Same work as for a known client with a wrong secret.
      await this.#passwords.verify(undefined, secret ?? "");
      throw new OAuthError("invalid_client", "client authentication failed", { detail: "unknown client" });
    }
    if (client.type === "public") {
      if (method !== "none") throw new ClientAuthenticationFailed(id, "public client sent a secret");
      return { client, method };
    }
    if (method === "none" || client.secretHash === null || !(await this.#verifySecret(client, secret!))) {
      throw new ClientAuthenticationFailed(id, method === "none" ? "confidential client sent no secret" : "wrong secret");
    }
    return { client, method };
  }

  async #verifySecret(client: ClientRecord, secret: string): Promise<boolean> {
    const key = `${client.organization}\u0000${client.project}\u0000${client.id}`;
    const digest = sha256Digest(secret);
    const cached = this.#verified.get(key);
    if (cached !== undefined && cached.secretHash === client.secretHash && sameDigest(cached.digest, digest)) {
      return true;
    }
    if (!(await this.#passwords.verify(client.secretHash!, secret))) return false;
    if (this.#verified.size >= CACHE_LIMIT) this.#verified.clear();
    this.#verified.set(key, { secretHash: client.secretHash!, digest });
    return true;
  }
}

/**
 * Which credentials the request carries. RFC 6749 §2.3: a client must not use
 * more than one authentication method in a request.
 */
function credentialsOf(request: ClientCredentials): { id: string; secret: string | undefined; method: ClientAuthMethod } {
  const { basic } = request;
  if (basic !== undefined) {
    if (request.clientSecret !== "") {
      throw new OAuthError("invalid_request", "more than one client authentication method was used");
    }
    if (request.clientId !== "" && request.clientId !== basic.clientId) {
      throw new OAuthError("invalid_request", "client_id differs from the client authenticated by HTTP Basic");
    }
    return { id: basic.clientId, secret: basic.clientSecret, method: "client_secret_basic" };
  }
  if (request.clientSecret !== "") {
    return { id: request.clientId, secret: request.clientSecret, method: "client_secret_post" };
  }
  return { id: request.clientId, secret: undefined, method: "none" };
}
