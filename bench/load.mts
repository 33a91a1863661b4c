/**
 * The load process of `npm run bench`: one process per scenario, separate
 * from the server it drives. HTTP scenarios are driven by autocannon, gRPC
 * scenarios by @grpc/grpc-js clients, each with a fixed number of requests in
 * flight (closed loop). After what the scenario needs is prepared and a
 * warm-up, it makes several timed runs of one continuous load and prints
 * their results as one JSON line (LoadOutput) on stdout.
 *
 *   node --import tsx bench/load.mts '<LoadPlan as JSON>'
 *   node --import tsx bench/load.mts --soak '<SoakPlan as JSON>'
 */
import { runHttpLoad } from "./load/autocannon.mjs";
import { GrpcClients, grpcCall, runGrpcLoad } from "./load/grpc.mjs";
import { httpLoad } from "./load/http-scenarios.mjs";
import { isGrpcScenario, type LoadOutput, type LoadPlan, type SoakPlan } from "./load/plan.mjs";
import { SetupHttp } from "./load/prepare.mjs";
import { Recorder } from "./load/recorder.mjs";
import { runSoak } from "./load/soak.mjs";

async function load(plan: LoadPlan): Promise<LoadOutput> {
  const setup = new SetupHttp(plan.http);
  const recorder = new Recorder(plan);
  if (isGrpcScenario(plan.scenario)) {
    const clients = new GrpcClients(plan.grpc, plan.channels);
    try {
      const call = await grpcCall(plan.scenario, plan, setup, clients);
      setup.close();
      const output = recorder.run();
      await runGrpcLoad(call, recorder, plan.inFlight, output);
      return await output;
    } finally {
      clients.close();
    }
  }
  const steps = await httpLoad(plan.scenario, plan, setup);
  setup.close();
  const output = recorder.run();
  await runHttpLoad(steps, recorder, { url: plan.http, connections: plan.inFlight }, output);
  return output;
}

async function main(): Promise<void> {
  const soak = process.argv[2] === "--soak";
  const plan: unknown = JSON.parse(process.argv[soak ? 3 : 2] ?? "{}");
  const output = soak ? await runSoak(plan as SoakPlan) : await load(plan as LoadPlan);
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().then(
  // Lingering sockets of a stopped load must not keep the process alive.
  () => process.exit(0),
  (err: unknown) => {
    console.error(`load: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
