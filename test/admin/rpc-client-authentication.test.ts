/**
 * AdminService: how a client authenticates (token_endpoint_auth_method,
 * jwks, jwks_uri), dpop_bound_access_tokens and security_profile. Each is
 * set at creation and changed only under its mask path, answered by Get,
 * recorded in the trail, and acts at once; the rules between them (a
 * private_key_jwt client has keys and no secret, a public client has
 * neither, a FAPI 2.0 client is confidential, private_key_jwt, ES256 ID
 * tokens, no password grant) are refused with InvalidArgument naming the
 * rule, and a refused request changes nothing.
 */
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import test from "ava";
import { exportJWK, generateKeyPair } from "jose";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { ACME, createTenant, expectCode, expectOAuth, REDIRECT, startAdmin, type AdminTest } from "./rpc-support.js";

const mask = (...paths: string[]) => create(FieldMaskSchema, { paths });

async function jwks(alg = "ES256"): Promise<string> {
  const { publicKey } = await generateKeyPair(alg);
  return JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1" }] });
}

const confidential = (c: AdminTest, clientId: string, extra: Record<string, unknown> = {}) =>
  c.admin.createClient({ ...ACME, clientId, type: ClientType.CONFIDENTIAL, redirectUris: [REDIRECT], ...extra }, c.auth);

test("a private_key_jwt client: created with its jwks and no secret, answered by Get, its secret never rotated, the trail records the settings", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const keys = await jwks();
  const made = await confidential(c, "signer", { tokenEndpointAuthMethod: "private_key_jwt", jwks: keys, dpopBoundAccessTokens: true });
  t.is(made.secret, "", "no secret to show");
  const got = (await c.admin.getClient({ ...ACME, clientId: "signer" }, c.auth)).client!;
  t.is(got.tokenEndpointAuthMethod, "private_key_jwt");
  t.is(got.jwks, keys);
  t.true(got.dpopBoundAccessTokens);
  t.is(got.securityProfile, "");
  t.is((await c.core.deps.store.getClient(ACME, "signer"))!.secretHash, null);
  const rotate = await expectCode(t, c.admin.rotateClientSecret({ ...ACME, clientId: "signer" }, c.auth), Code.InvalidArgument);
  t.regex(rotate?.rawMessage ?? "", /has no secret/);
  await expectCode(t, confidential(c, "both", { tokenEndpointAuthMethod: "private_key_jwt", jwks: keys, secret: "s".repeat(20) }), Code.InvalidArgument);

  const events = await c.core.deps.store.listAuditEvents(ACME, { actions: ["CLIENT_CREATED"], targetId: "signer" }, { after: 0, limit: 10 });
  const createdEvent = events[0]!;
  const fields = Object.fromEntries(createdEvent.changes.map((change) => [change.field, change.after]));
  t.is(fields.token_endpoint_auth_method, JSON.stringify("private_key_jwt"));
  t.is(fields.dpop_bound_access_tokens, "true");
});

test("each inconsistent setting is InvalidArgument naming the rule, and creates nothing", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const keys = await jwks();
  const refused: [string, Promise<unknown>, RegExp][] = [
    ["an unknown method", confidential(c, "a", { tokenEndpointAuthMethod: "client_secret_jwt" }), /not supported/],
    ["private_key_jwt without keys", confidential(c, "b", { tokenEndpointAuthMethod: "private_key_jwt" }), /jwks or jwks_uri/],
    ["both jwks and jwks_uri", confidential(c, "c", { tokenEndpointAuthMethod: "private_key_jwt", jwks: keys, jwksUri: "https://keys.example/jwks" }), /both/],
    ["keys for a secret client", confidential(c, "d", { jwks: keys }), /private_key_jwt/],
    ["none for a confidential client", confidential(c, "e", { tokenEndpointAuthMethod: "none" }), /must authenticate/],
    [
      "private_key_jwt for a public client",
      c.admin.createClient({ ...ACME, clientId: "f", type: ClientType.PUBLIC, redirectUris: [REDIRECT], tokenEndpointAuthMethod: "private_key_jwt", jwks: keys }, c.auth),
      /public client/,
    ],
    ["a private key in jwks", confidential(c, "g", { tokenEndpointAuthMethod: "private_key_jwt", jwks: JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0" }] }) }), /jwks/],
    ["jwks that is not JSON", confidential(c, "h", { tokenEndpointAuthMethod: "private_key_jwt", jwks: "{keys" }), /jwks/],
    ["an http jwks_uri", confidential(c, "i", { tokenEndpointAuthMethod: "private_key_jwt", jwksUri: "http://keys.example/jwks" }), /jwks_uri/],
    ["a loopback jwks_uri", confidential(c, "j", { tokenEndpointAuthMethod: "private_key_jwt", jwksUri: "https://127.0.0.1/jwks" }), /jwks_uri/],
    ["an unknown profile", confidential(c, "k", { securityProfile: "fapi1" }), /security_profile/],
    ["FAPI 2.0 with a secret", confidential(c, "l", { securityProfile: "fapi2", idTokenSignedResponseAlg: "ES256" }), /private_key_jwt/],
    [
      "FAPI 2.0 with RS256 ID tokens",
      confidential(c, "m", { securityProfile: "fapi2", tokenEndpointAuthMethod: "private_key_jwt", jwks: keys }),
      /ES256/,
    ],
    [
      "FAPI 2.0 with the password grant",
      confidential(c, "n", { securityProfile: "fapi2", tokenEndpointAuthMethod: "private_key_jwt", jwks: keys, idTokenSignedResponseAlg: "ES256", grantTypes: ["authorization_code", "password"] }),
      /password/,
    ],
    [
      "FAPI 2.0 for a public client",
      c.admin.createClient({ ...ACME, clientId: "o", type: ClientType.PUBLIC, redirectUris: [REDIRECT], securityProfile: "fapi2", idTokenSignedResponseAlg: "ES256" }, c.auth),
      /confidential/,
    ],
  ];
  for (const [what, call, message] of refused) {
    const err = await expectCode(t, call, Code.InvalidArgument, what);
    t.regex(err?.rawMessage ?? "", message, what);
  }
  const left = (await c.admin.listClients({ ...ACME }, c.auth)).clients.map((x) => x.id);
  t.deepEqual(left.filter((id) => id.length === 1), [], "none of them was created");
});

test("UpdateClient changes each setting only under its mask path; a FAPI 2.0 client is made in steps, and a step that breaks a rule leaves the client as it was", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await confidential(c, "bank", { idTokenSignedResponseAlg: "ES256" });
  const update = (fields: Record<string, unknown>, ...paths: string[]) =>
    c.admin.updateClient({ ...ACME, clientId: "bank", ...fields, updateMask: mask(...paths) }, c.auth);

  // Outside the mask, nothing changes.
  t.is((await update({ securityProfile: "fapi2" }, "name")).client!.securityProfile, "");
  // The profile before the method: refused, the client unchanged.
  await expectCode(t, update({ securityProfile: "fapi2" }, "security_profile"), Code.InvalidArgument);
  t.is((await c.admin.getClient({ ...ACME, clientId: "bank" }, c.auth)).client!.securityProfile, "");

  const keys = await jwks("PS256");
  const keyed = await update({ tokenEndpointAuthMethod: "private_key_jwt", jwks: keys }, "token_endpoint_auth_method", "jwks");
  t.is(keyed.client!.tokenEndpointAuthMethod, "private_key_jwt");
  const fapi = await update({ securityProfile: "fapi2" }, "security_profile");
  t.is(fapi.client!.securityProfile, "fapi2");
  // While under the profile, its method cannot go back to a secret.
  await expectCode(t, update({ tokenEndpointAuthMethod: "client_secret_basic", jwks: "" }, "token_endpoint_auth_method", "jwks"), Code.InvalidArgument);
  // The secret it had before is no way in: it authenticates with its keys only.
  await expectOAuth(
    t,
    c.tokens.token({ ...ACME, grantType: "client_credentials", basic: { clientId: "bank", clientSecret: "whatever-secret-it-had" } }),
    "invalid_client",
    Code.Unauthenticated,
  );
  const off = await update({ securityProfile: "", dpopBoundAccessTokens: true }, "security_profile", "dpop_bound_access_tokens");
  t.is(off.client!.securityProfile, "");
  t.true(off.client!.dpopBoundAccessTokens);
});

test("a client switched to private_key_jwt loses its secret: switched back, the old secret is refused until a new one is made; the trail records the secret taken away", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const { secret } = await confidential(c, "mover", { grantTypes: ["client_credentials"] });
  const withSecret = () => c.tokens.token({ ...ACME, grantType: "client_credentials", basic: { clientId: "mover", clientSecret: secret } });
  t.truthy((await withSecret()).accessToken);
  const update = (fields: Record<string, unknown>, ...paths: string[]) =>
    c.admin.updateClient({ ...ACME, clientId: "mover", ...fields, updateMask: mask(...paths) }, c.auth);

  await update({ tokenEndpointAuthMethod: "private_key_jwt", jwks: await jwks() }, "token_endpoint_auth_method", "jwks");
  t.is((await c.core.deps.store.getClient(ACME, "mover"))!.secretHash, null);
  const [event] = await c.core.deps.store.listAuditEvents(ACME, { actions: ["CLIENT_UPDATED"], targetId: "mover" }, { after: 0, limit: 10 });
  t.deepEqual(
    event!.changes.find((change) => change.field === "secret"),
    { field: "secret", before: JSON.stringify("(secret)"), after: "" },
  );

  await update({ tokenEndpointAuthMethod: "", jwks: "" }, "token_endpoint_auth_method", "jwks");
  await expectOAuth(t, withSecret(), "invalid_client", Code.Unauthenticated, "the secret it had before is gone");
  const { secret: fresh } = await c.admin.rotateClientSecret({ ...ACME, clientId: "mover" }, c.auth);
  t.truthy((await c.tokens.token({ ...ACME, grantType: "client_credentials", basic: { clientId: "mover", clientSecret: fresh } })).accessToken);
});
