import type { AuthorizeRequest } from "../../gen/iam/v1/authorization_pb.js";
import type { Deps } from "../deps.js";
import type { CodeChallengeMethod } from "../lib/pkce.js";
import type { ClientRecord, ProjectRecord } from "../store/types.js";

/**
 * What the authorization request checks build up, in order: each check reads
 * what the ones before it established and adds its own conclusion.
 */
export interface AuthorizeContext {
  deps: Deps;
  request: AuthorizeRequest;
  issuer: string;
  project?: ProjectRecord;
  client?: ClientRecord;
  /** Set once the redirect URI is trusted: from then on errors go back to the client. */
  redirectUri?: string;
  scopes?: string[];
  codeChallengeMethod?: CodeChallengeMethod | "";
}

export type AuthorizeCheck = (ctx: AuthorizeContext) => Promise<void> | void;
