/**
 * A single-page application on its own loopback origin, as developers write
 * one with oidc-client-ts: its browser bundle from node_modules and one page
 * that serves every route (`/`, the redirect URI `/callback`, the silent
 * renew URI `/silent`, the post-logout URI `/logged-out`).
 *
 * The page exposes `window.spa` to the test (each call answers a summary of
 * the user, or throws) and reports the outcome of the callback routes in
 * `body[data-outcome]` ("signed-in", "signed-out", "error") with the details
 * as JSON in `#outcome`.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionContext } from "ava";

const BUNDLE = new URL("../../../node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js", import.meta.url);

export interface SpaSettings {
  authority: string;
  client_id: string;
}

export interface Spa {
  origin: string;
  redirectUri: string;
  silentRedirectUri: string;
  postLogoutRedirectUri: string;
  /** Gives the page its settings; the server answers 503 until then. */
  configure(settings: SpaSettings): void;
}

/** What the page reports of a user (oidc-client-ts's User). */
export interface SpaUser {
  id_token: string;
  access_token: string;
  refresh_token: string | null;
  scope: string;
  profile: Record<string, unknown>;
}

/**
 * The page's script. `loadUserInfo` makes the sign-in call UserInfo (CORS
 * with a preflight, for the Authorization header); `revokeTokensOnSignout`
 * makes the sign-out call the revocation endpoint first;
 * `includeIdTokenInSilentRenew` sends the ID token as `id_token_hint` with
 * `prompt=none`.
 */
const SCRIPT = `
const origin = window.location.origin;
const mgr = new oidc.UserManager({
  ...window.SETTINGS,
  redirect_uri: origin + "/callback",
  silent_redirect_uri: origin + "/silent",
  post_logout_redirect_uri: origin + "/logged-out",
  response_type: "code",
  scope: "openid profile",
  loadUserInfo: true,
  automaticSilentRenew: false,
  monitorSession: false,
  includeIdTokenInSilentRenew: true,
  revokeTokensOnSignout: true,
  silentRequestTimeoutInSeconds: 15,
});
const summary = (user) =>
  user && {
    id_token: user.id_token,
    access_token: user.access_token,
    refresh_token: user.refresh_token ?? null,
    scope: user.scope,
    profile: user.profile,
  };
const message = (err) => (err && (err.error || err.message)) || String(err);
function report(outcome, details) {
  document.getElementById("outcome").textContent = JSON.stringify(details);
  document.body.dataset.outcome = outcome;
}
window.spa = {
  // Navigates away; a failure before that (discovery) is reported on the page.
  signIn: () => void mgr.signinRedirect().catch((err) => report("error", { step: "signinRedirect", error: message(err) })),
  renew: (iframe) => mgr.signinSilent(iframe ? { forceIframeAuth: true } : {}).then(summary),
  user: () => mgr.getUser().then(summary),
  signOut: (state) => void mgr.signoutRedirect({ state }).catch((err) => report("error", { step: "signoutRedirect", error: message(err) })),
  // A cross-origin read of any URL, as a page script makes it: its status, or the browser's refusal.
  read: (url) => fetch(url).then((res) => ({ status: res.status }), (err) => ({ refused: err.name + ": " + err.message })),
};
switch (window.location.pathname) {
  case "/callback":
    mgr.signinRedirectCallback().then(
      (user) => report("signed-in", summary(user)),
      (err) => report("error", { step: "signinRedirectCallback", error: message(err) }),
    );
    break;
  case "/silent":
    mgr.signinSilentCallback();
    break;
  case "/logged-out":
    mgr.signoutRedirectCallback().then(
      (res) => report("signed-out", { state: res.userState ?? null, error: res.error ?? null }),
      (err) => report("error", { step: "signoutRedirectCallback", error: message(err) }),
    );
    break;
  default:
    report("ready", {});
}
`;

function page(settings: SpaSettings): string {
  // Inside <script>, "<" could end the element: JSON escapes it.
  const json = JSON.stringify(settings).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme shop app</title>
<script src="/oidc-client-ts.min.js"></script>
<script>window.SETTINGS = ${json};</script>
</head>
<body>
<h1>Acme shop app</h1>
<pre id="outcome" style="white-space: pre-wrap; overflow-wrap: anywhere"></pre>
<script>${SCRIPT}</script>
</body>
</html>`;
}

export async function startSpa(t: ExecutionContext): Promise<Spa> {
  const bundle = readFileSync(BUNDLE);
  let settings: SpaSettings | undefined;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://spa").pathname;
    if (req.method !== "GET") {
      res.writeHead(405);
      res.end();
    } else if (path === "/favicon.ico") {
      res.writeHead(204);
      res.end();
    } else if (path === "/oidc-client-ts.min.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
      res.end(bundle);
    } else if (settings === undefined) {
      res.writeHead(503);
      res.end();
    } else if (["/", "/callback", "/silent", "/logged-out"].includes(path)) {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      res.end(page(settings));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    redirectUri: `${origin}/callback`,
    silentRedirectUri: `${origin}/silent`,
    postLogoutRedirectUri: `${origin}/logged-out`,
    configure: (s) => void (settings = s),
  };
}
