/**
 * What the bench hands a load process, and what it gets back. A load process
 * drives one scenario (or, for the soak, several at fixed rates) against one
 * target: iam-core, the peer, or a do-nothing target answering the same
 * requests with canned answers (the generator's own ceiling).
 */

/** Scenarios whose load is HTTP/1.1 from autocannon. */
export const HTTP_SCENARIOS = [
  "http-ceiling",
  "client-credentials",
  "dpop-client-credentials",
  "private-key-jwt-client-credentials",
  "refresh",
  "introspection",
  "flow",
  "silent-sign-in",
  "peer-client-credentials",
  "peer-introspection",
] as const;
/** Scenarios whose load is unary gRPC calls from @grpc/grpc-js clients. */
export const GRPC_SCENARIOS = ["grpc-ceiling", "grpc-verify"] as const;

export type HttpScenario = (typeof HTTP_SCENARIOS)[number];
export type GrpcScenario = (typeof GRPC_SCENARIOS)[number];
export type Scenario = HttpScenario | GrpcScenario;

export const isGrpcScenario = (s: string): s is GrpcScenario => (GRPC_SCENARIOS as readonly string[]).includes(s);

/** The seeded project, as the load needs it. */
export interface Fixture {
  /** Path prefix of the project's endpoints, e.g. /services/oauth2/bench/api; "" for the peer. */
  prefix: string;
  organization: string;
  project: string;
  scope: string;
  clients: { id: string; secret: string }[];
  /** Confidential clients that authenticate by private_key_jwt, all with one P-256 key (its private JWK). */
  signers: { ids: string[]; kid: string; privateJwk: Record<string, string> };
  users: { id: string; password: string }[];
  /** A public PKCE client that asks for consent every time. */
  publicClient: { id: string; redirectUri: string };
  /** A public client that remembers consent, for the silent sign-in. */
  ssoClient: { id: string; redirectUri: string };
}

export interface Timing {
  warmupSeconds: number;
  runSeconds: number;
  runs: number;
}

export interface LoadPlan extends Fixture, Timing {
  scenario: Scenario;
  /** Base URL of the HTTP side: the gateway, the peer, or the canned target. */
  http: string;
  /** host:port of the gRPC side: the core, or the bare grpc-js server. */
  grpc: string;
  /** Requests (HTTP connections, or gRPC calls) kept in flight. */
  inFlight: number;
  /** gRPC channels (distinct connections) the calls are spread over. */
  channels: number;
  /** Distinct access tokens used by VerifyToken and introspection. */
  tokens: number;
  /** Worker processes of the target: each must see every client once before the clock. */
  serverWorkers: number;
}

/** One timed run: what completed in it and how long the units took. */
export interface RunResult {
  /** Units of work completed and checked: requests, or whole flows. */
  completed: number;
  /** HTTP requests or gRPC calls answered, whatever their verdict. */
  requests: number;
  errors: number;
  seconds: number;
  /** CPU the load process used, in cores (1: one core busy all the run); NaN when not known. */
  loadCpu: number;
  /** Latency of a unit (a flow: the sum of its requests' latencies), ms. */
  p50: number;
  p99: number;
}

/** What a load process prints, as its last line on stdout. */
export interface LoadOutput {
  runs: RunResult[];
  /** Errors during the warm-up, which count against "no errors" too. */
  warmupErrors: number;
  /** The text of the first error, warm-up included. */
  firstError?: string;
}

/** The soak: each scenario at a fixed rate, together, for a long time. */
export interface SoakPlan {
  base: Omit<LoadPlan, "scenario" | "inFlight" | "runs" | "runSeconds">;
  seconds: number;
  /** Units per second for each scenario. */
  rates: Partial<Record<Scenario, number>>;
}

export interface SoakOutput {
  scenarios: Partial<Record<Scenario, { rate: number; errors: number; p50: number; p99: number; firstError?: string }>>;
}
