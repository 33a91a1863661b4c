import { ClientType, type Client } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { navigate, pathOf } from "../router.js";
import { FormBox, SelectField, TextField, useForm } from "../ui/form.js";
import { Link, Screen, Section } from "../ui/page.js";
import { PagedTable, usePaged } from "../ui/paged.js";
import { announce } from "../ui/status.js";
import { ClientScreen, showSecretOnce } from "./client.js";
import { BLANK_SETTINGS, SETTINGS_ALIASES, settingsRequest, SettingsFields, type Settings } from "./client-settings.js";
import { projectCrumbs } from "./project.js";

/** A project's clients: the list, a page at a time, and the form of a new one. */

const PAGE_SIZE = 25;

type NewClient = Settings & { client_id: string; type: string };

const NEW_CLIENT: NewClient = {
  ...BLANK_SETTINGS,
  client_id: "",
  type: "confidential",
  // What the core gives a client created with none.
  grant_types: "authorization_code\nrefresh_token",
  // RFC 9700 §2.1.1: PKCE for confidential clients too.
  pkce_required: true,
};

/** A new client's refusals that name no field of the settings: its id taken, by a client or by a user (whose `sub` it would share). */
const NEW_CLIENT_ALIASES: Record<string, keyof NewClient> = { ...SETTINGS_ALIASES, client: "client_id", "a user": "client_id" };

const typeName = (type: ClientType) => (type === ClientType.PUBLIC ? "Public" : "Confidential");

/** Its type, and where it came from when no administrator made it. */
const kindOf = (client: Client) =>
  `${typeName(client.type)}${client.metadataDocument ? ", from a metadata document" : client.dynamicallyRegistered ? ", registered itself" : ""}`;

function Clients({ organization, project, session }: { organization: string; project: string; session: Session }) {
  const paged = usePaged(
    async (pageToken) => {
      const page = await admin.listClients({ organization, project, pageSize: PAGE_SIZE, pageToken });
      return { items: page.clients, next: page.nextPageToken };
    },
    [organization, project],
  );
  const form = useForm(["create-client", organization, project], NEW_CLIENT, { aliases: NEW_CLIENT_ALIASES });
  const isPublic = form.values.type === "public";
  return (
    <Screen title="Clients" crumbs={projectCrumbs(session, organization, project)}>
      <PagedTable
        paged={paged}
        caption={`Clients of ${organization}/${project}, by id`}
        columns={["Id", "Name", "Type", "Grant types"]}
        empty="No client yet."
        row={(client: Client) => (
          <tr key={client.id}>
            <td>
              <Link to={pathOf("p", organization, project, "clients", client.id)}>{client.id}</Link>
            </td>
            <td>{client.name}</td>
            <td>{kindOf(client)}</td>
            <td>
              <ul class="tags">
                {client.grantTypes.map((grant) => (
                  <li key={grant}>{grant}</li>
                ))}
              </ul>
            </td>
          </tr>
        )}
      />
      <Section title="New client">
        <FormBox
          form={form}
          submit="Create client"
          onSubmit={form.onSubmit(async (values) => {
            const { client, secret } = await admin.createClient({
              organization,
              project,
              clientId: values.client_id,
              type: values.type === "public" ? ClientType.PUBLIC : ClientType.CONFIDENTIAL,
              ...settingsRequest(values),
            });
            const id = client?.id ?? values.client_id;
            const path = pathOf("p", organization, project, "clients", id);
            if (secret !== "") showSecretOnce(path, secret);
            announce(secret === "" ? `Client ${id} created` : `Client ${id} created: copy its secret now`);
            form.reset();
            navigate(path);
          })}
        >
          <TextField form={form} name="client_id" label="Id" required hint="1-128 letters, digits and '-._~'; the client_id of its requests, it cannot change." />
          <SelectField
            form={form}
            name="type"
            label="Type"
            hint="A confidential client keeps a secret (a server); a public one cannot (a browser or native app)."
            options={[
              ["confidential", "Confidential"],
              ["public", "Public"],
            ]}
          />
          <SettingsFields form={form} isPublic={isPublic} />
        </FormBox>
      </Section>
    </Screen>
  );
}

export const CLIENT_ROUTES: Route[] = [
  {
    pattern: "/p/:org/:project/clients",
    render: ({ org, project }, session) => <Clients organization={org!} project={project!} session={session} key={`${org}/${project}`} />,
  },
  {
    pattern: "/p/:org/:project/clients/:client",
    render: ({ org, project, client }, session) => (
      <ClientScreen organization={org!} project={project!} clientId={client!} session={session} key={`${org}/${project}/${client}`} />
    ),
  },
];
