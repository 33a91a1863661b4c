/**
 * The pages of a sign-in's second step: the challenge (a code from an
 * authenticator app, a passkey, or a recovery code), the enrolment of a
 * first factor (a QR code and its secret, or a passkey), and the recovery
 * codes shown once. Same style, headings and security headers as the
 * login page; the only scripts are the gateway's two WebAuthn files, on the
 * pages that offer a passkey (assets.ts).
 */
import qrcode from "qrcode-generator";
import { html, SafeHtml } from "./html.js";
import { consentBody, layout, waitText, type ConsentPage } from "./pages.js";

interface StepPage {
  /** Where the step's forms post: the project's `/factor`. */
  action: string;
  requestId: string;
  clientName: string;
  projectName: string;
  username: string;
  /** The scripts' URLs, when the page offers a passkey. */
  scripts: readonly string[];
  error?: string;
  /** What the refused attempt used: only its field is marked invalid (a code from the app when unsaid). */
  refused?: RefusedMethod;
  lockedFor?: number;
}

export type RefusedMethod = "totp" | "recovery_code" | "passkey";

export interface ChallengePage extends StepPage {
  methods: readonly string[];
  /** PublicKeyCredentialRequestOptionsJSON, when the user has a passkey. */
  passkeyOptions?: string;
}

export interface EnrolPage extends StepPage {
  /** The user has factors and adds one more (iam_action=add_factor). */
  adding?: boolean;
  totp?: { factorId: string; secret: string; uri: string };
  /** PublicKeyCredentialCreationOptionsJSON. */
  passkeyOptions?: string;
}

const alert = (page: StepPage) => {
  if (page.lockedFor !== undefined && page.lockedFor > 0) {
    return html`<p id="factor-locked" class="alert" role="alert">Too many failed sign-ins. For your security, signing in is paused: try again in ${waitText(page.lockedFor)}.</p>`;
  }
  return page.error === undefined ? "" : html`<p id="factor-error" class="alert" role="alert">${page.error}</p>`;
};

/** Whether the field of `method` holds what was just refused. */
const invalidField = (page: StepPage, method: RefusedMethod) => page.error !== undefined && !(page.lockedFor! > 0) && (page.refused ?? "totp") === method;

const hidden = (page: StepPage, step: "verify" | "enrol") =>
  html`<input type="hidden" name="request_id" value="${page.requestId}"><input type="hidden" name="step" value="${step}">`;

/** A form whose button runs a WebAuthn ceremony (assets/passkey.js), then posts its answer. */
const passkeyForm = (page: StepPage, step: "verify" | "enrol", options: string, label: string, id: string) =>
  html`<form id="${id}" method="post" action="${page.action}" data-passkey="${step === "verify" ? "authenticate" : "register"}" data-options="${options}">
${hidden(page, step)}<input type="hidden" name="passkey_response" value="">
<button type="button" class="secondary" id="${id}-button" data-passkey-button disabled>${label}</button>
<p class="muted" id="${id}-status" role="status" aria-live="polite"></p>
</form>`;

export function challengePage(page: ChallengePage): string {
  const invalid = invalidField(page, "totp");
  const invalidRecovery = invalidField(page, "recovery_code");
  return layout(
    `Verify it's you: ${page.projectName}`,
    html`<p class="eyebrow">${page.projectName}</p>
<h1>Verify it's you</h1>
<p>Signing in as <strong>${page.username}</strong> to <strong>${page.clientName}</strong>.</p>
${alert(page)}
${
  page.methods.includes("totp")
    ? html`<form id="totp-form" method="post" action="${page.action}">${hidden(page, "verify")}
<label for="totp_code">Code from your authenticator app</label>
<input type="text" id="totp_code" name="totp_code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required${invalidRecovery ? "" : html` autofocus`}${invalid ? html` aria-invalid="true" aria-describedby="factor-error"` : ""}>
<button type="submit" id="verify">Verify</button>
</form>`
    : ""
}
${page.passkeyOptions !== undefined ? html`${page.methods.includes("totp") ? html`<p class="or">or</p>` : ""}${passkeyForm(page, "verify", page.passkeyOptions, "Use a passkey", "passkey-form")}` : ""}
${
  page.methods.includes("recovery_code")
    ? html`<details id="recovery"${page.methods.length === 1 || invalidRecovery ? " open" : ""}><summary>Use a recovery code</summary>
<form id="recovery-form" method="post" action="${page.action}">${hidden(page, "verify")}
<label for="recovery_code">Recovery code</label>
<input type="text" id="recovery_code" name="recovery_code" autocomplete="off" autocapitalize="none" spellcheck="false" required${invalidRecovery ? html` autofocus aria-invalid="true" aria-describedby="factor-error"` : ""}>
<button type="submit" id="use-recovery" class="secondary">Use this code</button>
</form></details>`
    : ""
}`,
    page.passkeyOptions === undefined ? [] : page.scripts,
  );
}

/** The secret as people type it: groups of four. */
const grouped = (secret: string) => secret.match(/.{1,4}/g)!.join(" ");

/** A QR code of `uri`, as inline SVG (no image source to allow), labelled for screen readers. */
function qrSvg(uri: string): SafeHtml {
  const qr = qrcode(0, "M");
  qr.addData(uri);
  qr.make();
  // The library's SVG: numbers and fixed attributes only, nothing of the input but the modules.
  return new SafeHtml(qr.createSvgTag({ cellSize: 4, margin: 4, scalable: true }));
}

export function enrolPage(page: EnrolPage): string {
  const invalid = invalidField(page, "totp");
  const title = page.adding ? "Add a sign-in method" : "Set up two-step verification";
  return layout(
    `${title}: ${page.projectName}`,
    html`<p class="eyebrow">${page.projectName}</p>
<h1>${title}</h1>
${
  page.adding
    ? html`<p><strong>${page.clientName}</strong> asks you to add an authenticator app or a passkey to <strong>${page.username}</strong>. It will sign you in as the ones you have do.</p>`
    : html`<p><strong>${page.projectName}</strong> asks for a second step when <strong>${page.username}</strong> signs in. Set one up to continue to <strong>${page.clientName}</strong>.</p>`
}
${alert(page)}
${
  page.totp === undefined
    ? ""
    : html`<section aria-labelledby="totp-heading"><h2 id="totp-heading">Authenticator app</h2>
<p>Scan this code with an authenticator app, or type the key into it.</p>
<figure class="qr" role="img" aria-label="QR code of the key below">${qrSvg(page.totp.uri)}</figure>
<p>Key: <code id="totp-secret">${grouped(page.totp.secret)}</code></p>
<form id="enrol-totp-form" method="post" action="${page.action}">${hidden(page, "enrol")}
<input type="hidden" name="factor_id" value="${page.totp.factorId}">
<label for="totp_code">The app's 6-digit code</label>
<input type="text" id="totp_code" name="totp_code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}" maxlength="7" required${invalid ? html` autofocus aria-invalid="true" aria-describedby="factor-error"` : ""}>
<button type="submit" id="enrol-totp">Turn on</button>
</form></section>`
}
${
  page.passkeyOptions === undefined
    ? ""
    : html`<section aria-labelledby="passkey-heading"><h2 id="passkey-heading">Passkey</h2>
<p>Use your device's screen lock, or a security key.</p>
${passkeyForm(page, "enrol", page.passkeyOptions, "Create a passkey", "enrol-passkey-form")}</section>`
}`,
    page.passkeyOptions === undefined ? [] : page.scripts,
  );
}

/** After a first factor's enrolment: the recovery codes, once, then the consent form or the way back to the client. */
export function recoveryCodesPage(page: { projectName: string; codes: readonly string[]; consent?: ConsentPage; redirectTo?: string }): string {
  return layout(
    `Save your recovery codes: ${page.projectName}`,
    html`<p class="eyebrow">${page.projectName}</p>
<h1>Save your recovery codes</h1>
<p>Two-step verification is on. If you lose your authenticator, each of these codes signs you in once. They are shown only now: keep them somewhere safe.</p>
<ol class="codes" id="recovery-codes">${page.codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>
${page.consent !== undefined ? html`<section>${consentBody(page.consent, true)}</section>` : html`<a class="button" id="continue" href="${page.redirectTo ?? ""}">I saved them: continue</a>`}`,
  );
}
