/**
 * The peer of `npm run bench`: node-oidc-provider with its in-memory adapter,
 * configured for the same work as iam-core's scenarios (the same clients,
 * client_secret_basic, client_credentials with one scope, introspection by
 * any of the clients). Its access tokens are opaque (its default).
 *
 * Usage: node --import tsx bench/peer-oidc-provider.mts '<{clients, scope}>'
 * Prints the port it listens on.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";

const { clients, scope } = JSON.parse(process.argv[2] ?? "{}") as { clients: { id: string; secret: string }[]; scope: string };
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
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
});
server.on("request", provider.callback());
process.stdout.write(`${port}\n`);
