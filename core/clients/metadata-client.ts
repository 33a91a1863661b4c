/**
 * A client ID metadata document as a client of a project
 * (draft-ietf-oauth-client-id-metadata-document §4, §6): validated by the
 * rules the AdminService holds registered clients to (rpc/admin/validate.ts,
 * rpc/admin/client-authentication.ts) and by the draft's own, then kept as a
 * row of `clients` marked `metadataDocument`, so that codes, grants and
 * consents refer to it as to any client. The row is a public client: no
 * secret, PKCE with S256 (core/tokens/profile.ts), no roles, no consent
 * remembered. It is written only when the document says something new, and
 * never over a client that is not a document's.
 */
import { ConnectError } from "@connectrpc/connect";
import { recordSuccess, party } from "../audit/record.js";
import { created, updated } from "../audit/changes.js";
import type { Deps } from "../deps.js";
import { epochSeconds } from "../lib/clock.js";
import { checkAuthMethod, checkClientAuthentication, checkJwks, checkJwksUriSetting } from "../rpc/admin/client-authentication.js";
import { clientFields } from "../rpc/admin/clients.js";
import { CLIENT_DEFAULTS } from "../rpc/admin/default-tenant.js";
import { checkClientShape, checkText } from "../rpc/admin/validate.js";
import { AlreadyExists, type ClientRecord, type ProjectRecord, type ProjectRef } from "../store/types.js";
import { describeError } from "../outbound/request.js";
import { OAuthError } from "../errors.js";
import { DocumentUnavailable, MAX_DOCUMENT_BYTES } from "./document-fetch.js";
import { documentUrl, isDocumentClientId } from "./document-url.js";

export { isDocumentClientId } from "./document-url.js";

/**
 * Why a client_id URL cannot be used as a client. `message` may be shown
 * (the error page, the token endpoint's error_description): it names the
 * fault of the document, never what a failed fetch met (an address, a
 * port's answer), which stays in `detail` for the log.
 */
export class MetadataDocumentRefused extends Error {
  override name = "MetadataDocumentRefused";
  constructor(
    message: string,
    readonly detail = message,
    /** The refusal's kind, as iam_client_metadata_documents_total counts it. */
    readonly reason: "blocked" | "ceiling" | "unavailable" | "invalid" | "not_accepted" | "conflict" = "invalid",
  ) {
    super(message);
  }
}

/** The grant types and response types a document may name (§4.1: a public client of the code flow). */
const GRANT_TYPES = ["authorization_code", "refresh_token"];
/** §4.1: shared secrets are refused; `none` unless it says private_key_jwt. */
const AUTH_METHODS = ["none", "private_key_jwt"];

/**
 * The client an id names: a client registered otherwise (by an
 * administrator, a registration, or stored by an earlier version) keeps its
 * id whatever it looks like, and no document ever stands in for it; else an
 * id that is a URL names a metadata document (metadataDocumentClient).
 * A document's refusal is counted, then thrown as the OAuthError `refusedAs`
 * names for the endpoint: invalid_request on /authorize's error page,
 * invalid_client where clients authenticate (draft §6); its detail is logged.
 */
export async function clientNamed(deps: Deps, ref: ProjectRef, id: string, refusedAs: "invalid_request" | "invalid_client"): Promise<ClientRecord | undefined> {
  const stored = await deps.store.getClient(ref, id);
  if (stored?.metadataDocument !== true && (stored !== undefined || !isDocumentClientId(id))) return stored;
  const project = await deps.store.getProject(ref);
  if (project === undefined) return undefined;
  try {
    return await metadataDocumentClient(deps, project, id, stored);
  } catch (err) {
    if (!(err instanceof MetadataDocumentRefused)) throw err;
    deps.metrics.clientMetadataDocuments.inc({ result: err.reason });
    throw new OAuthError(refusedAs, err.message, { detail: err.detail });
  }
}

/**
 * IAM_CLIENT_METADATA_MAX_CLIENTS: anyone may publish documents, as many as
 * they like, so that a project holds a bounded number of their rows. A new
 * document past it is refused before it is fetched; known ones still work.
 */
async function roomForAnother(deps: Deps, ref: ProjectRef, store: Pick<Deps["store"], "countMetadataDocumentClients"> = deps.store): Promise<void> {
  const max = deps.config.clientMetadataMaxClients;
  if ((await store.countMetadataDocumentClients(ref)) >= max) {
    throw new MetadataDocumentRefused(
      "this authorization server admits no new client from a metadata document now",
      `the project holds the most clients from metadata documents it may (IAM_CLIENT_METADATA_MAX_CLIENTS=${max})`,
      "ceiling",
    );
  }
}

/**
 * The client of the project that `clientId`, a URL, names: from the
 * administrator's pin, or fetched (deps.clientMetadata), validated, and its
 * row created or brought in step. `stored` is the document's row as read,
 * if it has one. Throws MetadataDocumentRefused.
 */
export async function metadataDocumentClient(deps: Deps, project: ProjectRecord, clientId: string, stored: ClientRecord | undefined): Promise<ClientRecord> {
  if (project.clientIdMetadataDocuments !== true) throw new MetadataDocumentRefused("unknown client", "the project does not accept client ID metadata documents", "not_accepted");
  const url = documentUrl(clientId);
  if (typeof url === "string") throw new MetadataDocumentRefused(url);
  const rule = await deps.store.getClientMetadataDocumentRule(project, clientId);
  // Refused before anything is fetched.
  if (rule?.action === "block") throw new MetadataDocumentRefused("this client has been blocked by the administrator", undefined, "blocked");
  if (stored === undefined) await roomForAnother(deps, project);
  let document: Record<string, unknown>;
  if (rule?.action === "pin") {
    document = JSON.parse(rule.document) as Record<string, unknown>;
  } else {
    try {
      document = await deps.clientMetadata.document(url);
    } catch (err) {
      if (!(err instanceof DocumentUnavailable)) throw err;
      throw new MetadataDocumentRefused("the client's metadata document could not be fetched", err.message, "unavailable");
    }
  }
  return keepInStep(deps, clientOfDocument(deps, project, clientId, document), stored);
}

/**
 * The client a document describes, or MetadataDocumentRefused with what is
 * wrong. Also checks a document an administrator pins.
 * @see draft-ietf-oauth-client-id-metadata-document §4.1
 */
export function clientOfDocument(deps: Deps, project: ProjectRef, clientId: string, document: Record<string, unknown>): ClientRecord {
  const refuse = (why: string) => new MetadataDocumentRefused(`the client's metadata document ${why}`);
  // §4.1: the document's client_id MUST equal the URL it was fetched from, by simple string comparison.
  if (document.client_id !== clientId) throw refuse("names another client_id than its URL");
  // §4.1: client_secret and client_secret_expires_at MUST NOT be present; no shared-secret method.
  if ("client_secret" in document || "client_secret_expires_at" in document) throw refuse("must not contain a client_secret");
  const method = document.token_endpoint_auth_method ?? "none";
  if (typeof method !== "string" || !AUTH_METHODS.includes(method)) {
    throw refuse(`must use token_endpoint_auth_method none or private_key_jwt, not ${JSON.stringify(method)}`);
  }
  const strings = (field: string, fallback: string[] | undefined): string[] => {
    const value = document[field] ?? fallback;
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === "string")) throw refuse(`must list its ${field} as strings`);
    return value as string[];
  };
  const redirectUris = strings("redirect_uris", undefined);
  const grantTypes = strings("grant_types", ["authorization_code"]);
  if (!grantTypes.every((g) => GRANT_TYPES.includes(g))) throw refuse(`may name only the grant types ${GRANT_TYPES.join(" and ")}`);
  if (!grantTypes.includes("authorization_code")) throw refuse("must allow the authorization_code grant");
  if (!strings("response_types", ["code"]).every((r) => r === "code")) throw refuse("may name only the response type code");
  const name = document.client_name ?? "";
  if (typeof name !== "string") throw refuse("has a client_name that is not a string");
  if ("jwks" in document && (typeof document.jwks !== "object" || document.jwks === null)) throw refuse("has a jwks that is not a JSON object");
  if ("jwks_uri" in document && typeof document.jwks_uri !== "string") throw refuse("has a jwks_uri that is not a string");
  try {
    const authentication = {
      tokenEndpointAuthMethod: method === "none" ? "" : checkAuthMethod(method),
      jwks: "jwks" in document ? checkJwks(JSON.stringify(document.jwks)) : "",
      jwksUri: "jwks_uri" in document ? checkJwksUriSetting(deps, document.jwks_uri as string, { metadataDocument: true }) : "",
    } as const;
    const record: ClientRecord = {
      ...CLIENT_DEFAULTS,
      organization: project.organization,
      project: project.project,
      id: clientId,
      name: checkText("client_name", name) || clientId,
      type: "public",
      secretHash: null,
      redirectUris,
      grantTypes,
      pkceRequired: true,
      ...authentication,
      metadataDocument: true,
      createdAt: epochSeconds(deps.clock),
    };
    checkClientShape(record);
    // A private_key_jwt client is held to the rules of a registered one that authenticates with its keys (jwks or
    // jwks_uri, not both); it stays public in every other way: no secret, PKCE with S256, no roles.
    checkClientAuthentication(method === "private_key_jwt" ? { ...record, type: "confidential" } : record);
    return record;
  } catch (err) {
    if (err instanceof ConnectError) throw refuse(`is not valid: ${err.rawMessage}`);
    throw err;
  }
}

/** A pinned document as the administrator gives it: a JSON object of at most MAX_DOCUMENT_BYTES. */
export function parsePinnedDocument(text: string): Record<string, unknown> {
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) throw new MetadataDocumentRefused(`a metadata document must be at most ${MAX_DOCUMENT_BYTES} bytes`);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new MetadataDocumentRefused(`a metadata document must be JSON: ${describeError(err)}`);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) throw new MetadataDocumentRefused("a metadata document must be a JSON object");
  return document as Record<string, unknown>;
}

/** What of a row the document decides: when none of it changed, nothing is written. */
const FROM_DOCUMENT = ["name", "redirectUris", "grantTypes", "tokenEndpointAuthMethod", "jwks", "jwksUri"] as const;
const sameAs = (a: ClientRecord, b: ClientRecord) => FROM_DOCUMENT.every((field) => JSON.stringify(a[field]) === JSON.stringify(b[field]));

/**
 * The document's row, created or rewritten as the document now says, with
 * an audit event (CLIENT_METADATA_DOCUMENT_ADMITTED). A row of the same id
 * that is not a document's (a client an administrator or a registration
 * created) is never touched: the request is refused. `stored` is the row as
 * the caller read it.
 */
async function keepInStep(deps: Deps, record: ClientRecord, stored: ClientRecord | undefined, retry = true): Promise<ClientRecord> {
  if (stored !== undefined && stored.metadataDocument !== true) {
    throw new MetadataDocumentRefused("unknown client", "a client of this id exists that is not a metadata document's", "conflict");
  }
  if (stored !== undefined && sameAs(stored, record)) return stored;
  try {
    const written = await deps.store.transaction(async (tx) => {
      const current = await tx.getClient(record, record.id);
      if (current !== undefined && current.metadataDocument !== true) throw new MetadataDocumentRefused("unknown client", "a client of this id exists that is not a metadata document's", "conflict");
      const next = current === undefined ? record : { ...record, createdAt: current.createdAt };
      // Checked again where the row is written: concurrent admissions cannot pass it together on SQLite.
      if (current === undefined) await roomForAnother(deps, record, tx);
      if (current === undefined) await tx.createClient(next);
      else await tx.updateClient(next);
      await recordSuccess(
        deps,
        {
          chain: record,
          action: "CLIENT_METADATA_DOCUMENT_ADMITTED",
          actor: party("server", ""),
          target: party("client", record.id),
          changes: current === undefined ? created(clientFields(next)) : updated(clientFields(current), clientFields(next)),
        },
        tx,
      );
      return { next, admitted: current === undefined };
    });
    if (written.admitted) deps.metrics.clientMetadataDocuments.inc({ result: "admitted" });
    return written.next;
  } catch (err) {
    // Another request created it meanwhile.
    if (err instanceof AlreadyExists && retry) return keepInStep(deps, record, await deps.store.getClient(record, record.id), false);
    throw err;
  }
}

/** What a person is shown of a client: its name and, for a document's, the host the document came from. */
export const clientSummary = (client: Pick<ClientRecord, "id" | "name" | "metadataDocument">) => ({
  id: client.id,
  name: client.name,
  metadataDocumentHost: client.metadataDocument === true ? new URL(client.id).host : "",
});
