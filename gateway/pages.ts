import { createHash } from "node:crypto";
import { html, SafeHtml } from "./html.js";

/**
 * One style sheet for every page: a centred card that fills small screens,
 * large touch targets, visible keyboard focus, and a dark variant. It is the
 * page's only inline code, allowed by its hash in the CSP.
 */
const STYLE = `:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--text:#1b1d23;--muted:#5a6170;--line:#d5d9e0;--accent:#1f5fbf;--accent-text:#fff;--danger:#a4161a;--danger-bg:#fdecec;--code:#eef0f3}
@media (prefers-color-scheme:dark){:root{--bg:#14161a;--card:#1e2127;--text:#e8eaee;--muted:#a5acb8;--line:#3a3f48;--accent:#6ea2f5;--accent-text:#0b1220;--danger:#ffb3b3;--danger-bg:#3a1f22;--code:#2a2e36}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:27rem;margin:4rem 1rem;padding:2rem;background:var(--card);border:1px solid var(--line);border-radius:12px}
@media (max-width:30rem){main{margin:0;border:0;border-radius:0;min-height:100vh;padding:1.5rem 1.25rem}}
.eyebrow{margin:0 0 .25rem;color:var(--muted);font-size:.875rem;text-transform:uppercase;letter-spacing:.04em}
h1{margin:0 0 1rem;font-size:1.5rem;line-height:1.25}
p{margin:0 0 1rem}
label{display:block;margin:1rem 0 .3rem;font-weight:600}
input[type=text],input[type=password]{width:100%;min-height:2.75rem;padding:.55rem .75rem;font:inherit;color:inherit;background:transparent;border:1px solid var(--line);border-radius:8px}
input[aria-invalid=true]{border-color:var(--danger)}
button{min-height:2.75rem;padding:.55rem 1.25rem;font:inherit;font-weight:600;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-text);cursor:pointer}
button.secondary{background:transparent;color:var(--accent)}
form>button,.actions{margin-top:1.5rem}
form>button{width:100%}
.actions{display:flex;gap:.75rem;flex-wrap:wrap}.actions button{flex:1 1 8rem}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.alert{margin:0 0 1rem;padding:.75rem 1rem;border-radius:8px;color:var(--danger);background:var(--danger-bg);border-left:4px solid var(--danger)}
fieldset{margin:0;padding:0;border:0}legend{padding:0;margin-bottom:.5rem;font-weight:600}
ul.scopes{list-style:none;margin:0;padding:0}
ul.scopes li{display:flex;gap:.75rem;align-items:flex-start;padding:.75rem 0;border-top:1px solid var(--line)}
ul.scopes li:last-child{border-bottom:1px solid var(--line)}
ul.scopes input{width:1.25rem;height:1.25rem;margin:.15rem 0 0;flex:none}
ul.scopes label{margin:0;font-weight:400}
.scope-name{display:block;color:var(--muted);font-size:.875rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.875rem;background:var(--code);border-radius:4px}
code{padding:.1rem .3rem;word-break:break-all}
#totp-secret{word-break:normal}
pre{padding:.75rem;white-space:pre-wrap;word-break:break-all}
.muted{color:var(--muted);font-size:.875rem}
input[inputmode=numeric]{letter-spacing:.3em;font-variant-numeric:tabular-nums}
section{margin-top:1.5rem;padding-top:1.25rem;border-top:1px solid var(--line)}
h2{margin:0 0 .5rem;font-size:1.125rem}
.qr{display:block;width:12rem;height:12rem;margin:0 auto 1rem;background:#fff;padding:.5rem;border-radius:8px}
.qr svg{width:100%;height:100%}
ol.codes{padding-left:2rem;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}ol.codes code{white-space:nowrap;word-break:normal}
details{margin-top:1.25rem}summary{cursor:pointer;color:var(--accent);font-weight:600}
a.button{display:block;text-align:center;min-height:2.75rem;padding:.55rem 1.25rem;margin-top:1.5rem;font-weight:600;border-radius:8px;background:var(--accent);color:var(--accent-text);text-decoration:none}
.or{margin:1.25rem 0 0;text-align:center;color:var(--muted);font-size:.875rem}`;

const STYLE_SOURCE = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;

/**
 * Every page: no script at all, styles only from the block above (allowed
 * by its hash), never framed, no referrer, never cached. `form-action` is
 * left out on purpose: browsers apply it to the redirect that follows a form
 * post, which would block the return to the client.
 */
export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": `default-src 'none'; style-src ${STYLE_SOURCE}; frame-ancestors 'none'; base-uri 'none'`,
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
  Pragma: "no-cache",
};

/**
 * The policy of a page that uses a passkey: the same, and the gateway's two
 * WebAuthn scripts, by their exact URLs (no inline script, nothing else).
 */
export function passkeyPageSecurityHeaders(scripts: readonly string[]): Record<string, string> {
  return {
    ...PAGE_SECURITY_HEADERS,
    "Content-Security-Policy": `default-src 'none'; style-src ${STYLE_SOURCE}; script-src ${scripts.join(" ")}; frame-ancestors 'none'; base-uri 'none'`,
  };
}

/** Every page: the style sheet above around a card holding `body`, and the scripts it names (served by the gateway). */
export function layout(title: string, body: SafeHtml, scripts: readonly string[] = []): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style>${new SafeHtml(STYLE)}</style>${scripts.map((src) => html`<script src="${src}" defer></script>`)}</head>
<body><main>${body}</main></body></html>`.value;
}

export interface LoginPage {
  action: string;
  requestId: string;
  clientName: string;
  /** For a client of a metadata document: the host its document came from (clientOrigin). */
  clientHost?: string;
  projectName: string;
  /** The username typed before, shown again after a failure. */
  username?: string;
  /** After a failed sign-in: the message, which never says which field was wrong. */
  error?: string;
  /** The failure was not the form's (a passkey alone, a second step's code): its fields are not marked. */
  refusedElsewhere?: boolean;
  /** When sign-ins are locked: seconds until they may be tried again. */
  lockedFor?: number;
  /** Where the project allows a passkey alone: its ceremony's options, the form's action and the scripts. */
  passkey?: { options: string; factorAction: string; scripts: readonly string[] };
}

/** "a minute", "15 minutes": how long a lockout lasts, for people. */
export function waitText(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  return minutes === 1 ? "a minute" : `${minutes} minutes`;
}

export function loginPage(page: LoginPage): string {
  const locked = page.lockedFor !== undefined && page.lockedFor > 0;
  const failed = page.error !== undefined && !locked;
  const invalid = failed && page.refusedElsewhere !== true;
  const describedBy = locked ? "login-locked" : invalid ? "login-error" : undefined;
  return layout(
    `Sign in to ${page.projectName}`,
    html`<p class="eyebrow">${page.projectName}</p>
<h1>Sign in to ${page.projectName}</h1>
<p><strong>${page.clientName}</strong> asks you to sign in.</p>
${clientOrigin(page.clientHost)}
${locked ? html`<p id="login-locked" class="alert" role="alert">Too many failed sign-ins. For your security, signing in is paused: try again in ${waitText(page.lockedFor!)}.</p>` : ""}
${failed ? html`<p id="login-error" class="alert" role="alert">${page.error!}</p>` : ""}
<form id="login-form" method="post" action="${page.action}"${describedBy ? html` aria-describedby="${describedBy}"` : ""}>
<input type="hidden" name="request_id" value="${page.requestId}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${page.username ?? ""}" autocomplete="username" autocapitalize="none" spellcheck="false" required${page.username ? "" : html` autofocus`}${invalid ? html` aria-invalid="true"` : ""}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${page.username ? html` autofocus` : ""}${invalid ? html` aria-invalid="true"` : ""}>
<button type="submit" id="sign-in">Sign in</button>
</form>
${page.passkey !== undefined ? passwordlessForm({ action: page.passkey.factorAction, requestId: page.requestId, options: page.passkey.options }) : ""}`,
    page.passkey?.scripts ?? [],
  );
}

/** The login page's sign-in with a passkey alone, where the project allows it. */
export function passwordlessForm(page: { action: string; requestId: string; options: string }): SafeHtml {
  return html`<p class="or">or</p>
<form id="passkey-signin-form" method="post" action="${page.action}" data-passkey="authenticate" data-options="${page.options}">
<input type="hidden" name="request_id" value="${page.requestId}"><input type="hidden" name="step" value="passkey">
<input type="hidden" name="passkey_response" value="">
<button type="button" class="secondary" id="passkey-signin" data-passkey-button disabled>Sign in with a passkey</button>
<p class="muted" id="passkey-signin-status" role="status" aria-live="polite"></p>
</form>`;
}

export interface ConsentPage {
  action: string;
  requestId: string;
  clientName: string;
  /** For a client of a metadata document: the host its document came from (clientOrigin). */
  clientHost?: string;
  projectName: string;
  scopes: { name: string; description: string }[];
  /** The resources the client asks access to (RFC 8707); empty for the project's own. */
  resources?: readonly { uri: string; name: string }[];
}

/**
 * For a client that described itself (a client ID metadata document): the
 * host its description came from, which nobody but that host's owner can
 * publish at; its name is the document author's own words
 * (draft-ietf-oauth-client-id-metadata-document §6.3, §6.4).
 */
function clientOrigin(host: string | undefined): SafeHtml | string {
  if (host === undefined || host === "") return "";
  return html`<p class="alert" id="client-origin">This application is not registered here: it describes itself at <strong>${host}</strong>. Continue only if you trust ${host}.</p>`;
}

export function consentPage(page: ConsentPage): string {
  return layout(`Allow ${page.clientName}?`, consentBody(page));
}

/** The consent page's card, which the recovery codes page also ends with (its heading one level down there). */
export function consentBody(page: ConsentPage, nested = false): SafeHtml {
  const question = `Allow ${page.clientName} to access your account?`;
  return html`<p class="eyebrow">${page.projectName}</p>
${nested ? html`<h2>${question}</h2>` : html`<h1>${question}</h1>`}
${clientOrigin(page.clientHost)}
<form id="consent-form" method="post" action="${page.action}">
<input type="hidden" name="request_id" value="${page.requestId}">
${resourcesAsked(page)}${
  page.scopes.length === 0
    ? html`<p>${page.clientName} asks for no permissions: it will only know that you signed in.</p>`
    : html`<fieldset><legend>${page.clientName} asks to:</legend><ul class="scopes">${page.scopes.map(
        (s, i) =>
          html`<li><input type="checkbox" id="scope-${i}" name="scope" value="${s.name}" checked><label for="scope-${i}">${s.description || s.name}<span class="scope-name">${s.name}</span></label></li>`,
      )}</ul></fieldset><p class="muted">Untick what you do not want to allow.</p>`
}
<div class="actions">
<button type="submit" id="approve" name="action" value="approve">Allow</button>
<button type="submit" id="deny" name="action" value="deny" class="secondary">Deny</button>
</div>
</form>`;
}

/** RFC 8707: which APIs the access would reach, by name and URI, so that the person knows what they allow. */
function resourcesAsked(page: ConsentPage): SafeHtml | false {
  const resources = page.resources ?? [];
  if (resources.length === 0) return false;
  return html`<p>${page.clientName} asks for access to:</p><ul class="resources" id="resources">${resources.map(
    (r) => html`<li>${r.name || r.uri} <span class="scope-name">${r.uri}</span></li>`,
  )}</ul>`;
}

export function errorPage(title: string, error: string, description: string): string {
  return layout(
    title,
    html`<h1>${title}</h1>
<p id="error-description" class="alert" role="alert">${description}</p>
<p class="muted">Error code: <code id="error-code">${error}</code></p>
<p>Return to the application and start again. If this keeps happening, tell the application's owner.</p>`,
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
      html`<h1>Authorization failed</h1>
<p class="alert" role="alert"><code id="error-code">${page.error}</code> ${page.errorDescription}</p>
<p>state: <code id="state">${page.state}</code></p>`,
    );
  }
  return layout(
    "Authorization code received",
    html`<h1>Authorization code received</h1>
<p>code: <code id="code">${page.code}</code></p>
<p>state: <code id="state">${page.state}</code></p>
<p>Exchange it within a minute (add <code>--data-urlencode code_verifier=…</code> if the request used PKCE):</p>
<pre>${page.tokenCurl}</pre>`,
  );
}
