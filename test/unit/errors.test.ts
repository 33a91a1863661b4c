import { Code, ConnectError } from "@connectrpc/connect";
import test from "ava";
import { OAuthError, toConnectError } from "../../core/errors.js";
import { StorageUnavailable } from "../../core/store/faults.js";
import { ERROR_KEY, httpStatusOf, oauthErrorOf, REDIRECT_KEY, RETRY_AFTER_KEY, STATUS_KEY, type OAuthErrorCode } from "../../wire/errors.js";

const unexpectedNotCalled = (t: { fail: (message?: string) => void }) => (err: unknown) => t.fail(`onUnexpected called with ${String(err)}`);

const mapping: [OAuthErrorCode, Code, number][] = [
  ["invalid_request", Code.InvalidArgument, 400],
  ["invalid_client", Code.Unauthenticated, 401],
  ["invalid_grant", Code.FailedPrecondition, 400],
  ["unauthorized_client", Code.PermissionDenied, 400],
  ["unsupported_grant_type", Code.InvalidArgument, 400],
  ["unsupported_response_type", Code.InvalidArgument, 400],
  ["invalid_scope", Code.InvalidArgument, 400],
  ["access_denied", Code.PermissionDenied, 403],
  ["server_error", Code.Internal, 500],
  ["temporarily_unavailable", Code.Unavailable, 503],
];
for (const [error, code, status] of mapping) {
  test(`an OAuthError ${error} becomes Connect code ${Code[code]} with its RFC code in metadata`, (t) => {
    const ce = toConnectError(new OAuthError(error, "what went wrong"), unexpectedNotCalled(t));
    t.is(ce.code, code);
    t.is(ce.rawMessage, "what went wrong");
    t.is(ce.metadata.get(ERROR_KEY), error);
    t.is(ce.metadata.get(REDIRECT_KEY), null);
    t.is(ce.metadata.get(STATUS_KEY), null);
    t.is(oauthErrorOf(ce), error);
  });

  test(`the HTTP status of ${error} is ${status}`, (t) => {
    t.is(httpStatusOf(error), status);
    t.is(new OAuthError(error, "x").status, status);
  });
}

test("an OAuthError with redirectTo carries it in oauth-redirect", (t) => {
  const redirectTo = "https://client.example/cb?error=access_denied&state=s";
  const ce = toConnectError(new OAuthError("access_denied", "denied", { redirectTo }), unexpectedNotCalled(t));
  t.is(ce.metadata.get(REDIRECT_KEY), redirectTo);
  t.is(ce.metadata.get(ERROR_KEY), "access_denied");
});

test("an OAuthError with an unusual status carries it in oauth-status", (t) => {
  const ce = toConnectError(new OAuthError("invalid_request", "bad login", { status: 401 }), unexpectedNotCalled(t));
  t.is(ce.metadata.get(STATUS_KEY), "401");
  t.is(ce.code, Code.InvalidArgument);
});

test("an OAuthError whose status is the usual one has no oauth-status", (t) => {
  const ce = toConnectError(new OAuthError("invalid_client", "who are you", { status: 401 }), unexpectedNotCalled(t));
  t.is(ce.metadata.get(STATUS_KEY), null);
});

test("the detail of an OAuthError is not sent", (t) => {
  const ce = toConnectError(new OAuthError("invalid_grant", "invalid code", { detail: "code hash abc123 reused" }), unexpectedNotCalled(t));
  t.false(ce.message.includes("abc123"));
  for (const [, value] of ce.metadata) t.false(value.includes("abc123"));
});

test("an unexpected Error becomes Internal with a generic message, reported through onUnexpected", (t) => {
  const original = new Error("SQLITE_BUSY: database /secret/path/iam.db is locked");
  const reported: unknown[] = [];
  const ce = toConnectError(original, (err) => reported.push(err));
  t.is(ce.code, Code.Internal);
  t.is(ce.rawMessage, "the server could not complete the request");
  t.false(ce.message.includes("SQLITE_BUSY"));
  t.false(ce.message.includes("/secret/path"));
  t.is(ce.metadata.get(ERROR_KEY), "server_error");
  t.deepEqual(reported, [original]);
  t.is(oauthErrorOf(ce), "server_error");
});

test("a storage fault becomes Unavailable, temporarily_unavailable, with when to try again; the database's error is neither sent nor reported", (t) => {
  const original = Object.assign(new Error("disk I/O error at /secret/path/iam.db"), { code: "SQLITE_IOERR_WRITE" });
  const ce = toConnectError(new StorageUnavailable(original), unexpectedNotCalled(t));
  t.is(ce.code, Code.Unavailable);
  t.is(ce.metadata.get(ERROR_KEY), "temporarily_unavailable");
  t.is(oauthErrorOf(ce), "temporarily_unavailable");
  t.is(ce.metadata.get(RETRY_AFTER_KEY), "5");
  // gRFC A6 server pushback, in milliseconds.
  t.is(ce.metadata.get("grpc-retry-pushback-ms"), "5000");
  t.false(ce.message.includes("secret") || ce.message.includes("SQLITE"));
  for (const [, value] of ce.metadata) t.false(value.includes("secret") || value.includes("SQLITE"));
});

test("a thrown non-Error value is also reported and hidden", (t) => {
  const reported: unknown[] = [];
  const ce = toConnectError("raw string thrown", (err) => reported.push(err));
  t.is(ce.code, Code.Internal);
  t.false(ce.message.includes("raw string thrown"));
  t.deepEqual(reported, ["raw string thrown"]);
});

test("a ConnectError passes through unchanged and is not reported", (t) => {
  const original = new ConnectError("deadline", Code.DeadlineExceeded);
  t.is(toConnectError(original, unexpectedNotCalled(t)), original);
});

const fallbacks: [Code, OAuthErrorCode][] = [
  [Code.Unauthenticated, "invalid_client"],
  [Code.Unavailable, "temporarily_unavailable"],
  [Code.DeadlineExceeded, "temporarily_unavailable"],
  [Code.ResourceExhausted, "temporarily_unavailable"],
  [Code.InvalidArgument, "invalid_request"],
  [Code.Internal, "server_error"],
  [Code.Unknown, "server_error"],
  [Code.PermissionDenied, "server_error"],
];
for (const [code, expected] of fallbacks) {
  test(`oauthErrorOf a ConnectError ${Code[code]} without oauth-error metadata is ${expected}`, (t) => {
    t.is(oauthErrorOf(new ConnectError("x", code)), expected);
  });
}

test("oauthErrorOf ignores an unknown oauth-error value and falls back to the code", (t) => {
  const ce = new ConnectError("x", Code.InvalidArgument, new Headers({ [ERROR_KEY]: "made_up_error" }));
  t.is(oauthErrorOf(ce), "invalid_request");
});

for (const name of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
  test(`oauthErrorOf does not take the Object.prototype member "${name}" for an OAuth error code`, (t) => {
    const ce = new ConnectError("x", Code.Unknown, new Headers({ [ERROR_KEY]: name }));
    t.is(oauthErrorOf(ce), "server_error");
  });
}
