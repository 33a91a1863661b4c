/**
 * The script of the pages that offer a passkey, served by the gateway as
 * `/assets/passkey.js` (never inline: the pages' CSP allows it and
 * @simplewebauthn/browser's bundle by their URLs, and nothing else). Each
 * form marked `data-passkey` holds its ceremony's options (JSON, made by the
 * core with a single-use challenge); its button runs the ceremony and posts
 * the authenticator's answer. Without WebAuthn the button stays disabled and
 * says why; the page's other ways to sign in work without any script.
 */
export const PASSKEY_SCRIPT = String.raw`"use strict";
(function () {
  var webauthn = window.SimpleWebAuthnBrowser;
  var forms = document.querySelectorAll("form[data-passkey]");
  Array.prototype.forEach.call(forms, function (form) {
    var button = form.querySelector("[data-passkey-button]");
    var status = form.querySelector("[role=status]");
    var say = function (text) { if (status) status.textContent = text; };
    if (!webauthn || !webauthn.browserSupportsWebAuthn()) {
      say("This browser cannot use passkeys.");
      return;
    }
    button.disabled = false;
    button.addEventListener("click", function () {
      var options = JSON.parse(form.getAttribute("data-options"));
      var register = form.getAttribute("data-passkey") === "register";
      button.disabled = true;
      say(register ? "Follow your browser's steps to create the passkey." : "Follow your browser's steps to use your passkey.");
      var ceremony = register ? webauthn.startRegistration({ optionsJSON: options }) : webauthn.startAuthentication({ optionsJSON: options });
      ceremony.then(function (answer) {
        form.querySelector("input[name=passkey_response]").value = JSON.stringify(answer);
        say("Checking…");
        form.submit();
      }, function (err) {
        button.disabled = false;
        say(err && err.name === "NotAllowedError" ? "The passkey was not used. Try again, or choose another way." : "The passkey did not work: " + (err && err.message ? err.message : "unknown error") + ".");
      });
    });
  });
})();
`;
