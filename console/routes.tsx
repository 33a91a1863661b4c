import type { JSX } from "preact";
import type { Session } from "./auth.js";
import { DASHBOARD_ROUTES } from "./pages/dashboard.js";
import { ORGANIZATION_ROUTES } from "./pages/organizations.js";
import { PROJECT_ROUTES } from "./pages/project.js";
import { CLIENT_ROUTES } from "./pages/clients.js";
import { ROLE_ROUTES } from "./pages/roles.js";
import { KEY_ROUTES } from "./pages/keys.js";
import { RESOURCE_ROUTES } from "./pages/resources.js";
import { USERS_ROUTES } from "./pages/users.js";
import { USER_ROUTES } from "./pages/user.js";
import { AUDIT_ROUTES } from "./pages/audit.js";

/** One screen: its path pattern under /admin, and whether only global administrators reach it. */
export interface Route {
  pattern: string;
  render: (params: Record<string, string>, session: Session) => JSX.Element;
  global?: boolean;
}

/** Every screen, first match wins. Each page module lists its own. */
export const ROUTES: readonly Route[] = [
  ...DASHBOARD_ROUTES,
  ...ORGANIZATION_ROUTES,
  ...PROJECT_ROUTES,
  ...CLIENT_ROUTES,
  ...ROLE_ROUTES,
  ...RESOURCE_ROUTES,
  ...KEY_ROUTES,
  ...USERS_ROUTES,
  ...USER_ROUTES,
  ...AUDIT_ROUTES,
];
