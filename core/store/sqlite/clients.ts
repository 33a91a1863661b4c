/** Clients (ClientStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { ClientRecord, ClientStore } from "../types.js";
import { atomically, insert, json, type Mappers, maybe, type Row } from "./sql.js";

/** The columns of migration 11, in their statements' order. */
const security = (c: ClientRecord) =>
  [c.tokenEndpointAuthMethod, c.jwks, c.jwksUri, c.dpopBoundAccessTokens ? 1 : 0, c.securityProfile] as const;
/** The columns of migration 16 (token exchange), in their statements' order. */
const delegation = (c: ClientRecord) =>
  [json(c.tokenExchangeSubjectClients), json(c.tokenExchangeResources), c.tokenExchangeImpersonation ? 1 : 0, c.mayActClient] as const;

export function clients(db: Database.Database, map: Mappers): Synchronous<ClientStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertClient: s(`INSERT INTO clients (organization_id, project_id, id, name, type, secret_hash, redirect_uris,
      grant_types, pkce_required, remember_consent, access_token_ttl, refresh_token_ttl, post_logout_redirect_uris,
      backchannel_logout_uri, id_token_signed_response_alg, web_origins, require_pushed_authorization_requests,
      token_endpoint_auth_method, jwks, jwks_uri, dpop_bound_access_tokens, security_profile, dynamically_registered,
      metadata_document, token_exchange_subject_clients, token_exchange_resources, token_exchange_impersonation, may_act_client, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getClient: s("SELECT * FROM clients WHERE organization_id = ? AND project_id = ? AND id = ?"),
    listClients: s("SELECT * FROM clients WHERE organization_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?"),
    updateClient: s(`UPDATE clients SET name = ?, redirect_uris = ?, grant_types = ?, pkce_required = ?,
      remember_consent = ?, access_token_ttl = ?, refresh_token_ttl = ?, post_logout_redirect_uris = ?,
      backchannel_logout_uri = ?, id_token_signed_response_alg = ?, web_origins = ?, require_pushed_authorization_requests = ?,
      token_endpoint_auth_method = ?, jwks = ?, jwks_uri = ?, dpop_bound_access_tokens = ?, security_profile = ?,
      token_exchange_subject_clients = ?, token_exchange_resources = ?, token_exchange_impersonation = ?, may_act_client = ?
      WHERE organization_id = ? AND project_id = ? AND id = ?`),
    setClientSecret: s("UPDATE clients SET secret_hash = ? WHERE organization_id = ? AND project_id = ? AND id = ?"),
    deleteClientGrants: s("DELETE FROM grants WHERE organization_id = ? AND project_id = ? AND client_id = ?"),
    deleteClientCodes: s("DELETE FROM authorization_codes WHERE organization_id = ? AND project_id = ? AND client_id = ?"),
    deleteClientRequests: s(
      "DELETE FROM authorization_requests WHERE organization_id = ? AND project_id = ? AND client_id = ?",
    ),
    deleteClient: s("DELETE FROM clients WHERE organization_id = ? AND project_id = ? AND id = ?"),
  };
  const { client } = map;
  const tx = atomically(db);

  return {
    createClient: (c) =>
      insert(`client ${c.id}`, () =>
        q.insertClient.run(
          c.organization,
          c.project,
          c.id,
          c.name,
          c.type,
          c.secretHash,
          json(c.redirectUris),
          json(c.grantTypes),
          c.pkceRequired ? 1 : 0,
          c.rememberConsent ? 1 : 0,
          c.accessTokenTtl,
          c.refreshTokenTtl,
          json(c.postLogoutRedirectUris),
          c.backchannelLogoutUri,
          c.idTokenSignedResponseAlg,
          json(c.webOrigins),
          c.requirePushedAuthorizationRequests ? 1 : 0,
          ...security(c),
          c.dynamicallyRegistered ? 1 : 0,
          c.metadataDocument === true ? 1 : 0,
          ...delegation(c),
          c.createdAt,
        ),
      ),
    getClient: (ref, id) => maybe(q.getClient.get(ref.organization, ref.project, id), client),
    listClients: (ref, page) =>
      (q.listClients.all(ref.organization, ref.project, page.after, page.limit) as Row[]).map(client),
    updateClient: (c) =>
      q.updateClient.run(
        c.name,
        json(c.redirectUris),
        json(c.grantTypes),
        c.pkceRequired ? 1 : 0,
        c.rememberConsent ? 1 : 0,
        c.accessTokenTtl,
        c.refreshTokenTtl,
        json(c.postLogoutRedirectUris),
        c.backchannelLogoutUri,
        c.idTokenSignedResponseAlg,
        json(c.webOrigins),
        c.requirePushedAuthorizationRequests ? 1 : 0,
        ...security(c),
        ...delegation(c),
        c.organization,
        c.project,
        c.id,
      ).changes === 1,
    setClientSecret: (ref, id, hash) => q.setClientSecret.run(hash, ref.organization, ref.project, id).changes === 1,
    deleteClient: (ref, id) =>
      tx(() => {
        q.deleteClientGrants.run(ref.organization, ref.project, id);
        q.deleteClientCodes.run(ref.organization, ref.project, id);
        q.deleteClientRequests.run(ref.organization, ref.project, id);
        return q.deleteClient.run(ref.organization, ref.project, id).changes === 1;
      }),
  };
}
