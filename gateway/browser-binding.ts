import { randomBytes } from "node:crypto";
import type { Context } from "koa";
import { projectPath, type EndpointDeps } from "./endpoint.js";
import { readCookie } from "./http.js";

/**
 * The browser binding (login CSRF defence): a random value kept in a cookie
 * of the browser that made the authorization request and given to the core,
 * which wants it back from the login and consent forms of that request.
 */
const BROWSER_COOKIE = "iam_browser";
const BINDING_VALUE = /^[A-Za-z0-9_-]{43}$/;

/** The browser's binding: the one it presents when well formed, else a new one. */
export function bindingOf(ctx: Context): { binding: string; presented: string | undefined } {
  const presented = readCookie(ctx, BROWSER_COOKIE);
  const binding = presented !== undefined && BINDING_VALUE.test(presented) ? presented : randomBytes(32).toString("base64url");
  return { binding, presented };
}

/** Gives the browser its binding, for the project's paths only. */
export function setBindingCookie(deps: EndpointDeps, ctx: Context, binding: string): void {
  ctx.append("Set-Cookie", `${BROWSER_COOKIE}=${binding}; Path=${projectPath(ctx)}/; HttpOnly; SameSite=Lax${deps.secureCookies ? "; Secure" : ""}`);
}

/** The binding a form post presents: set for browsers' forms, absent for API (JSON) callers. */
export function presentedBinding(ctx: Context, form: boolean): string | undefined {
  return form ? (readCookie(ctx, BROWSER_COOKIE) ?? "") : undefined;
}
