import { createHash } from "node:crypto";
import { html, SafeHtml } from "./html.js";

const STYLE = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f;line-height:1.5}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1.2rem}.error{color:#a00;border-left:4px solid #a00;padding-left:.6rem}
code,pre{background:#f2f2f5;padding:.1rem .3rem;overflow-x:auto}pre{padding:.6rem;white-space:pre-wrap;word-break:break-all}
ul.scopes{list-style:none;padding:0}ul.scopes li{margin:.4rem 0}ul.scopes label{display:inline}`;

/**
 * Every page: no script, styles only from this one inline block (allowed by
 * its hash), never framed, no referrer. `form-action` is left out on purpose:
 * browsers apply it to the redirect that follows a form post, which would
 * block the return to the client.
 */
export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": `default-src 'none'; style-src 'sha256-${createHash("sha256").update(STYLE).digest("base64")}'; frame-ancestors 'none'; base-uri 'none'`,
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
};

function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title><style>${new SafeHtml(STYLE)}</style></head>
<body><main>${body}</main></body></html>`.value;
}

export interface LoginPage {
  action: string;
  requestId: string;
  clientName: string;
  project: string;
  error?: string;
}

export function loginPage(page: LoginPage): string {
  return layout(
    "Sign in",
    html`<h1>Sign in to ${page.project}</h1>
<p><strong>${page.clientName}</strong> asks you to sign in.</p>
${page.error ? html`<p class="error" role="alert">${page.error}</p>` : ""}
<form method="post" action="${page.action}">
<input type="hidden" name="request_id" value="${page.requestId}">
<label for="username">Username</label><input type="text" id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label><input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

export interface ConsentPage {
  action: string;
  requestId: string;
  clientName: string;
  scopes: { name: string; description: string }[];
}

export function consentPage(page: ConsentPage): string {
  return layout(
    "Grant access",
    html`<h1>Grant access to ${page.clientName}</h1>
<form method="post" action="${page.action}">
<input type="hidden" name="request_id" value="${page.requestId}">
${
  page.scopes.length === 0
    ? html`<p>${page.clientName} asks for no permissions.</p>`
    : html`<fieldset><legend>${page.clientName} asks for:</legend><ul class="scopes">${page.scopes.map(
        (s, i) =>
          html`<li><input type="checkbox" id="scope-${i}" name="scope" value="${s.name}" checked> <label for="scope-${i}"><code>${s.name}</code> ${s.description}</label></li>`,
      )}</ul></fieldset>`
}
<button type="submit" name="action" value="approve">Allow</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>`,
  );
}

export function errorPage(title: string, error: string, description: string): string {
  return layout(
    title,
    html`<h1>${title}</h1><p class="error" role="alert"><code>${error}</code>: ${description}</p>
<p>Return to the application and start again.</p>`,
  );
}

export interface RedirectPage {
  code: string;
  state: string;
  error: string;
  errorDescription: string;
  tokenCurl: string;
}

export function redirectPage(page: RedirectPage): string {
  if (page.error !== "") {
    return layout(
      "Authorization failed",
      html`<h1>Authorization failed</h1><p class="error" role="alert"><code>${page.error}</code>: ${page.errorDescription}</p>
<p>state: <code>${page.state}</code></p>`,
    );
  }
  return layout(
    "Authorization code received",
    html`<h1>Authorization code received</h1>
<p>code: <code>${page.code}</code></p>
<p>state: <code>${page.state}</code></p>
<p>Exchange it within a minute (add <code>--data-urlencode code_verifier=…</code> if the request used PKCE):</p>
<pre>${page.tokenCurl}</pre>`,
  );
}
