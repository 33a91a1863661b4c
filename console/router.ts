import { useEffect, useState } from "preact/hooks";
import { CONSOLE_PATH } from "./config.js";

/**
 * The console's routes are paths under /admin, handled in the page (the
 * gateway answers the same page for all of them), so that every screen has
 * a URL to bookmark, share and come back to after a sign-in.
 */

/** The path under the console: "/" for /admin and /admin/, "/users" for /admin/users. */
export function routePath(): string {
  const path = location.pathname.startsWith(CONSOLE_PATH) ? location.pathname.slice(CONSOLE_PATH.length) : "/";
  return path === "" ? "/" : path;
}

/** The console's URL of a route path. */
export const href = (path: string): string => `${CONSOLE_PATH}${path}`;

const listeners = new Set<() => void>();

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const url = path.startsWith(CONSOLE_PATH) ? path : href(path);
  if (options.replace === true) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  for (const listener of listeners) listener();
}

addEventListener("popstate", () => {
  for (const listener of listeners) listener();
});

/** The current URL, re-rendering the caller when it changes. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((v) => v + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return { path: routePath(), query: new URLSearchParams(location.search) };
}

/** Matches `path` against a pattern such as "/p/:org/:project/users/:user"; the decoded parameters, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/");
  const have = path.replace(/\/$/, "").split("/");
  if (pattern !== "/" && want.length !== have.length) return undefined;
  if (pattern === "/") return path === "/" ? {} : undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const actual = have[i] ?? "";
    if (part.startsWith(":")) {
      if (actual === "") return undefined;
      try {
        params[part.slice(1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (part !== actual) return undefined;
  }
  return params;
}

/** A route path built from parts, each encoded. */
export function pathOf(...parts: string[]): string {
  return `/${parts.map(encodeURIComponent).join("/")}`;
}
