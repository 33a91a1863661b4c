import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { pathOf } from "../router.js";
import { Link, Screen } from "../ui/page.js";

function Dashboard({ session }: { session: Session }) {
  const project = session.tenant;
  return (
    <Screen title="Dashboard">
      {session.kind === "global" ? (
        <p>
          <Link to="/organizations">Organizations</Link>
        </p>
      ) : (
        <p>
          <Link to={pathOf("p", project.organization, project.project)}>
            Project {project.organization}/{project.project}
          </Link>
        </p>
      )}
    </Screen>
  );
}

export const DASHBOARD_ROUTES: Route[] = [{ pattern: "/", render: (_params, session) => <Dashboard session={session} /> }];
