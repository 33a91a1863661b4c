/**
 * The load generator of `npm run bench`: one process per scenario, separate
 * from the server it drives. A fixed number of requests is kept in flight
 * (closed loop); after a warm-up it makes several timed runs and prints one
 * JSON line per run on stdout: completed, errors, seconds, p50 and p99 (ms).
 *
 * Usage: node --import tsx bench/load.mts '<LoadPlan as JSON>'
 */
import { createHash, randomBytes } from "node:crypto";
import nodeHttp from "node:http";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { Pool, type Dispatcher } from "undici";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { VerifyTokenRequestSchema, VerifyTokenResponseSchema } from "../gen/iam/v1/token_pb.js";

export interface LoadPlan {
  scenario: ScenarioName;
  /** Base URL of the HTTP side: the gateway, or the peer. */
  http: string;
  /** host:port of the core's gRPC port. */
  grpc: string;
  /** Path prefix of the project's endpoints, e.g. /services/oauth2/bench/api. */
  prefix: string;
  organization: string;
  project: string;
  clients: { id: string; secret: string }[];
  users: { id: string; password: string }[];
  publicClient: { id: string; redirectUri: string };
  /** A public client that remembers consent, for the silent sign-in. */
  ssoClient: { id: string; redirectUri: string };
  scope: string;
  inFlight: number;
  warmupSeconds: number;
  runSeconds: number;
  runs: number;
  /** Distinct access tokens used by the verification and introspection scenarios. */
  tokens: number;
  /** Worker processes of the server (1 for the peer). */
  serverWorkers: number;
}

export interface RunResult {
  completed: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
  firstError?: string;
}

export const SCENARIOS = [
  "grpc-ceiling",
  "grpc-verify",
  "http-ceiling",
  "client-credentials",
  "refresh",
  "introspection",
  "flow",
  "silent-sign-in",
  "peer-client-credentials",
  "peer-introspection",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** One unit of work for worker `w`; throws when the answer is not the expected one. */
type Operation = (w: number) => Promise<void>;

const FORM = "application/x-www-form-urlencoded";

function basic(id: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
}

class HttpTarget {
  readonly #pools = new Map<string, Pool>();
  constructor(
    readonly origin: string,
    readonly connections: number,
  ) {}

  /** A pool of keep-alive connections, one per local address (each a different client address to the server). */
  pool(localAddress = ""): Pool {
    let pool = this.#pools.get(localAddress);
    if (pool === undefined) {
      pool = new Pool(this.origin, {
        connections: localAddress === "" ? this.connections : 1,
        pipelining: 1,
        ...(localAddress === "" ? {} : { localAddress }),
      });
      this.#pools.set(localAddress, pool);
    }
    return pool;
  }

  async request(
    method: Dispatcher.HttpMethod,
    path: string,
    options: { headers?: Record<string, string>; body?: string; localAddress?: string } = {},
  ): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
    const res = await this.pool(options.localAddress).request({ method, path, headers: options.headers, body: options.body });
    return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
  }

  async json<T>(
    method: Dispatcher.HttpMethod,
    path: string,
    expected: number,
    options: { headers?: Record<string, string>; body?: string; localAddress?: string } = {},
  ): Promise<T> {
    const { status, body } = await this.request(method, path, options);
    if (status !== expected) throw new Error(`${method} ${path.split("?")[0]}: ${status} ${body.slice(0, 200)}`);
    return JSON.parse(body) as T;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}

/** A raw @grpc/grpc-js client over several channels, with protobuf-es (de)serialization. */
class GrpcTarget {
  readonly #clients: grpc.Client[];
  #next = 0;
  constructor(address: string, channels: number) {
    this.#clients = Array.from(
      { length: channels },
      (_, i) => new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.channel_id": i } as grpc.ChannelOptions),
    );
  }

  call<I extends DescMessage, O extends DescMessage>(path: string, input: I, output: O, message: MessageShape<I>): Promise<MessageShape<O>> {
    const client = this.#clients[this.#next++ % this.#clients.length]!;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        (m: MessageShape<I>) => Buffer.from(toBinary(input, m)),
        (b: Buffer) => fromBinary(output, b),
        message,
        { deadline: Date.now() + 10_000 },
        (err, value) => (err ? reject(err) : resolve(value!)),
      );
    });
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}

interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
}

/**
 * Authenticates every client once on every worker of the server before the
 * clock starts: the first authentication of a client by a worker checks its
 * secret's argon2id hash, later ones are remembered by that worker. The
 * server hands each new connection to the next worker in turn, so W requests
 * of a client, each on a connection of its own, opened one after the other,
 * reach all W workers.
 */
async function primeWorkers(plan: LoadPlan, path: string): Promise<void> {
  const url = new URL(path, plan.http);
  const body = new URLSearchParams({ grant_type: "client_credentials", scope: plan.scope }).toString();
  for (const client of plan.clients) {
    for (let w = 0; w < plan.serverWorkers; w++) {
      const status = await new Promise<number>((resolve, reject) => {
        const req = nodeHttp.request(
          url,
          {
            method: "POST",
            agent: false,
            headers: { "content-type": FORM, authorization: basic(client.id, client.secret), "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode!));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
      if (status !== 200) throw new Error(`priming ${client.id}: ${status}`);
    }
  }
}

/** Access tokens from many clients, issued before the timed runs. */
async function issueTokens(plan: LoadPlan, http: HttpTarget, count: number, tokenPath: string): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i += 16) {
    const batch = Array.from({ length: Math.min(16, count - i) }, (_, j) => {
      const client = plan.clients[(i + j) % plan.clients.length]!;
      return http.json<TokenAnswer>("POST", tokenPath, 200, {
        headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
        body: new URLSearchParams({ grant_type: "client_credentials", scope: plan.scope }).toString(),
      });
    });
    for (const answer of await Promise.all(batch)) tokens.push(answer.access_token);
  }
  return tokens;
}

/** The `name=value` of a cookie an answer sets, or undefined. */
function cookieOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const set = headers["set-cookie"];
  const all = set === undefined ? [] : Array.isArray(set) ? set : [set];
  return all.find((c) => c.startsWith(`${name}=`))?.split(";")[0];
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

async function scenario(plan: LoadPlan, http: HttpTarget, grpcTarget: () => GrpcTarget): Promise<Operation> {
  const p = plan.prefix;
  let counter = 0;
  const nextClient = () => plan.clients[counter++ % plan.clients.length]!;
  switch (plan.scenario) {
    case "grpc-ceiling": {
      const g = grpcTarget();
      return async () => {
        const answer = await g.call("/grpc.health.v1.Health/Check", HealthCheckRequestSchema, HealthCheckResponseSchema, create(HealthCheckRequestSchema));
        if (answer.status !== HealthCheckResponse_ServingStatus.SERVING) throw new Error(`health: ${answer.status}`);
      };
    }
    case "grpc-verify": {
      await primeWorkers(plan, `${p}/token`);
      const tokens = await issueTokens(plan, http, plan.tokens, `${p}/token`);
      const g = grpcTarget();
      return async () => {
        const token = tokens[counter++ % tokens.length]!;
        const request = create(VerifyTokenRequestSchema, { token, organization: plan.organization, project: plan.project, requiredScopes: [plan.scope] });
        const answer = await g.call("/iam.v1.TokenService/VerifyToken", VerifyTokenRequestSchema, VerifyTokenResponseSchema, request);
        if (!answer.active) throw new Error(`VerifyToken: inactive (${answer.failure})`);
      };
    }
    case "http-ceiling":
      return async () => {
        const { status, body } = await http.request("GET", "/healthz");
        if (status !== 200) throw new Error(`healthz: ${status} ${body}`);
      };
    case "client-credentials":
    case "peer-client-credentials": {
      const path = plan.scenario === "client-credentials" ? `${p}/token` : "/token";
      const body = new URLSearchParams({ grant_type: "client_credentials", scope: plan.scope }).toString();
      await primeWorkers(plan, path);
      return async () => {
        const client = nextClient();
        const answer = await http.json<TokenAnswer>("POST", path, 200, {
          headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
          body,
        });
        if (typeof answer.access_token !== "string") throw new Error("no access_token");
      };
    }
    case "introspection":
    case "peer-introspection": {
      const peer = plan.scenario === "peer-introspection";
      await primeWorkers(plan, peer ? "/token" : `${p}/token`);
      const tokens = await issueTokens(plan, http, plan.tokens, peer ? "/token" : `${p}/token`);
      const path = peer ? "/token/introspection" : `${p}/introspect`;
      return async () => {
        const i = counter++;
        const client = plan.clients[i % plan.clients.length]!;
        const answer = await http.json<{ active: boolean }>("POST", path, 200, {
          headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
          body: new URLSearchParams({ token: tokens[i % tokens.length]! }).toString(),
        });
        if (answer.active !== true) throw new Error("introspection: inactive");
      };
    }
    case "refresh": {
      await primeWorkers(plan, `${p}/token`);
      // One refresh-token chain per client; each worker owns its chains, so
      // no chain is ever used by two requests at once.
      const chains = await Promise.all(
        plan.clients.map(async (client, i) => {
          const user = plan.users[i % plan.users.length]!;
          const answer = await http.json<TokenAnswer>("POST", `${p}/token`, 200, {
            headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
            body: new URLSearchParams({ grant_type: "password", username: user.id, password: user.password, scope: plan.scope }).toString(),
          });
          return { client, token: answer.refresh_token! };
        }),
      );
      const turns: number[] = new Array<number>(plan.inFlight).fill(0);
      return async (w) => {
        const owned = Math.max(1, Math.floor(chains.length / plan.inFlight));
        const chain = chains[(w + plan.inFlight * (turns[w]!++ % owned)) % chains.length]!;
        const answer = await http.json<TokenAnswer>("POST", `${p}/token`, 200, {
          headers: { "content-type": FORM, authorization: basic(chain.client.id, chain.client.secret) },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: chain.token }).toString(),
        });
        if (typeof answer.refresh_token !== "string") throw new Error("no refresh_token");
        chain.token = answer.refresh_token;
      };
    }
    case "flow": {
      // Every sign-in comes from its own address, as users do (127.0.0.0/8 is all loopback).
      const addresses = (w: number, k: number) => `127.${1 + (w >> 8)}.${w & 255}.${1 + k}`;
      const turns: number[] = new Array<number>(plan.inFlight).fill(0);
      const json = { "content-type": "application/json", accept: "application/json" };
      return async (w) => {
        const localAddress = addresses(w, turns[w]!++ % 8);
        const user = plan.users[w % plan.users.length]!;
        const { verifier, challenge } = pkce();
        const state = randomBytes(8).toString("hex");
        const query = new URLSearchParams({
          response_type: "code",
          client_id: plan.publicClient.id,
          redirect_uri: plan.publicClient.redirectUri,
          scope: `openid ${plan.scope}`,
          state,
          code_challenge: challenge,
          code_challenge_method: "S256",
        });
        const started = await http.json<{ request_id: string }>("GET", `${p}/authorize?${query}`, 200, {
          headers: { accept: "application/json" },
          localAddress,
        });
        const login = await http.json<{ request_id: string; scopes: { name: string }[] }>("POST", `${p}/authorize`, 200, {
          headers: json,
          body: JSON.stringify({ request_id: started.request_id, username: user.id, password: user.password }),
          localAddress,
        });
        const consent = await http.json<{ redirect_to: string }>("POST", `${p}/consent`, 200, {
          headers: json,
          body: JSON.stringify({ request_id: login.request_id, scopes: login.scopes.map((s) => s.name) }),
          localAddress,
        });
        const back = new URL(consent.redirect_to).searchParams;
        if (back.get("state") !== state) throw new Error("state mismatch");
        const tokens = await http.json<TokenAnswer & { id_token?: string }>("POST", `${p}/token`, 200, {
          headers: { "content-type": FORM },
          body: new URLSearchParams({
            grant_type: "authorization_code",
            code: back.get("code")!,
            redirect_uri: plan.publicClient.redirectUri,
            client_id: plan.publicClient.id,
            code_verifier: verifier,
          }).toString(),
          localAddress,
        });
        if (typeof tokens.id_token !== "string") throw new Error("no id_token");
      };
    }
    case "silent-sign-in": {
      // Before the clock: each worker signs its user in once, from its own
      // address, consents once (the client remembers), and keeps the
      // session cookie.
      const json = { "content-type": "application/json", accept: "application/json" };
      const client = plan.ssoClient;
      const authorizeQuery = (extra: Record<string, string>) =>
        new URLSearchParams({ response_type: "code", client_id: client.id, redirect_uri: client.redirectUri, scope: `openid ${plan.scope}`, ...extra });
      const workers = await Promise.all(
        Array.from({ length: plan.inFlight }, async (_, w) => {
          const localAddress = `127.${1 + (w >> 8)}.${w & 255}.1`;
          const user = plan.users[w % plan.users.length]!;
          const { challenge } = pkce();
          const started = await http.json<{ request_id: string }>("GET", `${p}/authorize?${authorizeQuery({ code_challenge: challenge, code_challenge_method: "S256" })}`, 200, {
            headers: { accept: "application/json" },
            localAddress,
          });
          const login = await http.request("POST", `${p}/authorize`, {
            headers: json,
            body: JSON.stringify({ request_id: started.request_id, username: user.id, password: user.password }),
            localAddress,
          });
          const session = cookieOf(login.headers, "iam_session");
          if (login.status !== 200 || session === undefined) throw new Error(`sign-in of ${user.id}: ${login.status} ${login.body.slice(0, 200)}`);
          const { redirect_to, scopes } = JSON.parse(login.body) as { redirect_to?: string; scopes: { name: string }[] };
          if (redirect_to === undefined) {
            await http.json("POST", `${p}/consent`, 200, {
              headers: json,
              body: JSON.stringify({ request_id: started.request_id, scopes: scopes.map((s) => s.name) }),
              localAddress,
            });
          }
          return { localAddress, session };
        }),
      );
      return async (w) => {
        const { localAddress, session } = workers[w]!;
        const { verifier, challenge } = pkce();
        const state = randomBytes(8).toString("hex");
        // What a single-page application's silent renew sends (prompt=none), with the browser's session cookie.
        const query = authorizeQuery({ state, nonce: state, prompt: "none", code_challenge: challenge, code_challenge_method: "S256" });
        const answer = await http.request("GET", `${p}/authorize?${query}`, { headers: { cookie: session }, localAddress });
        const location = answer.headers["location"];
        if (answer.status !== 302 || typeof location !== "string") throw new Error(`GET /authorize: ${answer.status} ${answer.body.slice(0, 200)}`);
        const back = new URL(location).searchParams;
        if (back.get("state") !== state || back.get("code") === null) throw new Error(`back without a code: ${location.slice(0, 200)}`);
        const tokens = await http.json<TokenAnswer & { id_token?: string }>("POST", `${p}/token`, 200, {
          headers: { "content-type": FORM },
          body: new URLSearchParams({
            grant_type: "authorization_code",
            code: back.get("code")!,
            redirect_uri: client.redirectUri,
            client_id: client.id,
            code_verifier: verifier,
          }).toString(),
          localAddress,
        });
        if (typeof tokens.id_token !== "string") throw new Error("no id_token");
      };
    }
  }
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function run(operation: Operation, inFlight: number, seconds: number): Promise<RunResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const worker = async (w: number) => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await operation(w);
        latencies.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    completed: latencies.length,
    errors,
    seconds: elapsed,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    ...(firstError === undefined ? {} : { firstError }),
  };
}

async function main(): Promise<void> {
  const plan = JSON.parse(process.argv[2] ?? "{}") as LoadPlan;
  const http = new HttpTarget(plan.http, plan.inFlight);
  let g: GrpcTarget | undefined;
  const operation = await scenario(plan, http, () => (g ??= new GrpcTarget(plan.grpc, 4)));
  await run(operation, plan.inFlight, plan.warmupSeconds);
  for (let i = 0; i < plan.runs; i++) {
    process.stdout.write(`${JSON.stringify(await run(operation, plan.inFlight, plan.runSeconds))}\n`);
  }
  g?.close();
  await http.close();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
