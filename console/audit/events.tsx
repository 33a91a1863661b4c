import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import type { AuditEvent, AuditParty } from "../../gen/iam/v1/audit_pb.js";
import { actionLabel, actionName, outcomeText, partyText } from "./labels.js";

/** Audit events as tables: each event's time, action, outcome, actor, target and address, and everything else it holds on demand. */

export function EventTime({ event }: { event: AuditEvent }) {
  if (event.time === undefined) return <span>—</span>;
  const date = timestampDate(event.time);
  return <time dateTime={date.toISOString()}>{date.toLocaleString()}</time>;
}

/** The actor, with the project whose token it used when that is not the chain's own. */
function actorText(event: AuditEvent): string {
  const actor = event.actor;
  const own = `${event.organization}/${event.project}`;
  return actor === undefined || actor.project === "" || actor.project === own ? partyText(actor) : `${partyText(actor)} (of ${actor.project})`;
}

const key = (e: AuditEvent) => `${e.organization}/${e.project}#${e.sequence}`;

/** What an event holds beyond its row. */
function EventDetails({ event }: { event: AuditEvent }) {
  const fact = (term: string, value: ComponentChildren, shown = true) =>
    shown ? (
      <>
        <dt>{term}</dt>
        <dd>{value}</dd>
      </>
    ) : null;
  const party = (p: AuditParty | undefined) => (p === undefined ? "—" : partyText(p));
  return (
    <div class="event-details">
      <dl class="facts">
        {fact("Sequence", String(event.sequence))}
        {fact("Chain", event.organization === "" ? "the server's" : `${event.organization}/${event.project}`)}
        {fact("Time (UTC)", event.time === undefined ? "—" : timestampDate(event.time).toISOString())}
        {fact("Action", <code>{actionName(event.action)}</code>)}
        {fact("Outcome", outcomeText(event))}
        {fact("Actor", party(event.actor))}
        {fact("Actor's project", event.actor?.project ?? "", (event.actor?.project ?? "") !== "")}
        {fact("Target", party(event.target))}
        {fact("Address", event.clientAddress === "" ? "—" : event.clientAddress)}
        {fact("User agent", event.userAgent, event.userAgent !== "")}
        {fact("Request id", <code>{event.requestId}</code>, event.requestId !== "")}
        {fact("Grant type", event.grantType, event.grantType !== "")}
        {fact("Scopes", event.scopes.join(" "), event.scopes.length > 0)}
        {fact("Hash", <code>{event.hash}</code>)}
        {fact("Previous hash", <code>{event.previousHash}</code>)}
      </dl>
      {event.changes.length === 0 ? null : (
        <table class="changes">
          <caption>Changes of event {String(event.sequence)}</caption>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Before</th>
              <th scope="col">After</th>
            </tr>
          </thead>
          <tbody>
            {event.changes.map((c, i) => (
              <tr key={`${c.field}-${i}`}>
                <th scope="row">{c.field}</th>
                <td>{c.before === "" ? "—" : <code>{c.before}</code>}</td>
                <td>{c.after === "" ? "—" : <code>{c.after}</code>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function EventRow({ event, action }: { event: AuditEvent; action?: (event: AuditEvent) => ComponentChildren }) {
  const [open, setOpen] = useState(false);
  const id = `event-${event.organization}-${event.project}-${event.sequence}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const sequence = String(event.sequence);
  return (
    <>
      <tr>
        <td data-label="Time">
          <EventTime event={event} />
        </td>
        <td data-label="Action">{action === undefined ? actionLabel(event.action) : action(event)}</td>
        <td data-label="Outcome">{outcomeText(event)}</td>
        <td data-label="Actor">{actorText(event)}</td>
        <td data-label="Target">{partyText(event.target)}</td>
        <td data-label="Address">{event.clientAddress === "" ? "—" : event.clientAddress}</td>
        <td>
          <button type="button" class="small" aria-expanded={open ? "true" : "false"} aria-controls={id} onClick={() => setOpen(!open)}>
            Details<span class="sr-only"> of event {sequence}</span>
          </button>
        </td>
      </tr>
      <tr id={id} class="details-row" hidden={!open}>
        <td colSpan={7}>{open ? <EventDetails event={event} /> : null}</td>
      </tr>
    </>
  );
}

/** A table of events, newest first. `action` renders the action cell (the dashboard's links). */
export function EventTable(props: { events: readonly AuditEvent[]; caption: string; busy?: boolean; action?: (event: AuditEvent) => ComponentChildren }) {
  return (
    <div class="table-wrap" aria-busy={props.busy === true ? "true" : undefined}>
      <table class="events">
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {["Time", "Action", "Outcome", "Actor", "Target", "Address", "More"].map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.events.map((event) => (
            <EventRow key={key(event)} event={event} action={props.action} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
