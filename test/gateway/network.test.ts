import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import test from "ava";
import { TokenFailure, TokenService } from "../../gen/iam/v1/token_pb.js";
import { ADMIN_CLIENT_SECRET, ADMIN_PASSWORD, DEFAULT_REDIRECT, RFC7636_CHALLENGE, RFC7636_VERIFIER, startExtraGateway, startTestServer } from "../helpers.js";

const protoRoot = fileURLToPath(new URL("../../proto", import.meta.url));

/** The whole login flow over HTTP (JSON variant), answering the token response. */
async function loginFlow(project: string): Promise<{ access_token: string; refresh_token: string; scope: string }> {
  const authorize = await fetch(
    `${project}/authorize?` +
      new URLSearchParams({
        response_type: "code",
        client_id: "admin-client",
        redirect_uri: DEFAULT_REDIRECT,
        state: "st",
        code_challenge: RFC7636_CHALLENGE,
        code_challenge_method: "S256",
      }),
    { headers: { accept: "application/json" } },
  );
  const { request_id } = (await authorize.json()) as { request_id: string };
  const post = (path: string, body: unknown) =>
    fetch(`${project}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  await post("/authorize", { request_id, username: "admin", password: ADMIN_PASSWORD });
  const { redirect_to } = (await (await post("/consent", { request_id, scopes: ["iam.global.admin"] })).json()) as {
    redirect_to: string;
  };
  const code = new URL(redirect_to).searchParams.get("code")!;
  const token = await fetch(`${project}/token`, {
    method: "POST",
    headers: {
      authorization: "Basic " + Buffer.from(`admin-client:${ADMIN_CLIENT_SECRET}`).toString("base64"),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: DEFAULT_REDIRECT, code_verifier: RFC7636_VERIFIER }),
  });
  return (await token.json()) as { access_token: string; refresh_token: string; scope: string };
}

interface GrpcVerifyResponse {
  active: boolean;
  subject: string;
  client_id: string;
  scopes: string[];
  organization: string;
  project: string;
  failure: string;
}

function grpcJsVerify(address: string, token: string, requiredScopes: string[] = []): Promise<GrpcVerifyResponse> {
  const definition = protoLoader.loadSync("iam/v1/token.proto", {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as any;
  const client = new loaded.iam.v1.TokenService(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    client.VerifyToken({ token, required_scopes: requiredScopes }, (err: Error | null, res: GrpcVerifyResponse) => {
      client.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
}

test("a resource server verifies an access token with an @grpc/grpc-js client loading the .proto files", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const tokens = await loginFlow(s.project);
  const address = s.grpcUrl.replace("http://", "");

  const active = await grpcJsVerify(address, tokens.access_token, ["iam.global.admin"]);
  t.true(active.active);
  t.is(active.subject, "admin");
  t.is(active.client_id, "admin-client");
  t.deepEqual(active.scopes, ["iam.global.admin"]);
  t.is(active.organization, "iam-admins");
  t.is(active.project, "iam-admins");

  const lacking = await grpcJsVerify(address, tokens.access_token, ["billing.invoices.read"]);
  t.false(lacking.active);
  t.is(lacking.failure, "TOKEN_FAILURE_INSUFFICIENT_SCOPE");

  const garbage = await grpcJsVerify(address, "not-a-token");
  t.false(garbage.active);
  t.is(garbage.failure, "TOKEN_FAILURE_INVALID");
});

test("a resource server verifies an access token with the generated Connect stubs, over Connect and over gRPC", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const tokens = await loginFlow(s.project);
  for (const transport of [
    createConnectTransport({ baseUrl: s.grpcUrl, httpVersion: "2" }),
    createGrpcTransport({ baseUrl: s.grpcUrl }),
  ]) {
    const client = createClient(TokenService, transport);
    const verified = await client.verifyToken({ token: tokens.access_token, audience: "http://iam.test/services/oauth2/iam-admins/iam-admins" });
    t.true(verified.active);
    t.is(verified.subject, "admin");
    const wrongAudience = await client.verifyToken({ token: tokens.access_token, audience: "https://other.example" });
    t.false(wrongAudience.active);
    t.is(wrongAudience.failure, TokenFailure.AUDIENCE);
  }
});

test("when refresh tokens rotate, reusing the old one revokes the family and VerifyToken says revoked over the network", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const tokens = await loginFlow(s.project);
  const refresh = (refreshToken: string) =>
    fetch(`${s.project}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: "admin-client",
        client_secret: ADMIN_CLIENT_SECRET,
      }),
    });
  const first = await refresh(tokens.refresh_token);
  t.is(first.status, 200);
  const rotated = (await first.json()) as { access_token: string; refresh_token: string };
  t.not(rotated.refresh_token, tokens.refresh_token);

  const reuse = await refresh(tokens.refresh_token);
  t.is(reuse.status, 400);
  t.is(((await reuse.json()) as { error: string }).error, "invalid_grant");

  const client = createClient(TokenService, createGrpcTransport({ baseUrl: s.grpcUrl }));
  for (const token of [tokens.access_token, rotated.access_token]) {
    const verified = await client.verifyToken({ token });
    t.false(verified.active);
    t.is(verified.failure, TokenFailure.REVOKED);
  }
  const newest = await refresh(rotated.refresh_token);
  t.is(newest.status, 400);
});

test("a gateway running alone reaches the core over gRPC, and RFC errors survive the network hop", async (t) => {
  const s = await startTestServer();
  t.teardown(() => s.close());
  const { project } = await startExtraGateway(t, s);

  const tokens = await loginFlow(project);
  t.is(tokens.scope, "iam.global.admin");

  // A redirectable error keeps its redirect, state and issuer across the hop.
  const bad = await fetch(
    `${project}/authorize?response_type=token&client_id=admin-client&state=xyz&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`,
    { redirect: "manual" },
  );
  t.is(bad.status, 302);
  const location = new URL(bad.headers.get("location")!);
  t.is(location.origin + location.pathname, DEFAULT_REDIRECT);
  t.is(location.searchParams.get("error"), "unsupported_response_type");
  t.is(location.searchParams.get("state"), "xyz");
  t.is(location.searchParams.get("iss"), "http://iam.test/services/oauth2/iam-admins/iam-admins");

  // A token error keeps its RFC code and status.
  const wrong = await fetch(`${project}/token`, {
    method: "POST",
    headers: {
      authorization: "Basic " + Buffer.from("admin-client:wrong").toString("base64"),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=refresh_token&refresh_token=x",
  });
  t.is(wrong.status, 401);
  t.is(((await wrong.json()) as { error: string }).error, "invalid_client");
  t.regex(wrong.headers.get("www-authenticate") ?? "", /^Basic /);
});
