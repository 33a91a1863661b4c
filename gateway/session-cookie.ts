import type { Context } from "koa";
import { projectPath, type EndpointDeps } from "./endpoint.js";
import { readCookie } from "./http.js";

/**
 * The sign-in session cookie (single sign-on): the session's secret, for the
 * project's paths only, HttpOnly, SameSite=Lax (sent when the browser follows
 * a link or redirect to iam-core from another site, never with a cross-site
 * subrequest or form post), Secure when the base URL is https. The core
 * decides what it is worth; a malformed one is simply no session.
 */
const SESSION_COOKIE = "iam_session";

/** The session cookie the browser presents, "" when none. */
export function readSessionCookie(ctx: Context): string {
  return readCookie(ctx, SESSION_COOKIE) ?? "";
}

/** Gives the browser its session, for as long as the session may live. */
export function setSessionCookie(deps: EndpointDeps, ctx: Context, cookie: { value: string; maxAge: bigint | number }): void {
  ctx.append(
    "Set-Cookie",
    `${SESSION_COOKIE}=${cookie.value}; Path=${projectPath(ctx)}/; Max-Age=${Number(cookie.maxAge)}; HttpOnly; SameSite=Lax${deps.secureCookies ? "; Secure" : ""}`,
  );
}

/** Makes the browser forget its session. */
export function clearSessionCookie(deps: EndpointDeps, ctx: Context): void {
  ctx.append("Set-Cookie", `${SESSION_COOKIE}=; Path=${projectPath(ctx)}/; Max-Age=0; HttpOnly; SameSite=Lax${deps.secureCookies ? "; Secure" : ""}`);
}
