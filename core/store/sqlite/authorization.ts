/**
 * Pending authorization requests, pushed ones and authorization codes
 * (AuthorizationRequestStore, PushedAuthorizationRequestStore,
 * AuthorizationCodeStore).
 */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { AuthorizationCodeStore, AuthorizationRequestStore, PushedAuthorizationRequestStore } from "../types.js";
import { insert, insertForClient, json, type Mappers, maybe, type Row } from "./sql.js";

export function authorization(
  db: Database.Database,
  map: Mappers,
): Synchronous<AuthorizationRequestStore & PushedAuthorizationRequestStore & AuthorizationCodeStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    insertRequest: s(`INSERT INTO authorization_requests (id_hash, organization_id, project_id, client_id, redirect_uri,
      scopes, state, code_challenge, code_challenge_method, nonce, browser_binding_hash, user_id, auth_time,
      offered_scopes, session_id, acr, amr, claims, force_consent, mfa_requested, action, factor_user_id, factor_stage,
      factor_amr, factor_session_id, created_at, expires_at, dpop_jkt, resources)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getRequest: s("SELECT * FROM authorization_requests WHERE id_hash = ?"),
    authenticateRequest: s(`UPDATE authorization_requests SET user_id = ?, auth_time = ?, offered_scopes = ?,
      session_id = ?, acr = ?, amr = ? WHERE id_hash = ?`),
    awaitSecondFactor: s(`UPDATE authorization_requests SET factor_user_id = ?, factor_stage = ?, factor_amr = ?,
      factor_session_id = ? WHERE id_hash = ?`),
    failedLogin: s(
      "UPDATE authorization_requests SET failed_logins = failed_logins + 1 WHERE id_hash = ? RETURNING failed_logins",
    ),
    deleteRequest: s("DELETE FROM authorization_requests WHERE id_hash = ?"),
    insertPushed: s(`INSERT INTO pushed_authorization_requests (uri_hash, organization_id, project_id, client_id, parameters,
      created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
    takePushed: s("DELETE FROM pushed_authorization_requests WHERE uri_hash = ? AND organization_id = ? AND project_id = ? RETURNING *"),
    insertCode: s(`INSERT INTO authorization_codes (code_hash, organization_id, project_id, client_id, user_id,
      redirect_uri, scopes, code_challenge, code_challenge_method, nonce, auth_time, session_id, acr, amr, claims,
      created_at, expires_at, consumed_at, grant_id, dpop_jkt, resources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    getCode: s("SELECT * FROM authorization_codes WHERE code_hash = ?"),
    consumeCode: s(
      "UPDATE authorization_codes SET consumed_at = ?, grant_id = ? WHERE code_hash = ? AND consumed_at IS NULL",
    ),
  };
  const { request, pushed, code } = map;

  return {
    createAuthorizationRequest: (r) =>
      insert("authorization request", () =>
        q.insertRequest.run(
          r.idHash,
          r.organization,
          r.project,
          r.clientId,
          r.redirectUri,
          json(r.scopes),
          r.state,
          r.codeChallenge,
          r.codeChallengeMethod,
          r.nonce,
          r.browserBindingHash,
          r.userId,
          r.authTime,
          r.offeredScopes === null ? null : json(r.offeredScopes),
          r.sessionId,
          r.acr,
          json(r.amr),
          r.claims,
          r.forceConsent ? 1 : 0,
          r.mfaRequested ? 1 : 0,
          r.action,
          r.secondFactor?.userId ?? null,
          r.secondFactor?.stage ?? "",
          r.secondFactor === null ? null : json(r.secondFactor.amr),
          r.secondFactor?.sessionId ?? "",
          r.createdAt,
          r.expiresAt,
          r.dpopJkt,
          json(r.resources),
        ),
      ),
    getAuthorizationRequest: (idHash) => maybe(q.getRequest.get(idHash), request),
    authenticateAuthorizationRequest: (idHash, login) => {
      q.authenticateRequest.run(
        login.userId,
        login.authTime,
        json(login.offeredScopes),
        login.sessionId,
        login.acr,
        json(login.amr),
        idHash,
      );
    },
    awaitSecondFactor: (idHash, f) => {
      q.awaitSecondFactor.run(f.userId, f.stage, json(f.amr), f.sessionId, idHash);
    },
    recordFailedLogin: (idHash) => ((q.failedLogin.get(idHash) as Row | undefined)?.failed_logins as number) ?? 0,
    consumeAuthorizationRequest: (idHash) => q.deleteRequest.run(idHash).changes === 1,
    createPushedAuthorizationRequest: (p) =>
      insertForClient("pushed authorization request", p, () =>
        q.insertPushed.run(p.uriHash, p.organization, p.project, p.clientId, json(p.parameters), p.createdAt, p.expiresAt),
      ),
    takePushedAuthorizationRequest: (ref, uriHash) => maybe(q.takePushed.get(uriHash, ref.organization, ref.project), pushed),
    createAuthorizationCode: (c) =>
      insert("authorization code", () =>
        q.insertCode.run(
          c.codeHash,
          c.organization,
          c.project,
          c.clientId,
          c.userId,
          c.redirectUri,
          json(c.scopes),
          c.codeChallenge,
          c.codeChallengeMethod,
          c.nonce,
          c.authTime,
          c.sessionId,
          c.acr,
          json(c.amr),
          c.claims,
          c.createdAt,
          c.expiresAt,
          c.consumedAt,
          c.grantId,
          c.dpopJkt,
          json(c.resources),
        ),
      ),
    getAuthorizationCode: (codeHash) => maybe(q.getCode.get(codeHash), code),
    consumeAuthorizationCode: (codeHash, grantId, at) => q.consumeCode.run(at, grantId, codeHash).changes === 1,
  };
}
