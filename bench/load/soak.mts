/**
 * The soak's load: several scenarios at once, each at a fixed rate (open
 * loop, not flat out), for minutes. Prints "measuring" on stdout when the
 * warm-up ends, so the bench starts the memory curve there.
 */
import { runHttpLoad } from "./autocannon.mjs";
import { GrpcClients, grpcCall, runGrpcAtRate } from "./grpc.mjs";
import { httpLoad } from "./http-scenarios.mjs";
import { isGrpcScenario, type LoadPlan, type Scenario, type SoakOutput, type SoakPlan } from "./plan.mjs";
import { SetupHttp } from "./prepare.mjs";
import { Recorder } from "./recorder.mjs";

/** Connections (or calls in flight, for gRPC) each scenario may use to keep its rate, slow answers included. */
const CONNECTIONS = 16;

export async function runSoak(soak: SoakPlan): Promise<SoakOutput> {
  const setup = new SetupHttp(soak.base.http);
  const timing = { warmupSeconds: soak.base.warmupSeconds, runSeconds: soak.seconds, runs: 1 };
  const grpcClients: GrpcClients[] = [];
  // Everything prepared first, then all started together.
  const starts: ((until: Promise<unknown>) => Promise<void>)[] = [];
  const recorders = new Map<Scenario, Recorder>();
  for (const [scenario, rate] of Object.entries(soak.rates) as [Scenario, number][]) {
    const plan: LoadPlan = { ...soak.base, scenario, inFlight: CONNECTIONS, runs: 1, runSeconds: soak.seconds };
    const recorder = new Recorder(timing, recorders.size === 0 ? () => process.stdout.write("measuring\n") : undefined);
    recorders.set(scenario, recorder);
    if (isGrpcScenario(scenario)) {
      const clients = new GrpcClients(plan.grpc, plan.channels);
      grpcClients.push(clients);
      const call = await grpcCall(scenario, plan, setup, clients);
      starts.push((until) => runGrpcAtRate(call, recorder, rate, CONNECTIONS * 4, until));
    } else {
      const steps = await httpLoad(scenario, plan, setup);
      starts.push((until) => runHttpLoad(steps, recorder, { url: plan.http, connections: CONNECTIONS, overallRate: rate * steps.unit }, until));
    }
  }
  setup.close();
  const outputs = [...recorders.values()].map((r) => r.run());
  await Promise.all(starts.map((start, i) => start(outputs[i]!)));
  const scenarios: SoakOutput["scenarios"] = {};
  for (const [i, scenario] of [...recorders.keys()].entries()) {
    const { runs, warmupErrors, firstError } = await outputs[i]!;
    const run = runs[0]!;
    scenarios[scenario] = {
      rate: run.completed / run.seconds,
      errors: run.errors + warmupErrors,
      p50: run.p50,
      p99: run.p99,
      ...(firstError === undefined ? {} : { firstError }),
    };
  }
  for (const c of grpcClients) c.close();
  return { scenarios };
}
