/**
 * What the console knows of its deployment: the public base URL, from the
 * page's `<meta name="iam-base-url">` (the gateway writes it; no inline
 * script), and the URLs made from it.
 */
export const BASE_URL = document.querySelector<HTMLMetaElement>('meta[name="iam-base-url"]')?.content ?? location.origin;

/** Where the console lives: its routes are paths under it. */
export const CONSOLE_PATH = `${new URL(BASE_URL).pathname.replace(/\/$/, "")}/admin`;

/** The console's OAuth client in every project (created with the project). */
export const CONSOLE_CLIENT_ID = "iam-console";

/** Where the sign-in comes back to, as registered for the console's client. */
export const REDIRECT_URI = `${BASE_URL}/admin/callback`;

/** Where a sign-out comes back to. */
export const POST_LOGOUT_REDIRECT_URI = `${BASE_URL}/admin/`;

/** The tenant that holds global administration. */
export const ADMIN_TENANT = { organization: "iam-admins", project: "iam-admins" } as const;

export const GLOBAL_ADMIN_SCOPE = "iam.global.admin";
export const PROJECT_ADMIN_SCOPE = "iam.project.admin";

export interface Tenant {
  organization: string;
  project: string;
}

/** A project's issuer, and the base of its OAuth endpoints. */
export function issuerOf(tenant: Tenant): string {
  return `${BASE_URL}/services/oauth2/${encodeURIComponent(tenant.organization)}/${encodeURIComponent(tenant.project)}`;
}

export function isAdminTenant(tenant: Tenant): boolean {
  return tenant.organization === ADMIN_TENANT.organization && tenant.project === ADMIN_TENANT.project;
}
