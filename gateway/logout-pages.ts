import { html } from "./html.js";
import { layout } from "./pages.js";

/**
 * The pages of RP-Initiated Logout (endpoints/end-session.ts), in the look of
 * the sign-in pages and under the same headers (no script, never framed,
 * never cached).
 */

export interface LogoutConfirmationPage {
  /** Where the form posts: the project's logout endpoint. */
  action: string;
  projectName: string;
  /** The client that asks, "" when the request names none. */
  clientName: string;
  /** The request's parameters, posted back unchanged (empty ones left out). */
  parameters: Record<string, string>;
  /** The browser binding the form proves it was shown in this browser with. */
  confirmation: string;
}

/** RP-Initiated Logout 1.0 §2: asks the user whether to sign out, when the request does not show that they asked. */
export function logoutConfirmationPage(page: LogoutConfirmationPage): string {
  const fields = Object.entries(page.parameters).filter(([, value]) => value !== "");
  return layout(
    `Sign out of ${page.projectName}?`,
    html`<p class="eyebrow">${page.projectName}</p>
<h1>Sign out of ${page.projectName}?</h1>
${page.clientName !== "" ? html`<p><strong>${page.clientName}</strong> asks to sign you out.</p>` : ""}
<p>You will be signed out of every application that uses your ${page.projectName} sign-in in this browser.</p>
<form id="logout-form" method="post" action="${page.action}">
${fields.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
<input type="hidden" name="confirmation" value="${page.confirmation}">
<button type="submit" id="sign-out">Sign out</button>
</form>
<p class="muted">If you did not ask to sign out, close this page: you stay signed in.</p>`,
  );
}

/** After a logout that sends the user nowhere else. */
export function signedOutPage(page: { projectName: string }): string {
  return layout(
    "You are signed out",
    html`<p class="eyebrow">${page.projectName}</p>
<h1 id="signed-out">You are signed out</h1>
<p>You have signed out of ${page.projectName} in this browser. You can close this page.</p>`,
  );
}
