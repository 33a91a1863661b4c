/**
 * The storage contract of multi-factor sign-in (see types.ts, which
 * re-exports it): a user's second factors (TOTP authenticators and
 * passkeys), their recovery codes, the single-use challenges of WebAuthn
 * ceremonies, and each project's multi-factor policy.
 */
import type { EpochSeconds, ProjectRef } from "./types.js";

export type FactorKind = "totp" | "passkey";

/** A second factor of a user. */
export interface FactorRecord extends ProjectRef {
  /** Its public id (random): how the user, the AdminService and events name it. */
  id: string;
  userId: string;
  kind: FactorKind;
  /** What the user or the authenticator calls it ("Authenticator app", "YubiKey 5"). */
  name: string;
  /**
   * TOTP: the shared secret (base32), sealed under the key-encryption key
   * when one is set. Passkey: the credential's COSE public key, base64url.
   */
  secret: string;
  /** Passkey: the credential id, base64url; "" for TOTP. */
  credentialId: string;
  /**
   * TOTP: the last time step a code was accepted for (a code is accepted
   * once). Passkey: the authenticator's signature counter (0 when it keeps
   * none).
   */
  counter: number;
  /** Passkey: the transports the authenticator reported (`usb`, `internal`…). */
  transports: string[];
  /** Passkey: `singleDevice` or `multiDevice` (synced), and whether it is backed up now. "" and false for TOTP. */
  deviceType: string;
  backedUp: boolean;
  /** False while a TOTP enrolment awaits its first code: such a factor never signs anyone in. */
  confirmed: boolean;
  createdAt: EpochSeconds;
  lastUsedAt: EpochSeconds | null;
}

/** A user's recovery codes: how many were issued together, and how many are left. */
export interface RecoveryCodeCount {
  total: number;
  left: number;
  /** When the current set was issued; null when the user has none. */
  issuedAt: EpochSeconds | null;
}

/**
 * A WebAuthn ceremony begun and not yet finished: the challenge the
 * authenticator must sign, kept until it is answered once or expires.
 */
export interface CeremonyRecord extends ProjectRef {
  /** SHA-256 of the challenge (base64url), which the answer's client data carries. */
  challengeHash: string;
  /** `register` (enrolling a passkey) or `authenticate` (signing in with one). */
  purpose: "register" | "authenticate";
  /** The pending authorization request it belongs to (SHA-256 of its id). */
  requestIdHash: string;
  /** The user it is for; "" for a passwordless sign-in, where the credential names the user. */
  userId: string;
  expiresAt: EpochSeconds;
}

/** Who must sign in with a second factor in a project. */
export interface MfaPolicyRecord extends ProjectRef {
  /** `optional`: those who enrolled one; `everyone`; `roles`: holders of any of `roles`. */
  required: "optional" | "everyone" | "roles";
  roles: string[];
  /** Whether a passkey alone (user verified) signs in, without a password. */
  passwordless: boolean;
}

export interface FactorStore {
  createFactor(factor: FactorRecord): Promise<void>;
  /** The user's factors, confirmed or not, oldest first. */
  listFactors(ref: ProjectRef, userId: string): Promise<FactorRecord[]>;
  /** The passkey with this credential id in the project; undefined when none. */
  findPasskey(ref: ProjectRef, credentialId: string): Promise<FactorRecord | undefined>;
  /**
   * Records a use of a confirmed factor (and confirms an unconfirmed TOTP
   * one with its first code): `counter` becomes the stored one only when it
   * is greater, or, for a passkey that keeps no counter, when both are 0.
   * False otherwise: a code of a step already used, or an authenticator
   * whose counter went backwards (a clone). Atomic across processes.
   */
  useFactor(ref: ProjectRef, id: string, counter: number, at: EpochSeconds, change?: { confirm?: boolean; backedUp?: boolean }): Promise<boolean>;
  /** Deletes one factor of the user; answers it, or undefined when it was not theirs. */
  deleteFactor(ref: ProjectRef, userId: string, id: string): Promise<FactorRecord | undefined>;
  /** Deletes every factor and recovery code of the user (a reset); answers the factors deleted. */
  deleteUserFactors(ref: ProjectRef, userId: string): Promise<FactorRecord[]>;
  /** Replaces the user's recovery codes with these SHA-256 hashes. */
  setRecoveryCodes(ref: ProjectRef, userId: string, hashes: readonly string[], at: EpochSeconds): Promise<void>;
  /** Spends one unused recovery code of the user; false when it is unknown or spent. Atomic across processes. */
  useRecoveryCode(ref: ProjectRef, userId: string, hash: string, at: EpochSeconds): Promise<boolean>;
  countRecoveryCodes(ref: ProjectRef, userId: string): Promise<RecoveryCodeCount>;
  createCeremony(ceremony: CeremonyRecord): Promise<void>;
  /** Removes and answers the ceremony of this challenge: each is answered once. */
  takeCeremony(challengeHash: string): Promise<CeremonyRecord | undefined>;
  /** The project's policy; the default (optional, no passwordless) when none was set. */
  getMfaPolicy(ref: ProjectRef): Promise<MfaPolicyRecord>;
  setMfaPolicy(policy: MfaPolicyRecord): Promise<void>;
}
