import { Code, ConnectError } from "@connectrpc/connect";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import { DEFAULT_TENANT, seedProjectAdministration } from "./default-tenant.js";
import { issuerOf, type Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { SIGNING_ALGS } from "../../tokens/keys.js";
import { CLIENT_REGISTRATION_MODES, type AuditChange, type AuditParty, type ClientRegistrationMode, type OrganizationRecord, type ProjectRecord, type ProjectRef, type SigningAlg } from "../../store/types.js";
import { audited, party, projectName, SERVER_CHAIN } from "../../audit/record.js";
import { created, deleted, updated, type Fields } from "../../audit/changes.js";
import { found, maskOf, toOrganization, toProject, type Out } from "./convert.js";
import { pageOf, paginate } from "./pagination.js";
import { checkId, checkSigningAlg, checkText, invalid } from "./validate.js";

const protectedOrganization = (id: string) => {
  if (id === DEFAULT_TENANT.organization) {
    throw new ConnectError("the iam-admins organization holds global administration and cannot be deleted", Code.FailedPrecondition);
  }
};

/** An organization's and a project's fields, as the audit trail records them (Organization, Project of admin.proto). */
const organizationFields = (o: OrganizationRecord): Fields => ({ id: o.id, name: o.name, created_at: o.createdAt });
const projectFields = (deps: Deps, p: ProjectRecord): Fields => ({
  organization: p.organization,
  id: p.project,
  name: p.name,
  audience: p.audience,
  issuer: issuerOf(deps.config.baseUrl, p),
  access_token_signing_alg: p.accessTokenSigningAlg,
  require_pushed_authorization_requests: p.requirePushedAuthorizationRequests,
  client_registration: p.clientRegistration,
  client_id_metadata_documents: p.clientIdMetadataDocuments === true,
  created_at: p.createdAt,
});

const organizationTarget = (id: string) => party("organization", id);
const projectTarget = (ref: ProjectRef) => party("project", projectName(ref));

export async function createOrganization(deps: Deps, r: pb.CreateOrganizationRequest, actor: AuditParty): Out<typeof pb.CreateOrganizationResponseSchema> {
  const id = checkId("organization", "id", r.id);
  const record = { id, name: checkText("name", r.name) || id, createdAt: epochSeconds(deps.clock) };
  await audited(
    deps,
    (store) => store.createOrganization(record),
    () => ({ chain: SERVER_CHAIN, action: "ORGANIZATION_CREATED", actor, target: organizationTarget(id), changes: created(organizationFields(record)) }),
  );
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

export async function updateOrganization(deps: Deps, r: pb.UpdateOrganizationRequest, actor: AuditParty): Out<typeof pb.UpdateOrganizationResponseSchema> {
  const name = checkText("name", r.name);
  if (name === "") throw invalid("name must not be empty");
  const { before, after } = await audited(
    deps,
    async (store) => {
      const before = found(await store.getOrganization(r.id), `organization ${r.id}`);
      await store.updateOrganization(r.id, { name });
      return { before, after: found(await store.getOrganization(r.id), `organization ${r.id}`) };
    },
    ({ before, after }) => ({
      chain: SERVER_CHAIN,
      action: "ORGANIZATION_UPDATED",
      actor,
      target: organizationTarget(r.id),
      changes: updated(organizationFields(before), organizationFields(after)),
    }),
  );
  return { organization: toOrganization(after) };
}

export async function deleteOrganization(deps: Deps, r: pb.DeleteOrganizationRequest, actor: AuditParty): Out<typeof pb.DeleteOrganizationResponseSchema> {
  protectedOrganization(r.id);
  const { projects } = await audited(
    deps,
    async (store) => {
      const organization = found(await store.getOrganization(r.id), `organization ${r.id}`);
      const projects = await store.listProjects(r.id, { after: "", limit: 1_000_000 });
      await store.deleteOrganization(r.id);
      return { organization, projects };
    },
    ({ organization }) => ({
      chain: SERVER_CHAIN,
      action: "ORGANIZATION_DELETED",
      actor,
      target: organizationTarget(r.id),
      changes: deleted(organizationFields(organization)),
    }),
  );
  for (const project of projects) deps.keys.forget(project);
  return {};
}

export async function createProject(deps: Deps, r: pb.CreateProjectRequest, actor: AuditParty): Out<typeof pb.CreateProjectResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: checkId("project", "id", r.id) };
  found(await deps.store.getOrganization(r.organization), `organization ${r.organization}`);
  const record = {
    ...ref,
    name: checkText("name", r.name) || ref.project,
    audience: checkAudience(deps, ref, r.audience),
    // Access tokens stay ES256 unless the project says otherwise.
    accessTokenSigningAlg: checkSigningAlg("access_token_signing_alg", r.accessTokenSigningAlg, "ES256"),
    requirePushedAuthorizationRequests: r.requirePushedAuthorizationRequests,
    // Dynamic Client Registration is off until UpdateProject turns it on.
    clientRegistration: "" as const,
    createdAt: epochSeconds(deps.clock),
  };
  // Made before the transaction, which every writer waits for on SQLite.
  const keys = await deps.keys.make(ref);
  await audited(
    deps,
    async (store) => {
      await store.createProject(record);
      await deps.keys.create(ref, store, keys);
      await seedProjectAdministration(store, ref, deps.config.baseUrl, record.createdAt);
    },
    () => ({ chain: SERVER_CHAIN, action: "PROJECT_CREATED", actor, target: projectTarget(ref), changes: created(projectFields(deps, record)) }),
  );
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

export async function updateProject(deps: Deps, r: pb.UpdateProjectRequest, actor: AuditParty): Out<typeof pb.UpdateProjectResponseSchema> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  const { next } = await audited(
    deps,
    async (store) => {
      // Read inside the transaction: a field the request does not set keeps what the database holds now.
      const current = found(await store.getProject(ref), `project ${r.organization}/${r.project}`);
      const paths = maskOf(r.updateMask?.paths, [
        "name",
        "audience",
        "access_token_signing_alg",
        "require_pushed_authorization_requests",
        "client_registration",
        "client_id_metadata_documents",
      ]);
      const name = paths.has("name") ? checkText("name", r.name) : current.name;
      const audience = paths.has("audience") ? checkAudience(deps, r, r.audience) : current.audience;
      const accessTokenSigningAlg = paths.has("access_token_signing_alg")
        ? checkSigningAlg("access_token_signing_alg", r.accessTokenSigningAlg, "ES256")
        : current.accessTokenSigningAlg;
      const requirePushedAuthorizationRequests = paths.has("require_pushed_authorization_requests")
        ? r.requirePushedAuthorizationRequests
        : current.requirePushedAuthorizationRequests;
      const clientRegistration = paths.has("client_registration") ? checkClientRegistration(r.clientRegistration) : current.clientRegistration;
      const clientIdMetadataDocuments = paths.has("client_id_metadata_documents") ? r.clientIdMetadataDocuments : current.clientIdMetadataDocuments === true;
      if (name === "" || audience === "") throw invalid("name and audience must not be empty");
      const change = { name, audience, accessTokenSigningAlg, requirePushedAuthorizationRequests, clientRegistration, clientIdMetadataDocuments };
      await store.updateProject(ref, change);
      return { current, next: { ...current, ...change } };
    },
    ({ current, next }) => ({
      chain: ref,
      action: "PROJECT_UPDATED",
      actor,
      target: projectTarget(ref),
      changes: updated(projectFields(deps, current), projectFields(deps, next)),
    }),
  );
  return { project: toProject(deps.config.baseUrl, next) };
}

export async function deleteProject(deps: Deps, r: pb.DeleteProjectRequest, actor: AuditParty): Out<typeof pb.DeleteProjectResponseSchema> {
  if (r.organization === DEFAULT_TENANT.organization && r.project === DEFAULT_TENANT.project) {
    throw new ConnectError("the iam-admins project holds global administration and cannot be deleted", Code.FailedPrecondition);
  }
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  await audited(
    deps,
    async (store) => {
      const project = found(await store.getProject(ref), `project ${r.organization}/${r.project}`);
      await store.deleteProject(ref);
      return project;
    },
    (project) => ({ chain: SERVER_CHAIN, action: "PROJECT_DELETED", actor, target: projectTarget(ref), changes: deleted(projectFields(deps, project)) }),
  );
  deps.keys.forget(ref);
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

export async function rotateSigningKey(deps: Deps, r: pb.RotateSigningKeyRequest, actor: AuditParty): Out<typeof pb.RotateSigningKeyResponseSchema> {
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
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  const { rotated } = await audited(
    deps,
    async (store) => {
      const current = (await store.listSigningKeys(ref)).filter((k) => k.retiredAt === null).map((k) => ({ alg: k.alg, kid: k.kid }));
      return { current, rotated: await deps.keys.rotate(ref, store, made, r.retireImmediately) };
    },
    ({ current, rotated }) => ({
      chain: ref,
      action: "SIGNING_KEY_ROTATED",
      actor,
      target: projectTarget(ref),
      changes: [
        ...SIGNING_ALGS.flatMap((alg) => keyChanges(alg, current, rotated.kids[alg])),
        // Which keys a leaked-key rotation stopped at once: what was signed before is refused from here on.
        ...(r.retireImmediately ? [{ field: "retired_immediately", before: "", after: JSON.stringify(rotated.retired) }] : []),
      ],
    }),
  );
  return {
    kid: rotated.kid,
    retiredKid: rotated.retired[0] ?? "",
    retiredKeyExpiresAt: BigInt(rotated.retiredUntil),
    kids: SIGNING_ALGS.map((alg) => rotated.kids[alg]),
    retiredKids: rotated.retired,
  };
}

/**
 * One change per key of `alg` that stopped signing, from its kid to the new
 * one's (`{"alg","kid"}`); a project that had no key of `alg` (a database of
 * an earlier version) gains one from nothing.
 */
function keyChanges(alg: SigningAlg, current: { alg: string; kid: string }[], kid: string): AuditChange[] {
  const after = JSON.stringify({ alg, kid });
  const olds = current.filter((k) => k.alg === alg);
  if (olds.length === 0) return [{ field: "kid", before: "", after }];
  return olds.map((old) => ({ field: "kid", before: JSON.stringify({ alg, kid: old.kid }), after }));
}

/** A project's Dynamic Client Registration setting (RFC 7591): "", `open` or `initial_access_token`. */
function checkClientRegistration(value: string): ClientRegistrationMode {
  if ((CLIENT_REGISTRATION_MODES as readonly string[]).includes(value)) return value as ClientRegistrationMode;
  throw invalid("client_registration must be empty (off), open or initial_access_token");
}
