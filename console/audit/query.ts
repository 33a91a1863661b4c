import { AuditOutcome, type AuditAction } from "../../gen/iam/v1/audit_pb.js";
import { actionName, actionOf } from "./labels.js";
import { NO_FILTER, type EventFilter } from "./read.js";

/**
 * The audit screen's filter in its URL, so that a filtered view can be
 * bookmarked and shared: `?action=SIGN_IN&action=CLIENT_CREATED&outcome=failure
 * &actor=alice&target=web&since=2025-03-01T09:00&until=2025-03-02T09:00`,
 * the times as the datetime-local inputs give them (the reader's local time).
 */

/** The filter as its form holds it. */
export interface FilterDraft {
  actions: AuditAction[];
  outcome: "" | "success" | "failure";
  actor_id: string;
  target_id: string;
  since: string;
  until: string;
}

export const EMPTY_DRAFT: FilterDraft = { actions: [], outcome: "", actor_id: "", target_id: "", since: "", until: "" };

/** The filter of a URL's query, and what of it cannot be read, by field (as the core names its fields). */
export function draftOfQuery(query: URLSearchParams): { draft: FilterDraft; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const actions: AuditAction[] = [];
  for (const name of query.getAll("action")) {
    const action = actionOf(name);
    if (action === undefined) errors.actions = `actions: ${name} is not an audit action`;
    else if (!actions.includes(action)) actions.push(action);
  }
  const outcome = query.get("outcome") ?? "";
  if (outcome !== "" && outcome !== "success" && outcome !== "failure") errors.outcome = `outcome: ${outcome} is not success or failure`;
  const draft: FilterDraft = {
    actions,
    outcome: outcome === "success" || outcome === "failure" ? outcome : "",
    actor_id: query.get("actor") ?? "",
    target_id: query.get("target") ?? "",
    since: query.get("since") ?? "",
    until: query.get("until") ?? "",
  };
  for (const field of ["since", "until"] as const) {
    if (draft[field] !== "" && Number.isNaN(msOf(draft[field]))) errors[field] = `${field} is not a date and time`;
  }
  return { draft, errors };
}

/** A datetime-local value ("2025-03-01T09:00", the reader's local time) in ms since the epoch; NaN when it is not one. */
const msOf = (local: string): number => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(local) ? new Date(local).getTime() : Number.NaN);

export function queryOfDraft(draft: FilterDraft): string {
  const query = new URLSearchParams();
  for (const action of draft.actions) query.append("action", actionName(action));
  if (draft.outcome !== "") query.set("outcome", draft.outcome);
  if (draft.actor_id.trim() !== "") query.set("actor", draft.actor_id.trim());
  if (draft.target_id.trim() !== "") query.set("target", draft.target_id.trim());
  if (draft.since !== "") query.set("since", draft.since);
  if (draft.until !== "") query.set("until", draft.until);
  return query.toString();
}

/** The filter ListEvents takes; undefined times where the draft has none (or none readable: its error says so). */
export function filterOfDraft(draft: FilterDraft): EventFilter {
  const ms = (local: string) => (local === "" || Number.isNaN(msOf(local)) ? undefined : msOf(local));
  return {
    ...NO_FILTER,
    actions: draft.actions,
    outcome: draft.outcome === "success" ? AuditOutcome.SUCCESS : draft.outcome === "failure" ? AuditOutcome.FAILURE : AuditOutcome.UNSPECIFIED,
    actorId: draft.actor_id.trim(),
    targetId: draft.target_id.trim(),
    sinceMs: ms(draft.since),
    untilMs: ms(draft.until),
  };
}
