import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync } from "node:zlib";
import type { Context } from "koa";
import { html } from "../html.js";

/**
 * The console's page and its two files (the script and the style sheet that
 * scripts/build.mjs bundles from console/ into dist/console/). Every path
 * under `/admin` that is not a file or the API answers the same page: the
 * console routes in the browser.
 */

/** dist/console/, from dist/gateway/console/ when running the build, or from gateway/console/ when running the sources. */
const BUILT = new URL(import.meta.url.endsWith(".ts") ? "../../dist/console/" : "../../console/", import.meta.url);

/** A file as sent: as it is, and compressed once at start for the browsers that take it. */
interface Asset {
  plain: Buffer;
  br: Buffer;
  gzip: Buffer;
}

function asset(text: string): Asset {
  const plain = Buffer.from(text);
  return { plain, br: brotliCompressSync(plain), gzip: gzipSync(plain, { level: 9 }) };
}

interface Bundle {
  script: Asset;
  style: Asset;
  /** A hash of both, in their URLs: a new build is a new URL, so the files can be cached for good. */
  version: string;
}

let bundle: Bundle | undefined;

function loadBundle(): Bundle | undefined {
  if (bundle !== undefined) return bundle;
  try {
    const script = readFileSync(fileURLToPath(new URL("console.js", BUILT)), "utf8");
    const style = readFileSync(fileURLToPath(new URL("console.css", BUILT)), "utf8");
    const version = createHash("sha256").update(script).update("\0").update(style).digest("base64url").slice(0, 16);
    bundle = { script: asset(script), style: asset(style), version };
  } catch {
    return undefined; // not built: the page says so, and the next request looks again
  }
  return bundle;
}

/**
 * The console's page: its script and style sheet by their exact URLs and
 * nothing else (no inline script or style, no other origin, nothing for the
 * page to be framed in), no referrer (the sign-in callback's URL carries the
 * authorization code), never cached. Trusted Types with no policy: no HTML
 * string can ever become markup or script in the page.
 */
export function consoleSecurityHeaders(baseUrl: string): Record<string, string> {
  const files = `${baseUrl}/admin/assets/`;
  return {
    "Content-Security-Policy": [
      "default-src 'none'",
      `script-src ${files}console.js`,
      `style-src ${files}console.css`,
      "connect-src 'self'",
      "img-src 'self' data:",
      // Sign-out posts a form to the project's logout endpoint (its redirect back is matched by host alone, CSP3 §6.7.2.12);
      // no form of the console's own screens is ever sent by the browser.
      `form-action ${baseUrl}/services/oauth2/`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "require-trusted-types-for 'script'",
      "trusted-types 'none'",
    ].join("; "),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
    Pragma: "no-cache",
  };
}

/** GET /admin and every path under it: the console's page. */
export function consolePage(baseUrl: string): (ctx: Context) => void {
  return (ctx) => {
    const built = loadBundle();
    ctx.set(consoleSecurityHeaders(baseUrl));
    ctx.type = "text/html; charset=utf-8";
    if (built === undefined) {
      ctx.status = 503;
      ctx.body = "<!doctype html><title>Console not built</title><p>The console is not built: run <code>npm run build</code>.</p>";
      return;
    }
    const assets = `${baseUrl}/admin/assets`;
    ctx.body = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><meta name="iam-base-url" content="${baseUrl}"><title>iam-core console</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="${assets}/console.css?v=${built.version}"><script type="module" src="${assets}/console.js?v=${built.version}"></script></head>
<body><div id="app"><noscript><p>The iam-core console needs JavaScript.</p></noscript></div></body></html>`.value;
  };
}

/** GET /admin/assets/{console.js,console.css}: cached for a year (their URLs change with their content); anything else 404. */
export function consoleAsset(ctx: Context): void {
  const built = loadBundle();
  const name = ctx.params.name;
  const file = name === "console.js" ? built?.script : name === "console.css" ? built?.style : undefined;
  if (file === undefined) {
    ctx.status = 404;
    return;
  }
  // Only the URL of this very build may be kept for good: an old page asking for its own version gets today's file, revalidated.
  const cache = ctx.query.v === built!.version ? "public, max-age=31536000, immutable" : "no-cache";
  ctx.set({ "Cache-Control": cache, "X-Content-Type-Options": "nosniff", "Cross-Origin-Resource-Policy": "same-origin" });
  ctx.type = name === "console.js" ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
  ctx.vary("Accept-Encoding");
  const encoding = ctx.acceptsEncodings("br", "gzip", "identity");
  if (encoding === "br" || encoding === "gzip") ctx.set("Content-Encoding", encoding);
  ctx.body = encoding === "br" ? file.br : encoding === "gzip" ? file.gzip : file.plain;
}
