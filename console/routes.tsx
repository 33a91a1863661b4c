import type { JSX } from "preact";
import type { Session } from "./auth.js";
import { ORGANIZATION_ROUTES } from "./pages/organizations.js";
import { PROJECT_ROUTES } from "./pages/project.js";
import { DASHBOARD_ROUTES } from "./pages/dashboard.js";
import { AUDIT_ROUTES } from "./pages/audit.js";

/** One screen: its path pattern under /admin, and whether only global administrators reach it. */
export interface Route {
  pattern: string;
  render: (params: Record<string, string>, session: Session) => JSX.Element;
  global?: boolean;
}

/** Every screen, first match wins. Each page module lists its own. */
export const ROUTES: readonly Route[] = [...DASHBOARD_ROUTES, ...ORGANIZATION_ROUTES, ...PROJECT_ROUTES, ...AUDIT_ROUTES];
