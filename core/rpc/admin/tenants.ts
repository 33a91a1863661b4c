import { Code, ConnectError } from "@connectrpc/connect";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import { DEFAULT_TENANT, seedProjectAdministration } from "./default-tenant.js";
import { issuerOf, type Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { SIGNING_ALGS } from "../../tokens/keys.js";
import type { ProjectRef } from "../../store/types.js";
import { found, maskOf, toOrganization, toProject, type Out } from "./convert.js";
import { pageOf, paginate } from "./pagination.js";
import { checkId, checkSigningAlg, checkText, invalid } from "./validate.js";

const protectedOrganization = (id: string) => {
  if (id === DEFAULT_TENANT.organization) {
    throw new ConnectError("the iam-admins organization holds global administration and cannot be deleted", Code.FailedPrecondition);
  }
};

export async function createOrganization(deps: Deps, r: pb.CreateOrganizationRequest): Out<typeof pb.CreateOrganizationResponseSchema> {
  const id = checkId("organization", "id", r.id);
  const record = { id, name: checkText("name", r.name) || id, createdAt: epochSeconds(deps.clock) };
  await deps.store.createOrganization(record);
  return { organization: toOrganization(record) };
}

export async function getOrganization(deps: Deps, r: pb.GetOrganizationRequest): Out<typeof pb.GetOrganizationResponseSchema> {
  return { organization: toOrganization(found(await deps.store.getOrganization(r.id), `organization ${r.id}`)) };
}

export async function listOrganizations(deps: Deps, r: pb.ListOrganizationsRequest): Out<typeof pb.ListOrganizationsResponseSchema> {
  const page = pageOf(r);
  const { items, nextPageToken } = paginate(await deps.store.listOrganizations(page), page, (o) => o.id);
  return { organizations: items.map(toOrganization), nextPageToken };
}

export async function updateOrganization(deps: Deps, r: pb.UpdateOrganizationRequest): Out<typeof pb.UpdateOrganizationResponseSchema> {
  const name = checkText("name", r.name);
  if (name === "") throw invalid("name must not be empty");
  if (!(await deps.store.updateOrganization(r.id, { name }))) found(undefined, `organization ${r.id}`);
  return { organization: toOrganization(found(await deps.store.getOrganization(r.id), `organization ${r.id}`)) };
}

export async function deleteOrganization(deps: Deps, r: pb.DeleteOrganizationRequest): Out<typeof pb.DeleteOrganizationResponseSchema> {
  protectedOrganization(r.id);
  const projects = await deps.store.listProjects(r.id, { after: "", limit: 1_000_000 });
  if (!(await deps.store.deleteOrganization(r.id))) found(undefined, `organization ${r.id}`);
  for (const project of projects) deps.keys.forget(project);
  return {};
}

export async function createProject(deps: Deps, r: pb.CreateProjectRequest): Out<typeof pb.CreateProjectResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: checkId("project", "id", r.id) };
  found(await deps.store.getOrganization(r.organization), `organization ${r.organization}`);
  const record = {
    ...ref,
    name: checkText("name", r.name) || ref.project,
    audience: checkAudience(deps, ref, r.audience),
    // Access tokens stay ES256 unless the project says otherwise.
    accessTokenSigningAlg: checkSigningAlg("access_token_signing_alg", r.accessTokenSigningAlg, "ES256"),
    createdAt: epochSeconds(deps.clock),
  };
  // Made before the transaction, which every writer waits for on SQLite.
  const keys = await deps.keys.make(ref);
  await deps.store.transaction(async (store) => {
    await store.createProject(record);
    await deps.keys.create(ref, store, keys);
    await seedProjectAdministration(store, ref);
  });
  return { project: toProject(deps.config.baseUrl, record) };
}

export async function getProject(deps: Deps, r: pb.GetProjectRequest): Out<typeof pb.GetProjectResponseSchema> {
  return { project: toProject(deps.config.baseUrl, found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`)) };
}

export async function listProjects(deps: Deps, r: pb.ListProjectsRequest): Out<typeof pb.ListProjectsResponseSchema> {
  found(await deps.store.getOrganization(r.organization), `organization ${r.organization}`);
  const page = pageOf(r);
  const { items, nextPageToken } = paginate(await deps.store.listProjects(r.organization, page), page, (p) => p.project);
  return { projects: items.map((p) => toProject(deps.config.baseUrl, p)), nextPageToken };
}

export async function updateProject(deps: Deps, r: pb.UpdateProjectRequest): Out<typeof pb.UpdateProjectResponseSchema> {
  const current = found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const paths = maskOf(r.updateMask?.paths, ["name", "audience", "access_token_signing_alg"]);
  const name = paths.has("name") ? checkText("name", r.name) : current.name;
  const audience = paths.has("audience") ? checkAudience(deps, r, r.audience) : current.audience;
  const accessTokenSigningAlg = paths.has("access_token_signing_alg")
    ? checkSigningAlg("access_token_signing_alg", r.accessTokenSigningAlg, "ES256")
    : current.accessTokenSigningAlg;
  if (name === "" || audience === "") throw invalid("name and audience must not be empty");
  await deps.store.updateProject(r, { name, audience, accessTokenSigningAlg });
  return { project: toProject(deps.config.baseUrl, { ...current, name, audience, accessTokenSigningAlg }) };
}

export async function deleteProject(deps: Deps, r: pb.DeleteProjectRequest): Out<typeof pb.DeleteProjectResponseSchema> {
  if (r.organization === DEFAULT_TENANT.organization && r.project === DEFAULT_TENANT.project) {
    throw new ConnectError("the iam-admins project holds global administration and cannot be deleted", Code.FailedPrecondition);
  }
  if (!(await deps.store.deleteProject(r))) found(undefined, `project ${r.organization}/${r.project}`);
  deps.keys.forget(r);
  return {};
}


/**
 * A project's audience: any text up to 2048 characters (empty means its
 * issuer), but never the issuer of another project, present or future, so
 * that no project can squat the default audience of one not created yet.
 */
function checkAudience(deps: Deps, ref: ProjectRef, audience: string): string {
  const own = issuerOf(deps.config.baseUrl, ref);
  const value = checkText("audience", audience, 2048) || own;
  if (value !== own && value.startsWith(`${deps.config.baseUrl}/services/oauth2/`)) {
    throw invalid("audience must not be the issuer of another project");
  }
  return value;
}

/**
 * Keys of one algorithm a project may have verifying at once: rotation (which
 * makes a key of each) is refused beyond, until retired keys expire.
 */
const MAX_LIVE_KEYS = 10;

export async function rotateSigningKey(deps: Deps, r: pb.RotateSigningKeyRequest): Out<typeof pb.RotateSigningKeyResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const keys = (await deps.keys.jwks(r)) ?? [];
  const live = Math.max(0, ...SIGNING_ALGS.map((alg) => keys.filter((k) => k.alg === alg).length));
  if (live >= MAX_LIVE_KEYS) {
    throw new ConnectError(
      `the project already has ${live} keys of one algorithm verifying tokens; rotate again once retired keys have expired`,
      Code.FailedPrecondition,
    );
  }
  // Made before the transaction, which every writer waits for on SQLite.
  const made = await deps.keys.make(r);
  const rotated = await deps.store.transaction((store) => deps.keys.rotate(r, store, made));
  return {
    kid: rotated.kid,
    retiredKid: rotated.retired[0] ?? "",
    retiredKeyExpiresAt: BigInt(rotated.retiredUntil),
    kids: SIGNING_ALGS.map((alg) => rotated.kids[alg]),
    retiredKids: rotated.retired,
  };
}
