import { createHash } from "node:crypto";
import type { Context } from "koa";
import { projectOf, projectPath, type EndpointDeps } from "./endpoint.js";
import { readCookie } from "./http.js";

/**
 * The sign-in session cookie (single sign-on): the session's secret,
 * HttpOnly, SameSite=Lax (sent when the browser follows a link or redirect to
 * iam-core from another site, never with a cross-site subrequest or form
 * post). The core decides what it is worth; a malformed one is simply no
 * session.
 *
 * On https it is `__Host-iam_session_{project}`: Secure, `Path=/`, no
 * Domain, so browsers refuse it from any other host, a sibling subdomain
 * included, which could otherwise plant its own session in the browser (RFC
 * 6265bis §4.1.3.2); the project's own name keeps one session per project. On
 * plain http (development) the prefix cannot be used: `iam_session`, for the
 * project's paths.
 */
const SESSION_COOKIE = "iam_session";

function cookieOf(deps: EndpointDeps, ctx: Context): { name: string; attributes: string } {
  if (!deps.secureCookies) return { name: SESSION_COOKIE, attributes: `Path=${projectPath(ctx)}/; HttpOnly; SameSite=Lax` };
  const { organization, project } = projectOf(ctx);
  const tag = createHash("sha256").update(`${organization}\u0000${project}`).digest("base64url").slice(0, 16);
  return { name: `__Host-${SESSION_COOKIE}_${tag}`, attributes: "Path=/; HttpOnly; SameSite=Lax; Secure" };
}

/** The session cookie the browser presents, "" when none. */
export function readSessionCookie(deps: EndpointDeps, ctx: Context): string {
  return readCookie(ctx, cookieOf(deps, ctx).name) ?? "";
}

/** Gives the browser its session, for as long as the session may live. */
export function setSessionCookie(deps: EndpointDeps, ctx: Context, cookie: { value: string; maxAge: bigint | number }): void {
  const { name, attributes } = cookieOf(deps, ctx);
  ctx.append("Set-Cookie", `${name}=${cookie.value}; Max-Age=${Number(cookie.maxAge)}; ${attributes}`);
}

/** Makes the browser forget its session. */
export function clearSessionCookie(deps: EndpointDeps, ctx: Context): void {
  const { name, attributes } = cookieOf(deps, ctx);
  ctx.append("Set-Cookie", `${name}=; Max-Age=0; ${attributes}`);
}
