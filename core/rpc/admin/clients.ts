import { Code, ConnectError } from "@connectrpc/connect";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import { ClientType } from "../../../gen/iam/v1/admin_pb.js";
import { DEFAULT_ACCESS_TOKEN_TTL, DEFAULT_REFRESH_TOKEN_TTL } from "./default-tenant.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { randomToken } from "../../lib/crypto.js";
import type { AuditParty, ClientRecord, ClientStore, ProjectRef } from "../../store/types.js";
import { audited, party } from "../../audit/record.js";
import { created, deleted, secretChanged, secretRemoved, updated, type Fields } from "../../audit/changes.js";
import { found, maskOf, toClient, type Out } from "./convert.js";
import { authenticationOf, checkClientAuthentication, nextAuthentication } from "./client-authentication.js";
import { delegationOf, nextDelegation } from "./client-delegation.js";
import { pageOf, paginate, URI_KEY } from "./pagination.js";
import {
  checkBackchannelLogoutUri,
  checkClientShape,
  checkId,
  checkPostLogoutRedirectUris,
  checkRange,
  checkSecret,
  checkSigningAlg,
  checkText,
  checkWebOrigins,
  invalid,
} from "./validate.js";

const ACCESS_TTL = [60, 86_400] as const;
const REFRESH_TTL = [60, 31_536_000] as const;

const clientOf = async (store: ClientStore, ref: ProjectRef, id: string) =>
  found(await store.getClient(ref, id), `client ${id} in ${ref.organization}/${ref.project}`);

const withRoles = async (deps: Deps, client: ClientRecord) =>
  toClient(client, await deps.store.getRolesOf(client, { clientId: client.id }));

/** A client's fields, as the audit trail records them (Client of admin.proto; its project is the chain). */
export const clientFields = (c: ClientRecord): Fields => ({
  id: c.id,
  name: c.name,
  type: c.type === "public" ? "CLIENT_TYPE_PUBLIC" : "CLIENT_TYPE_CONFIDENTIAL",
  redirect_uris: c.redirectUris,
  grant_types: c.grantTypes,
  pkce_required: c.pkceRequired,
  remember_consent: c.rememberConsent,
  access_token_ttl: c.accessTokenTtl,
  refresh_token_ttl: c.refreshTokenTtl,
  post_logout_redirect_uris: c.postLogoutRedirectUris,
  backchannel_logout_uri: c.backchannelLogoutUri,
  id_token_signed_response_alg: c.idTokenSignedResponseAlg,
  web_origins: c.webOrigins,
  require_pushed_authorization_requests: c.requirePushedAuthorizationRequests,
  token_endpoint_auth_method: c.tokenEndpointAuthMethod,
  jwks: c.jwks,
  jwks_uri: c.jwksUri,
  dpop_bound_access_tokens: c.dpopBoundAccessTokens,
  security_profile: c.securityProfile,
  token_exchange_subject_clients: c.tokenExchangeSubjectClients,
  token_exchange_resources: c.tokenExchangeResources,
  token_exchange_impersonation: c.tokenExchangeImpersonation,
  may_act_client: c.mayActClient,
  created_at: c.createdAt,
});

/** A caller-given secret, or a generated 256-bit one. */
const secretOf = (given: string) => (given === "" ? randomToken(32) : checkSecret(given));

export async function createClient(deps: Deps, r: pb.CreateClientRequest, actor: AuditParty): Out<typeof pb.CreateClientResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const id = checkId("client", "client_id", r.clientId);
  // RFC 9068 §5: this client's own tokens will carry its id as `sub`; it must not be a user's.
  if ((await deps.store.getUser(r, id)) !== undefined) throw new ConnectError(`a user ${id} exists in this project`, Code.AlreadyExists);
  if (r.type === ClientType.UNSPECIFIED) throw invalid("type must be CLIENT_TYPE_CONFIDENTIAL or CLIENT_TYPE_PUBLIC");
  const type = r.type === ClientType.PUBLIC ? "public" : "confidential";
  if (type === "public" && r.secret !== "") throw invalid("a public client has no secret");
  const authentication = authenticationOf(deps, r);
  // RFC 7591 §2: it authenticates with its keys alone; a secret would be a second way in.
  const keysOnly = authentication.tokenEndpointAuthMethod === "private_key_jwt";
  if (keysOnly && r.secret !== "") throw invalid("a private_key_jwt client has no secret");
  const grantTypes = r.grantTypes.length === 0 ? ["authorization_code", "refresh_token"] : [...r.grantTypes];
  checkClientShape({ type, grantTypes, redirectUris: r.redirectUris });
  const secret = type === "confidential" && !keysOnly ? secretOf(r.secret) : "";
  const record: ClientRecord = {
    organization: r.organization,
    project: r.project,
    id,
    name: checkText("name", r.name) || id,
    type,
    secretHash: secret === "" ? null : await deps.passwords.hash(secret),
    redirectUris: [...r.redirectUris],
    grantTypes,
    // RFC 9700 §2.1.1: public clients always use PKCE.
    pkceRequired: type === "public" || r.pkceRequired,
    rememberConsent: r.rememberConsent,
    accessTokenTtl: r.accessTokenTtl === 0n ? DEFAULT_ACCESS_TOKEN_TTL : checkRange("access_token_ttl", Number(r.accessTokenTtl), ...ACCESS_TTL),
    refreshTokenTtl:
      r.refreshTokenTtl === 0n ? DEFAULT_REFRESH_TOKEN_TTL : checkRange("refresh_token_ttl", Number(r.refreshTokenTtl), ...REFRESH_TTL),
    postLogoutRedirectUris: checkPostLogoutRedirectUris(r.postLogoutRedirectUris),
    backchannelLogoutUri: checkBackchannelLogoutUri(r.backchannelLogoutUri, deps.config.backchannelLogoutPrivateNetworks),
    // OpenID Connect Registration §2: RS256 unless the client registers another.
    idTokenSignedResponseAlg: checkSigningAlg("id_token_signed_response_alg", r.idTokenSignedResponseAlg, "RS256"),
    webOrigins: checkWebOrigins(r.webOrigins),
    requirePushedAuthorizationRequests: r.requirePushedAuthorizationRequests,
    ...authentication,
    dynamicallyRegistered: false,
    ...delegationOf(r),
    createdAt: epochSeconds(deps.clock),
  };
  checkClientAuthentication(record);
  await audited(
    deps,
    (store) => store.createClient(record),
    () => ({
      chain: r,
      action: "CLIENT_CREATED",
      actor,
      target: party("client", id),
      // The secret's value stays out: only that one was set.
      changes: created(secret !== "" ? { ...clientFields(record), secret: "" } : clientFields(record)),
    }),
  );
  return { client: toClient(record, []), secret };
}

export async function getClient(deps: Deps, r: pb.GetClientRequest): Out<typeof pb.GetClientResponseSchema> {
  return { client: await withRoles(deps, await clientOf(deps.store, r, r.clientId)) };
}

export async function listClients(deps: Deps, r: pb.ListClientsRequest): Out<typeof pb.ListClientsResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const page = pageOf(r, URI_KEY);
  const { items, nextPageToken } = paginate(await deps.store.listClients(r, page), page, (c) => c.id);
  return { clients: await Promise.all(items.map((c) => withRoles(deps, c))), nextPageToken };
}

/** The fields UpdateClient may change; a list field named in the mask is replaced whole. */
const UPDATABLE = [
  "name",
  "redirect_uris",
  "grant_types",
  "pkce_required",
  "remember_consent",
  "access_token_ttl",
  "refresh_token_ttl",
  "post_logout_redirect_uris",
  "backchannel_logout_uri",
  "id_token_signed_response_alg",
  "web_origins",
  "require_pushed_authorization_requests",
  "token_endpoint_auth_method",
  "jwks",
  "jwks_uri",
  "dpop_bound_access_tokens",
  "security_profile",
  "token_exchange_subject_clients",
  "token_exchange_resources",
  "token_exchange_impersonation",
  "may_act_client",
] as const;

export async function updateClient(deps: Deps, r: pb.UpdateClientRequest, actor: AuditParty): Out<typeof pb.UpdateClientResponseSchema> {
  const { next } = await audited(
    deps,
    async (store) => {
      // Read inside the transaction: a field the request does not set keeps what the database holds now.
      const current = await clientOf(store, r, r.clientId);
      // Its document decides what it is (clients/metadata-client.ts); a block or a pin is the administrator's say.
      if (current.metadataDocument === true) {
        throw new ConnectError("a client of a metadata document follows its document: block or pin the document instead", Code.FailedPrecondition);
      }
      const next = nextClient(deps, r, current);
      await store.updateClient(next);
      // A client that now authenticates with its keys keeps no secret: one kept would work again if it ever went back to secrets.
      const secretRemoved = next.tokenEndpointAuthMethod === "private_key_jwt" && current.secretHash !== null;
      if (secretRemoved) {
        await store.setClientSecret(r, current.id, null);
        next.secretHash = null;
      }
      return { current, next, secretRemoved };
    },
    ({ current, next, secretRemoved: removed }) => ({
      chain: r,
      action: "CLIENT_UPDATED",
      actor,
      target: party("client", current.id),
      changes: [...updated(clientFields(current), clientFields(next)), ...(removed ? [secretRemoved("secret")] : [])],
    }),
  );
  return { client: await withRoles(deps, next) };
}

/** The client as UpdateClient leaves it: the fields of the mask set and checked, the others as they are. */
function nextClient(deps: Deps, r: pb.UpdateClientRequest, current: ClientRecord): ClientRecord {
  const paths = maskOf(r.updateMask?.paths, UPDATABLE);
  const next: ClientRecord = {
    ...current,
    name: paths.has("name") ? checkText("name", r.name) || current.id : current.name,
    redirectUris: paths.has("redirect_uris") ? [...r.redirectUris] : current.redirectUris,
    grantTypes: paths.has("grant_types") ? [...r.grantTypes] : current.grantTypes,
    pkceRequired: current.type === "public" || (paths.has("pkce_required") ? r.pkceRequired : current.pkceRequired),
    rememberConsent: paths.has("remember_consent") ? r.rememberConsent : current.rememberConsent,
    accessTokenTtl: paths.has("access_token_ttl")
      ? checkRange("access_token_ttl", Number(r.accessTokenTtl), ...ACCESS_TTL)
      : current.accessTokenTtl,
    refreshTokenTtl: paths.has("refresh_token_ttl")
      ? checkRange("refresh_token_ttl", Number(r.refreshTokenTtl), ...REFRESH_TTL)
      : current.refreshTokenTtl,
    postLogoutRedirectUris: paths.has("post_logout_redirect_uris")
      ? checkPostLogoutRedirectUris(r.postLogoutRedirectUris)
      : current.postLogoutRedirectUris,
    backchannelLogoutUri: paths.has("backchannel_logout_uri") ? checkBackchannelLogoutUri(r.backchannelLogoutUri, deps.config.backchannelLogoutPrivateNetworks) : current.backchannelLogoutUri,
    idTokenSignedResponseAlg: paths.has("id_token_signed_response_alg")
      ? checkSigningAlg("id_token_signed_response_alg", r.idTokenSignedResponseAlg, "RS256")
      : current.idTokenSignedResponseAlg,
    webOrigins: paths.has("web_origins") ? checkWebOrigins(r.webOrigins) : current.webOrigins,
    requirePushedAuthorizationRequests: paths.has("require_pushed_authorization_requests")
      ? r.requirePushedAuthorizationRequests
      : current.requirePushedAuthorizationRequests,
    ...nextAuthentication(deps, r, paths, current),
    ...nextDelegation(r, paths, current),
  };
  checkClientShape(next);
  checkClientAuthentication(next);
  return next;
}

export async function rotateClientSecret(deps: Deps, r: pb.RotateClientSecretRequest, actor: AuditParty): Out<typeof pb.RotateClientSecretResponseSchema> {
  const client = await clientOf(deps.store, r, r.clientId);
  if (client.type === "public") throw invalid("a public client has no secret");
  if (client.tokenEndpointAuthMethod === "private_key_jwt") {
    throw invalid("a private_key_jwt client has no secret: it authenticates with its keys (change its jwks or jwks_uri)");
  }
  const secret = secretOf(r.secret);
  // Hashed before the transaction, which every writer waits for on SQLite.
  const secretHash = await deps.passwords.hash(secret);
  await audited(
    deps,
    async (store) => {
      if (!(await store.setClientSecret(r, client.id, secretHash))) found(undefined, `client ${r.clientId} in ${r.organization}/${r.project}`);
    },
    () => ({ chain: r, action: "CLIENT_SECRET_ROTATED", actor, target: party("client", client.id), changes: [secretChanged("secret")] }),
  );
  return { secret };
}

export async function deleteClient(deps: Deps, r: pb.DeleteClientRequest, actor: AuditParty): Out<typeof pb.DeleteClientResponseSchema> {
  await audited(
    deps,
    async (store) => {
      const client = await clientOf(store, r, r.clientId);
      await store.deleteClient(r, client.id);
      return client;
    },
    (client) => ({ chain: r, action: "CLIENT_DELETED", actor, target: party("client", client.id), changes: deleted(clientFields(client)) }),
  );
  return {};
}
