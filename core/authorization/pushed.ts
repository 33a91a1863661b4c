/**
 * Pushed authorization requests (RFC 9126) as the authorization endpoint
 * sees them: a pushed request is kept as its parameters by their names on
 * the wire, and used by replaying them through the same checks and the same
 * path as a request sent in the URL. A parameter the endpoint learns later
 * (a new field of AuthorizeRequest, listed in PARAMETERS.authorize) is kept
 * and replayed with the others, with nothing to add here.
 */
import { AuthorizeRequestSchema, type AuthorizeRequest } from "../../gen/iam/v1/authorization_pb.js";
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import { PARAMETERS, parameterFields } from "../protocol/parameters.js";
import type { PushedParameters } from "../store/types.js";

/** RFC 9126 §2.2: the URN namespace of the request_uri values iam-core issues. */
export const PUSHED_REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:";

/** Whether `requestUri` names a pushed request (any other is a request object by reference, RFC 9101). */
export function isPushedRequestUri(requestUri: string): boolean {
  return requestUri.startsWith(PUSHED_REQUEST_URI_PREFIX);
}

/** The AuthorizeRequest field of each authorization request parameter (`redirect_uri` is `redirectUri`). */
const PARAMETER_FIELDS = parameterFields<AuthorizeRequest>(AuthorizeRequestSchema, PARAMETERS.authorize.reads, PARAMETERS.authorize.mayRepeat);

/** The parameters of a request, by their names on the wire: those given (non-empty) only. */
export function parametersOf(request: AuthorizeRequest): PushedParameters {
  const parameters: PushedParameters = {};
  for (const [name, { field }] of PARAMETER_FIELDS) {
    const value = request[field] as string | string[];
    if (value.length > 0) parameters[name] = value;
  }
  return parameters;
}

/**
 * The request `call` would be with `parameters` as its parameters: every
 * parameter field of its own replaced (the absent ones empty), what is the
 * call's and not the client's (project, browser binding, session) kept. The
 * names are those the gateway saw repeated in `call`, which are not these
 * parameters: none.
 */
export function withParameters(call: AuthorizeRequest, parameters: Readonly<PushedParameters>): AuthorizeRequest {
  const request: Record<string, unknown> = { ...call, repeatedParameters: [] };
  for (const [name, { field, list }] of PARAMETER_FIELDS) request[field] = Object.hasOwn(parameters, name) ? parameters[name] : list ? [] : "";
  return request as unknown as AuthorizeRequest;
}

const UNKNOWN = "the request_uri is unknown, was used already or has expired; start again from the application";

/**
 * RFC 9126 §4: the authorization request a request_uri stands for. Only
 * client_id and request_uri of `call` are read: the other parameters come
 * from the pushed request, and those of the URL are ignored. The
 * request_uri is spent at this first use, whatever follows (§4: one-time
 * use); a request_uri unknown, spent, expired, of another project or of
 * another client is `invalid_request_uri`. Every refusal is shown to the
 * user: no redirect URI can be trusted from a request not found.
 */
export async function pushedRequest(deps: Deps, call: AuthorizeRequest): Promise<AuthorizeRequest> {
  // RFC 6749 §3.1, before anything is spent: which client_id or request_uri was meant is unclear.
  const repeated = call.repeatedParameters.find((name) => name === "client_id" || name === "request_uri");
  if (repeated !== undefined) throw new OAuthError("invalid_request", `${repeated} must not be repeated`);
  // §4: client_id accompanies request_uri; it must name the client that pushed the request.
  if (call.clientId === "") throw new OAuthError("invalid_request", "client_id is missing: it is required with a request_uri (RFC 9126 §4)");
  const pushed = await deps.store.takePushedAuthorizationRequest(call, sha256(call.requestUri));
  if (pushed === undefined || pushed.expiresAt <= epochSeconds(deps.clock)) {
    throw new OAuthError("invalid_request_uri", UNKNOWN, { detail: pushed === undefined ? "no such pushed request" : "pushed request expired" });
  }
  if (pushed.clientId !== call.clientId) {
    throw new OAuthError("invalid_request_uri", UNKNOWN, { detail: "pushed request of another client" });
  }
  return withParameters(call, pushed.parameters);
}
