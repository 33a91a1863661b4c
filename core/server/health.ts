import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";

/**
 * gRPC health checking (grpc.health.v1): the server as a whole ("") and each
 * service are SERVING once the database is open, NOT_SERVING while the
 * database cannot be written (a storage fault, until a probe write succeeds:
 * store/writability.ts), and NOT_SERVING for good from the moment shutdown
 * starts draining. Every service depends on the one database, so all change
 * together. An unknown service is NOT_FOUND for Check and SERVICE_UNKNOWN for
 * Watch, as the protocol says.
 */
export class HealthState {
  #status = Status.SERVING;
  #draining = false;
  #writable = true;
  readonly #services: ReadonlySet<string>;
  readonly #watchers = new Set<() => void>();

  constructor(services: readonly string[]) {
    this.#services = new Set(["", ...services]);
  }

  /** Marks the server NOT_SERVING (shutdown has begun); watchers are told at once. */
  drain(): void {
    this.#draining = true;
    this.#update();
  }

  /** Whether the database can be written: NOT_SERVING while it cannot (unless draining, which outlasts it). */
  storageWritable(writable: boolean): void {
    this.#writable = writable;
    this.#update();
  }

  #update(): void {
    const status = !this.#draining && this.#writable ? Status.SERVING : Status.NOT_SERVING;
    if (status === this.#status) return;
    this.#status = status;
    for (const wake of this.#watchers) wake();
  }

  get serving(): boolean {
    return this.#status === Status.SERVING;
  }

  statusOf(service: string): Status | undefined {
    return this.#services.has(service) ? this.#status : undefined;
  }

  service(): ServiceImpl<typeof Health> {
    const state = this;
    return {
      check(request) {
        const status = state.statusOf(request.service);
        if (status === undefined) throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
        return { status };
      },
      list() {
        return { statuses: Object.fromEntries([...state.#services].map((s) => [s, { status: state.#status }])) };
      },
      async *watch(request, context) {
        let last: Status | undefined;
        while (!context.signal.aborted) {
          const status = state.statusOf(request.service) ?? Status.SERVICE_UNKNOWN;
          if (status !== last) {
            yield { status };
            last = status;
          }
          await new Promise<void>((resolve) => {
            const wake = () => {
              state.#watchers.delete(wake);
              resolve();
            };
            state.#watchers.add(wake);
            context.signal.addEventListener("abort", wake, { once: true });
          });
        }
      },
    };
  }
}
