/**
 * gRPC load: what a resource server's @grpc/grpc-js client does, unary calls
 * made with makeUnaryRequest and protobuf-es (de)serialization, spread over
 * one channel or several. Each channel gets a distinct `grpc.channel_id`, so
 * grpc-js does not share one subchannel (one TCP connection) between them.
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { HealthCheckRequestSchema, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { VerifyTokenRequestSchema, VerifyTokenResponseSchema } from "../../gen/iam/v1/token_pb.js";
import type { GrpcScenario, LoadPlan } from "./plan.mjs";
import { issueTokens, primeWorkers, type SetupHttp } from "./prepare.mjs";
import type { Recorder } from "./recorder.mjs";

export class GrpcClients {
  readonly #clients: grpc.Client[];
  #next = 0;

  constructor(address: string, channels: number) {
    this.#clients = Array.from(
      { length: channels },
      // No retry machinery: the load never retries, and it costs the load process CPU on every call.
      (_, i) => new grpc.Client(address, grpc.credentials.createInsecure(), { "grpc.channel_id": i, "grpc.enable_retries": 0 } as grpc.ChannelOptions),
    );
  }

  /**
   * One unary call on the next channel in turn. The request comes serialized
   * (made once, before the clock: the load process spends no CPU on it); the
   * answer is deserialized by protobuf-es, to be checked.
   */
  call<O extends DescMessage>(path: string, request: Buffer, output: O): Promise<MessageShape<O>> {
    const client = this.#clients[this.#next++ % this.#clients.length]!;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => fromBinary(output, b),
        request,
        { deadline: Date.now() + 10_000 },
        (err, value) => (err ? reject(err) : resolve(value!)),
      );
    });
  }

  close(): void {
    for (const c of this.#clients) c.close();
  }
}

export const serialized = <I extends DescMessage>(schema: I, message: MessageShape<I>): Buffer => Buffer.from(toBinary(schema, message));

/** One call of a scenario: what is wrong with its answer, or undefined. */
export type Call = () => Promise<string | undefined>;

/** Prepares what `scenario` needs (tokens for VerifyToken, issued over HTTP; not timed) and returns its call. */
export async function grpcCall(scenario: GrpcScenario, plan: LoadPlan, setup: SetupHttp, clients: GrpcClients): Promise<Call> {
  switch (scenario) {
    case "grpc-ceiling": {
      const request = serialized(HealthCheckRequestSchema, create(HealthCheckRequestSchema));
      return async () => {
        const answer = await clients.call("/grpc.health.v1.Health/Check", request, HealthCheckResponseSchema);
        return answer.status === HealthCheckResponse_ServingStatus.SERVING ? undefined : `Health/Check: status ${answer.status}`;
      };
    }
    case "grpc-verify": {
      await primeWorkers(plan, setup);
      const requests = (await issueTokens(plan, setup)).map((token) =>
        serialized(VerifyTokenRequestSchema, create(VerifyTokenRequestSchema, { token, organization: plan.organization, project: plan.project, requiredScopes: [plan.scope] })),
      );
      let n = 0;
      return async () => {
        const answer = await clients.call("/iam.v1.TokenService/VerifyToken", requests[n++ % requests.length]!, VerifyTokenResponseSchema);
        return answer.active ? undefined : `VerifyToken: inactive (failure ${answer.failure})`;
      };
    }
  }
}

async function timed(call: Call, recorder: Recorder): Promise<void> {
  const t0 = performance.now();
  try {
    const problem = await call();
    recorder.answered();
    if (problem === undefined) recorder.completed(performance.now() - t0);
    else recorder.failed(problem);
  } catch (err) {
    recorder.failed(err instanceof Error ? err.message : String(err));
  }
}

/** `inFlight` calls at all times (closed loop) until `until` settles. */
export async function runGrpcLoad(call: Call, recorder: Recorder, inFlight: number, until: Promise<unknown>): Promise<void> {
  let stop = false;
  void until.then(() => (stop = true));
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (!stop) await timed(call, recorder);
    }),
  );
}

/** `rate` calls per second (open loop, at most `maxInFlight` at once) until `until` settles. */
export async function runGrpcAtRate(call: Call, recorder: Recorder, rate: number, maxInFlight: number, until: Promise<unknown>): Promise<void> {
  const TICK_MS = 20;
  let inFlight = 0;
  let owed = 0;
  const pending = new Set<Promise<void>>();
  const ticker = setInterval(() => {
    owed += (rate * TICK_MS) / 1000;
    for (; owed >= 1 && inFlight < maxInFlight; owed--) {
      inFlight++;
      const p: Promise<void> = timed(call, recorder).finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    // Calls the server could not take in time are dropped, not piled up.
    owed = Math.min(owed, rate);
  }, TICK_MS);
  await until;
  clearInterval(ticker);
  await Promise.all(pending);
}
