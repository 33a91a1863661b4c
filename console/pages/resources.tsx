import type { Resource } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { ChoiceField, chosenOf } from "../ui/choices.js";
import { ConfirmButton } from "../ui/confirm.js";
import { FormBox, TextField, useForm } from "../ui/form.js";
import { Screen, Section, Time } from "../ui/page.js";
import { PagedTable, usePaged } from "../ui/paged.js";
import { announce } from "../ui/status.js";
import { projectCrumbs } from "./project.js";
import { administers, focusHeading } from "./roles.js";

/**
 * A project's protected resources (RFC 8707): the APIs its clients ask
 * tokens for by URI, each token's `aud` then being that URI and its scopes
 * at most the permissions listed here. Registered, listed and deleted as
 * AdminService Create/List/DeleteResource do (`iam resource update` changes
 * one's scopes). Project administrators and global ones alike.
 */

const PAGE_SIZE = 25;

interface ProjectProps {
  organization: string;
  project: string;
}

function ProjectResources({ organization, project }: ProjectProps) {
  const resources = usePaged(
    async (pageToken) => {
      const page = await admin.listResources({ organization, project, pageSize: PAGE_SIZE, pageToken });
      return { items: page.resources, next: page.nextPageToken };
    },
    [organization, project],
  );
  const form = useForm(["create-resource", organization, project], { uri: "", name: "", scopes: "" }, { aliases: { "unknown permission": "scopes", "a resource": "scopes" } });
  return (
    <>
      <p class="meta">
        A client names a resource with <code>resource</code> at the authorization and token endpoints: its access token is then for that API only
        (its <code>aud</code> is the URI) and carries only the scopes listed here. A resource server checks that its own URI is the audience.
      </p>
      <Section title="Resources">
        <PagedTable
          paged={resources}
          caption={`Resources of ${project}, by URI`}
          columns={["URI", "Name", "Scopes", "Created", "Actions"]}
          empty="No resource yet: tokens are for the project's audience."
          row={(resource: Resource) => (
            <tr key={resource.uri}>
              <td>
                <code>{resource.uri}</code>
              </td>
              <td>{resource.name}</td>
              <td>
                <ul class="tags">
                  {resource.scopes.map((scope) => (
                    <li key={scope}>{scope}</li>
                  ))}
                </ul>
              </td>
              <td>
                <Time seconds={resource.createdAt} />
              </td>
              <td>
                <ConfirmButton
                  label={`Delete ${resource.uri}`}
                  text="Delete"
                  title={`Delete the resource ${resource.uri}?`}
                  confirm="Delete resource"
                  action={async () => {
                    await admin.deleteResource({ organization, project, uri: resource.uri });
                    announce(`Resource ${resource.uri} deleted`);
                    resources.reload();
                    focusHeading("section-resources");
                  }}
                >
                  <p>
                    Clients can no longer ask tokens for <code>{resource.uri}</code> (<code>invalid_target</code>), nor refresh the ones they hold
                    into tokens for it. Access tokens already issued for it keep verifying until they expire.
                  </p>
                </ConfirmButton>
              </td>
            </tr>
          )}
        />
        <h3>New resource</h3>
        <FormBox
          form={form}
          label="New resource"
          submit="Register resource"
          onSubmit={form.onSubmit(async (values) => {
            const { resource } = await admin.createResource({ organization, project, uri: values.uri, name: values.name, scopes: chosenOf(values.scopes) });
            announce(`Resource ${resource?.uri ?? values.uri} registered`);
            form.reset();
            resources.reload();
          })}
        >
          <TextField
            form={form}
            name="uri"
            label="URI"
            required
            hint="https (http only on a loopback host), lowercase host, no default port, user info, query or fragment: https://api.example.com/notes"
          />
          <TextField form={form} name="name" label="Name" hint="Shown on the consent page." />
          <ChoiceField
            form={form}
            name="scopes"
            label="Scopes"
            hint="The permissions a token for it may carry; at least one."
            empty="The project has no permission yet: create one under Roles and permissions."
            deps={[organization, project]}
            load={async (pageToken) => {
              const page = await admin.listPermissions({ organization, project, pageSize: PAGE_SIZE, pageToken });
              return { items: page.permissions, next: page.nextPageToken };
            }}
          />
        </FormBox>
      </Section>
    </>
  );
}

function ResourcesScreen({ organization, project, session }: ProjectProps & { session: Session }) {
  return (
    <Screen title="Resources" crumbs={projectCrumbs(session, organization, project)}>
      {administers(session, organization, project) ? (
        <ProjectResources organization={organization} project={project} />
      ) : (
        <p>
          Only the administrators of {organization}/{project} and global administrators manage its resources.
        </p>
      )}
    </Screen>
  );
}

export const RESOURCE_ROUTES: Route[] = [
  {
    pattern: "/p/:org/:project/resources",
    render: ({ org, project }, session) => <ResourcesScreen organization={org!} project={project!} session={session} key={`${org}/${project}`} />,
  },
];
