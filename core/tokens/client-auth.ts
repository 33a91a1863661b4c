import { Code } from "@connectrpc/connect";
import { party, recordRefusal } from "../audit/record.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { sameDigest, sha256Digest } from "../lib/crypto.js";
import type { PasswordHashing } from "../lib/password.js";
import type { ClientRecord, ClientStore, ProjectRef, TokenEndpointAuthMethod } from "../store/types.js";
import { clientNamed } from "../clients/metadata-client.js";
import { AssertionRefused, JWT_BEARER_ASSERTION, readAssertion, verifyClientAssertion, type ClientEndpoint, type ReadAssertion } from "./client-assertion.js";

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
  /** RFC 7521 §4.2 `client_assertion_type` and `client_assertion`, "" when absent. */
  clientAssertionType?: string;
  clientAssertion?: string;
}

/** A request that carried no credentials at all. */
export const NO_CREDENTIALS: ClientCredentials = { clientId: "", clientSecret: "" };

export type ClientAuthMethod = TokenEndpointAuthMethod;

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
export async function authenticateClient(
  deps: Deps,
  project: ProjectRef,
  request: ClientCredentials,
  /** The endpoint called, whose URL a non-FAPI client's assertion may name as its audience. */
  endpoint: ClientEndpoint,
): Promise<AuthenticatedClient> {
  try {
    return await deps.clients.authenticate(
      project,
      request,
      (client, assertion) => verifyClientAssertion(deps, client, assertion, endpoint),
      (ref, id) => clientNamed(deps, ref, id, "invalid_client"),
    );
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

  /**
   * The client the credentials prove, by the one method it registered
   * (RFC 7591 §2 `token_endpoint_auth_method`; a confidential client that
   * registered none takes either secret method). `verifyAssertion` checks
   * a private_key_jwt assertion (client-assertion.ts).
   */
  async authenticate(
    ref: ProjectRef,
    request: ClientCredentials,
    verifyAssertion: (client: ClientRecord, assertion: ReadAssertion) => Promise<void>,
    /** How the client is found: the store's, unless the caller knows more (metadata documents). */
    find: (ref: ProjectRef, id: string) => Promise<ClientRecord | undefined> = (r, id) => this.#store.getClient(r, id),
  ): Promise<AuthenticatedClient> {
    const { id, secret, assertion, method } = credentialsOf(request);
    const client = id === "" ? undefined : await find(ref, id);
    if (client === undefined) {
      // Same work as for a known client with a wrong secret. Not for an assertion: a known client's costs a
      // signature check, not a password hash, and a made-up sub must not take the sign-in pages' hashing time.
      if (method !== "private_key_jwt") await this.#passwords.verify(undefined, secret ?? "");
      throw new OAuthError("invalid_client", "client authentication failed", { detail: "unknown client" });
    }
    if (!accepts(client, method)) {
      const registered = client.tokenEndpointAuthMethod || (client.type === "public" ? "none" : "a secret");
      throw new ClientAuthenticationFailed(id, `the client authenticates with ${registered}, not ${method}`);
    }
    if (method === "private_key_jwt") {
      try {
        await verifyAssertion(client, assertion!);
      } catch (err) {
        if (err instanceof AssertionRefused) throw new ClientAuthenticationFailed(id, err.message);
        throw err;
      }
      return { client, method };
    }
    if (client.type === "public") return { client, method };
    if (client.secretHash === null || !(await this.#verifySecret(client, secret!))) throw new ClientAuthenticationFailed(id, "wrong secret");
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
 * Whether a client may authenticate by `method`: the one it registered; or,
 * registered without one, `none` when public and either secret method when
 * confidential.
 */
function accepts(client: ClientRecord, method: ClientAuthMethod): boolean {
  const registered = client.tokenEndpointAuthMethod;
  if (registered !== "") return method === registered;
  return client.type === "public" ? method === "none" : method === "client_secret_basic" || method === "client_secret_post";
}

interface Presented {
  id: string;
  secret: string | undefined;
  assertion: ReadAssertion | undefined;
  method: ClientAuthMethod;
}

/**
 * Which credentials the request carries. RFC 6749 §2.3: a client must not use
 * more than one authentication method in a request.
 */
function credentialsOf(request: ClientCredentials): Presented {
  const { basic } = request;
  const assertionType = request.clientAssertionType ?? "";
  const assertion = request.clientAssertion ?? "";
  if (assertionType !== "" || assertion !== "") {
    if (basic !== undefined || request.clientSecret !== "") {
      throw new OAuthError("invalid_request", "more than one client authentication method was used");
    }
    // RFC 7521 §4.2: both parameters, and the one type iam-core supports.
    if (assertionType !== JWT_BEARER_ASSERTION) {
      throw new OAuthError("invalid_request", `client_assertion_type must be ${JWT_BEARER_ASSERTION}`);
    }
    if (assertion === "") throw new OAuthError("invalid_request", "client_assertion is missing");
    let read: ReadAssertion;
    try {
      read = readAssertion(assertion);
    } catch (err) {
      throw new OAuthError("invalid_client", "client authentication failed", { detail: (err as Error).message });
    }
    const id = read.clientId;
    // RFC 7523 §3: client_id, optional, must name the client the assertion is about.
    if (request.clientId !== "" && request.clientId !== id) {
      throw new OAuthError("invalid_client", "client authentication failed", { detail: "client_id differs from the client assertion's sub" });
    }
    return { id, secret: undefined, assertion: read, method: "private_key_jwt" };
  }
  if (basic !== undefined) {
    if (request.clientSecret !== "") {
      throw new OAuthError("invalid_request", "more than one client authentication method was used");
    }
    if (request.clientId !== "" && request.clientId !== basic.clientId) {
      throw new OAuthError("invalid_request", "client_id differs from the client authenticated by HTTP Basic");
    }
    return { id: basic.clientId, secret: basic.clientSecret, assertion: undefined, method: "client_secret_basic" };
  }
  if (request.clientSecret !== "") {
    return { id: request.clientId, secret: request.clientSecret, assertion: undefined, method: "client_secret_post" };
  }
  return { id: request.clientId, secret: undefined, assertion: undefined, method: "none" };
}
