/**
 * The storage contract of the token flows (see types.ts, which re-exports
 * it): authorization requests, codes, grants and their refresh tokens, and
 * remembered consents. Codes, refresh tokens and request ids are stored as
 * SHA-256 hashes, never raw.
 */
import type { EpochSeconds, ProjectRef } from "./types.js";

export interface AuthorizationRequestRecord extends ProjectRef {
  /** SHA-256 of the request id handed to the user agent. */
  idHash: string;
  clientId: string;
  redirectUri: string;
  /** The scopes asked for that the project knows; empty = all the user holds. */
  scopes: string[];
  state: string;
  codeChallenge: string;
  codeChallengeMethod: "S256" | "plain" | "";
  nonce: string;
  /** SHA-256 of the browser binding cookie, "" when none was given. */
  browserBindingHash: string;
  /** Set by a successful login. */
  userId: string | null;
  authTime: EpochSeconds | null;
  /** The scopes Login offered the user. */
  offeredScopes: string[] | null;
  /** The sign-in session (its `sid`) the user was authenticated by, set with userId; "" before. */
  sessionId: string;
  /** The `acr` the sign-in satisfies ("" for none) and its `amr` values. */
  acr: string;
  amr: string[];
  /** The `claims` request parameter (OpenID Connect Core §5.5) as validated JSON; "" when absent. */
  claims: string;
  /** `prompt=consent`: the consent page is shown even when consent is remembered. */
  forceConsent: boolean;
  /** Whether the client asked for a multi-factor sign-in (`acr_values`, or an essential `acr` claim). */
  mfaRequested: boolean;
  /** `iam_action`: what the user does with their sign-in methods after signing in anew; "" for none. */
  action: "" | "add_factor" | "new_recovery_codes";
  /**
   * Set once a first factor (a password, or the browser's session) has
   * identified the user and a second one is due: to be verified, or, for a
   * user who has none, enrolled. The request is not authenticated until then.
   */
  secondFactor: SecondFactorStage | null;
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
  /** The DPoP key the request binds its code to (RFC 9449 §10 `dpop_jkt`), "" for none. */
  dpopJkt: string;
  /** The resources the request asks tokens for (RFC 8707 `resource`), registered ones; empty for the project's audience. */
  resources: string[];
}

/** The second step of a sign-in: who it is for, what is due, and the `amr` of the first. */
export interface SecondFactorStage {
  userId: string;
  stage: "verify" | "enrol";
  amr: string[];
  /** The sign-in session that stepped up (its id); "" after a password. */
  sessionId: string;
}

/** Parameters by their names on the wire: one value each, a list for those that may repeat (RFC 8707 `resource`). */
export type PushedParameters = Record<string, string | string[]>;

/**
 * A pushed authorization request (RFC 9126): the parameters of an
 * authorization request that passed every check, kept under the hash of
 * its request_uri until that is used once or expires.
 */
export interface PushedAuthorizationRequestRecord extends ProjectRef {
  /** SHA-256 of the request_uri handed to the client. */
  uriHash: string;
  /** The client that pushed it, authenticated: the one client it serves. */
  clientId: string;
  /**
   * The request's parameters by their names on the wire (`redirect_uri`,
   * `code_challenge`…), those given only: replayed through the
   * authorization endpoint's checks when the request_uri is used.
   */
  parameters: PushedParameters;
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
}

export interface AuthorizationCodeRecord extends ProjectRef {
  codeHash: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string;
  codeChallengeMethod: "S256" | "plain" | "";
  nonce: string;
  authTime: EpochSeconds;
  /** The sign-in session, acr, amr and requested claims of the authorization request (see AuthorizationRequestRecord). */
  sessionId: string;
  acr: string;
  amr: string[];
  claims: string;
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
  /** Set by the first exchange. */
  consumedAt: EpochSeconds | null;
  /** The grant the first exchange created; revoked when the code is replayed. */
  grantId: string | null;
  /** The DPoP key the code is bound to (RFC 9449 §10: the request's `dpop_jkt`), "" for none. */
  dpopJkt: string;
  /** The resources of its request (RFC 8707), which its grant keeps; empty for the project's audience. */
  resources: string[];
}

/**
 * A grant: one authorization of a client by a user, the family of every
 * refresh and access token issued from it. Revoking it stops them all.
 */
export interface GrantRecord extends ProjectRef {
  id: string;
  clientId: string;
  /** `user`: a user authorized the client; `client`: the client acting for itself (client_credentials). */
  kind: "user" | "client";
  /** The user; "" for a client grant. */
  userId: string;
  scopes: string[];
  authTime: EpochSeconds;
  /**
   * The sign-in session the grant was made in ("" for none: client grants,
   * the password grant): ending the session revokes the grant.
   */
  sessionId: string;
  acr: string;
  amr: string[];
  /** The `claims` request parameter of the authorization request, "" when absent. */
  claims: string;
  createdAt: EpochSeconds;
  /** The last expiry of any token issued in it: past that, the grant can be purged. */
  expiresAt: EpochSeconds;
  revokedAt: EpochSeconds | null;
  /**
   * The DPoP key a public client's grant is bound to (RFC 9449 §5): its
   * refresh tokens are accepted only with a proof of that key. "" for none.
   */
  dpopJkt: string;
  /**
   * The resources its tokens may be for (RFC 8707 §2.2: the refresh token
   * keeps the whole set, each access token names some of them); empty for
   * the project's audience.
   */
  resources: string[];
  /**
   * For a grant made by token exchange (RFC 8693): the grant of the subject
   * token. Its tokens are active only while that grant (and its own parent,
   * up the chain) is. Absent or "" for none.
   */
  parentGrantId?: string;
}

export interface RefreshTokenRecord {
  tokenHash: string;
  grantId: string;
  clientId: string;
  scopes: string[];
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
  /** Set when the token was exchanged for a new one. */
  rotatedAt: EpochSeconds | null;
  /** The refresh token it was issued in exchange for (its hash); null for the first of a family. */
  parentHash: string | null;
}

export interface AuthorizationRequestStore {
  createAuthorizationRequest(request: AuthorizationRequestRecord): Promise<void>;
  getAuthorizationRequest(idHash: string): Promise<AuthorizationRequestRecord | undefined>;
  /** Records a successful login (by password, or by the browser's sign-in session) on a pending request. */
  authenticateAuthorizationRequest(
    idHash: string,
    login: { userId: string; authTime: EpochSeconds; offeredScopes: string[]; sessionId: string; acr: string; amr: string[] },
  ): Promise<void>;
  /** Records that a first factor identified the user of a pending request and a second one is due. */
  awaitSecondFactor(idHash: string, stage: SecondFactorStage): Promise<void>;
  /** Counts a failed login on a pending request; answers the failures so far. */
  recordFailedLogin(idHash: string): Promise<number>;
  /** Deletes a pending request; false when it was already gone (used or expired). */
  consumeAuthorizationRequest(idHash: string): Promise<boolean>;
}

export interface PushedAuthorizationRequestStore {
  /** Keeps a pushed request; a request_uri hash already kept is AlreadyExists. */
  createPushedAuthorizationRequest(request: PushedAuthorizationRequestRecord): Promise<void>;
  /**
   * Removes and answers the pushed request of this project with this hash:
   * each is answered once, whoever asks, expired or not (the caller decides
   * on its expiry). Undefined when there is none, or it was taken already.
   */
  takePushedAuthorizationRequest(ref: ProjectRef, uriHash: string): Promise<PushedAuthorizationRequestRecord | undefined>;
}

export interface AuthorizationCodeStore {
  createAuthorizationCode(code: AuthorizationCodeRecord): Promise<void>;
  getAuthorizationCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined>;
  /**
   * Marks a code used and binds it to the grant its exchange created.
   * False when it was already used: the caller lost a race or sees a replay.
   */
  consumeAuthorizationCode(codeHash: string, grantId: string, at: EpochSeconds): Promise<boolean>;
}

export interface GrantStore {
  /**
   * A grant made in a sign-in session that has ended (or is gone) by the
   * time it is written is written revoked: a session ended while a code was
   * being exchanged cannot leave a live grant behind.
   */
  createGrant(grant: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /** The live (unrevoked) client grant of a client, if any. */
  findClientGrant(ref: ProjectRef, clientId: string): Promise<GrantRecord | undefined>;
  /** Pushes the grant's expiry out to cover a newly issued token. */
  extendGrant(id: string, expiresAt: EpochSeconds): Promise<void>;
  /**
   * Revokes the grant and every refresh token of it. Answers whether this
   * call revoked it: false for a grant unknown or already revoked, also when
   * another transaction revoked it first while this one waited.
   */
  revokeGrant(id: string, at: EpochSeconds): Promise<boolean>;
}

/**
 * One-time JWTs seen: DPoP proofs (RFC 9449 §11.1) and client assertions
 * (RFC 7523 §3 item 7, OpenID Connect Core §9), each accepted once across
 * every worker and replica (the dpop_proofs table holds both; their hashes
 * are domain-separated by their callers).
 */
export interface DpopProofStore {
  /**
   * Records a JWT by the hash of what makes it unique (a proof's key and
   * jti, an assertion's client and jti), kept until `expiresAt`, when it
   * could no longer be accepted anyway; false when it was recorded before:
   * a replay.
   */
  recordSingleUse(proofHash: string, expiresAt: EpochSeconds): Promise<boolean>;
}

export interface RefreshTokenStore {
  createRefreshToken(token: RefreshTokenRecord): Promise<void>;
  getRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /**
   * Marks a refresh token as exchanged, and with it its siblings (the other
   * tokens issued for the same parent within a grace window); false when it
   * already was.
   */
  rotateRefreshToken(tokenHash: string, at: EpochSeconds): Promise<boolean>;
}

export interface ConsentRecord extends ProjectRef {
  userId: string;
  clientId: string;
  scopes: string[];
  grantedAt: EpochSeconds;
}

export interface ConsentStore {
  getConsent(ref: ProjectRef, userId: string, clientId: string): Promise<ConsentRecord | undefined>;
  /** Adds `scopes` to what the user approved for the client (creating the record). */
  rememberConsent(consent: ConsentRecord): Promise<void>;
  listConsents(ref: ProjectRef, userId: string): Promise<ConsentRecord[]>;
  /** Forgets the consent and revokes every grant the user gave the client; false when there was none of either. */
  revokeConsent(ref: ProjectRef, userId: string, clientId: string, at: EpochSeconds): Promise<boolean>;
}
