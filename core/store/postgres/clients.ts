/** Clients (ClientStore). */
import type { ClientRecord, ClientStore } from "../types.js";
import { insert, type Mappers, maybe, type Sql } from "./sql.js";

/** The columns of migration 8, in their statements' order. */
const security = (c: ClientRecord) => [c.tokenEndpointAuthMethod, c.jwks, c.jwksUri, c.dpopBoundAccessTokens, c.securityProfile] as const;
/** The columns of migration 13 (token exchange), in their statements' order. */
const delegation = (c: ClientRecord) =>
  [c.tokenExchangeSubjectClients, c.tokenExchangeResources, c.tokenExchangeImpersonation, c.mayActClient] as const;

export function clients(sql: Sql, map: Mappers): ClientStore {
  const { run, rows, one, count, atomic } = sql;
  const { client } = map;

  return {
    createClient: (c) =>
      insert(`client ${c.id}`, () =>
        run(
          `INSERT INTO clients (organization_id, project_id, id, name, type, secret_hash, redirect_uris, grant_types,
            pkce_required, remember_consent, access_token_ttl, refresh_token_ttl, post_logout_redirect_uris, backchannel_logout_uri,
            id_token_signed_response_alg, web_origins, require_pushed_authorization_requests,
            token_endpoint_auth_method, jwks, jwks_uri, dpop_bound_access_tokens, security_profile, dynamically_registered,
            metadata_document, token_exchange_subject_clients, token_exchange_resources, token_exchange_impersonation, may_act_client, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)`,
          [
            c.organization,
            c.project,
            c.id,
            c.name,
            c.type,
            c.secretHash,
            c.redirectUris,
            c.grantTypes,
            c.pkceRequired,
            c.rememberConsent,
            c.accessTokenTtl,
            c.refreshTokenTtl,
            c.postLogoutRedirectUris,
            c.backchannelLogoutUri,
            c.idTokenSignedResponseAlg,
            c.webOrigins,
            c.requirePushedAuthorizationRequests,
            ...security(c),
            c.dynamicallyRegistered,
            c.metadataDocument === true,
            ...delegation(c),
            c.createdAt,
          ],
        ),
      ),
    getClient: async (ref, id) =>
      maybe(await one("SELECT * FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3", [ref.organization, ref.project, id]), client),
    listClients: async (ref, page) =>
      (
        await rows("SELECT * FROM clients WHERE organization_id = $1 AND project_id = $2 AND id > $3 ORDER BY id LIMIT $4", [
          ref.organization,
          ref.project,
          page.after,
          page.limit,
        ])
      ).map(client),
    updateClient: async (c) =>
      (await count(
        `UPDATE clients SET name = $1, redirect_uris = $2, grant_types = $3, pkce_required = $4, remember_consent = $5,
          access_token_ttl = $6, refresh_token_ttl = $7, post_logout_redirect_uris = $8, backchannel_logout_uri = $9,
          id_token_signed_response_alg = $10, web_origins = $11, require_pushed_authorization_requests = $12,
          token_endpoint_auth_method = $13, jwks = $14, jwks_uri = $15, dpop_bound_access_tokens = $16, security_profile = $17,
          token_exchange_subject_clients = $18, token_exchange_resources = $19, token_exchange_impersonation = $20, may_act_client = $21
          WHERE organization_id = $22 AND project_id = $23 AND id = $24`,
        [
          c.name,
          c.redirectUris,
          c.grantTypes,
          c.pkceRequired,
          c.rememberConsent,
          c.accessTokenTtl,
          c.refreshTokenTtl,
          c.postLogoutRedirectUris,
          c.backchannelLogoutUri,
          c.idTokenSignedResponseAlg,
          c.webOrigins,
          c.requirePushedAuthorizationRequests,
          ...security(c),
          ...delegation(c),
          c.organization,
          c.project,
          c.id,
        ],
      )) === 1,
    setClientSecret: async (ref, id, hash) =>
      (await count("UPDATE clients SET secret_hash = $1 WHERE organization_id = $2 AND project_id = $3 AND id = $4", [
        hash,
        ref.organization,
        ref.project,
        id,
      ])) === 1,
    deleteClient: (ref, id) =>
      atomic(async () => {
        const args = [ref.organization, ref.project, id];
        // Codes, then the client's row, then grants: the order a code exchange
        // takes them in (the code, then the client's row in createGrant), so
        // the two wait for each other instead of deadlocking; a grant created
        // meanwhile is committed before the row is ours, and deleted below.
        await run("DELETE FROM authorization_codes WHERE organization_id = $1 AND project_id = $2 AND client_id = $3", args);
        await run("DELETE FROM authorization_requests WHERE organization_id = $1 AND project_id = $2 AND client_id = $3", args);
        await run("SELECT 1 FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3 FOR UPDATE", args);
        await run("DELETE FROM grants WHERE organization_id = $1 AND project_id = $2 AND client_id = $3", args);
        return (await count("DELETE FROM clients WHERE organization_id = $1 AND project_id = $2 AND id = $3", args)) === 1;
      }),
  };
}
