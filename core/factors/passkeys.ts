/**
 * Passkeys (WebAuthn Level 2), through @simplewebauthn/server. The relying
 * party is the server's base URL: its host is the RP ID and its origin the
 * only origin an answer may come from. Each ceremony's challenge is single
 * use: kept in the store until answered once or expired, found again by the
 * hash of the challenge the answer's client data carries.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransportFuture,
  type RegistrationResponseJSON,
} from "@simplewebauthn/server";
import { create } from "@bufbuild/protobuf";
import { LoginFailureSchema } from "../../gen/iam/v1/authorization_pb.js";
import type { LoginContext } from "../authorization/throttle.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256, sha256Digest } from "../lib/crypto.js";
import type { AuthorizationRequestRecord, CeremonyRecord, FactorRecord, UserRecord } from "../store/types.js";

/** How long a browser has to answer a ceremony. */
const CEREMONY_SECONDS = 300;
const MAX_RESPONSE_LENGTH = 16_384;

/** The relying party of a deployment: its base URL's host and origin. */
export function relyingParty(baseUrl: string): { id: string; origin: string } {
  const url = new URL(baseUrl);
  return { id: url.hostname, origin: url.origin };
}

/** The WebAuthn user handle of a user: not their id (no personal data on the authenticator), stable per user. */
const userHandle = (user: UserRecord) => new Uint8Array(sha256Digest(`webauthn:${user.organization}/${user.project}/${user.id}`));

const descriptor = (f: FactorRecord) => ({ id: f.credentialId, transports: f.transports as AuthenticatorTransportFuture[] });

async function remember(deps: Deps, pending: AuthorizationRequestRecord, purpose: CeremonyRecord["purpose"], userId: string, challenge: string) {
  await deps.store.createCeremony({
    organization: pending.organization,
    project: pending.project,
    challengeHash: sha256(challenge),
    purpose,
    requestIdHash: pending.idHash,
    userId,
    expiresAt: epochSeconds(deps.clock) + CEREMONY_SECONDS,
  });
}

/** Options to register a new passkey for `user`, excluding those they have. */
export async function registrationOptions(deps: Deps, pending: AuthorizationRequestRecord, user: UserRecord, projectName: string, existing: FactorRecord[]): Promise<string> {
  const rp = relyingParty(deps.config.baseUrl);
  const options = await generateRegistrationOptions({
    rpName: projectName,
    rpID: rp.id,
    userName: user.id,
    userID: userHandle(user),
    userDisplayName: user.name || user.id,
    attestationType: "none",
    excludeCredentials: existing.filter((f) => f.kind === "passkey").map(descriptor),
    // A discoverable credential, so that it can also sign in without a password where the project allows it.
    authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
    timeout: CEREMONY_SECONDS * 1000,
  });
  await remember(deps, pending, "register", user.id, options.challenge);
  return JSON.stringify(options);
}

/**
 * Options to sign in with a passkey: one of `user`'s, or, for a sign-in
 * with a passkey alone (`user` undefined), any discoverable one, the user
 * verified by the authenticator.
 */
export async function authenticationOptions(deps: Deps, pending: AuthorizationRequestRecord, user: UserRecord | undefined, factors: FactorRecord[]): Promise<string> {
  const rp = relyingParty(deps.config.baseUrl);
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    allowCredentials: user === undefined ? [] : factors.filter((f) => f.kind === "passkey" && f.confirmed).map(descriptor),
    userVerification: user === undefined ? "required" : "preferred",
    timeout: CEREMONY_SECONDS * 1000,
  });
  await remember(deps, pending, "authenticate", user?.id ?? "", options.challenge);
  return JSON.stringify(options);
}

/** A refusal of a passkey answer: the same words whatever was wrong, the reason for the log and the trail. */
export class PasskeyRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** The answer a browser posted, parsed, and the ceremony its challenge belongs to (taken: answered once). */
async function answered<T extends { response: { clientDataJSON: string } }>(
  deps: Deps,
  pending: AuthorizationRequestRecord,
  purpose: CeremonyRecord["purpose"],
  raw: string,
): Promise<{ response: T; ceremony: CeremonyRecord; challenge: string }> {
  let response: T;
  let challenge: string;
  try {
    if (raw.length > MAX_RESPONSE_LENGTH) throw new Error("too long");
    response = JSON.parse(raw) as T;
    const client = JSON.parse(Buffer.from(response.response.clientDataJSON, "base64url").toString("utf8")) as { challenge?: unknown };
    if (typeof client.challenge !== "string") throw new Error("no challenge");
    challenge = client.challenge;
  } catch {
    throw new PasskeyRefused("malformed passkey response");
  }
  const ceremony = await deps.store.takeCeremony(sha256(challenge));
  if (ceremony === undefined || ceremony.purpose !== purpose || ceremony.requestIdHash !== pending.idHash || ceremony.expiresAt <= epochSeconds(deps.clock)) {
    throw new PasskeyRefused("unknown, used or expired passkey challenge");
  }
  return { response, ceremony, challenge };
}

/** Verifies a registration answer; answers the new factor (confirmed), not yet stored. */
export async function verifyRegistration(deps: Deps, pending: AuthorizationRequestRecord, user: UserRecord, raw: string, name: string): Promise<FactorRecord> {
  const { response, ceremony, challenge } = await answered<RegistrationResponseJSON>(deps, pending, "register", raw);
  if (ceremony.userId !== user.id) throw new PasskeyRefused("passkey challenge of another user");
  const rp = relyingParty(deps.config.baseUrl);
  let info;
  try {
    const verified = await verifyRegistrationResponse({ response, expectedChallenge: challenge, expectedOrigin: rp.origin, expectedRPID: rp.id, requireUserVerification: false });
    if (!verified.verified) throw new Error("not verified");
    info = verified.registrationInfo;
  } catch (err) {
    throw new PasskeyRefused(`passkey registration refused: ${(err as Error).message.slice(0, 200)}`);
  }
  const now = epochSeconds(deps.clock);
  return {
    organization: user.organization,
    project: user.project,
    id: "",
    userId: user.id,
    kind: "passkey",
    name,
    secret: Buffer.from(info.credential.publicKey).toString("base64url"),
    credentialId: info.credential.id,
    counter: info.credential.counter,
    transports: (info.credential.transports ?? []).slice(0, 8),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    confirmed: true,
    createdAt: now,
    lastUsedAt: null,
  };
}

/**
 * Verifies an authentication answer against the passkey it names: of
 * `user` (a second factor), or of anyone in the project (a passkey alone,
 * which must have verified the user). Answers the factor, its new counter
 * and backup state; the caller records the use (which refuses a counter that
 * went backwards, atomically).
 */
export async function verifyAuthentication(
  deps: Deps,
  pending: AuthorizationRequestRecord,
  user: UserRecord | undefined,
  raw: string,
): Promise<{ factor: FactorRecord; counter: number; backedUp: boolean }> {
  const { response, ceremony, challenge } = await answered<AuthenticationResponseJSON>(deps, pending, "authenticate", raw);
  if (ceremony.userId !== (user?.id ?? "")) throw new PasskeyRefused("passkey challenge of another sign-in");
  if (typeof response.id !== "string" || response.id.length > 1024) throw new PasskeyRefused("malformed passkey response");
  const factor = await deps.store.findPasskey(pending, response.id);
  if (factor === undefined || !factor.confirmed) throw new PasskeyRefused("unknown passkey");
  if (user !== undefined && factor.userId !== user.id) throw new PasskeyRefused("passkey of another user");
  const rp = relyingParty(deps.config.baseUrl);
  try {
    const verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      credential: { id: factor.credentialId, publicKey: new Uint8Array(Buffer.from(factor.secret, "base64url")), counter: factor.counter, transports: factor.transports as AuthenticatorTransportFuture[] },
      requireUserVerification: user === undefined,
    });
    if (!verified.verified) throw new Error("not verified");
    return { factor, counter: verified.authenticationInfo.newCounter, backedUp: verified.authenticationInfo.credentialBackedUp };
  } catch (err) {
    throw new PasskeyRefused(`passkey assertion refused: ${(err as Error).message.slice(0, 200)}`);
  }
}

/** The refusal a client sees of any passkey failure. */
export const passkeyError = (detail: string, context: LoginContext) =>
  new OAuthError("access_denied", "the passkey could not be verified", {
    status: 401,
    detail,
    // What the login page, shown again, needs: the names, and whether to offer a passkey again.
    details: [{ desc: LoginFailureSchema, value: create(LoginFailureSchema, context) }],
  });
