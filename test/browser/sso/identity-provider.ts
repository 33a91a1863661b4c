/**
 * iam-core for the single sign-on browser test: core and gateway on a
 * loopback port whose base URL *is* that port (the gateway listens first and
 * is handed the app once the core exists, as `iam start` does), so the issuer
 * a browser client discovers is the one it reaches, and the session cookie
 * belongs to 127.0.0.1, the site of the test's other servers. Real time: the
 * browser client checks iat and exp against its own clock. The tenant and
 * its clients are made through the AdminService, as an administrator would;
 * the relying party's back-channel logout endpoint is on loopback too, which
 * IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS allows.
 */
import type http from "node:http";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import { createClient, createRouterTransport, type CallOptions, type Client } from "@connectrpc/connect";
import { AdminService, ClientType } from "../../../gen/iam/v1/admin_pb.js";
import { TokenService } from "../../../gen/iam/v1/token_pb.js";
import { systemClock } from "../../../core/lib/clock.js";
import { createCore, type Core } from "../../../core/server/compose.js";
import { createGateway } from "../../../gateway/app.js";
import { startGatewayServer } from "../../../gateway/server.js";
import { createInProcessTransport } from "../../../wire/in-process-transport.js";
import { ADMIN_CLIENT_SECRET, DEFAULT, memoryLogger, tempDir, testConfig } from "../../helpers.js";

export const USER = { id: "alice", password: "alice-password-1", name: "Alice Liddell" } as const;

export interface IdentityProvider {
  /** `http://127.0.0.1:PORT`, the configured base URL. */
  origin: string;
  /** `${origin}/services/oauth2/acme/shop`, the project's issuer. */
  issuer: string;
  core: Core;
  /** The AdminService, as the global administrator. */
  admin: Client<typeof AdminService>;
  auth: CallOptions;
  lines: string[];
}

/** iam-core with the project acme/shop and its user alice, closed when the test ends. */
export async function startIdentityProvider(t: ExecutionContext): Promise<IdentityProvider> {
  const tmp = tempDir();
  let listener: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server = await startGatewayServer((req, res) => listener(req, res), "127.0.0.1", 0);
  const origin = `http://127.0.0.1:${server.port}`;
  const { logger, lines } = memoryLogger();
  const core = await createCore(testConfig(join(tmp.dir, "iam.db"), { baseUrl: origin, backchannelLogoutPrivateNetworks: true }), { clock: systemClock, logger });
  t.teardown(async () => {
    await server.close(500);
    await core.close();
    tmp.cleanup();
  });
  listener = createGateway({ transport: createInProcessTransport(core.routes), baseUrl: origin, logger, metrics: core.deps.metrics }).callback();

  const transport = createRouterTransport(core.routes);
  const { accessToken } = await createClient(TokenService, transport).token({
    ...DEFAULT,
    grantType: "client_credentials",
    basic: { clientId: "admin-client", clientSecret: ADMIN_CLIENT_SECRET },
  });
  const admin = createClient(AdminService, transport);
  const auth: CallOptions = { headers: { authorization: `Bearer ${accessToken}` } };
  await admin.createOrganization({ id: "acme" }, auth);
  await admin.createProject({ organization: "acme", id: "shop", name: "Acme Shop" }, auth);
  await admin.createUser({ organization: "acme", project: "shop", userId: USER.id, password: USER.password, name: USER.name }, auth);
  return { origin, issuer: `${origin}/services/oauth2/acme/shop`, core, admin, auth, lines };
}

/**
 * A confidential web application (a server-side relying party): the code
 * flow with its secret, and a back-channel logout URI.
 */
export async function registerWebClient(
  idp: IdentityProvider,
  client: { id: string; redirectUri: string; backchannelLogoutUri: string },
): Promise<{ id: string; secret: string }> {
  const res = await idp.admin.createClient(
    {
      organization: "acme",
      project: "shop",
      clientId: client.id,
      name: "Acme web shop",
      type: ClientType.CONFIDENTIAL,
      redirectUris: [client.redirectUri],
      grantTypes: ["authorization_code", "refresh_token"],
      backchannelLogoutUri: client.backchannelLogoutUri,
    },
    idp.auth,
  );
  return { id: client.id, secret: res.secret };
}

/**
 * A single-page application: a public client (PKCE) that remembers consent,
 * so that a silent renew (prompt=none) can succeed; its page's origin
 * registered as a web origin, for CORS.
 */
export async function registerSpaClient(
  idp: IdentityProvider,
  client: { id: string; origin: string; redirectUris: string[]; postLogoutRedirectUri: string },
): Promise<void> {
  await idp.admin.createClient(
    {
      organization: "acme",
      project: "shop",
      clientId: client.id,
      name: "Acme shop app",
      type: ClientType.PUBLIC,
      redirectUris: client.redirectUris,
      grantTypes: ["authorization_code", "refresh_token"],
      rememberConsent: true,
      postLogoutRedirectUris: [client.postLogoutRedirectUri],
      webOrigins: [client.origin],
    },
    idp.auth,
  );
}
