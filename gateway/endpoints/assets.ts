import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Context } from "koa";
import { PASSKEY_SCRIPT } from "../assets/passkey-script.js";

/**
 * The gateway's only scripts: @simplewebauthn/browser's bundle (it defines
 * `SimpleWebAuthnBrowser`) and the passkey pages' own (assets/passkey-script.ts),
 * read once at start. Pages allow them by their URLs (pages.ts).
 */
const webauthnBundle = readFileSync(join(dirname(createRequire(import.meta.url).resolve("@simplewebauthn/browser")), "..", "dist", "bundle", "index.umd.min.js"), "utf8");

/** A Map, not an object: a name such as `__proto__` or `constructor` must find nothing. */
const FILES = new Map([
  ["webauthn.js", webauthnBundle],
  ["passkey.js", PASSKEY_SCRIPT],
]);

/** The path of each script, as pages name them. */
export const SCRIPT_PATHS = ["/assets/webauthn.js", "/assets/passkey.js"] as const;

/** The scripts' URLs under the deployment's base URL, for a page's CSP and its script tags. */
export const scriptUrls = (baseUrl: string): string[] => SCRIPT_PATHS.map((path) => `${baseUrl}${path}`);

/** GET /assets/{name}: a script, cacheable for an hour; anything else 404. */
export async function asset(ctx: Context): Promise<void> {
  const body = FILES.get(ctx.params.name as string);
  if (body === undefined) {
    ctx.status = 404;
    return;
  }
  ctx.set({ "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "same-origin" });
  ctx.type = "text/javascript; charset=utf-8";
  ctx.body = body;
}
