import type { Client } from "../../gen/iam/v1/admin_pb.js";
import { CheckField, ListField, lines, SelectField, TextField, type Form } from "../ui/form.js";

/**
 * A client's settings as its forms hold them (create and edit share them):
 * the proto's field names, lists one a line, lifetimes as typed.
 */
export type Settings = {
  name: string;
  redirect_uris: string;
  grant_types: string;
  pkce_required: boolean;
  remember_consent: boolean;
  access_token_ttl: string;
  refresh_token_ttl: string;
  post_logout_redirect_uris: string;
  backchannel_logout_uri: string;
  id_token_signed_response_alg: string;
  web_origins: string;
  require_pushed_authorization_requests: boolean;
  token_endpoint_auth_method: string;
  jwks: string;
  jwks_uri: string;
  dpop_bound_access_tokens: boolean;
  security_profile: string;
};

/** Settings with nothing typed yet. */
export const BLANK_SETTINGS: Settings = {
  name: "",
  redirect_uris: "",
  grant_types: "",
  pkce_required: false,
  remember_consent: false,
  access_token_ttl: "",
  refresh_token_ttl: "",
  post_logout_redirect_uris: "",
  backchannel_logout_uri: "",
  id_token_signed_response_alg: "RS256",
  web_origins: "",
  require_pushed_authorization_requests: false,
  token_endpoint_auth_method: "",
  jwks: "",
  jwks_uri: "",
  dpop_bound_access_tokens: false,
  security_profile: "",
};

/** The grant types the settings offer, with what each is for; token exchange has its own section (client-exchange.tsx). */
export const GRANT_TYPES = [
  ["authorization_code", "people sign in through the browser"],
  ["refresh_token", "access is renewed without signing in again"],
  ["client_credentials", "the client acts for itself (confidential clients only)"],
  ["password", "the client sends a person's password (legacy)"],
] as const;

/**
 * Where the core's refusals of a client's settings land when they name the
 * field in their own words: a URI by what it is ("redirect URI
 * http://x: ..."), a count ("at most 20 web_origins").
 */
export const SETTINGS_ALIASES: Record<string, keyof Settings> = {
  "redirect URI": "redirect_uris",
  "a redirect URI": "redirect_uris",
  "at most 20 redirect URIs": "redirect_uris",
  authorization_code: "redirect_uris",
  "grant type": "grant_types",
  "a public client cannot use client_credentials": "grant_types",
  "post-logout redirect URI": "post_logout_redirect_uris",
  "a post-logout redirect URI": "post_logout_redirect_uris",
  "at most 20 post_logout_redirect_uris": "post_logout_redirect_uris",
  "web origin": "web_origins",
  "a web origin": "web_origins",
  "at most 20 web_origins": "web_origins",
};

export function settingsOf(client: Client): Settings {
  return {
    name: client.name,
    redirect_uris: client.redirectUris.join("\n"),
    grant_types: client.grantTypes.join("\n"),
    pkce_required: client.pkceRequired,
    remember_consent: client.rememberConsent,
    access_token_ttl: String(client.accessTokenTtl),
    refresh_token_ttl: String(client.refreshTokenTtl),
    post_logout_redirect_uris: client.postLogoutRedirectUris.join("\n"),
    backchannel_logout_uri: client.backchannelLogoutUri,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    web_origins: client.webOrigins.join("\n"),
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests,
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    jwks: client.jwks,
    jwks_uri: client.jwksUri,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens,
    security_profile: client.securityProfile,
  };
}

/**
 * A lifetime as typed: empty is 0 (the core's "default" at creation), a
 * whole number is itself, anything else is sent as -1, which the core
 * refuses with its own message of the allowed range.
 */
export function seconds(text: string): bigint {
  if (text.trim() === "") return 0n;
  const value = Number(text);
  return Number.isSafeInteger(value) ? BigInt(value) : -1n;
}

/** The request fields of the settings (CreateClientRequest and UpdateClientRequest name them alike). */
export function settingsRequest(v: Settings) {
  return {
    name: v.name,
    redirectUris: lines(v.redirect_uris),
    grantTypes: lines(v.grant_types),
    pkceRequired: v.pkce_required,
    rememberConsent: v.remember_consent,
    accessTokenTtl: seconds(v.access_token_ttl),
    refreshTokenTtl: seconds(v.refresh_token_ttl),
    postLogoutRedirectUris: lines(v.post_logout_redirect_uris),
    backchannelLogoutUri: v.backchannel_logout_uri.trim(),
    idTokenSignedResponseAlg: v.id_token_signed_response_alg,
    webOrigins: lines(v.web_origins),
    requirePushedAuthorizationRequests: v.require_pushed_authorization_requests,
    tokenEndpointAuthMethod: v.token_endpoint_auth_method,
    jwks: v.jwks.trim(),
    jwksUri: v.jwks_uri.trim(),
    dpopBoundAccessTokens: v.dpop_bound_access_tokens,
    securityProfile: v.security_profile,
  };
}

/** The update mask of an edit: exactly the fields whose value differs from the client's. */
export function changedPaths(v: Settings, was: Settings): (keyof Settings)[] {
  const now = settingsRequest(v);
  const before = settingsRequest(was);
  const same = (a: unknown, b: unknown) => (Array.isArray(a) && Array.isArray(b) ? a.join("\n") === b.join("\n") : a === b);
  const fields: [keyof Settings, keyof typeof now][] = [
    ["name", "name"],
    ["redirect_uris", "redirectUris"],
    ["grant_types", "grantTypes"],
    ["pkce_required", "pkceRequired"],
    ["remember_consent", "rememberConsent"],
    ["access_token_ttl", "accessTokenTtl"],
    ["refresh_token_ttl", "refreshTokenTtl"],
    ["post_logout_redirect_uris", "postLogoutRedirectUris"],
    ["backchannel_logout_uri", "backchannelLogoutUri"],
    ["id_token_signed_response_alg", "idTokenSignedResponseAlg"],
    ["web_origins", "webOrigins"],
    ["require_pushed_authorization_requests", "requirePushedAuthorizationRequests"],
    ["token_endpoint_auth_method", "tokenEndpointAuthMethod"],
    ["jwks", "jwks"],
    ["jwks_uri", "jwksUri"],
    ["dpop_bound_access_tokens", "dpopBoundAccessTokens"],
    ["security_profile", "securityProfile"],
  ];
  return fields.filter(([, request]) => !same(now[request], before[request])).map(([path]) => path);
}

/**
 * The grant types as a group of checkboxes. The field's value is the checked
 * ones, one a line, so that a draft keeps them; the core's refusal naming
 * grant types is shown under the group, and the group takes the focus.
 */
function GrantTypesField<V extends Settings>({ form }: { form: Form<V> }) {
  const id = `${form.key}-grant_types`;
  const chosen = lines(form.values.grant_types);
  const error = form.errors.grant_types;
  const toggle = (grant: string, on: boolean) => {
    const offered: readonly string[] = GRANT_TYPES.map(([g]) => g);
    // A grant the form does not offer (token exchange, set with its policy in its own section) stays as it was.
    const next = [...offered.filter((g) => (g === grant ? on : chosen.includes(g))), ...chosen.filter((g) => !offered.includes(g))];
    form.set("grant_types", next.join("\n") as V["grant_types"]);
  };
  return (
    <fieldset class="field checks" id={id} tabIndex={-1} aria-describedby={error === undefined ? `${id}-hint` : `${id}-hint ${id}-error`}>
      <legend>Grant types</legend>
      <p class="hint" id={`${id}-hint`}>
        How the client may obtain tokens.
      </p>
      {GRANT_TYPES.map(([grant, label]) => (
        <div class="field check" key={grant}>
          <input
            type="checkbox"
            id={`${id}-${grant}`}
            name="grant_types"
            value={grant}
            checked={chosen.includes(grant)}
            aria-invalid={error === undefined ? undefined : "true"}
            onChange={(e) => toggle(grant, (e.currentTarget as HTMLInputElement).checked)}
          />
          <label for={`${id}-${grant}`}>
            <code>{grant}</code>: {label}
          </label>
        </div>
      ))}
      {error === undefined ? null : (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </fieldset>
  );
}

/** How a confidential client authenticates, its keys for private_key_jwt, and its security profile. */
function AuthenticationFields<V extends Settings>({ form }: { form: Form<V> }) {
  return (
    <>
      <SelectField
        form={form}
        name="token_endpoint_auth_method"
        label="Client authentication"
        hint="The one way the client proves itself at the token, PAR, introspection and revocation endpoints."
        options={[
          ["", "A secret, by Basic or in the body"],
          ["client_secret_basic", "A secret, by HTTP Basic only"],
          ["client_secret_post", "A secret, in the body only"],
          ["private_key_jwt", "A JWT signed with its private key (private_key_jwt)"],
        ]}
      />
      <ListField
        form={form}
        name="jwks"
        label="Public keys (JWK Set)"
        rows={4}
        hint='For private_key_jwt: the client’s public keys as JSON, {"keys": [...]}; or leave empty and give a JWK Set URL.'
      />
      <TextField form={form} name="jwks_uri" type="url" label="JWK Set URL" hint="For private_key_jwt: where iam-core fetches the client's public keys (https)." />
      <SelectField
        form={form}
        name="security_profile"
        label="Security profile"
        hint="FAPI 2.0 holds the client to pushed requests, PKCE S256, private_key_jwt, DPoP and 60-second codes."
        options={[
          ["", "None"],
          ["fapi2", "FAPI 2.0 Security Profile"],
        ]}
      />
    </>
  );
}

/** Every setting of a client an administrator sets, for a new client and an existing one. */
export function SettingsFields<V extends Settings>({ form, isPublic }: { form: Form<V>; isPublic: boolean }) {
  return (
    <>
      <TextField form={form} name="name" label="Display name" hint="Shown to people on the sign-in and consent pages; empty for the id." />
      <ListField
        form={form}
        name="redirect_uris"
        label="Redirect URIs"
        rows={3}
        hint="One a line, matched exactly: https, http on a loopback host, or a private-use scheme such as com.example.app:/cb."
      />
      <GrantTypesField form={form} />
      {isPublic ? (
        <p class="hint">A public client always uses PKCE.</p>
      ) : (
        <CheckField form={form} name="pkce_required" label="PKCE required" hint="Authorization requests must carry a code challenge (RFC 7636)." />
      )}
      <TextField form={form} name="access_token_ttl" type="number" label="Access token lifetime (seconds)" hint="60 to 86400; empty for 600." />
      <TextField form={form} name="refresh_token_ttl" type="number" label="Refresh token lifetime (seconds)" hint="60 to 31536000; empty for 2592000 (30 days)." />
      <CheckField
        form={form}
        name="require_pushed_authorization_requests"
        label="Require pushed authorization requests"
        hint="The client must push each authorization request to the project's /par endpoint first and send only its request_uri (RFC 9126); any other request is refused."
      />
      {isPublic ? null : <AuthenticationFields form={form} />}
      <CheckField
        form={form}
        name="dpop_bound_access_tokens"
        label="Require DPoP"
        hint="Every token request must carry a DPoP proof, so each access token is bound to the client's key (RFC 9449)."
      />
      <CheckField
        form={form}
        name="remember_consent"
        label="Remember consent"
        hint="A person who approved scopes for this client is not asked again for the same or fewer."
      />
      <ListField
        form={form}
        name="post_logout_redirect_uris"
        label="Post-logout redirect URIs"
        rows={2}
        hint="One a line: where a logout may send the browser back to, under the rules of redirect URIs."
      />
      <TextField
        form={form}
        name="backchannel_logout_uri"
        type="url"
        label="Back-channel logout URI"
        hint="Where logout tokens are posted when a session ends; empty for none."
      />
      <SelectField
        form={form}
        name="id_token_signed_response_alg"
        label="ID token algorithm"
        options={[
          ["RS256", "RS256"],
          ["ES256", "ES256"],
        ]}
      />
      <ListField
        form={form}
        name="web_origins"
        label="Web origins"
        rows={2}
        hint="One a line, scheme://host[:port]: pages that may call the token endpoint from the browser (CORS)."
      />
    </>
  );
}
