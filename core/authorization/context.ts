import type { AuthorizeRequest } from "../../gen/iam/v1/authorization_pb.js";
import type { Deps } from "../deps.js";
import type { CodeChallengeMethod } from "../lib/pkce.js";
import type { ClientRecord, ProjectRecord, ResourceRecord } from "../store/types.js";

/**
 * What the authorization request checks build up, in order: each check reads
 * what the ones before it established and adds its own conclusion.
 */
export interface AuthorizeContext {
  deps: Deps;
  request: AuthorizeRequest;
  issuer: string;
  /**
   * Whether the request is a pushed one (RFC 9126): checked at the pushed
   * authorization request endpoint, or replayed from there by its request_uri.
   */
  pushed: boolean;
  project?: ProjectRecord;
  client?: ClientRecord;
  /** Set once the redirect URI is trusted: from then on errors go back to the client. */
  redirectUri?: string;
  scopes?: string[];
  /** The resources the request names (RFC 8707), registered ones; empty for the project's audience. */
  resources?: ResourceRecord[];
  codeChallengeMethod?: CodeChallengeMethod | "";
  /** OpenID Connect Core §3.1.2.1, once validated (checks/openid.ts). */
  openid?: OpenIdParameters;
}

/** The OpenID Connect parameters of an authorization request, validated. */
export interface OpenIdParameters {
  /** The `prompt` values, distinct. */
  prompt: ReadonlySet<"none" | "login" | "consent" | "select_account">;
  /** `max_age` in seconds; undefined when absent. */
  maxAge: number | undefined;
  /** The user an `id_token_hint` names (its `sub`); undefined without a hint. */
  hintedUser: string | undefined;
  /** `login_hint`, for the login page. */
  loginHint: string;
  /** The `claims` parameter, normalised JSON; "" when absent. */
  claims: string;
  /** Whether the client asked for a multi-factor sign-in (factors/levels.ts). */
  mfaRequested: boolean;
  /** An application-initiated action on the user's sign-in methods (`iam_action`); "" for none. */
  action: SignInAction;
}

/** What `iam_action` may ask, after a new sign-in: enrol one more factor, or new recovery codes. */
export type SignInAction = "" | "add_factor" | "new_recovery_codes";

export type AuthorizeCheck = (ctx: AuthorizeContext) => Promise<void> | void;
