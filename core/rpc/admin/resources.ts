/** The AdminService's protected resources (RFC 8707): the APIs a project's clients ask tokens for by URI. */
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import type { AuditParty, ProjectRef, ResourceRecord } from "../../store/types.js";
import { audited, party } from "../../audit/record.js";
import { created, deleted, updated, type Fields } from "../../audit/changes.js";
import { epochSeconds } from "../../lib/clock.js";
import { resourceUriProblem } from "../../lib/resource-uri.js";
import { found, maskOf, notFound, toResource, type Out } from "./convert.js";
import { pageOf, paginate, URI_KEY } from "./pagination.js";
import { checkText, invalid } from "./validate.js";

/** A resource's fields as the audit trail records them. */
const resourceFields = (r: ResourceRecord): Fields => ({ uri: r.uri, name: r.name, scopes: r.scopes });

/** The most scopes one resource lists. */
const MAX_SCOPES = 100;

function checkUri(deps: Deps, uri: string): string {
  const problem = resourceUriProblem(uri);
  if (problem !== undefined) throw invalid(`uri ${JSON.stringify(uri.slice(0, 200))} cannot name a resource: ${problem}`);
  // iam-core's own endpoints are no resource: a token for one would pass for an issuer's.
  if (uri.startsWith(`${deps.config.baseUrl}/`) || uri === deps.config.baseUrl) throw invalid("uri must not be one of iam-core's own URLs");
  return uri;
}

/** At least one scope, none repeated, each a permission of the project. */
async function checkScopes(deps: Deps, ref: ProjectRef, scopes: readonly string[]): Promise<string[]> {
  const unique = [...new Set(scopes)];
  if (unique.length === 0) throw invalid("a resource needs at least one scope");
  if (unique.length > MAX_SCOPES) throw invalid(`a resource lists at most ${MAX_SCOPES} scopes`);
  const known = new Set((await deps.store.getPermissions(ref, unique)).map((p) => p.id));
  const unknown = unique.filter((s) => !known.has(s));
  if (unknown.length > 0) throw invalid(`unknown permission ${unknown[0]}: a resource's scopes are permissions of its project`);
  return unique.sort();
}

const projectOf = async (deps: Deps, ref: ProjectRef) => found(await deps.store.getProject(ref), `project ${ref.organization}/${ref.project}`);

export async function createResource(deps: Deps, r: pb.CreateResourceRequest, actor: AuditParty): Out<typeof pb.CreateResourceResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  await projectOf(deps, ref);
  const record: ResourceRecord = {
    ...ref,
    uri: checkUri(deps, r.uri),
    name: checkText("name", r.name, 200),
    scopes: await checkScopes(deps, ref, r.scopes),
    createdAt: epochSeconds(deps.clock),
  };
  await audited(
    deps,
    (store) => store.createResource(record),
    () => ({ chain: ref, action: "RESOURCE_CREATED", actor, target: party("resource", record.uri), changes: created(resourceFields(record)) }),
  );
  return { resource: toResource(record) };
}

export async function getResource(deps: Deps, r: pb.GetResourceRequest): Out<typeof pb.GetResourceResponseSchema> {
  await projectOf(deps, r);
  return { resource: toResource(found(await deps.store.getResource(r, r.uri), `resource ${r.uri} in ${r.organization}/${r.project}`)) };
}

export async function listResources(deps: Deps, r: pb.ListResourcesRequest): Out<typeof pb.ListResourcesResponseSchema> {
  await projectOf(deps, r);
  const page = pageOf(r, URI_KEY);
  const { items, nextPageToken } = paginate(await deps.store.listResources(r, page), page, (x) => x.uri);
  return { resources: items.map(toResource), nextPageToken };
}

export async function updateResource(deps: Deps, r: pb.UpdateResourceRequest, actor: AuditParty): Out<typeof pb.UpdateResourceResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  const paths = maskOf(r.updateMask?.paths, ["name", "scopes"]);
  const scopes = paths.has("scopes") ? await checkScopes(deps, ref, r.scopes) : undefined;
  const { next } = await audited(
    deps,
    async (store) => {
      const current = found(await store.getResource(ref, r.uri), `resource ${r.uri} in ${r.organization}/${r.project}`);
      const next: ResourceRecord = { ...current, name: paths.has("name") ? checkText("name", r.name, 200) : current.name, scopes: scopes ?? current.scopes };
      await store.updateResource(next);
      return { current, next };
    },
    ({ current, next }) => ({
      chain: ref,
      action: "RESOURCE_UPDATED",
      actor,
      target: party("resource", r.uri),
      changes: updated(resourceFields(current), resourceFields(next)),
    }),
  );
  return { resource: toResource(next) };
}

export async function deleteResource(deps: Deps, r: pb.DeleteResourceRequest, actor: AuditParty): Out<typeof pb.DeleteResourceResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  await audited(
    deps,
    async (store) => {
      const resource = await store.getResource(ref, r.uri);
      if (resource === undefined) throw notFound(`resource ${r.uri} in ${r.organization}/${r.project}`);
      await store.deleteResource(ref, r.uri);
      return resource;
    },
    (resource) => ({ chain: ref, action: "RESOURCE_DELETED", actor, target: party("resource", resource.uri), changes: deleted(resourceFields(resource)) }),
  );
  return {};
}
