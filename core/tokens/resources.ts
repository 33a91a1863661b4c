/**
 * Resource indicators (RFC 8707): the protected resources a client names
 * with `resource`, what they allow, and the audience of the tokens for them.
 * The authorization request, the pushed request and every grant of the
 * token endpoint read them here, so that one rule decides everywhere.
 */
import { OAuthError } from "../errors.js";
import { resourceUriProblem } from "../lib/resource-uri.js";
import type { ProjectRecord, ProjectRef, ResourceRecord, Store } from "../store/types.js";
import type { AccessToken } from "./access-token.js";
import { isOidcScope } from "./oidc.js";

/** More resources than this in one request are refused: no client needs them, and each is a look-up. */
export const MAX_RESOURCES = 16;

const invalidTarget = (description: string, detail?: string) =>
  new OAuthError("invalid_target", description, detail === undefined ? {} : { detail });

/**
 * The registered resources `uris` name, in order, each once. RFC 8707 §2: a
 * value must be an absolute URI without a fragment (iam-core also refuses
 * user info, a query and non-canonical spellings: core/lib/resource-uri.ts),
 * and the authorization server must know it: one that is not a resource of
 * the project is `invalid_target`. The refusal names the URI only when it
 * is well formed, never free text a client chose.
 */
export async function registeredResources(store: Pick<Store, "getResource">, ref: ProjectRef, uris: readonly string[]): Promise<ResourceRecord[]> {
  const distinct = [...new Set(uris)];
  if (distinct.length > MAX_RESOURCES) throw invalidTarget(`at most ${MAX_RESOURCES} resources may be named`);
  const found: ResourceRecord[] = [];
  for (const uri of distinct) {
    const problem = resourceUriProblem(uri);
    if (problem !== undefined) throw invalidTarget(`a resource is not a valid resource URI: ${problem}`);
    const resource = await store.getResource(ref, uri);
    if (resource === undefined) throw invalidTarget(`${uri} is not a resource of this project`);
    found.push(resource);
  }
  return found;
}

/**
 * The scopes of `scopes` that a token for `resources` may carry: those some
 * of the resources list (RFC 8707 §2.2: the token is "restricted to the
 * intersection of the requested resources' policies", here the union of
 * their scopes, since one token serves them all), and the OpenID Connect
 * scopes, which concern iam-core's own endpoints and the ID token. No
 * resources: the project's audience, every scope.
 */
export function scopesForResources(scopes: readonly string[], resources: readonly ResourceRecord[]): string[] {
  if (resources.length === 0) return [...scopes];
  const accepted = new Set(resources.flatMap((r) => r.scopes));
  return scopes.filter((scope) => accepted.has(scope) || isOidcScope(scope));
}

/**
 * The `aud` of an access token for `resources` (RFC 9068 §3: "the aud claim
 * SHOULD have the same value as the resource parameter in the request"): the
 * URI itself for one resource, an array of them for several (RFC 7519
 * §4.1.3 allows both); without resources, the project's audience, as before.
 */
export function audienceOf(project: Pick<ProjectRecord, "audience">, resources: readonly string[]): string | string[] {
  if (resources.length === 0) return project.audience;
  return resources.length === 1 ? resources[0]! : [...resources];
}

/**
 * RFC 8707 §2.2, at the token endpoint: the resources a new access token is
 * for and its scopes. `named` are the request's `resource` values; `granted`
 * those of the grant. Named ones must be among the grant's (a narrower
 * resource), or, for a grant made for the project's audience (none),
 * registered resources of the project. None named: the grant's whole set.
 * The scopes are narrowed to what the chosen resources accept.
 */
export async function accessTarget(
  store: Pick<Store, "getResource">,
  project: ProjectRef,
  named: readonly string[],
  granted: readonly string[],
  scopes: readonly string[],
): Promise<{ resources: string[]; scopes: string[] }> {
  const outside = granted.length === 0 ? undefined : named.find((uri) => !granted.includes(uri));
  if (outside !== undefined) throw invalidTarget("a resource is not one the grant was made for", "resource outside the grant");
  const chosen = named.length > 0 ? [...new Set(named)] : [...granted];
  // A resource of the grant deleted since is not a target any more: its URI would be an audience nobody registered.
  const records = await registeredResources(store, project, chosen);
  return { resources: chosen, scopes: scopesForResources(scopes, records) };
}

/**
 * RFC 9068 §4: whether an access token names `audience`, the identifier of
 * whoever checks it. "" stands for the project's own audience, that of a
 * resource server of the project as a whole and of iam-core's UserInfo: a
 * token issued for a registered resource (RFC 8707) is not meant for them.
 */
export async function namesAudience(store: Pick<Store, "getProject">, token: Pick<AccessToken, "ref" | "audience">, audience: string): Promise<boolean> {
  const required = audience !== "" ? audience : (await store.getProject(token.ref))?.audience;
  return required !== undefined && token.audience.includes(required);
}
