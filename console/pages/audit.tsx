import { useEffect, useState } from "preact/hooks";
import type { AuditEvent } from "../../gen/iam/v1/audit_pb.js";
import { messageOf } from "../api.js";
import { EventTable } from "../audit/events.js";
import { FilterForm } from "../audit/filter-form.js";
import { useArrivalAnnouncer, useFollow, type FollowState } from "../audit/follow.js";
import { draftOfQuery, filterOfDraft, queryOfDraft } from "../audit/query.js";
import { chainEnds, isFiltered, pageAt, type Chain, type EventPage } from "../audit/read.js";
import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { navigate, pathOf, useLocation } from "../router.js";
import { fieldOf } from "../ui/form.js";
import { Screen, Section } from "../ui/page.js";
import { announce } from "../ui/status.js";
import { projectCrumbs } from "./project.js";

/**
 * The audit trail of a chain: a project's, or the server's (global
 * administrators). Newest first, a page at a time (audit/read.ts says how,
 * since the API lists a chain in order of sequence), filtered as the URL
 * says, and followed live on demand.
 */

const PAGE_SIZE = 25;
/** Events kept on the newest page while following: beyond, the oldest go to the older pages. */
const MOST_FOLLOWED = 200;
/** The fields of ListEvents a refusal may name, as the core names them. */
const FIELDS = ["actions", "outcome", "actor_id", "target_id", "since", "until"];

const FOLLOW_STATES: Record<FollowState, string> = {
  live: "Following: new events appear at the top as they are recorded.",
  reconnecting: "The connection broke; reconnecting…",
  stopped: "",
};

interface Trail {
  /** The chain, filter and reading it was read for. */
  key: string;
  /** The pages read, newest first; the last is shown. */
  pages: EventPage[];
  first: number;
  /** The newest sequence of the chain when the newest page was read. */
  top: number;
}

function AuditScreen({ chain, title, crumbs }: { chain: Chain; title: string; crumbs: [string, string][] }) {
  const { path, query } = useLocation();
  const { draft: applied, errors: unreadable } = draftOfQuery(query);
  const filter = filterOfDraft(applied);
  const filterKey = JSON.stringify(filter);
  const [trail, setTrail] = useState<Trail>();
  const [loading, setLoading] = useState(true);
  const [refusal, setRefusal] = useState<{ field: string | undefined; message: string }>();
  const [version, setVersion] = useState(0);
  const [following, setFollowing] = useState(false);
  const [paused, setPaused] = useState(false);
  const announceArrivals = useArrivalAnnouncer();
  const blocked = Object.keys(unreadable).length > 0;
  const readKey = JSON.stringify([chain, filterKey, version]);

  const fail = (err: unknown) => {
    const message = messageOf(err);
    setRefusal({ field: fieldOf(message, FIELDS), message });
    setLoading(false);
  };

  // The newest page, again whenever the chain or the filter changes.
  useEffect(() => {
    let current = true;
    setRefusal(undefined);
    if (blocked) {
      setTrail(undefined);
      setLoading(false);
      return;
    }
    setLoading(true);
    (async () => {
      const { first, last } = await chainEnds(chain);
      const page = await pageAt(chain, filter, last, PAGE_SIZE, first);
      if (!current) return;
      setTrail({ key: readKey, pages: [page], first, top: last });
      setLoading(false);
    })().catch((err: unknown) => {
      if (!current) return;
      // What is listed is what the URL's filter selects: nothing, when the core refuses it.
      setTrail(undefined);
      fail(err);
    });
    return () => {
      current = false;
    };
  }, [chain.organization, chain.project, filterKey, version, blocked]);

  // Until the filter's first page is read, the last one read is shown, as being read again.
  const busy = loading || (trail !== undefined && trail.key !== readKey);
  const shown = trail?.pages.at(-1);
  const onNewest = trail !== undefined && trail.pages.length === 1;

  const { state, error: followError } = useFollow({
    chain,
    filter,
    active: following && !paused && onNewest && !busy,
    after: trail?.top ?? 0,
    onEvent: (event: AuditEvent) => {
      setTrail((t) => {
        if (t === undefined || t.pages.length !== 1) return t;
        const newest = t.pages[0]!;
        if (newest.events.some((e) => e.sequence >= event.sequence)) return t;
        const events = [event, ...newest.events];
        const kept = events.slice(0, MOST_FOLLOWED);
        const below = kept.length < events.length ? Number(kept.at(-1)!.sequence) - 1 : newest.below;
        return { ...t, pages: [{ ...newest, events: kept, below }] };
      });
      announceArrivals(1);
    },
  });

  const older = async () => {
    if (trail === undefined || shown === undefined || shown.below === 0) return;
    if (following) {
      setFollowing(false);
      announce("Stopped following: an older page is shown");
    }
    setLoading(true);
    try {
      const page = await pageAt(chain, filter, shown.below, PAGE_SIZE, trail.first, shown.width);
      setTrail({ ...trail, pages: [...trail.pages, page] });
    } catch (err) {
      fail(err);
    }
    setLoading(false);
  };
  const newer = () => trail !== undefined && setTrail({ ...trail, pages: trail.pages.slice(0, -1) });

  const apply = (draft: typeof applied) => {
    const next = queryOfDraft(draft);
    if (next === query.toString()) setVersion((v) => v + 1);
    else navigate(next === "" ? path : `${path}?${next}`);
    announce(next === "" ? "Filters cleared" : "Filters applied");
  };

  const toggleFollow = () => {
    const next = !following;
    setFollowing(next);
    setPaused(false);
    if (next && trail !== undefined && trail.pages.length > 1) setTrail({ ...trail, pages: trail.pages.slice(0, 1) });
    announce(next ? "Following the audit trail live" : "Stopped following");
  };
  const togglePause = () => {
    setPaused(!paused);
    announce(paused ? "Following resumed" : "Following paused");
  };

  const errors: Record<string, string | undefined> = { ...unreadable, ...(refusal?.field === undefined ? {} : { [refusal.field]: refusal.message }) };
  const formError = refusal !== undefined && refusal.field === undefined ? refusal.message : undefined;
  const range =
    shown === undefined || shown.events.length === 0
      ? ""
      : `sequence ${String(shown.events[0]!.sequence)} down to ${String(shown.events.at(-1)!.sequence)}`;
  return (
    <Screen title={title} crumbs={crumbs}>
      <Section title="Filter">
        <FilterForm applied={applied} errors={errors} formError={formError} onApply={apply} />
      </Section>
      <div class="toolbar live-controls">
        <button type="button" aria-pressed={following ? "true" : "false"} onClick={toggleFollow} disabled={blocked || refusal !== undefined}>
          Follow live
        </button>
        {following ? (
          <button type="button" onClick={togglePause}>
            {paused ? "Resume" : "Pause"}
          </button>
        ) : null}
        <span class="meta">{following && paused ? "Paused: new events wait until you resume." : following ? FOLLOW_STATES[state] : ""}</span>
      </div>
      {followError === undefined ? null : (
        <p class="form-error" role="alert">
          Following stopped: {followError}
        </p>
      )}
      <EventTable
        events={shown?.events ?? []}
        caption={`${isFiltered(filter) ? "Matching events" : "Events"}, newest first${range === "" ? "" : `: ${range}`}`}
        busy={busy}
      />
      {!busy && refusal === undefined && !blocked && shown?.events.length === 0 ? (
        <p class="empty">{onNewest ? (isFiltered(filter) ? "No event matches this filter." : "No event yet.") : "No older event matches."}</p>
      ) : null}
      <nav class="pager" aria-label="Audit trail pages">
        <button type="button" onClick={newer} disabled={onNewest || trail === undefined}>
          Newer page
        </button>
        <button type="button" onClick={() => void older()} disabled={loading || shown === undefined || shown.below === 0}>
          Older page
        </button>
        <button type="button" onClick={() => setVersion((v) => v + 1)} disabled={loading}>
          Newest events
        </button>
      </nav>
    </Screen>
  );
}

export const AUDIT_ROUTES: Route[] = [
  {
    pattern: "/audit",
    global: true,
    render: () => <AuditScreen chain={{ organization: "", project: "" }} title="Server audit trail" crumbs={[]} key="server" />,
  },
  {
    pattern: "/p/:org/:project/audit",
    render: ({ org, project }, session: Session) => (
      <AuditScreen
        chain={{ organization: org!, project: project! }}
        title={`Audit trail of ${project}`}
        crumbs={projectCrumbs(session, org!, project!)}
        key={`${org}/${project}`}
      />
    ),
  },
];

export const auditPath = (chain: Chain, query = ""): string =>
  `${chain.organization === "" ? "/audit" : `${pathOf("p", chain.organization, chain.project)}/audit`}${query === "" ? "" : `?${query}`}`;
