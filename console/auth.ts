import {
  ADMIN_TENANT,
  CONSOLE_CLIENT_ID,
  GLOBAL_ADMIN_SCOPE,
  issuerOf,
  isAdminTenant,
  POST_LOGOUT_REDIRECT_URI,
  PROJECT_ADMIN_SCOPE,
  REDIRECT_URI,
  type Tenant,
} from "./config.js";
import { discardDrafts, saveDrafts, setDraftOwner } from "./drafts.js";

/**
 * The console's sign-in: authorization code with PKCE S256 at the chosen
 * project's own authorization endpoint, as a public client (`iam-console`).
 *
 * The tokens live in this module's memory only, never in localStorage or
 * sessionStorage, so nothing a later script or another tab reads holds them,
 * and they go when the tab does (the "browser-based OAuth client" of the
 * OAuth 2.0 for Browser-Based Applications guidance, with the page's strict
 * CSP and Trusted Types keeping foreign script out). What sessionStorage
 * holds during one sign-in is the PKCE verifier, state and nonce of that
 * sign-in, taken back and removed by the callback.
 *
 * Renewal is silent: the refresh token (rotated on each use) renews the access
 * token a minute before it expires; a reloaded page, which has lost both,
 * goes back through the authorization endpoint with `prompt=none` and the
 * sign-in session's cookie, and only when that session is gone asks the
 * person to sign in.
 */

/** Who is signed in, to which project, with what. */
export interface Session {
  tenant: Tenant;
  /** Global administration (a token of iam-admins holding iam.global.admin), or this project's. */
  kind: "global" | "project";
  subject: string;
  name: string;
  accessToken: string;
  refreshToken: string | undefined;
  idToken: string | undefined;
  /** When the access token expires, ms since the epoch. */
  expiresAt: number;
}

interface PendingSignIn {
  tenant: Tenant;
  verifier: string;
  nonce: string;
  returnTo: string;
  silent: boolean;
}

const PENDING = "iam-console:sign-in:";
/** The project last signed in to: not a secret, it fills in the sign-in page and allows a silent sign-in after a reload. */
const LAST_TENANT = "iam-console:tenant";
/** Set for the tab after a sign-out or a failed silent sign-in: no silent attempt until the person signs in again. */
const NO_SILENT = "iam-console:no-silent";

let session: Session | undefined;
let renewal: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();

export function currentSession(): Session | undefined {
  return session;
}

export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setSession(next: Session | undefined): void {
  session = next;
  setDraftOwner(next === undefined ? undefined : { ...next.tenant, subject: next.subject });
  clearTimeout(renewal);
  if (next?.refreshToken !== undefined) {
    renewal = setTimeout(() => void refresh(), Math.max(5_000, next.expiresAt - Date.now() - 60_000));
  }
  for (const listener of listeners) listener();
}

export function lastTenant(): Tenant | undefined {
  try {
    const value = JSON.parse(localStorage.getItem(LAST_TENANT) ?? "null") as Tenant | null;
    return typeof value?.organization === "string" && typeof value.project === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const randomText = (): string => base64url(crypto.getRandomValues(new Uint8Array(32)));

/** Where the person is now, to come back to after a sign-in. */
function here(): string {
  return location.pathname + location.search;
}

/**
 * Sends the browser to the project's authorization endpoint. `silent` asks
 * with `prompt=none`: back at once, signed in or with `login_required`.
 */
export async function signIn(tenant: Tenant, options: { returnTo?: string; silent?: boolean } = {}): Promise<never> {
  const verifier = randomText();
  const state = randomText();
  const nonce = randomText();
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  const pending: PendingSignIn = { tenant, verifier, nonce, returnTo: options.returnTo ?? here(), silent: options.silent === true };
  sessionStorage.setItem(PENDING + state, JSON.stringify(pending));
  const url = new URL(`${issuerOf(tenant)}/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: CONSOLE_CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    scope: `openid ${isAdminTenant(tenant) ? GLOBAL_ADMIN_SCOPE : PROJECT_ADMIN_SCOPE}`,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
    ...(options.silent === true ? { prompt: "none" } : {}),
  }).toString();
  location.assign(url.toString());
  return new Promise<never>(() => {});
}

/**
 * The token is no longer good (expired beyond renewal, revoked): keep what
 * the person typed (drafts.ts), and sign in again to come back here.
 */
export function signInAgain(): Promise<never> {
  const tenant = session?.tenant ?? lastTenant() ?? ADMIN_TENANT;
  saveDrafts();
  setSession(undefined);
  return signIn(tenant);
}

/** At start: a silent sign-in to the last project, when this tab has not signed out. */
export function trySilentSignIn(): boolean {
  const tenant = lastTenant();
  if (tenant === undefined || sessionStorage.getItem(NO_SILENT) !== null) return false;
  void signIn(tenant, { silent: true });
  return true;
}

/** The claims of a JWT the token endpoint just answered over the page's own connection. */
function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.split(".")[1] ?? "";
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(payload.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  expires_in: number;
  scope?: string;
}

async function tokenCall(tenant: Tenant, form: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(`${issuerOf(tenant)}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, ...form }),
    credentials: "omit",
    cache: "no-store",
  });
  const body = (await response.json()) as TokenAnswer & { error?: string; error_description?: string };
  if (!response.ok) throw new SignInError(body.error ?? `HTTP ${response.status}`, body.error_description ?? "");
  return body;
}

export class SignInError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    /** Where the person was going, when a silent sign-in found no session: the sign-in screen is shown there. */
    readonly returnTo?: string,
  ) {
    super(description === "" ? error : `${error}: ${description}`);
  }
}

function sessionOf(tenant: Tenant, answer: TokenAnswer, previous?: Session): Session {
  const scopes = new Set((answer.scope ?? "").split(" "));
  // In iam-admins only global administration counts: its project-admin role grants nothing (docs/administration.md).
  const kind = isAdminTenant(tenant) ? (scopes.has(GLOBAL_ADMIN_SCOPE) ? "global" : undefined) : scopes.has(PROJECT_ADMIN_SCOPE) ? "project" : undefined;
  if (kind === undefined) throw new SignInError("access_denied", "this account may not administer this project");
  const idToken = answer.id_token ?? previous?.idToken;
  const claims = idToken === undefined ? {} : claimsOf(idToken);
  const subject = String(claims.sub ?? previous?.subject ?? "");
  return {
    tenant,
    kind,
    subject,
    name: String(claims.name ?? claims.preferred_username ?? subject),
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token ?? previous?.refreshToken,
    idToken,
    expiresAt: Date.now() + answer.expires_in * 1000,
  };
}

/**
 * /admin/callback: checks the answer belongs to a sign-in this tab started
 * (its state), that it comes from the project asked (RFC 9207 `iss`), trades
 * the code with the PKCE verifier, and checks the ID token is for this very
 * sign-in (nonce, audience, issuer). Answers where to go next.
 */
export async function completeSignIn(params: URLSearchParams): Promise<string> {
  const state = params.get("state") ?? "";
  const saved = sessionStorage.getItem(PENDING + state);
  sessionStorage.removeItem(PENDING + state);
  if (saved === null) throw new SignInError("invalid_request", "this sign-in was not started here, or was already completed");
  const pending = JSON.parse(saved) as PendingSignIn;
  const issuer = issuerOf(pending.tenant);
  // RFC 9207 §2.4: iam-core always sends `iss`, so an answer without it is refused like one from another issuer.
  if (params.get("iss") !== issuer) throw new SignInError("invalid_request", "the answer did not come from the project's issuer");
  const error = params.get("error");
  if (error !== null) {
    if (pending.silent) sessionStorage.setItem(NO_SILENT, "1");
    throw new SignInError(error, params.get("error_description") ?? "", pending.silent ? pending.returnTo : undefined);
  }
  const answer = await tokenCall(pending.tenant, {
    grant_type: "authorization_code",
    code: params.get("code") ?? "",
    redirect_uri: REDIRECT_URI,
    code_verifier: pending.verifier,
  });
  const claims = answer.id_token === undefined ? {} : claimsOf(answer.id_token);
  if (claims.nonce !== pending.nonce || claims.iss !== issuer || ![claims.aud].flat().includes(CONSOLE_CLIENT_ID)) {
    throw new SignInError("invalid_request", "the ID token is not for this sign-in");
  }
  setSession(sessionOf(pending.tenant, answer));
  localStorage.setItem(LAST_TENANT, JSON.stringify(pending.tenant));
  sessionStorage.removeItem(NO_SILENT);
  return pending.returnTo;
}

let refreshing: Promise<boolean> | undefined;

/** Renews the access token with the refresh token; false when it cannot (then the person must sign in again). */
export function refresh(): Promise<boolean> {
  const current = session;
  if (current?.refreshToken === undefined) return Promise.resolve(false);
  refreshing ??= tokenCall(current.tenant, { grant_type: "refresh_token", refresh_token: current.refreshToken })
    .then((answer) => {
      setSession(sessionOf(current.tenant, answer, current));
      return true;
    })
    .catch(() => false)
    .finally(() => (refreshing = undefined));
  return refreshing;
}

/** The access token to send now, renewed first when it has expired. */
export async function accessToken(): Promise<string | undefined> {
  if (session !== undefined && session.expiresAt - Date.now() < 5_000) await refresh();
  return session?.accessToken;
}

/**
 * Signs out: revokes the refresh token (RFC 7009), forgets the tokens, and
 * ends the sign-in session at the project's logout endpoint (RP-Initiated
 * Logout), which comes back to the console.
 */
export async function signOut(): Promise<void> {
  const current = session;
  sessionStorage.setItem(NO_SILENT, "1");
  discardDrafts();
  setSession(undefined);
  if (current === undefined) return;
  if (current.refreshToken !== undefined) {
    await fetch(`${issuerOf(current.tenant)}/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: CONSOLE_CLIENT_ID, token: current.refreshToken, token_type_hint: "refresh_token" }),
      credentials: "omit",
    }).catch(() => undefined);
  }
  // By a form's POST (RP-Initiated Logout 1.0 §2 allows it): the ID token goes in the body, never in a URL
  // that the browser's history keeps. The console's CSP lets forms go to the projects' endpoints alone.
  const form = document.createElement("form");
  form.method = "post";
  form.action = `${issuerOf(current.tenant)}/logout`;
  const fields = {
    client_id: CONSOLE_CLIENT_ID,
    post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
    ...(current.idToken === undefined ? {} : { id_token_hint: current.idToken }),
  };
  for (const [name, value] of Object.entries(fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}
