/**
 * What each endpoint reads, and the one rule about parameters given more than
 * once (RFC 6749 §3.1, §3.2): declared here once, applied by the RPCs and the
 * authorization checks alike, so that the gateway only reports what it saw.
 */
import { ScalarType } from "@bufbuild/protobuf";
import { TokenRequestSchema, type TokenRequest } from "../../gen/iam/v1/token_pb.js";
import { OAuthError } from "../errors.js";
import { GRANTS } from "../grants/registry.js";
import type { Grant } from "../grants/types.js";

/** The HTTP request parameters of an endpoint, by their names on the wire. */
export interface EndpointParameters {
  /** Every parameter the endpoint reads. */
  readonly reads: readonly string[];
  /** Those of them that may be given more than once. */
  readonly mayRepeat: readonly string[];
}

/** Client authentication in the body (RFC 6749 §2.3.1); Basic credentials come in a header. */
const CLIENT_AUTHENTICATION = ["client_id", "client_secret"];

/** What the grants read, each name once: the token endpoint's parameters beyond grant_type and client authentication. */
const GRANT_PARAMETERS = [...new Set([...GRANTS.values()].flatMap((grant) => grant.parameters))];

type Endpoint = "authorize" | "pushedAuthorization" | "login" | "consent" | "token" | "introspect" | "revoke" | "endSession";

/**
 * RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect Core §3.1.2.1: each is a
 * string field of AuthorizeRequest of the same name, and a pushed request
 * keeps them all (authorization/pushed.ts).
 */
const AUTHORIZE = [
  "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "nonce",
  "prompt", "max_age", "id_token_hint", "login_hint", "acr_values", "ui_locales", "claims_locales", "claims",
  "request", "request_uri", "display", "response_mode", "registration", "iam_action", "dpop_jkt",
];

/**
 * The parameters of every endpoint whose RPC is handed the names the gateway
 * saw repeated, in one place: the token endpoint's are those of its grants.
 */
export const PARAMETERS: Readonly<Record<Endpoint, EndpointParameters>> = {
  authorize: { reads: AUTHORIZE, mayRepeat: [] },
  /** RFC 9126 §2.1: an authorization request's parameters, and the client's authentication. */
  pushedAuthorization: { reads: [...AUTHORIZE, "client_secret"], mayRepeat: [] },
  /** The login form. */
  login: { reads: ["request_id", "username", "password"], mayRepeat: [] },
  /** The consent form: one `scope` field per approved scope. */
  consent: { reads: ["request_id", "scope", "action"], mayRepeat: ["scope"] },
  /** RFC 6749 §3.2. */
  token: { reads: ["grant_type", ...CLIENT_AUTHENTICATION, ...GRANT_PARAMETERS], mayRepeat: [] },
  /** RFC 7662 §2.1. */
  introspect: { reads: ["token", "token_type_hint", ...CLIENT_AUTHENTICATION], mayRepeat: [] },
  /** RFC 7009 §2.1. */
  revoke: { reads: ["token", "token_type_hint", ...CLIENT_AUTHENTICATION], mayRepeat: [] },
  /** OpenID Connect RP-Initiated Logout 1.0 §2, and the confirmation page's form. */
  endSession: {
    reads: ["id_token_hint", "client_id", "logout_hint", "post_logout_redirect_uri", "state", "ui_locales", "confirmation"],
    mayRepeat: [],
  },
};

/**
 * RFC 6749 §3.1 and §3.2: request parameters "MUST NOT be included more than
 * once". Of the names the gateway saw more than once (in request order),
 * those the endpoint does not let repeat.
 */
export function repeatedParameters(endpoint: EndpointParameters, reported: readonly string[]): string[] {
  return reported.filter((name) => !endpoint.mayRepeat.includes(name));
}

/** The refusal of a request with a repeated parameter, where the endpoint names none. */
export const REPEATED_PARAMETERS = "request parameters must not be repeated";

/** Refuses, with `invalid_request`, a request that repeats a parameter the endpoint does not let repeat. */
export function refuseRepeatedParameters(endpoint: EndpointParameters, reported: readonly string[]): void {
  if (repeatedParameters(endpoint, reported).length > 0) throw new OAuthError("invalid_request", REPEATED_PARAMETERS);
}

/** Grant parameters whose TokenRequest field has another name: token exchange's `resource` (RFC 8693 §2.1). */
export const FIELD_NAMES: Readonly<Record<string, string>> = { resource: "exchange_resource" };

/** The TokenRequest field of each grant parameter (`code_verifier` is `codeVerifier`). */
const GRANT_FIELDS = new Map(
  GRANT_PARAMETERS.map((name) => {
    const field = TokenRequestSchema.fields.find((f) => f.name === (FIELD_NAMES[name] ?? name));
    if (field?.fieldKind !== "scalar" || field.scalar !== ScalarType.STRING) {
      throw new Error(`grant parameter ${name} is not a string field of TokenRequest`);
    }
    return [name, field.localName as keyof TokenRequest];
  }),
);

/**
 * The token request as a grant sees it: the parameters it declares, every
 * other grant's parameter empty, so that its declaration is what it reads.
 */
export function declaredParametersOf(grant: Grant, request: TokenRequest): TokenRequest {
  const seen: Record<string, unknown> = { ...request };
  for (const [name, field] of GRANT_FIELDS) if (!grant.parameters.includes(name)) seen[field] = "";
  return seen as unknown as TokenRequest;
}
