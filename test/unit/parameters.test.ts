import { create } from "@bufbuild/protobuf";
import test from "ava";
import { AuthorizeRequestSchema } from "../../gen/iam/v1/authorization_pb.js";
import { TokenRequestSchema } from "../../gen/iam/v1/token_pb.js";
import { parametersOf, withParameters } from "../../core/authorization/pushed.js";
import { OAuthError } from "../../core/errors.js";
import { GRANTS } from "../../core/grants/registry.js";
import {
  declaredParametersOf,
  PARAMETERS,
  REPEATED_PARAMETERS,
  refuseRepeatedParameters,
  repeatedParameters,
} from "../../core/protocol/parameters.js";

test("a repeated name breaks the rule unless the endpoint lets it repeat", (t) => {
  t.deepEqual(repeatedParameters(PARAMETERS.authorize, []), []);
  t.deepEqual(repeatedParameters(PARAMETERS.authorize, ["state", "client_id"]), ["state", "client_id"]);
  t.deepEqual(repeatedParameters(PARAMETERS.consent, ["scope"]), []);
  t.deepEqual(repeatedParameters(PARAMETERS.consent, ["scope", "request_id"]), ["request_id"]);
});

test("names no endpoint reads may not repeat either (RFC 6749 §3.1 covers every parameter)", (t) => {
  t.deepEqual(repeatedParameters(PARAMETERS.token, ["pad"]), ["pad"]);
});

test("refuseRepeatedParameters throws invalid_request without naming the parameter", (t) => {
  t.notThrows(() => refuseRepeatedParameters(PARAMETERS.consent, ["scope"]));
  const err = t.throws(() => refuseRepeatedParameters(PARAMETERS.introspect, ["token"]), { instanceOf: OAuthError });
  t.is(err.error, "invalid_request");
  t.is(err.message, REPEATED_PARAMETERS);
});

test("each endpoint declares each parameter once, and lets repeat only what it reads", (t) => {
  for (const [endpoint, declared] of Object.entries(PARAMETERS)) {
    t.is(new Set(declared.reads).size, declared.reads.length, endpoint);
    for (const name of declared.mayRepeat) t.true(declared.reads.includes(name), `${endpoint} ${name}`);
  }
});

/** Fields of TokenRequest that are not parameters a grant reads. */
const NOT_GRANT_PARAMETERS = ["organization", "project", "grant_type", "client_id", "client_secret", "basic", "client", "repeated_parameters", "dpop_proof"];

test("every parameter field of TokenRequest is declared by a grant, and the token endpoint reads them all", (t) => {
  const declared = new Set([...GRANTS.values()].flatMap((grant) => grant.parameters));
  for (const field of TokenRequestSchema.fields) {
    if (NOT_GRANT_PARAMETERS.includes(field.name)) continue;
    t.true(declared.has(field.name), `${field.name} is read by no grant`);
  }
  for (const name of declared) t.true(PARAMETERS.token.reads.includes(name), name);
});

test("a grant sees the parameters it declares, with client authentication, and every other grant's parameter empty", (t) => {
  const request = create(TokenRequestSchema, {
    organization: "acme",
    project: "shop",
    grantType: "client_credentials",
    code: "a-code",
    redirectUri: "https://app.example/cb",
    codeVerifier: "a-verifier",
    refreshToken: "a-refresh-token",
    scope: "read",
    clientId: "app",
    clientSecret: "secret",
    basic: { clientId: "app", clientSecret: "secret" },
    username: "alice",
    password: "pw",
  });
  const seen = declaredParametersOf(GRANTS.get("client_credentials")!, request);
  t.is(seen.scope, "read");
  for (const cleared of [seen.code, seen.redirectUri, seen.codeVerifier, seen.refreshToken, seen.username, seen.password]) t.is(cleared, "");
  t.is(seen.clientId, "app");
  t.is(seen.clientSecret, "secret");
  t.deepEqual(seen.basic, request.basic);
  t.is(seen.grantType, "client_credentials");
  t.is(request.code, "a-code", "the request itself is left as it was");

  const code = declaredParametersOf(GRANTS.get("authorization_code")!, request);
  t.deepEqual([code.code, code.redirectUri, code.codeVerifier, code.scope, code.refreshToken], ["a-code", "https://app.example/cb", "a-verifier", "", ""]);
});

test("token exchange reads resource and its own parameters; the code grant reads resource but no exchange parameter", (t) => {
  const request = create(TokenRequestSchema, { grantType: "x", resource: ["https://mcp.example/mcp"], subjectToken: "s", code: "a-code" });
  const exchange = declaredParametersOf(GRANTS.get("urn:ietf:params:oauth:grant-type:token-exchange")!, request);
  t.deepEqual([exchange.resource, exchange.subjectToken, exchange.code], [["https://mcp.example/mcp"], "s", ""]);
  const code = declaredParametersOf(GRANTS.get("authorization_code")!, request);
  t.deepEqual([code.resource, code.subjectToken], [["https://mcp.example/mcp"], ""]);
  t.true(PARAMETERS.token.reads.includes("resource"));
});

/** Fields of AuthorizeRequest that are the call's (its project, its browser), not parameters a client sends. */
const CALL_FIELDS = ["organization", "project", "browser_binding", "session", "repeated_parameters"];

test("every field of AuthorizeRequest is a parameter the authorization endpoint reads, or the call's: a pushed request keeps every parameter", (t) => {
  for (const field of AuthorizeRequestSchema.fields) {
    if (CALL_FIELDS.includes(field.name)) continue;
    t.true(PARAMETERS.authorize.reads.includes(field.name), `${field.name}: list it in PARAMETERS.authorize, or it is lost from pushed requests`);
  }
  for (const name of PARAMETERS.authorize.reads) t.true(PARAMETERS.pushedAuthorization.reads.includes(name), name);
});

test("a pushed request's parameters replace every parameter of the request that names it, and keep the call's own fields", (t) => {
  const pushed = create(AuthorizeRequestSchema, { responseType: "code", clientId: "web", scope: "read", state: "pushed", iamAction: "add_factor" });
  const parameters = parametersOf(pushed);
  t.deepEqual(parameters, { response_type: "code", client_id: "web", scope: "read", state: "pushed", iam_action: "add_factor" });
  const call = create(AuthorizeRequestSchema, {
    organization: "acme",
    project: "shop",
    clientId: "web",
    requestUri: "urn:ietf:params:oauth:request_uri:x",
    redirectUri: "https://evil.example/cb",
    scope: "write",
    browserBinding: "binding",
    session: "session",
    repeatedParameters: ["scope"],
  });
  const replayed = withParameters(call, parameters);
  t.like(replayed, { organization: "acme", project: "shop", browserBinding: "binding", session: "session" });
  t.like(replayed, { responseType: "code", clientId: "web", scope: "read", state: "pushed", iamAction: "add_factor" });
  t.is(replayed.requestUri, "");
  t.is(replayed.redirectUri, "");
  t.deepEqual(replayed.repeatedParameters, []);
  t.deepEqual(parametersOf(replayed), parameters);
  t.is(call.scope, "write", "the call itself is left as it was");
});

test("resource, and only resource, may repeat at the authorization, pushed request and token endpoints (RFC 8707 §2)", (t) => {
  for (const endpoint of [PARAMETERS.authorize, PARAMETERS.pushedAuthorization, PARAMETERS.token]) {
    t.deepEqual(repeatedParameters(endpoint, ["resource"]), []);
    t.deepEqual(repeatedParameters(endpoint, ["resource", "scope"]), ["scope"]);
  }
  for (const endpoint of [PARAMETERS.introspect, PARAMETERS.revoke, PARAMETERS.login, PARAMETERS.consent]) {
    t.deepEqual(repeatedParameters(endpoint, ["resource"]), ["resource"]);
  }
});

test("a pushed request keeps every resource, and a grant that does not read resource sees none", (t) => {
  const request = create(AuthorizeRequestSchema, { clientId: "web", resource: ["https://a.example/x", "https://b.example/y"] });
  const parameters = parametersOf(request);
  t.deepEqual(parameters.resource, ["https://a.example/x", "https://b.example/y"]);
  t.deepEqual(withParameters(create(AuthorizeRequestSchema), parameters).resource, ["https://a.example/x", "https://b.example/y"]);
  t.deepEqual(withParameters(create(AuthorizeRequestSchema), { client_id: "web" }).resource, []);
  const token = create(TokenRequestSchema, { grantType: "client_credentials", resource: ["https://a.example/x"] });
  const scopeOnly = { ...GRANTS.get("client_credentials")!, parameters: ["scope"] };
  t.deepEqual(declaredParametersOf(scopeOnly, token).resource, []);
  // Every grant iam-core has reads resource (RFC 8707 §2): none issues a token for the project's audience when a resource was named.
  for (const grant of GRANTS.values()) t.deepEqual(declaredParametersOf(grant, token).resource, ["https://a.example/x"], grant.grantType);
});
