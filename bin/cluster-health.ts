import type { Worker } from "node:cluster";
import { Code, ConnectError, createRouterTransport, type Client, type Transport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";

/**
 * Readiness of several workers (IAM_WORKERS), for the primary's management
 * listener: grpc.health.v1 Check, answered by asking each worker what its
 * own health service says (the core in it, or for `iam gateway` the cores it
 * calls). The primary answers SERVING only while every running worker does;
 * a worker that cannot reach its core, or does not answer in time, makes the
 * whole UNAVAILABLE, as the core itself would be to a single process.
 */

/** Messages between the primary and a worker about health. */
export type HealthMessage =
  | { type: "iam:health"; id: number; service: string }
  | { type: "iam:health-answer"; id: number; status?: Status; error?: string };

/** How long a worker has to answer the primary about its health. */
const ANSWER_MS = 5_000;

/** In a worker: answers the primary's health questions with what `health` says. */
export function answerHealthQueries(health: Client<typeof Health>): void {
  process.on("message", (message: HealthMessage) => {
    if (message?.type !== "iam:health") return;
    health.check({ service: message.service }).then(
      ({ status }) => process.send?.({ type: "iam:health-answer", id: message.id, status } satisfies HealthMessage),
      (err: unknown) => process.send?.({ type: "iam:health-answer", id: message.id, error: ConnectError.from(err).message } satisfies HealthMessage),
    );
  });
}

/**
 * In the primary: a transport whose Health service asks `serving()` workers
 * (undefined while the cluster cannot serve: starting, or stopping), and
 * `answered`, which the primary calls with each worker's health answer.
 */
export function clusterHealth(serving: () => readonly Worker[] | undefined): { transport: Transport; answered: (message: HealthMessage) => void } {
  const pending = new Map<number, (answer: HealthMessage & { type: "iam:health-answer" }) => void>();
  let asked = 0;
  const ask = (worker: Worker, service: string) =>
    new Promise<HealthMessage & { type: "iam:health-answer" }>((resolve) => {
      const id = ++asked;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve({ type: "iam:health-answer", id, error: "a worker did not say whether it serves in time" });
      }, ANSWER_MS);
      pending.set(id, (answer) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(answer);
      });
      worker.send({ type: "iam:health", id, service } satisfies HealthMessage);
    });
  const transport = createRouterTransport((router) =>
    router.service(Health, {
      async check(request) {
        const workers = serving();
        if (workers === undefined || workers.length === 0) return { status: Status.NOT_SERVING };
        const answers = await Promise.all(workers.map((w) => ask(w, request.service)));
        const failed = answers.find((a) => a.error !== undefined);
        if (failed !== undefined) throw new ConnectError(failed.error!, Code.Unavailable);
        return { status: answers.every((a) => a.status === Status.SERVING) ? Status.SERVING : Status.NOT_SERVING };
      },
    }),
  );
  return {
    transport,
    answered: (message) => {
      if (message.type === "iam:health-answer") pending.get(message.id)?.(message);
    },
  };
}
