/**
 * Pending authorization requests, pushed ones and authorization codes
 * (AuthorizationRequestStore, PushedAuthorizationRequestStore,
 * AuthorizationCodeStore).
 */
import type { AuthorizationCodeStore, AuthorizationRequestStore, PushedAuthorizationRequestStore } from "../types.js";
import { insert, insertForClient, type Mappers, maybe, type Sql } from "./sql.js";

export function authorization(sql: Sql, map: Mappers): AuthorizationRequestStore & PushedAuthorizationRequestStore & AuthorizationCodeStore {
  const { run, one, count } = sql;
  const { request, pushed, code } = map;

  return {
    createAuthorizationRequest: (r) =>
      insert("authorization request", () =>
        run(
          `INSERT INTO authorization_requests (id_hash, organization_id, project_id, client_id, redirect_uri, scopes, state,
            code_challenge, code_challenge_method, nonce, browser_binding_hash, user_id, auth_time, offered_scopes, session_id, acr, amr,
            claims, force_consent, mfa_requested, action, factor_user_id, factor_stage, factor_amr, factor_session_id, created_at, expires_at, dpop_jkt, resources)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29)`,
          [
            r.idHash,
            r.organization,
            r.project,
            r.clientId,
            r.redirectUri,
            r.scopes,
            r.state,
            r.codeChallenge,
            r.codeChallengeMethod,
            r.nonce,
            r.browserBindingHash,
            r.userId,
            r.authTime,
            r.offeredScopes,
            r.sessionId,
            r.acr,
            r.amr,
            r.claims,
            r.forceConsent,
            r.mfaRequested,
            r.action,
            r.secondFactor?.userId ?? null,
            r.secondFactor?.stage ?? "",
            r.secondFactor?.amr ?? null,
            r.secondFactor?.sessionId ?? "",
            r.createdAt,
            r.expiresAt,
            r.dpopJkt,
            r.resources,
          ],
        ),
      ),
    getAuthorizationRequest: async (idHash) => maybe(await one("SELECT * FROM authorization_requests WHERE id_hash = $1", [idHash]), request),
    authenticateAuthorizationRequest: async (idHash, login) => {
      await run(
        "UPDATE authorization_requests SET user_id = $1, auth_time = $2, offered_scopes = $3, session_id = $4, acr = $5, amr = $6 WHERE id_hash = $7",
        [login.userId, login.authTime, login.offeredScopes, login.sessionId, login.acr, login.amr, idHash],
      );
    },
    awaitSecondFactor: async (idHash, f) => {
      await run("UPDATE authorization_requests SET factor_user_id = $1, factor_stage = $2, factor_amr = $3, factor_session_id = $4 WHERE id_hash = $5", [
        f.userId,
        f.stage,
        f.amr,
        f.sessionId,
        idHash,
      ]);
    },
    recordFailedLogin: async (idHash) =>
      ((await one("UPDATE authorization_requests SET failed_logins = failed_logins + 1 WHERE id_hash = $1 RETURNING failed_logins", [idHash]))
        ?.failed_logins as number | undefined) ?? 0,
    consumeAuthorizationRequest: async (idHash) => (await count("DELETE FROM authorization_requests WHERE id_hash = $1", [idHash])) === 1,
    createPushedAuthorizationRequest: (p) =>
      insertForClient("pushed authorization request", p, () =>
        run(
          `INSERT INTO pushed_authorization_requests (uri_hash, organization_id, project_id, client_id, parameters, created_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [p.uriHash, p.organization, p.project, p.clientId, JSON.stringify(p.parameters), p.createdAt, p.expiresAt],
        ),
      ),
    // One DELETE … RETURNING: of two replicas taking one request_uri at once, the second finds no row.
    takePushedAuthorizationRequest: async (ref, uriHash) =>
      maybe(
        await one("DELETE FROM pushed_authorization_requests WHERE uri_hash = $1 AND organization_id = $2 AND project_id = $3 RETURNING *", [
          uriHash,
          ref.organization,
          ref.project,
        ]),
        pushed,
      ),
    createAuthorizationCode: (c) =>
      insert("authorization code", () =>
        run(
          `INSERT INTO authorization_codes (code_hash, organization_id, project_id, client_id, user_id, redirect_uri, scopes,
            code_challenge, code_challenge_method, nonce, auth_time, session_id, acr, amr, claims, created_at, expires_at, consumed_at, grant_id, dpop_jkt, resources)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)`,
          [
            c.codeHash,
            c.organization,
            c.project,
            c.clientId,
            c.userId,
            c.redirectUri,
            c.scopes,
            c.codeChallenge,
            c.codeChallengeMethod,
            c.nonce,
            c.authTime,
            c.sessionId,
            c.acr,
            c.amr,
            c.claims,
            c.createdAt,
            c.expiresAt,
            c.consumedAt,
            c.grantId,
            c.dpopJkt,
            c.resources,
          ],
        ),
      ),
    getAuthorizationCode: async (codeHash) => maybe(await one("SELECT * FROM authorization_codes WHERE code_hash = $1", [codeHash]), code),
    // One conditional UPDATE: of two replicas exchanging one code at once, the
    // second waits for the first's row lock, then finds it consumed.
    consumeAuthorizationCode: async (codeHash, grantId, at) =>
      (await count("UPDATE authorization_codes SET consumed_at = $1, grant_id = $2 WHERE code_hash = $3 AND consumed_at IS NULL", [
        at,
        grantId,
        codeHash,
      ])) === 1,
  };
}
