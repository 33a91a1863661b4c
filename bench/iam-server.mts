/**
 * iam-core as `npm start` runs it (compiled, its own processes, a fresh
 * SQLite file), with the rate limits off, and the project the scenarios use.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { openSync } from "node:fs";
import path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService, ClientType } from "../gen/iam/v1/admin_pb.js";
import type { Fixture } from "./load/plan.mjs";
import { ROOT, freePort, stopChild, waitForLine } from "./processes.mjs";

/**
 * The rate limits are off: the load comes from one address and a few
 * clients, and would otherwise measure the limiter's refusals.
 */
export const RATE_LIMITS_OFF = { IAM_TOKEN_RATE_PER_CLIENT: "0", IAM_LOGIN_RATE_PER_ADDRESS: "0" };

export interface ServerOptions {
  /** Folder for V8 CPU profiles of the server's processes, or "". */
  profile: string;
  /** Extra Node flags for the server (its workers inherit them). */
  nodeFlags: string;
  /** IAM_WORKERS, or "" for the default. */
  workers: string;
}

export interface IamServer {
  child: ChildProcess;
  http: string;
  grpc: string;
  /** The management listener's origin: /metrics, /healthz, /readyz. */
  management: string;
  /** Throws if the server has stopped, other than by `stop` (its measurements would be of nothing). */
  assertRunning(during: string): void;
  stop(): Promise<void>;
}

/** Starts iam-core on a fresh database in `dir`; its log goes to `dir/name.log`. */
export async function startIam(dir: string, name: string, options: ServerOptions, env: Record<string, string> = {}): Promise<IamServer> {
  const [httpPort, grpcPort, managementPort] = [await freePort(), await freePort(), await freePort()];
  const log = openSync(path.join(dir, `${name}.log`), "w");
  const profile = options.profile === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${path.resolve(options.profile)}`];
  const flags = options.nodeFlags === "" ? [] : options.nodeFlags.split(" ");
  const child = spawn(process.execPath, [...profile, ...flags, "--enable-source-maps", "dist/bin/iam.js", "start"], {
    cwd: ROOT,
    env: {
      ...process.env,
      IAM_DB: path.join(dir, `${name}.db`),
      IAM_HTTP_PORT: String(httpPort),
      IAM_GRPC_PORT: String(grpcPort),
      IAM_MANAGEMENT_PORT: String(managementPort),
      IAM_ADMIN_PASSWORD: "bench-admin-password",
      ...RATE_LIMITS_OFF,
      ...(options.workers === "" ? {} : { IAM_WORKERS: options.workers }),
      ...env,
    },
    stdio: ["ignore", "pipe", log],
  });
  await waitForLine(child, /iam-core is up/, "iam-core");
  let exit: string | undefined;
  child.once("exit", (code, signal) => (exit = signal ?? `exit code ${code}`));
  return {
    child,
    http: `http://127.0.0.1:${httpPort}`,
    grpc: `127.0.0.1:${grpcPort}`,
    management: `http://127.0.0.1:${managementPort}`,
    assertRunning: (during) => {
      if (exit !== undefined) throw new Error(`iam-core (${name}) stopped during ${during}: ${exit}; see its log`);
    },
    stop: () => stopChild(child),
  };
}

export const ORGANIZATION = "bench";
export const PROJECT = "api";
export const PREFIX = `/services/oauth2/${ORGANIZATION}/${PROJECT}`;

/**
 * What the scenarios use: 256 confidential clients and 64 users holding one
 * scope, a public PKCE client, and a public client that remembers consent.
 * `prefix` is where the endpoints are: iam-core's project, or "" for the peer.
 */
export function benchFixture(prefix: string): Fixture {
  return {
    prefix,
    organization: ORGANIZATION,
    project: PROJECT,
    scope: "notes.note.read",
    clients: Array.from({ length: 256 }, (_, i) => ({
      id: `svc-${String(i).padStart(3, "0")}`,
      secret: `bench-secret-${String(i).padStart(3, "0")}-0123456789abcdef`,
    })),
    users: Array.from({ length: 64 }, (_, i) => ({ id: `user-${i}`, password: `bench-password-${i}` })),
    signers: {
      ids: Array.from({ length: 64 }, (_, i) => `signer-${String(i).padStart(3, "0")}`),
      kid: "bench-signer",
      privateJwk: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }) as Record<string, string>,
    },
    publicClient: { id: "web", redirectUri: "http://127.0.0.1:9/callback" },
    ssoClient: { id: "app", redirectUri: "http://127.0.0.1:9/app/callback" },
  };
}

/** Creates the project of `benchFixture` in iam-core, through AdminService. */
export async function seed(server: IamServer): Promise<Fixture> {
  const fixture = benchFixture(PREFIX);
  const tokenRes = await fetch(`${server.http}/services/oauth2/iam-admins/iam-admins/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from("admin-client:top-secret").toString("base64")}` },
    body: "grant_type=client_credentials",
  });
  const { access_token } = (await tokenRes.json()) as { access_token: string };
  const admin = createClient(
    AdminService,
    createGrpcTransport({
      baseUrl: `http://${server.grpc}`,
      interceptors: [(next) => (req) => (req.header.set("authorization", `Bearer ${access_token}`), next(req))],
    }),
  );
  const ref = { organization: ORGANIZATION, project: PROJECT };
  const scope = fixture.scope;
  await admin.createOrganization({ id: ORGANIZATION });
  await admin.createProject({ organization: ORGANIZATION, id: PROJECT, name: "Bench API" });
  await admin.createPermission({ ...ref, permissionId: scope, description: "Read notes" });
  await admin.createRole({ ...ref, roleId: "reader", permissions: [scope] });
  const inBatches = async <T,>(items: T[], each: (item: T) => Promise<unknown>) => {
    for (let i = 0; i < items.length; i += 8) await Promise.all(items.slice(i, i + 8).map(each));
  };
  await inBatches(fixture.clients, async (c) => {
    await admin.createClient({
      ...ref,
      clientId: c.id,
      type: ClientType.CONFIDENTIAL,
      secret: c.secret,
      grantTypes: ["client_credentials", "refresh_token", "password"],
    });
    await admin.assignRole({ ...ref, roleId: "reader", subject: { case: "clientId", value: c.id } });
  });
  const { d: _private, ...publicJwk } = fixture.signers.privateJwk;
  const jwks = JSON.stringify({ keys: [{ ...publicJwk, kid: fixture.signers.kid, use: "sig" }] });
  await inBatches(fixture.signers.ids, async (id) => {
    await admin.createClient({ ...ref, clientId: id, type: ClientType.CONFIDENTIAL, grantTypes: ["client_credentials"], tokenEndpointAuthMethod: "private_key_jwt", jwks });
    await admin.assignRole({ ...ref, roleId: "reader", subject: { case: "clientId", value: id } });
  });
  await inBatches(fixture.users, async (u) => {
    await admin.createUser({ ...ref, userId: u.id, password: u.password });
    await admin.assignRole({ ...ref, roleId: "reader", subject: { case: "userId", value: u.id } });
  });
  await admin.createClient({
    ...ref,
    clientId: fixture.publicClient.id,
    name: "Bench web app",
    type: ClientType.PUBLIC,
    redirectUris: [fixture.publicClient.redirectUri],
    grantTypes: ["authorization_code", "refresh_token"],
  });
  await admin.createClient({
    ...ref,
    clientId: fixture.ssoClient.id,
    name: "Bench single-page app",
    type: ClientType.PUBLIC,
    redirectUris: [fixture.ssoClient.redirectUri],
    // A page of its own loopback origin: a remembered consent completes silently only for a client whose
    // redirect only it can answer (https, or a loopback origin it registered as its web origin).
    webOrigins: [new URL(fixture.ssoClient.redirectUri).origin],
    grantTypes: ["authorization_code", "refresh_token"],
    rememberConsent: true,
  });
  return fixture;
}
