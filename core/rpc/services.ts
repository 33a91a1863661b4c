import type { ServiceImpl } from "@connectrpc/connect";
import { AuthorizationService } from "../../gen/iam/v1/authorization_pb.js";
import { RegistrationService } from "../../gen/iam/v1/registration_pb.js";
import { TokenService } from "../../gen/iam/v1/token_pb.js";
import { authorize } from "./authorize.js";
import { consent } from "./consent.js";
import { endSession } from "./end-session.js";
import { login } from "./login.js";
import { pushAuthorizationRequest } from "./push-authorization-request.js";
import { registerClient } from "./registration/register.js";
import { deleteClientRegistration, getClientRegistration, updateClientRegistration } from "./registration/manage.js";
import { finishEnrolment, startPasskey, startTotpEnrolment, verifyFactor } from "./factors.js";
import type { Deps } from "../deps.js";
import { OAuthError, toConnectError } from "../errors.js";
import { noteRefusal } from "../observe/context.js";
import { introspect } from "./introspect.js";
import { getJwks } from "./jwks.js";
import { getServerMetadata } from "./server-metadata.js";
import { revoke } from "./revoke.js";
import { userInfo } from "./userinfo.js";
import { token } from "./token.js";
import { verifyToken } from "./verify-token.js";

/**
 * Adapts a `(deps, request)` handler to an RPC method: errors leave as
 * ConnectErrors carrying the RFC code; anything unexpected is logged here,
 * once, and leaves as a generic server_error.
 */
function rpc<I, O>(deps: Deps, name: string, handler: (deps: Deps, request: I) => Promise<O>) {
  const onUnexpected = (err: unknown) => deps.logger.error("unexpected error", { rpc: name, err });
  return async (request: I): Promise<O> => {
    try {
      return await handler(deps, request);
    } catch (err) {
      // Refusals are the audit trail (failed logins, replayed codes, reused
      // refresh tokens): the RPC's log line carries their internal detail,
      // which names no secret.
      if (err instanceof OAuthError) noteRefusal(err.error, err.detail ?? err.message);
      throw toConnectError(err, onUnexpected);
    }
  };
}

export function createAuthorizationService(deps: Deps): ServiceImpl<typeof AuthorizationService> {
  return {
    authorize: rpc(deps, "Authorize", authorize),
    pushAuthorizationRequest: rpc(deps, "PushAuthorizationRequest", pushAuthorizationRequest),
    login: rpc(deps, "Login", login),
    consent: rpc(deps, "Consent", consent),
    startPasskey: rpc(deps, "StartPasskey", startPasskey),
    startTotpEnrolment: rpc(deps, "StartTotpEnrolment", startTotpEnrolment),
    verifyFactor: rpc(deps, "VerifyFactor", verifyFactor),
    finishEnrolment: rpc(deps, "FinishEnrolment", finishEnrolment),
    endSession: rpc(deps, "EndSession", endSession),
  };
}

export function createTokenService(deps: Deps): ServiceImpl<typeof TokenService> {
  return {
    token: rpc(deps, "Token", token),
    verifyToken: rpc(deps, "VerifyToken", verifyToken),
    getJwks: rpc(deps, "GetJwks", getJwks),
    introspect: rpc(deps, "Introspect", introspect),
    revoke: rpc(deps, "Revoke", revoke),
    userInfo: rpc(deps, "UserInfo", userInfo),
    getServerMetadata: rpc(deps, "GetServerMetadata", getServerMetadata),
  };
}

export function createRegistrationService(deps: Deps): ServiceImpl<typeof RegistrationService> {
  return {
    registerClient: rpc(deps, "RegisterClient", registerClient),
    getClientRegistration: rpc(deps, "GetClientRegistration", getClientRegistration),
    updateClientRegistration: rpc(deps, "UpdateClientRegistration", updateClientRegistration),
    deleteClientRegistration: rpc(deps, "DeleteClientRegistration", deleteClientRegistration),
  };
}
