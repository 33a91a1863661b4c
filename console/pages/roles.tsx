import { useState } from "preact/hooks";
import type { Permission, Role } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import type { Session } from "../auth.js";
import { GLOBAL_ADMIN_SCOPE, isAdminTenant, PROJECT_ADMIN_SCOPE } from "../config.js";
import type { Route } from "../routes.js";
import { ChoiceField, chosenOf } from "../ui/choices.js";
import { ConfirmButton } from "../ui/confirm.js";
import { FormBox, TextField, useForm } from "../ui/form.js";
import { Screen, Section } from "../ui/page.js";
import { PagedTable, usePaged, type Paged } from "../ui/paged.js";
import { announce } from "../ui/status.js";
import { projectCrumbs } from "./project.js";

/**
 * A project's permissions (the scopes its tokens carry, `service.resource.action`)
 * and roles (sets of them). Roles are given to users and clients on their
 * own screens. Project administrators and global ones alike may do all of it.
 */

const PAGE_SIZE = 25;

interface ProjectProps {
  organization: string;
  project: string;
}

/** A project administrator administers their own project only: elsewhere the core refuses everything, so nothing is offered. */
export function administers(session: Session, organization: string, project: string): boolean {
  return session.kind === "global" || (session.tenant.organization === organization && session.tenant.project === project);
}

/** After a row is deleted, its button is gone: the focus goes to the heading of its section rather than to the page's start. */
export function focusHeading(id: string): void {
  requestAnimationFrame(() => {
    const heading = document.getElementById(id);
    if (heading === null) return;
    heading.tabIndex = -1;
    heading.focus();
  });
}

/**
 * When a permission, or a role granting it, is the one administration rests
 * on (global administration in iam-admins, a project's own elsewhere): what
 * deleting it takes away, said in the confirmation, which then asks for the
 * id to be typed.
 */
function administrationLost(organization: string, project: string, permissions: readonly string[]): string | undefined {
  if (isAdminTenant({ organization, project })) {
    return permissions.includes(GLOBAL_ADMIN_SCOPE)
      ? "Global administration rests on it: those who hold it through this lose the administration of every organization from their next token, you too if you are one of them."
      : undefined;
  }
  return permissions.includes(PROJECT_ADMIN_SCOPE)
    ? `The administration of ${organization}/${project} rests on it: its administrators who hold it through this lose it from their next token, you too if you are one of them.`
    : undefined;
}

function AdministrationLost(props: ProjectProps & { permissions: readonly string[] }) {
  const lost = administrationLost(props.organization, props.project, props.permissions);
  return lost === undefined ? null : (
    <p>
      <strong>{lost}</strong>
    </p>
  );
}

function Permissions({ organization, project, permissions, changed }: ProjectProps & { permissions: Paged<Permission>; changed: () => void }) {
  const form = useForm(["create-permission", organization, project], { permission_id: "", description: "" }, { aliases: { permission: "permission_id" } });
  return (
    <Section title="Permissions">
      <PagedTable
        paged={permissions}
        caption={`Permissions of ${project}, by id`}
        columns={["Id", "Description", "Actions"]}
        empty="No permission yet."
        row={(permission: Permission) => (
          <tr key={permission.id}>
            <td>
              <code>{permission.id}</code>
            </td>
            <td>{permission.description}</td>
            <td>
              <ConfirmButton
                label={`Delete ${permission.id}`}
                title={`Delete the permission ${permission.id}?`}
                confirm="Delete permission"
                typeToConfirm={administrationLost(organization, project, [permission.id]) === undefined ? undefined : permission.id}
                action={async () => {
                  await admin.deletePermission({ organization, project, permissionId: permission.id });
                  announce(`Permission ${permission.id} deleted`);
                  changed();
                  focusHeading("section-permissions");
                }}
              >
                <p>
                  Every role that grants <code>{permission.id}</code> loses it, and so do the users and clients holding those roles: access tokens
                  issued or refreshed from now on no longer carry the scope. Tokens already issued keep it until they expire.
                </p>
                <AdministrationLost organization={organization} project={project} permissions={[permission.id]} />
              </ConfirmButton>
            </td>
          </tr>
        )}
      />
      <h3>New permission</h3>
      <FormBox
        form={form}
        label="New permission"
        submit="Create permission"
        onSubmit={form.onSubmit(async (values) => {
          const { permission } = await admin.createPermission({ organization, project, permissionId: values.permission_id, description: values.description });
          announce(`Permission ${permission?.id ?? values.permission_id} created`);
          form.reset();
          changed();
        })}
      >
        <TextField
          form={form}
          name="permission_id"
          label="Id"
          required
          hint="service.resource.action, each part lowercase letters, digits and '-', starting with a letter: the scope clients ask for."
        />
        <TextField form={form} name="description" label="Description" hint="What it allows, shown on the consent page." />
      </FormBox>
    </Section>
  );
}

function Roles({ organization, project, roles, permissionsVersion }: ProjectProps & { roles: Paged<Role>; permissionsVersion: number }) {
  const form = useForm(
    ["create-role", organization, project],
    { role_id: "", description: "", permissions: "" },
    { aliases: { role: "role_id", "unknown permission": "permissions" } },
  );
  return (
    <Section title="Roles">
      <PagedTable
        paged={roles}
        caption={`Roles of ${project}, by id`}
        columns={["Id", "Description", "Permissions", "Actions"]}
        empty="No role yet."
        row={(role: Role) => (
          <tr key={role.id}>
            <td>
              <code>{role.id}</code>
            </td>
            <td>{role.description}</td>
            <td>
              {role.permissions.length === 0 ? (
                <span class="meta">none</span>
              ) : (
                <ul class="tags">
                  {role.permissions.map((p) => (
                    <li key={p}>{p}</li>
                  ))}
                </ul>
              )}
            </td>
            <td>
              <ConfirmButton
                label={`Delete ${role.id}`}
                title={`Delete the role ${role.id}?`}
                confirm="Delete role"
                typeToConfirm={administrationLost(organization, project, role.permissions) === undefined ? undefined : role.id}
                action={async () => {
                  await admin.deleteRole({ organization, project, roleId: role.id });
                  announce(`Role ${role.id} deleted`);
                  roles.reload();
                  focusHeading("section-roles");
                }}
              >
                <p>
                  Every user and client holding <code>{role.id}</code> loses it
                  {role.permissions.length === 0 ? "" : `, and with it the permissions it grants them (${role.permissions.join(", ")})`}: access
                  tokens issued or refreshed from now on no longer carry what it gave. Tokens already issued keep it until they expire.
                </p>
                <AdministrationLost organization={organization} project={project} permissions={role.permissions} />
                <p>A role the project's multi-factor policy names cannot be deleted: take it out of the policy first.</p>
              </ConfirmButton>
            </td>
          </tr>
        )}
      />
      <h3>New role</h3>
      <FormBox
        form={form}
        label="New role"
        submit="Create role"
        onSubmit={form.onSubmit(async (values) => {
          const { role } = await admin.createRole({
            organization,
            project,
            roleId: values.role_id,
            description: values.description,
            permissions: chosenOf(values.permissions),
          });
          announce(`Role ${role?.id ?? values.role_id} created`);
          form.reset();
          roles.reload();
        })}
      >
        <TextField form={form} name="role_id" label="Id" required hint="1-128 letters, digits and '-._~'." />
        <TextField form={form} name="description" label="Description" />
        <ChoiceField
          form={form}
          name="permissions"
          label="Permissions"
          hint="What the role grants its holders."
          empty="The project has no permission yet: create one above."
          deps={[organization, project, permissionsVersion]}
          load={async (pageToken) => {
            const page = await admin.listPermissions({ organization, project, pageSize: PAGE_SIZE, pageToken });
            return { items: page.permissions, next: page.nextPageToken };
          }}
        />
      </FormBox>
    </Section>
  );
}

function ProjectRoles({ organization, project }: ProjectProps) {
  // Bumped when a permission is created or deleted: the role form's choices are read again.
  const [permissionsVersion, setPermissionsVersion] = useState(0);
  const permissions = usePaged(
    async (pageToken) => {
      const page = await admin.listPermissions({ organization, project, pageSize: PAGE_SIZE, pageToken });
      return { items: page.permissions, next: page.nextPageToken };
    },
    [organization, project],
  );
  const roles = usePaged(
    async (pageToken) => {
      const page = await admin.listRoles({ organization, project, pageSize: PAGE_SIZE, pageToken });
      return { items: page.roles, next: page.nextPageToken };
    },
    [organization, project],
  );
  return (
    <>
      <p class="meta">
        A permission is a scope of the project's tokens; a role is a set of permissions, given to users and clients on their screens, which then may
        receive those scopes.
      </p>
      <Permissions
        organization={organization}
        project={project}
        permissions={permissions}
        changed={() => {
          // A deleted permission leaves the roles that granted it.
          permissions.reload();
          roles.reload();
          setPermissionsVersion((v) => v + 1);
        }}
      />
      <Roles organization={organization} project={project} roles={roles} permissionsVersion={permissionsVersion} />
    </>
  );
}

function RolesScreen({ organization, project, session }: ProjectProps & { session: Session }) {
  return (
    <Screen title="Roles and permissions" crumbs={projectCrumbs(session, organization, project)}>
      {administers(session, organization, project) ? (
        <ProjectRoles organization={organization} project={project} />
      ) : (
        <p>
          Only the administrators of {organization}/{project} and global administrators manage its roles.
        </p>
      )}
    </Screen>
  );
}

export const ROLE_ROUTES: Route[] = [
  {
    pattern: "/p/:org/:project/roles",
    render: ({ org, project }, session) => <RolesScreen organization={org!} project={project!} session={session} key={`${org}/${project}`} />,
  },
];
