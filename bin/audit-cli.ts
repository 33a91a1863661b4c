/**
 * `iam audit verify` and `iam audit export`: the audit trail straight from
 * the database (IAM_DB), without a running server or a token; whoever can run
 * it can read the database file anyway.
 */
import { parseArgs } from "node:util";
import { toJson } from "@bufbuild/protobuf";
import { AuditEventSchema } from "../gen/iam/v1/audit_pb.js";
import { checkCheckpoint } from "../core/audit/retention.js";
import { verifyAll, verifyChain } from "../core/audit/verify.js";
import { toAuditEvent } from "../core/rpc/audit.js";
import { createCore } from "../core/server/compose.js";
import type { Config } from "../core/server/config.js";
import { createLogger } from "../core/observe/log.js";
import type { AuditCheckpoint, ProjectRef, Store } from "../core/store/types.js";
import { AUDIT_USAGE } from "./audit-usage.js";

const OPTIONS = {
  organization: { type: "string" },
  project: { type: "string" },
  after: { type: "string" },
  json: { type: "boolean" },
} as const;

const label = (chain: ProjectRef) => (chain.organization === "" ? "(server)" : `${chain.organization}/${chain.project}`);

/** How often tail looks for new events. */
const TAIL_POLL_MS = 250;

/**
 * Prints each event committed from now on (or after `after`, for one chain)
 * until SIGINT or SIGTERM: chains that appear meanwhile are followed from
 * their first event.
 */
async function tail(
  store: Store,
  chain: ProjectRef | undefined,
  after: number | undefined,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<void> {
  const key = (c: ProjectRef) => `${c.organization}/${c.project}`;
  const heads = new Map<string, { chain: ProjectRef; after: number }>();
  const endOf = async (c: ProjectRef) => {
    let last = 0;
    for (;;) {
      const page = await store.listAuditEvents(c, {}, { after: last, limit: 1000 });
      if (page.length === 0) return last;
      last = page.at(-1)!.sequence;
    }
  };
  const chains = async () => (chain === undefined ? await store.listAuditChains() : [chain]);
  for (const c of await chains()) heads.set(key(c), { chain: c, after: after ?? (await endOf(c)) });
  err.write(`following ${chain === undefined ? `${heads.size} chains and any new one` : label(chain)}; Ctrl-C stops\n`);
  let stopping = false;
  const stop = () => (stopping = true);
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    while (!stopping) {
      for (const c of await chains()) if (!heads.has(key(c))) heads.set(key(c), { chain: c, after: 0 });
      for (const head of heads.values()) {
        const page = await store.listAuditEvents(head.chain, {}, { after: head.after, limit: 1000 });
        for (const event of page) out.write(JSON.stringify(toJson(AuditEventSchema, toAuditEvent(event))) + "\n");
        if (page.length > 0) head.after = page.at(-1)!.sequence;
      }
      await new Promise((resolve) => setTimeout(resolve, TAIL_POLL_MS));
    }
  } finally {
    process.removeListener("SIGINT", stop);
    process.removeListener("SIGTERM", stop);
  }
}

export async function runAuditCommand(argv: string[], config: Config, out = process.stdout, err = process.stderr): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(1), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    err.write(`iam: ${(e as Error).message}\n${AUDIT_USAGE}\n`);
    return 2;
  }
  const [verb, ...rest] = parsed.positionals;
  const { organization, project, after, json } = parsed.values;
  const usage = (message: string) => (err.write(`iam: ${message}\n${AUDIT_USAGE}\n`), 2);
  if ((verb !== "verify" && verb !== "export" && verb !== "tail") || rest.length > 0) return usage(`unknown command "audit ${[verb, ...rest].filter(Boolean).join(" ")}"`);
  if ((organization === undefined) !== (project === undefined)) return usage("--organization and --project name one chain together");
  if (after !== undefined && (verb === "verify" || !/^[0-9]{1,15}$/.test(after))) return usage("--after takes a sequence number, with export or tail");
  if (after !== undefined && verb === "tail" && organization === undefined) return usage("tail --after names one chain: give --organization and --project");
  const chain = organization === undefined ? undefined : { organization, project: project! };

  const core = await createCore(config, { logger: createLogger("warn") });
  try {
    const store = core.deps.store;
    if (verb === "verify") {
      const check = (checkpoint: AuditCheckpoint) => checkCheckpoint(core.deps, checkpoint);
      const reports = chain === undefined ? await verifyAll(store, check) : [await verifyChain(store, chain, check)];
      for (const r of reports) {
        const from = r.checkpoint === undefined ? "" : ` after the checkpoint at ${r.checkpoint.sequence} (signature ${r.checkpoint.signature})`;
        if (json === true) {
          out.write(JSON.stringify({ chain: r.chain, events: r.events, head: r.head, checkpoint: r.checkpoint ?? null, broken: r.broken ?? null }) + "\n");
        } else if (r.broken === undefined) out.write(`ok      ${label(r.chain)}: ${r.events} events${from}, head ${r.head.sequence} ${r.head.hash}\n`);
        else out.write(`BROKEN  ${label(r.chain)} at event ${r.broken.sequence}: ${r.broken.problem}\n`);
      }
      return reports.some((r) => r.broken !== undefined) ? 1 : 0;
    }
    if (verb === "tail") {
      await tail(store, chain, after === undefined ? undefined : Number(after), out, err);
      return 0;
    }
    for (const c of chain === undefined ? await store.listAuditChains() : [chain]) {
      let from = after === undefined ? 0 : Number(after);
      for (;;) {
        const page = await store.listAuditEvents(c, {}, { after: from, limit: 1000 });
        for (const event of page) out.write(JSON.stringify(toJson(AuditEventSchema, toAuditEvent(event))) + "\n");
        if (page.length < 1000) break;
        from = page.at(-1)!.sequence;
      }
    }
    return 0;
  } finally {
    await core.close();
  }
}
