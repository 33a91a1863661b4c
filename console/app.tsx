import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { completeSignIn, currentSession, onSessionChange, signOut, SignInError, trySilentSignIn, type Session } from "./auth.js";
import type { Tenant } from "./config.js";
import { href, match, navigate, pathOf, useLocation } from "./router.js";
import { ROUTES } from "./routes.js";
import { Link, Screen } from "./ui/page.js";
import { StatusRegion } from "./ui/status.js";
import { ThemeSelect } from "./ui/theme.js";
import { SignInScreen } from "./pages/sign-in.js";

function useSession(): Session | undefined {
  const [session, setSession] = useState(currentSession);
  useEffect(() => onSessionChange(() => setSession(currentSession())), []);
  return session;
}

/** The project a route is about, from its path. */
function projectOfPath(path: string): Tenant | undefined {
  const parts = path.split("/");
  if (parts[1] !== "p" || parts.length < 4) return undefined;
  try {
    return { organization: decodeURIComponent(parts[2]!), project: decodeURIComponent(parts[3]!) };
  } catch {
    return undefined;
  }
}

/** The screens a person may reach from the navigation: global administrators everything; a project administrator their project. */
function Navigation({ session, path }: { session: Session; path: string }) {
  const project = session.kind === "project" ? session.tenant : projectOfPath(path);
  const link = (to: string, label: string) => (
    <li key={to}>
      <Link to={to} current={path === to}>
        {label}
      </Link>
    </li>
  );
  const base = project === undefined ? undefined : pathOf("p", project.organization, project.project);
  return (
    <nav class="side" aria-label="Console">
      <ul>
        {link("/", "Dashboard")}
        {session.kind === "global" ? link("/organizations", "Organizations") : null}
        {session.kind === "global" ? link("/audit", "Server audit trail") : null}
      </ul>
      {base === undefined || project === undefined ? null : (
        <>
          <h2 class="nav-title">
            {project.organization} / {project.project}
          </h2>
          <ul>
            {link(base, "Project")}
            {link(`${base}/clients`, "Clients")}
            {link(`${base}/users`, "Users")}
            {link(`${base}/roles`, "Roles and permissions")}
            {link(`${base}/resources`, "Resources")}
            {link(`${base}/keys`, "Signing keys")}
            {link(`${base}/audit`, "Audit trail")}
          </ul>
        </>
      )}
    </nav>
  );
}

function Callback() {
  const [error, setError] = useState<SignInError>();
  useEffect(() => {
    const params = new URLSearchParams(location.search);
    // The code leaves the address bar and the history at once, whatever comes of it.
    history.replaceState(null, "", href("/callback"));
    completeSignIn(params).then(
      (returnTo) => navigate(returnTo.startsWith(href("/callback")) ? "/" : returnTo, { replace: true }),
      (err: unknown) => {
        // A silent sign-in that found no session simply shows the sign-in screen, at the URL the person
        // opened, so that signing in brings them there.
        if (err instanceof SignInError && ["login_required", "consent_required", "interaction_required"].includes(err.error)) {
          navigate(err.returnTo ?? "/signin", { replace: true });
        } else {
          setError(err instanceof SignInError ? err : new SignInError("server_error", String(err)));
        }
      },
    );
  }, []);
  if (error === undefined) return <p class="center">Signing in…</p>;
  return (
    <main id="main" class="narrow">
      <Screen title="The sign-in did not complete">
        <p class="form-error" role="alert">
          {error.message}
        </p>
        <p>
          <Link to="/signin">Sign in again</Link>
        </p>
      </Screen>
    </main>
  );
}

function NotFound({ path }: { path: string }) {
  return (
    <Screen title="Nothing here">
      <p>
        No screen of the console is at <code>{path}</code>. <Link to="/">Go to the dashboard</Link>.
      </p>
    </Screen>
  );
}

function Routed({ session, path }: { session: Session; path: string }): JSX.Element {
  for (const route of ROUTES) {
    const params = match(route.pattern, path);
    if (params === undefined) continue;
    if (route.global === true && session.kind !== "global") return <NotFound path={path} />;
    return route.render(params, session);
  }
  return <NotFound path={path} />;
}

export function App(): JSX.Element | null {
  const session = useSession();
  const { path } = useLocation();
  const [silent] = useState(() => session === undefined && path !== "/callback" && path !== "/signin" && trySilentSignIn());
  if (path === "/callback") return <Callback />;
  if (session === undefined) {
    if (silent) return <p class="center">Signing in…</p>;
    return (
      <main id="main" class="narrow">
        <SignInScreen />
        <StatusRegion />
      </main>
    );
  }
  if (path === "/signin") {
    navigate("/", { replace: true });
    return null;
  }
  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link to="/" class="brand">
          iam-core console
        </Link>
        <span class="who">
          {session.name} · {session.kind === "global" ? "global administrator" : `administrator of ${session.tenant.organization}/${session.tenant.project}`}
        </span>
        <ThemeSelect />
        <button type="button" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <Navigation session={session} path={path} />
      <main id="main" tabIndex={-1}>
        <Routed session={session} path={path} />
      </main>
      <StatusRegion />
    </div>
  );
}
