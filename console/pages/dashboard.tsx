import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { GetProjectSummaryResponse } from "../../gen/iam/v1/admin_pb.js";
import type { AuditEvent } from "../../gen/iam/v1/audit_pb.js";
import { admin, messageOf } from "../api.js";
import { EventTable } from "../audit/events.js";
import { actionLabel, actionName } from "../audit/labels.js";
import { chainEnds, NO_FILTER, pageAt, type Chain } from "../audit/read.js";
import type { Session } from "../auth.js";
import { ADMIN_TENANT, type Tenant } from "../config.js";
import type { Route } from "../routes.js";
import { pathOf } from "../router.js";
import { Link, Screen, Section } from "../ui/page.js";
import { auditPath } from "./audit.js";

/**
 * The dashboard: a project's counts (GetProjectSummary, counted by the
 * database) as cards leading to their screens, and the newest events of the
 * audit trail. A project administrator sees their project; a global
 * administrator iam-admins, the number of organizations and the server's
 * trail. It reads only that: a few calls, none of them a listing of
 * everything.
 */

const RECENT = 10;
/** The organizations counted: beyond, the card says "more than". */
const ORGANIZATIONS_COUNTED = 50;

/** A call's answer as a screen part shows it: loading, its value, or the core's refusal. */
type Loaded<T> = { value?: T; error?: string };

function useLoaded<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({});
  useEffect(() => {
    let current = true;
    setState({});
    load().then(
      (value) => current && setState({ value }),
      (err: unknown) => current && setState({ error: messageOf(err) }),
    );
    return () => {
      current = false;
    };
  }, deps);
  return state;
}

function Shown<T>({ loaded, children }: { loaded: Loaded<T>; children: (value: T) => ComponentChildren }) {
  if (loaded.error !== undefined) {
    return (
      <p class="form-error" role="alert">
        {loaded.error}
      </p>
    );
  }
  return loaded.value === undefined ? <p class="meta">Loading…</p> : <>{children(loaded.value)}</>;
}

function Card(props: { to: string; count: number | string; label: string; note?: string }) {
  return (
    <li>
      <Link to={props.to} class="card-link">
        <span class="count">{props.count}</span> {props.label}
      </Link>
      {props.note === undefined ? null : <span class="meta card-note">{props.note}</span>}
    </li>
  );
}

function ProjectCounts({ tenant }: { tenant: Tenant }) {
  const summary = useLoaded<GetProjectSummaryResponse>(() => admin.getProjectSummary(tenant), [tenant.organization, tenant.project]);
  const base = pathOf("p", tenant.organization, tenant.project);
  return (
    <Section title={`Project ${tenant.organization}/${tenant.project}`} id="dashboard-project">
      <Shown loaded={summary}>
        {(s) => (
          <ul class="cards" aria-label={`Counts of ${tenant.organization}/${tenant.project}`}>
            <Card to={`${base}/clients`} count={s.clients} label={s.clients === 1 ? "client" : "clients"} />
            <Card to={`${base}/users`} count={s.users} label={s.users === 1 ? "user" : "users"} note={`${s.enabledUsers} may sign in`} />
            <Card to={`${base}/users`} count={s.liveSessions} label={s.liveSessions === 1 ? "live session" : "live sessions"} />
            <Card to={`${base}/roles`} count={s.roles} label={s.roles === 1 ? "role" : "roles"} />
            <Card to={`${base}/roles`} count={s.permissions} label={s.permissions === 1 ? "permission" : "permissions"} />
            <Card to={`${base}/keys`} count={s.signingKeys} label={s.signingKeys === 1 ? "signing key" : "signing keys"} note="signing or verifying" />
          </ul>
        )}
      </Shown>
      <p>
        <Link to={base}>Project settings</Link>
      </p>
    </Section>
  );
}

function OrganizationCount() {
  const organizations = useLoaded(() => admin.listOrganizations({ pageSize: ORGANIZATIONS_COUNTED }), []);
  return (
    <Section title="Server" id="dashboard-server">
      <Shown loaded={organizations}>
        {(page) => (
          <ul class="cards" aria-label="Counts of the server">
            <Card
              to="/organizations"
              count={page.nextPageToken === "" ? page.organizations.length : `${ORGANIZATIONS_COUNTED}+`}
              label={page.nextPageToken === "" && page.organizations.length === 1 ? "organization" : "organizations"}
              note={page.nextPageToken === "" ? undefined : `more than ${ORGANIZATIONS_COUNTED}`}
            />
          </ul>
        )}
      </Shown>
    </Section>
  );
}

function RecentEvents({ chain, title }: { chain: Chain; title: string }) {
  const recent = useLoaded<AuditEvent[]>(async () => {
    const { first, last } = await chainEnds(chain);
    return (await pageAt(chain, NO_FILTER, last, RECENT, first)).events;
  }, [chain.organization, chain.project]);
  return (
    <Section title={title} id="dashboard-events">
      <Shown loaded={recent}>
        {(events) =>
          events.length === 0 ? (
            <p class="empty">No event yet.</p>
          ) : (
            <EventTable
              events={events}
              caption={`The ${events.length} newest events`}
              action={(event) => <Link to={auditPath(chain, `action=${actionName(event.action)}`)}>{actionLabel(event.action)}</Link>}
            />
          )
        }
      </Shown>
      <p>
        <Link to={auditPath(chain)}>The whole audit trail</Link>
      </p>
    </Section>
  );
}

function Dashboard({ session }: { session: Session }) {
  const global = session.kind === "global";
  const tenant = global ? ADMIN_TENANT : session.tenant;
  return (
    <Screen title="Dashboard">
      {global ? <OrganizationCount /> : null}
      <ProjectCounts tenant={tenant} />
      <RecentEvents
        chain={global ? { organization: "", project: "" } : tenant}
        title={global ? "Newest events of the server's audit trail" : "Newest events of the audit trail"}
      />
    </Screen>
  );
}

export const DASHBOARD_ROUTES: Route[] = [{ pattern: "/", render: (_params, session) => <Dashboard session={session} /> }];
