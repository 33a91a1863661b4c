/**
 * AuditService: reading the audit trail. Authorization is the AdminService's
 * (admin/principal.ts): a global administrator reads every chain, a project
 * administrator the chain of their project only.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  AuditAction,
  AuditEventSchema,
  AuditOutcome,
  AuditPartyKind,
  type AuditService,
  type ListEventsRequest,
  type ListEventsResponseSchema,
  type StreamEventsRequest,
  type StreamEventsResponseSchema,
} from "../../gen/iam/v1/audit_pb.js";
import type { Deps } from "../deps.js";
import type { AuditEventRecord, AuditFilter, AuditParty, ProjectRef } from "../store/types.js";
import { noteRefusal } from "../observe/context.js";
import { AuditFeeds, type FeedSubscription } from "../audit/feed.js";
import { authenticate, authorize, GLOBAL, projectTarget, type Principal, type Target } from "./admin/principal.js";
import { toAdminError } from "./admin/service.js";
import { invalid } from "./admin/validate.js";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

const PARTY_KINDS: Record<AuditParty["kind"], AuditPartyKind> = {
  user: AuditPartyKind.USER,
  client: AuditPartyKind.CLIENT,
  operator: AuditPartyKind.OPERATOR,
  organization: AuditPartyKind.ORGANIZATION,
  project: AuditPartyKind.PROJECT,
  permission: AuditPartyKind.PERMISSION,
  role: AuditPartyKind.ROLE,
  server: AuditPartyKind.SERVER,
  resource: AuditPartyKind.RESOURCE,
};

const partyOf = (p: AuditParty | null) => (p === null ? undefined : { kind: PARTY_KINDS[p.kind], id: p.id, project: p.project });

/** An event as the AuditService answers it. */
export function toAuditEvent(e: AuditEventRecord) {
  return create(AuditEventSchema, {
    organization: e.organization,
    project: e.project,
    sequence: BigInt(e.sequence),
    time: timestampFromMs(e.timeMs),
    action: AuditAction[e.action as keyof typeof AuditAction] ?? AuditAction.UNSPECIFIED,
    outcome: e.outcome === "success" ? AuditOutcome.SUCCESS : AuditOutcome.FAILURE,
    reason: e.reason,
    actor: partyOf(e.actor),
    target: partyOf(e.target),
    clientAddress: e.clientAddress,
    userAgent: e.userAgent,
    requestId: e.requestId,
    changes: e.changes,
    grantType: e.grantType,
    scopes: e.scopes,
    previousHash: e.previousHash,
    hash: e.hash,
  });
}

/** The chain a request names: a project, or the server's (both empty); one of the two empty is invalid. */
function chainOf(request: { organization: string; project: string }): { chain: ProjectRef; target: Target } {
  if (request.organization === "" && request.project === "") return { chain: { organization: "", project: "" }, target: GLOBAL };
  if (request.organization === "" || request.project === "") {
    throw invalid("organization and project name a project's chain; leave both empty for the server's");
  }
  const chain = { organization: request.organization, project: request.project };
  return { chain, target: projectTarget(chain) };
}

function millis(t: Timestamp | undefined, name: string): number | undefined {
  if (t === undefined) return undefined;
  const ms = timestampDate(t).getTime();
  if (!Number.isFinite(ms) || t.nanos < 0 || t.nanos > 999_999_999) throw invalid(`${name} is not a valid time`);
  return ms;
}

/** The filter of a request; an unknown or unspecified action is INVALID_ARGUMENT. */
function filterOf(request: Pick<ListEventsRequest, "actions" | "outcome"> & Partial<Omit<ListEventsRequest, "$typeName">>): AuditFilter {
  const actions = request.actions.map((action) => {
    const name = AuditAction[action];
    if (action === AuditAction.UNSPECIFIED || name === undefined) throw invalid(`actions: ${action} is not an audit action`);
    return name;
  });
  if (request.outcome !== AuditOutcome.UNSPECIFIED && AuditOutcome[request.outcome] === undefined) {
    throw invalid(`outcome: ${request.outcome} is not an audit outcome`);
  }
  const sinceMs = millis(request.since, "since");
  const untilMs = millis(request.until, "until");
  if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) throw invalid("until is before since");
  return {
    sinceMs,
    untilMs,
    actions,
    outcome: request.outcome === AuditOutcome.SUCCESS ? "success" : request.outcome === AuditOutcome.FAILURE ? "failure" : undefined,
    actorId: request.actorId === "" || request.actorId === undefined ? undefined : request.actorId,
    targetId: request.targetId === "" || request.targetId === undefined ? undefined : request.targetId,
  };
}

/**
 * The sequence to list after: the page token (the last sequence of the
 * previous page, as decimal digits in base64url) or `after_sequence`.
 */
function afterOf(request: ListEventsRequest): number {
  if (request.pageToken === "") return Number(request.afterSequence);
  const text = Buffer.from(request.pageToken, "base64url").toString("utf8");
  if (!/^[1-9][0-9]{0,15}$/.test(text) || Buffer.from(text).toString("base64url") !== request.pageToken) {
    throw invalid("page_token is not one this server issued");
  }
  return Number(text);
}

export async function listEvents(deps: Deps, request: ListEventsRequest): Promise<MessageInitShape<typeof ListEventsResponseSchema>> {
  const { chain } = chainOf(request);
  if (request.pageSize < 0) throw invalid("page_size must not be negative");
  if (request.afterSequence > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid("after_sequence is out of range");
  const limit = Math.min(request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize, MAX_PAGE_SIZE);
  const rows = await deps.store.listAuditEvents(chain, filterOf(request), { after: afterOf(request), limit: limit + 1 });
  const events = rows.slice(0, limit);
  const next = rows.length > limit ? Buffer.from(String(events[events.length - 1]!.sequence)).toString("base64url") : "";
  return { events: events.map(toAuditEvent), nextPageToken: next };
}

/** How often the streams of a chain look for new events: well within the second their contract allows. */
export const STREAM_POLL_MS = 250;
/** How often an open stream asks again whether its token still may read the chain (revoked, expired, role taken away). */
const STREAM_RECHECK_MS = 1000;
/** Events read per look. */
const STREAM_BATCH = 500;

/** Whether an event passes a stream's filter (actions and outcome; a stream reads every event of its chain). */
const passes = (filter: AuditFilter) => (e: AuditEventRecord) =>
  (filter.actions === undefined || filter.actions.length === 0 || filter.actions.includes(e.action)) &&
  (filter.outcome === undefined || e.outcome === filter.outcome);

/**
 * The events of a chain after `after_sequence`, then each new one as the
 * chain's watch (audit/feed.ts) finds it, until the caller goes away or
 * `allowed` throws (the token expired, was revoked, or lost administration):
 * it is asked again before each read, and every second while idle.
 */
export async function* streamEvents(
  deps: Deps,
  request: StreamEventsRequest,
  allowed: () => Promise<void>,
  feed: FeedSubscription,
  signal: AbortSignal,
): AsyncGenerator<MessageInitShape<typeof StreamEventsResponseSchema>> {
  const { chain } = chainOf(request);
  const keep = passes(filterOf(request));
  if (request.afterSequence > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid("after_sequence is out of range");
  let after = Number(request.afterSequence);
  if (after > 0) {
    // A follower that resumes where the retention has purged would miss
    // events without knowing: refused, naming where the chain now begins.
    const purgedThrough = (await deps.store.getAuditCheckpoint(chain))?.sequence ?? 0;
    if (after < purgedThrough) {
      throw new ConnectError(
        `events after ${after} through ${purgedThrough} were purged by the retention; resume after ${purgedThrough}`,
        Code.FailedPrecondition,
      );
    }
    // The checkpoint's own sequence is a place to resume from; any later one must be an event of the chain.
    if (after > purgedThrough) {
      const [last] = await deps.store.listAuditEvents(chain, {}, { after: after - 1, limit: 1 });
      if (last?.sequence !== after) throw new ConnectError(`after_sequence ${after} is beyond the chain's last event`, Code.OutOfRange);
    }
  }
  let checked = 0;
  let fresh = true;
  while (!signal.aborted) {
    // Asked again before anything new is sent, and every second while idle.
    if (fresh || Date.now() - checked >= STREAM_RECHECK_MS) {
      await allowed();
      checked = Date.now();
    }
    if (fresh) {
      const batch = await deps.store.listAuditEvents(chain, {}, { after, limit: STREAM_BATCH });
      for (const event of batch) {
        after = event.sequence;
        if (keep(event)) yield { event: toAuditEvent(event) };
      }
      feed.saw(after);
      if (batch.length === STREAM_BATCH) continue;
    }
    // Idle: woken by the chain's watch when an event comes, or in time to ask about the token again.
    fresh = await feed.next(after, Math.max(0, STREAM_RECHECK_MS - (Date.now() - checked)), signal);
  }
}

/** Whom a stream counts against: the token's user or client in its project (every token of theirs together). */
const callerOf = (principal: Principal): string => JSON.stringify([principal.actor.kind, principal.actor.project, principal.actor.id]);

export function createAuditService(deps: Deps): ServiceImpl<typeof AuditService> {
  /** Authenticates the call's token and checks it may read the chain; throws the Connect error otherwise. */
  const mayRead = async (context: HandlerContext, request: { organization: string; project: string }): Promise<Principal> => {
    const principal = await authenticate(deps, context.requestHeader);
    const { target } = chainOf(request);
    try {
      authorize(principal, target);
    } catch (err) {
      noteRefusal("permission_denied", principal);
      throw err;
    }
    return principal;
  };
  const feeds = new AuditFeeds(deps.store, {
    perCaller: deps.config.auditStreamsPerCaller,
    total: deps.config.auditStreamsMax,
    pollMs: STREAM_POLL_MS,
  });
  return {
    async *streamEvents(request: StreamEventsRequest, context: HandlerContext) {
      let feed: FeedSubscription | undefined;
      try {
        const principal = await mayRead(context, request);
        feed = feeds.join(callerOf(principal), chainOf(request).chain);
        yield* streamEvents(deps, request, () => mayRead(context, request).then(() => {}), feed, context.signal);
      } catch (err) {
        throw toAdminError(deps, "streamEvents", err);
      } finally {
        feed?.close();
      }
    },
    async listEvents(request: ListEventsRequest, context: HandlerContext) {
      try {
        await mayRead(context, request);
        return await listEvents(deps, request);
      } catch (err) {
        throw toAdminError(deps, "listEvents", err);
      }
    },
  };
}

