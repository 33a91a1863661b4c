import { useEffect, useState } from "preact/hooks";
import type { Organization, Project } from "../../gen/iam/v1/admin_pb.js";
import { admin, messageOf } from "../api.js";
import type { Route } from "../routes.js";
import { navigate, pathOf } from "../router.js";
import { ConfirmButton } from "../ui/confirm.js";
import { FormBox, SelectField, TextField, useForm } from "../ui/form.js";
import { Link, Screen, Section, Time } from "../ui/page.js";
import { PagedTable, usePaged } from "../ui/paged.js";
import { announce } from "../ui/status.js";

/** Organizations and their projects: global administrators only (the core refuses anyone else). */

const PAGE_SIZE = 25;

function Organizations() {
  const paged = usePaged(
    async (pageToken) => {
      const page = await admin.listOrganizations({ pageSize: PAGE_SIZE, pageToken });
      return { items: page.organizations, next: page.nextPageToken };
    },
    [],
  );
  const form = useForm(["create-organization"], { id: "", name: "" });
  return (
    <Screen title="Organizations">
      <PagedTable
        paged={paged}
        caption="Organizations, by id"
        columns={["Id", "Name", "Created"]}
        empty="No organization yet."
        row={(org: Organization) => (
          <tr key={org.id}>
            <td>
              <Link to={pathOf("organizations", org.id)}>{org.id}</Link>
            </td>
            <td>{org.name}</td>
            <td>
              <Time seconds={org.createdAt} />
            </td>
          </tr>
        )}
      />
      <Section title="New organization">
        <FormBox
          form={form}
          submit="Create organization"
          onSubmit={form.onSubmit(async (values) => {
            const { organization } = await admin.createOrganization({ id: values.id, name: values.name });
            announce(`Organization ${organization?.id ?? values.id} created`);
            form.reset();
            navigate(pathOf("organizations", values.id));
          })}
        >
          <TextField form={form} name="id" label="Id" required hint="1-63 lowercase letters, digits and '-'; it is in the URLs of its projects and cannot change." />
          <TextField form={form} name="name" label="Display name" />
        </FormBox>
      </Section>
    </Screen>
  );
}

function OrganizationScreen({ id }: { id: string }) {
  const [org, setOrg] = useState<Organization>();
  const [error, setError] = useState<string>();
  const rename = useForm(["rename-organization", id], { name: "" });
  const create = useForm(["create-project", id], { id: "", name: "", audience: "", access_token_signing_alg: "" });
  const projects = usePaged(
    async (pageToken) => {
      const page = await admin.listProjects({ organization: id, pageSize: PAGE_SIZE, pageToken });
      return { items: page.projects, next: page.nextPageToken };
    },
    [id],
  );
  useEffect(() => {
    admin.getOrganization({ id }).then(
      ({ organization }) => {
        setOrg(organization);
        if (rename.values.name === "") rename.reset({ name: organization?.name ?? "" });
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [id]);
  if (error !== undefined) {
    return (
      <Screen title={`Organization ${id}`} crumbs={[["/organizations", "Organizations"]]}>
        <p class="form-error" role="alert">
          {error}
        </p>
      </Screen>
    );
  }
  return (
    <Screen
      title={`Organization ${id}`}
      crumbs={[["/organizations", "Organizations"]]}
      actions={
        <ConfirmButton
          label="Delete organization"
          title={`Delete the organization ${id}?`}
          typeToConfirm={id}
          confirm="Delete organization"
          action={async () => {
            await admin.deleteOrganization({ id });
            announce(`Organization ${id} deleted`);
            navigate("/organizations");
          }}
        >
          <p>
            Every project of <strong>{id}</strong> goes with it: their clients, users, roles, keys and sign-in sessions. Every token they issued stops
            verifying. This cannot be undone.
          </p>
          {projects.items.length === 0 ? null : (
            <p>
              Projects: {projects.items.map((p) => p.id).join(", ")}
              {projects.hasNext ? " and more" : ""}.
            </p>
          )}
        </ConfirmButton>
      }
    >
      {org === undefined ? null : (
        <p class="meta">
          Created <Time seconds={org.createdAt} />
        </p>
      )}
      <Section title="Name">
        <FormBox
          form={rename}
          submit="Rename"
          onSubmit={rename.onSubmit(async (values) => {
            const { organization } = await admin.updateOrganization({ id, name: values.name });
            setOrg(organization);
            announce(`Organization ${id} renamed`);
          })}
        >
          <TextField form={rename} name="name" label="Display name" />
        </FormBox>
      </Section>
      <Section title="Projects">
        <PagedTable
          paged={projects}
          caption={`Projects of ${id}`}
          columns={["Id", "Name", "Audience", "Issuer"]}
          empty="No project yet."
          row={(project: Project) => (
            <tr key={project.id}>
              <td>
                <Link to={pathOf("p", id, project.id)}>{project.id}</Link>
              </td>
              <td>{project.name}</td>
              <td>{project.audience}</td>
              <td>
                <code>{project.issuer}</code>
              </td>
            </tr>
          )}
        />
      </Section>
      <Section title="New project">
        <FormBox
          form={create}
          submit="Create project"
          onSubmit={create.onSubmit(async (values) => {
            await admin.createProject({
              organization: id,
              id: values.id,
              name: values.name,
              audience: values.audience,
              accessTokenSigningAlg: values.access_token_signing_alg,
            });
            announce(`Project ${values.id} created`);
            create.reset();
            navigate(pathOf("p", id, values.id));
          })}
        >
          <TextField form={create} name="id" label="Id" required hint="1-63 lowercase letters, digits and '-'; part of the issuer URL." />
          <TextField form={create} name="name" label="Display name" />
          <TextField form={create} name="audience" label="Audience" hint="The aud of its access tokens; empty for the project's issuer." />
          <SelectField
            form={create}
            name="access_token_signing_alg"
            label="Access token algorithm"
            options={[
              ["", "Default (ES256)"],
              ["ES256", "ES256"],
              ["RS256", "RS256"],
            ]}
          />
        </FormBox>
      </Section>
    </Screen>
  );
}

export const ORGANIZATION_ROUTES: Route[] = [
  { pattern: "/organizations", global: true, render: () => <Organizations /> },
  { pattern: "/organizations/:org", global: true, render: ({ org }) => <OrganizationScreen id={org!} key={org} /> },
];
