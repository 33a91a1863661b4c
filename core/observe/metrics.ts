import type { HttpMetrics } from "../../wire/observe.js";
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The metrics of one iam-core process, in Prometheus text format on
 * `GET /metrics` of the management listener. Labels name methods, routes, codes and grant types only:
 * never a tenant, client, user or token, so the series stay few and the
 * page reveals nothing about who uses the server.
 */
export class Metrics implements HttpMetrics {
  readonly registry = new Registry();

  private readonly latency = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

  readonly rpcs = new Counter({
    name: "iam_rpc_requests_total",
    help: "RPCs handled by the core, by method and gRPC status code.",
    labelNames: ["method", "code"] as const,
    registers: [this.registry],
  });
  readonly rpcSeconds = new Histogram({
    name: "iam_rpc_duration_seconds",
    help: "Time to handle an RPC, by method and gRPC status code.",
    labelNames: ["method", "code"] as const,
    buckets: this.latency,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: "iam_http_requests_total",
    help: "HTTP requests answered by the gateway, by method, route and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [this.registry],
  });
  readonly httpSeconds = new Histogram({
    name: "iam_http_request_duration_seconds",
    help: "Time to answer an HTTP request at the gateway, by method, route and status.",
    labelNames: ["method", "route", "status"] as const,
    buckets: this.latency,
    registers: [this.registry],
  });
  readonly tokensIssued = new Counter({
    name: "iam_tokens_issued_total",
    help: "Tokens issued at the token endpoint, by grant type and token type.",
    labelNames: ["grant_type", "token_type"] as const,
    registers: [this.registry],
  });
  readonly verifications = new Counter({
    name: "iam_token_verifications_total",
    help: "VerifyToken answers: active, or the reason the token was refused.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly introspections = new Counter({
    name: "iam_introspections_total",
    help: "Introspection answers, by whether the token was active.",
    labelNames: ["active"] as const,
    registers: [this.registry],
  });
  readonly loginFailures = new Counter({
    name: "iam_login_failures_total",
    help: "Failed sign-ins (login step and password grant), by reason.",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly clientMetadataFetches = new Counter({
    name: "iam_client_metadata_fetches_total",
    help: "Client ID metadata documents fetched over the network (not answered from memory), by whether a JSON document came back.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly clientMetadataDocuments = new Counter({
    name: "iam_client_metadata_documents_total",
    help: "Client ID metadata documents: clients admitted (a new row), and requests refused, by reason (blocked, ceiling, unavailable, invalid, not_accepted, conflict).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly clientRegistrations = new Counter({
    name: "iam_client_registrations_total",
    help: "Dynamic Client Registration requests (RFC 7591): registered, or the OAuth error of the refusal.",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly dbSeconds = new Histogram({
    name: "iam_db_operation_duration_seconds",
    help: "Time spent in the database per store operation (transactions included, waits for them excluded).",
    labelNames: ["operation"] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
    registers: [this.registry],
  });

  readonly storageWritable = new Gauge({
    name: "iam_storage_writable",
    help: "1 while the database can be written, 0 from a storage fault (disk full, read-only, connection lost) until a probe write succeeds.",
    // Of several workers (IAM_WORKERS), the lowest: 0 when any of them cannot write.
    aggregator: "min",
    registers: [this.registry],
  });

  /**
   * `process`: also export the process's CPU, memory, event-loop lag and GC
   * (once per process). `clustered`: this process is one worker of several
   * (IAM_WORKERS); the primary's management listener answers the sum over
   * all of them, which it collects from each (bin/cluster.ts).
   */
  constructor(options: { process?: boolean; clustered?: boolean } = {}) {
    if (options.process === true) collectDefaultMetrics({ register: this.registry });
    this.storageWritable.set(1);
    if (options.clustered === true && process.send !== undefined) {
      AggregatorRegistry.setRegistries([this.registry]);
      // Constructing one is what makes prom-client answer the primary's requests in a worker.
      new AggregatorRegistry();
    }
  }

  /** The body and content type of `GET /metrics`: this process's own series (a worker's are summed by the primary). */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
