/**
 * `iam client create` and `update` with a client's authentication method
 * and keys (--auth-method, --jwks, --jwks-uri), --dpop-bound and --profile:
 * each reaches the client as given, is shown after its name, and is refused
 * with the AdminService's own message when the rules between them are not
 * met; a private_key_jwt client is given no secret.
 */
import { join } from "node:path";
import test from "ava";
import { exportJWK, generateKeyPair } from "jose";
import { tempDir } from "../helpers.js";
import { iam } from "./_support.js";

test("a private_key_jwt client with --jwks gets no secret, --dpop-bound and --profile fapi2 are set and shown; the rules between them are the AdminService's", async (t) => {
  const { dir, cleanup } = tempDir();
  t.teardown(cleanup);
  const db = join(dir, "iam.db");
  t.is(iam(db, ["org", "create", "acme"]).code, 0);
  t.is(iam(db, ["project", "create", "acme", "shop"]).code, 0);
  const { publicKey } = await generateKeyPair("PS256");
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1" }] });

  const created = iam(db, ["client", "create", "acme", "shop", "bank", "--redirect-uri", "https://bank.example/cb", "--auth-method", "private_key_jwt", "--jwks", jwks, "--dpop-bound", "true"]);
  t.is(created.code, 0, created.stderr);
  t.is(created.stdout, "created client bank, authenticates with private_key_jwt, DPoP required\n", "no secret line");

  // The profile needs ES256 ID tokens: refused with the AdminService's message, the client unchanged.
  const refused = iam(db, ["client", "update", "acme", "shop", "bank", "--profile", "fapi2"]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /iam: InvalidArgument: a FAPI 2\.0 client's ID tokens are ES256/);
  const fapi = iam(db, ["client", "update", "acme", "shop", "bank", "--profile", "fapi2", "--id-token-alg", "ES256"]);
  t.is(fapi.stdout, "updated client bank, authenticates with private_key_jwt, DPoP required, FAPI 2.0 Security Profile\n");

  const json = JSON.parse(iam(db, ["client", "list", "acme", "shop", "--json"]).stdout) as { clients: Record<string, unknown>[] };
  const bank = json.clients.find((c) => c.id === "bank")!;
  t.is(bank.tokenEndpointAuthMethod, "private_key_jwt");
  t.is(bank.jwks, jwks);
  t.is(bank.securityProfile, "fapi2");
  t.true(bank.dpopBoundAccessTokens);

  // A secret for it is refused, and so are keys for a secret client and an unknown method.
  const rotate = iam(db, ["client", "rotate-secret", "acme", "shop", "bank"]);
  t.is(rotate.code, 1);
  t.regex(rotate.stderr, /has no secret/);
  const keysForSecret = iam(db, ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://web.example/cb", "--jwks", jwks]);
  t.is(keysForSecret.code, 1);
  t.regex(keysForSecret.stderr, /InvalidArgument: jwks and jwks_uri verify private_key_jwt assertions/);
  const unknown = iam(db, ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://web.example/cb", "--auth-method", "tls_client_auth"]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /token_endpoint_auth_method tls_client_auth is not supported/);
  const loopback = iam(db, ["client", "create", "acme", "shop", "web", "--redirect-uri", "https://web.example/cb", "--auth-method", "private_key_jwt", "--jwks-uri", "https://127.0.0.1/jwks.json"]);
  t.is(loopback.code, 1);
  t.regex(loopback.stderr, /IAM_JWKS_URI_PRIVATE_NETWORKS/);
  t.is(iam(db, ["client", "list", "acme", "shop"]).stdout.split("\n").filter((line) => line.startsWith("web\t")).length, 0, "none of the refused ones was created");
});
