/**
 * The peer of `npm run bench`: node-oidc-provider with its in-memory
 * adapter, one process, configured for the same work as iam-core's
 * scenarios (the same clients, client_secret_basic, client_credentials with
 * one scope, introspection by any of the clients). Its access tokens are
 * opaque (its default); with `jwt`, client_credentials issues ES256 JWT
 * access tokens for a resource server instead, the same signing work as
 * iam-core's tokens (reported only: the targets use the default peer).
 *
 * Usage: node --import tsx bench/peer-oidc-provider.mts '<{clients, scope, jwt?}>'
 * Prints the port it listens on.
 */
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Configuration } from "oidc-provider";

const { clients, scope, jwt } = JSON.parse(process.argv[2] ?? "{}") as { clients: { id: string; secret: string }[]; scope: string; jwt?: boolean };
const RESOURCE = "urn:bench:api";

/** Signing keys: ES256 for the JWT access tokens, RS256 for what the provider signs by default. */
function keys(): NonNullable<Configuration["jwks"]> {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  return { keys: [{ ...ec, kid: "es256", alg: "ES256", use: "sig" }, { ...rsa, kid: "rs256", alg: "RS256", use: "sig" }] as never };
}

const server = http.createServer();
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: clients.map((c) => ({
    client_id: c.id,
    client_secret: c.secret,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope,
  })),
  scopes: [scope],
  ...(jwt === true ? { jwks: keys() } : {}),
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
    ...(jwt === true
      ? {
          resourceIndicators: {
            enabled: true,
            defaultResource: () => RESOURCE,
            useGrantedResource: () => true,
            getResourceServerInfo: () => ({ scope, audience: RESOURCE, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } }),
          },
        }
      : {}),
  },
});
server.on("request", provider.callback());
process.stdout.write(`${port}\n`);
