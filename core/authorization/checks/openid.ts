import { verifyIdTokenHint } from "../../tokens/id-token-hint.js";
import { scopesForClaims } from "../../tokens/oidc.js";
import { ACR_VALUES, asksMultiFactor } from "../../factors/levels.js";
import type { AuthorizeCheck, OpenIdParameters, SignInAction } from "../context.js";
import { redirectError } from "../errors.js";

const PROMPTS = new Set(["none", "login", "consent", "select_account"] as const);
type Prompt = OpenIdParameters["prompt"] extends ReadonlySet<infer P> ? P : never;
const DISPLAYS = new Set(["", "page", "popup", "touch", "wap"]);
const ACTIONS = new Set<SignInAction>(["", "add_factor", "new_recovery_codes"]);
const MAX_LENGTH = 2048;
/** An ID token with every claim iam-core releases, in RS256, is well under this; as at the logout endpoint. */
const MAX_HINT_LENGTH = 8192;
const MAX_CLAIMS_LENGTH = 4096;

/**
 * The OpenID Connect parameters of the request (Core §3.1.2.1), validated
 * before anything is stored: `prompt`, `max_age`, `id_token_hint`,
 * `login_hint`, `claims` (§5.5), `display`, `response_mode`, `ui_locales`,
 * `claims_locales`. Locales are accepted and the pages stay in English.
 * What they ask for (a new sign-in, a consent, no interaction at all) is
 * acted on once the request is known to be valid (rpc/authorize.ts).
 */
export const checkOpenIdParameters: AuthorizeCheck = async (ctx) => {
  const { request } = ctx;
  const target = { redirectUri: ctx.redirectUri!, state: request.state, issuer: ctx.issuer };
  const refuse = (description: string) => redirectError(target, "invalid_request", description);

  for (const [name, value] of [
    ["login_hint", request.loginHint],
    ["ui_locales", request.uiLocales],
    ["claims_locales", request.claimsLocales],
    ["acr_values", request.acrValues],
    ["prompt", request.prompt],
  ] as const) {
    if (value.length > MAX_LENGTH) throw refuse(`${name} is longer than ${MAX_LENGTH} characters`);
  }
  if (request.idTokenHint.length > MAX_HINT_LENGTH) throw refuse(`id_token_hint is longer than ${MAX_HINT_LENGTH} characters`);

  const prompt = new Set<Prompt>();
  for (const value of request.prompt.split(" ").filter((v) => v !== "")) {
    if (!PROMPTS.has(value as Prompt)) throw refuse(`prompt value "${value.slice(0, 40)}" is not supported`);
    prompt.add(value as Prompt);
  }
  // §3.1.2.1: "If this parameter contains none with any other value, an error is returned."
  if (prompt.has("none") && prompt.size > 1) throw refuse("prompt=none cannot be combined with other values");

  let maxAge: number | undefined;
  if (request.maxAge !== "") {
    if (!/^\d{1,9}$/.test(request.maxAge)) throw refuse("max_age must be a whole number of seconds");
    maxAge = Number(request.maxAge);
  }

  if (!DISPLAYS.has(request.display)) throw refuse(`display value "${request.display.slice(0, 40)}" is not supported`);
  if (request.responseMode !== "" && request.responseMode !== "query") {
    throw refuse(`response_mode "${request.responseMode.slice(0, 40)}" is not supported; use query`);
  }

  let hintedUser: string | undefined;
  if (request.idTokenHint !== "") {
    // Expired hints are accepted (§3.1.2.1); a hint this project did not sign is not.
    const hint = await verifyIdTokenHint(ctx.deps, request, request.idTokenHint);
    if (hint === undefined) throw refuse("id_token_hint is not an ID token issued by this project");
    hintedUser = hint.sub;
  }

  const requested = parseClaims(request.claims, refuse);
  // §5.5.1: a specific `sub` asked for is a user the answer must be about.
  const requiredUser = requiredSubject(requested);
  if (requiredUser !== undefined) {
    if (hintedUser !== undefined && hintedUser !== requiredUser) throw refuse("the claims parameter and id_token_hint name different users");
    hintedUser = requiredUser;
  }
  // §5.5.1.1: an essential acr whose values iam-core cannot satisfy is a failed authentication.
  const essentialAcr = essentialAcrValues(requested);
  if (essentialAcr.length > 0 && !essentialAcr.some((v) => ACR_VALUES.includes(v))) {
    throw redirectError(target, "access_denied", `the essential acr requested cannot be satisfied; iam-core offers ${ACR_VALUES.join(", ")}`);
  }
  // A multi-factor sign-in asked for by `acr_values` (voluntary, honoured
  // when it can be) or by an essential acr claim.
  const acrValues = request.acrValues.split(" ").filter((v) => v !== "");
  const mfaRequested = asksMultiFactor(acrValues) || asksMultiFactor(essentialAcr);
  if (!ACTIONS.has(request.iamAction as SignInAction)) throw refuse(`iam_action "${request.iamAction.slice(0, 40)}" is not supported`);
  const action = request.iamAction as SignInAction;
  // A user claim asked for by name is asked for through the scope that
  // releases it, so the consent page shows it (an OpenID request only).
  if (ctx.scopes!.includes("openid")) {
    for (const scope of scopesForClaims(requested)) if (!ctx.scopes!.includes(scope)) ctx.scopes!.push(scope);
  }
  const claims = request.claims === "" ? "" : JSON.stringify(requested);
  ctx.openid = { prompt, maxAge, hintedUser, loginHint: request.loginHint.slice(0, 256), claims, mfaRequested, action };
};

/** The `claims` parameter, validated and normalised: what is kept of it (as JSON) with a request, code and grant. */
export type RequestedClaims = Partial<Record<"userinfo" | "id_token", Record<string, ClaimRequest>>>;

/** The claims a request kept (its normalised JSON, "" for none). */
export function requestedClaims(kept: string): RequestedClaims {
  return kept === "" ? {} : (JSON.parse(kept) as RequestedClaims);
}

/** The user a `claims` parameter's `id_token.sub.value` requires (Core §5.5.1); undefined when none. */
export function requiredSubject(requested: RequestedClaims): string | undefined {
  const value = requested.id_token?.sub?.value;
  return typeof value === "string" ? value : undefined;
}

/** The values of an essential `acr` claim in the `claims` parameter; [] when it asks for none. */
function essentialAcrValues(requested: RequestedClaims): string[] {
  const acr = requested.id_token?.acr;
  if (acr == null || acr.essential !== true) return [];
  return [...(acr.values ?? []), ...(acr.value !== undefined ? [acr.value] : [])].filter((v): v is string => typeof v === "string");
}

type ClaimRequest = { essential?: boolean; value?: unknown; values?: unknown[] } | null;

/**
 * The `claims` parameter (Core §5.5): a JSON object whose `userinfo` and
 * `id_token` members each map claim names to null or to an object with
 * `essential`, `value` or `values`. Other members are ignored, as §5.5
 * allows; anything malformed is refused. Answers it normalised, empty when absent.
 */
export function parseClaims(raw: string, refuse: (description: string) => Error): RequestedClaims {
  if (raw === "") return {};
  if (raw.length > MAX_CLAIMS_LENGTH) throw refuse(`claims is longer than ${MAX_CLAIMS_LENGTH} characters`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw refuse("claims is not valid JSON");
  }
  if (!isObject(parsed)) throw refuse("claims must be a JSON object");
  const normalised: RequestedClaims = {};
  for (const target of ["userinfo", "id_token"] as const) {
    const requested = parsed[target];
    if (requested === undefined) continue;
    if (!isObject(requested)) throw refuse(`claims.${target} must be a JSON object`);
    const claims: Record<string, ClaimRequest> = {};
    for (const [name, spec] of Object.entries(requested)) {
      if (spec === null) {
        claims[name] = null;
        continue;
      }
      if (!isObject(spec)) throw refuse(`claims.${target}.${name.slice(0, 40)} must be null or an object`);
      if (spec.essential !== undefined && typeof spec.essential !== "boolean") {
        throw refuse(`claims.${target}.${name.slice(0, 40)}.essential must be true or false`);
      }
      if (spec.values !== undefined && !Array.isArray(spec.values)) {
        throw refuse(`claims.${target}.${name.slice(0, 40)}.values must be an array`);
      }
      claims[name] = {
        ...(spec.essential !== undefined ? { essential: spec.essential } : {}),
        ...(spec.value !== undefined ? { value: spec.value } : {}),
        ...(spec.values !== undefined ? { values: spec.values as unknown[] } : {}),
      };
    }
    normalised[target] = claims;
  }
  return normalised;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
