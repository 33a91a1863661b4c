/**
 * The storage contract of what a project keeps beside its clients for the
 * clients that arrive on their own and the APIs they are for (see types.ts,
 * which re-exports it): protected resources (RFC 8707), self-registrations
 * and initial access tokens (RFC 7591, RFC 7592), and administrators' rules
 * for client ID metadata documents.
 */
import type { EpochSeconds, Page, ProjectRef } from "./types.js";

/** A project's Dynamic Client Registration setting; "" is off. */
export const CLIENT_REGISTRATION_MODES = ["", "open", "initial_access_token"] as const;
export type ClientRegistrationMode = (typeof CLIENT_REGISTRATION_MODES)[number];

/** A protected resource (RFC 8707): an API the project's clients ask tokens for by its URI. */
export interface ResourceRecord extends ProjectRef {
  /** Its URI, the `aud` of its tokens; unique across projects, as an audience is. */
  uri: string;
  name: string;
  /** The scopes (permission ids) a token for it may carry. */
  scopes: string[];
  createdAt: EpochSeconds;
}

export interface ResourceStore {
  /** A URI registered already, here or in another project, is AlreadyExists. */
  createResource(resource: ResourceRecord): Promise<void>;
  getResource(ref: ProjectRef, uri: string): Promise<ResourceRecord | undefined>;
  listResources(ref: ProjectRef, page: Page): Promise<ResourceRecord[]>;
  /** Writes name and scopes; false when there is no such resource. */
  updateResource(resource: ResourceRecord): Promise<boolean>;
  deleteResource(ref: ProjectRef, uri: string): Promise<boolean>;
}

/**
 * An administrator's rule for one client ID metadata document URL: `block`
 * refuses it before any fetch; `pin` uses `document` instead of fetching.
 */
export interface ClientMetadataDocumentRuleRecord extends ProjectRef {
  url: string;
  action: "block" | "pin";
  /** The pinned document (JSON); "" for a block. */
  document: string;
  createdAt: EpochSeconds;
}

export interface ClientMetadataDocumentRuleStore {
  /** Sets the URL's rule, replacing the one it had. */
  putClientMetadataDocumentRule(rule: ClientMetadataDocumentRuleRecord): Promise<void>;
  getClientMetadataDocumentRule(ref: ProjectRef, url: string): Promise<ClientMetadataDocumentRuleRecord | undefined>;
  /** Every rule of the project, ordered by URL. */
  listClientMetadataDocumentRules(ref: ProjectRef): Promise<ClientMetadataDocumentRuleRecord[]>;
  /** False when the URL had no rule. */
  deleteClientMetadataDocumentRule(ref: ProjectRef, url: string): Promise<boolean>;
  /** How many clients of the project are metadata documents' (rows of `clients` marked metadataDocument). */
  countMetadataDocumentClients(ref: ProjectRef): Promise<number>;
}

/** What a dynamically registered client has beyond its client row (RFC 7592); it goes with the client. */
export interface ClientRegistrationRecord extends ProjectRef {
  clientId: string;
  /** SHA-256 of its registration access token (RFC 7592 §1). */
  tokenHash: string;
  /** The registered metadata the client row does not hold (JSON object): application_type, scope, client_uri… */
  metadata: string;
}

/** An initial access token (RFC 7591 §3), known by the hash of its value; it goes with its project. */
export interface InitialAccessTokenRecord extends ProjectRef {
  id: string;
  /** SHA-256 of the token. */
  tokenHash: string;
  description: string;
  createdAt: EpochSeconds;
  expiresAt: EpochSeconds;
  /** Registrations it may still make; null: no limit but its expiry. */
  usesLeft: number | null;
  /** The uses it was made with; 0: no limit. */
  maxUses: number;
}

export interface RegistrationStore {
  /** How many clients of the project registered themselves. */
  countDynamicClients(ref: ProjectRef): Promise<number>;
  createClientRegistration(registration: ClientRegistrationRecord): Promise<void>;
  getClientRegistration(ref: ProjectRef, clientId: string): Promise<ClientRegistrationRecord | undefined>;
  /** Writes its token hash and metadata; false when it does not exist. */
  updateClientRegistration(registration: ClientRegistrationRecord): Promise<boolean>;
  createInitialAccessToken(token: InitialAccessTokenRecord): Promise<void>;
  /** Newest first. */
  listInitialAccessTokens(ref: ProjectRef): Promise<InitialAccessTokenRecord[]>;
  /** False when it does not exist. */
  deleteInitialAccessToken(ref: ProjectRef, id: string): Promise<boolean>;
  /** The project's token of this hash, whatever its expiry and uses. */
  findInitialAccessToken(ref: ProjectRef, tokenHash: string): Promise<InitialAccessTokenRecord | undefined>;
  /**
   * Spends one use of the token of this hash if it has one left and has not
   * expired at `now`, in one statement (two registrations cannot both take
   * its last use); false otherwise.
   */
  spendInitialAccessToken(ref: ProjectRef, tokenHash: string, now: EpochSeconds): Promise<boolean>;
}
