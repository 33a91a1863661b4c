import { useEffect, useState } from "preact/hooks";
import { ClientMetadataDocumentAction, ClientType, type Client, type Role } from "../../gen/iam/v1/admin_pb.js";
import { admin, messageOf } from "../api.js";
import type { Session } from "../auth.js";
import { CONSOLE_CLIENT_ID } from "../config.js";
import { navigate, pathOf } from "../router.js";
import { ConfirmButton } from "../ui/confirm.js";
import { FormBox, useForm } from "../ui/form.js";
import { Screen, Section, Time } from "../ui/page.js";
import { PagedTable, usePaged } from "../ui/paged.js";
import { OneTimeSecret } from "../ui/secret.js";
import { announce } from "../ui/status.js";
import { BLANK_SETTINGS, changedPaths, SETTINGS_ALIASES, settingsOf, settingsRequest, SettingsFields, type Settings } from "./client-settings.js";
import { TokenExchange } from "./client-exchange.js";
import { projectCrumbs } from "./project.js";

const PAGE_SIZE = 25;

/**
 * The secret of a client just created, handed from the create form to the
 * client's screen in memory (never the URL or storage), taken once.
 */
let fresh: { path: string; secret: string } | undefined;

export function showSecretOnce(path: string, secret: string): void {
  fresh = { path, secret };
}

function takeFreshSecret(path: string): string | undefined {
  const secret = fresh?.path === path ? fresh.secret : undefined;
  fresh = undefined;
  return secret;
}

/** The roles of the project, a page at a time, each assignable to the client or taken back from it. */
function ClientRoles(props: { organization: string; project: string; client: Client; onChange: () => void }) {
  const { organization, project, client } = props;
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const roles = usePaged(
    async (pageToken) => {
      const page = await admin.listRoles({ organization, project, pageSize: PAGE_SIZE, pageToken });
      return { items: page.roles, next: page.nextPageToken };
    },
    [organization, project],
  );
  const change = async (role: string, assign: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const request = { organization, project, roleId: role, subject: { case: "clientId" as const, value: client.id } };
      await (assign ? admin.assignRole(request) : admin.unassignRole(request));
      announce(assign ? `Role ${role} assigned to ${client.id}` : `Role ${role} taken from ${client.id}`);
      props.onChange();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="Roles">
      <p>
        {client.roles.length === 0 ? "It holds no role." : `It holds: ${client.roles.join(", ")}.`} Under client_credentials, its scopes are the
        permissions of its roles.
      </p>
      {error === undefined ? null : (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <PagedTable
        paged={roles}
        caption={`Roles of ${organization}/${project}`}
        columns={["Role", "Description", "Held", "Change"]}
        empty="The project has no role yet."
        row={(role: Role) => {
          const held = client.roles.includes(role.id);
          return (
            <tr key={role.id}>
              <td>
                <code>{role.id}</code>
              </td>
              <td>{role.description}</td>
              <td>{held ? "Yes" : "No"}</td>
              <td>
                <button type="button" disabled={busy} onClick={() => void change(role.id, !held)} aria-label={`${held ? "Unassign" : "Assign"} ${role.id}`}>
                  {held ? "Unassign" : "Assign"}
                </button>
              </td>
            </tr>
          );
        }}
      />
    </Section>
  );
}

/**
 * A client ID metadata document's client: what its document says, read
 * only (the document decides it: UpdateClient and AssignRole refuse it),
 * and the block that refuses its URL from now on
 * (SetClientMetadataDocumentRule), at /authorize and /token alike.
 */
function MetadataDocument(props: { organization: string; project: string; client: Client }) {
  const { organization, project, client } = props;
  const [blocked, setBlocked] = useState(false);
  return (
    <Section title="Metadata document">
      <p>
        Its settings are those of the document at <code>{client.id}</code>, read again when they may have changed; they cannot be edited here, and
        it holds no role.
      </p>
      <dl class="facts">
        <dt>Redirect URIs</dt>
        <dd>
          <ul class="tags">
            {client.redirectUris.map((uri) => (
              <li key={uri}>{uri}</li>
            ))}
          </ul>
        </dd>
        <dt>Authentication</dt>
        <dd>{client.tokenEndpointAuthMethod === "private_key_jwt" ? "private_key_jwt, with the document's keys" : "none (public)"}</dd>
      </dl>
      {blocked ? (
        <p>Its URL is blocked.</p>
      ) : (
        <ConfirmButton
          label="Block this URL"
          title={`Block ${client.id}?`}
          confirm="Block URL"
          action={async () => {
            await admin.setClientMetadataDocumentRule({ organization, project, url: client.id, action: ClientMetadataDocumentAction.BLOCK });
            setBlocked(true);
            announce(`${client.id} blocked`);
          }}
        >
          <p>
            Requests naming <strong>{client.id}</strong> are refused from now on, before anything is fetched: sign-ins at /authorize, and its refresh
            tokens at /token. Tokens already issued verify until they expire unless the client is also deleted. <code>iam client-document remove</code>{" "}
            lifts the block.
          </p>
        </ConfirmButton>
      )}
    </Section>
  );
}

/** What goes with a deleted client, as DeleteClient does it (core/rpc/admin/clients.ts and the stores). */
function DeleteClient(props: { organization: string; project: string; client: Client; session: Session }) {
  const { organization, project, client, session } = props;
  const signedInHere = session.tenant.organization === organization && session.tenant.project === project;
  return (
    <ConfirmButton
      label="Delete client"
      title={`Delete the client ${client.id}?`}
      typeToConfirm={client.id}
      confirm="Delete client"
      action={async () => {
        await admin.deleteClient({ organization, project, clientId: client.id });
        announce(`Client ${client.id} deleted`);
        navigate(pathOf("p", organization, project, "clients"));
      }}
    >
      <p>
        Its refresh tokens stop working at once, and so do its access tokens wherever they are checked with iam-core (VerifyToken, introspection,
        userinfo); a resource server that checks them only against the JWKS accepts them until they expire. Its codes not yet exchanged and the
        sign-ins under way with it are dropped; the roles it holds and the consents people gave it go. Applications using <strong>{client.id}</strong>{" "}
        can no longer sign anyone in. This cannot be undone.
      </p>
      {client.id === CONSOLE_CLIENT_ID ? (
        <p>
          <strong>The console signs in to {organization}/{project} through this client:</strong> without it, the project's administrators cannot sign in
          to the console{signedInHere ? ", you included, once your session ends" : ""}. <code>iam console-client {organization} {project}</code> adds it
          again.
        </p>
      ) : null}
    </ConfirmButton>
  );
}

export function ClientScreen(props: { organization: string; project: string; clientId: string; session: Session }) {
  const { organization, project, clientId, session } = props;
  const clients = pathOf("p", organization, project, "clients");
  const [client, setClient] = useState<Client>();
  const [error, setError] = useState<string>();
  const [secret, setSecret] = useState(() => takeFreshSecret(pathOf("p", organization, project, "clients", clientId)));
  const form = useForm(["client", organization, project, clientId], BLANK_SETTINGS, { aliases: SETTINGS_ALIASES });
  const load = (replaceForm: boolean) =>
    admin.getClient({ organization, project, clientId }).then(
      ({ client: found }) => {
        setClient(found);
        if (found !== undefined && replaceForm) form.reset(settingsOf(found));
      },
      (err: unknown) => setError(messageOf(err)),
    );
  // A draft kept across a sign-in (a name is never empty once saved) is kept over what the API answers.
  useEffect(() => void load(form.values.name === ""), [organization, project, clientId]);
  const crumbs: [string, string][] = [...projectCrumbs(session, organization, project), [clients, "Clients"]];
  if (error !== undefined || client === undefined) {
    return (
      <Screen title={`Client ${clientId}`} crumbs={crumbs}>
        {error === undefined ? (
          <p>Loading…</p>
        ) : (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
      </Screen>
    );
  }
  const confidential = client.type === ClientType.CONFIDENTIAL;
  // A private_key_jwt client has no secret to rotate: its keys are its settings.
  const keyed = client.tokenEndpointAuthMethod === "private_key_jwt";
  return (
    <Screen
      title={`Client ${clientId}`}
      crumbs={crumbs}
      actions={<DeleteClient organization={organization} project={project} client={client} session={session} />}
    >
      {secret === undefined ? null : (
        <OneTimeSecret title={`The secret of ${clientId}`} what="Client secret" secret={secret} onDone={() => setSecret(undefined)} />
      )}
      <dl class="facts">
        <dt>Type</dt>
        <dd>{!confidential ? "Public: no secret, always PKCE" : keyed ? "Confidential: authenticates with its private key (private_key_jwt)" : "Confidential: authenticates with its secret"}</dd>
        <dt>Created</dt>
        <dd>
          <Time seconds={client.createdAt} />
        </dd>
        {client.metadataDocument ? (
          <>
            <dt>Origin</dt>
            <dd>Its client ID metadata document, at {new URL(client.id).host}: no administrator registered it</dd>
          </>
        ) : client.dynamicallyRegistered ? (
          <>
            <dt>Origin</dt>
            <dd>It registered itself (Dynamic Client Registration, RFC 7591)</dd>
          </>
        ) : null}
      </dl>
      {client.metadataDocument ? (
        <MetadataDocument organization={organization} project={project} client={client} />
      ) : (
        <Section title="Settings">
          <FormBox
            form={form}
            submit="Save settings"
            onSubmit={form.onSubmit(async (values) => {
              const paths = changedPaths(values, settingsOf(client));
              if (paths.length === 0) return announce("Nothing to save");
              const { client: saved } = await admin.updateClient({
                organization,
                project,
                clientId,
                ...settingsRequest(values),
                updateMask: { paths },
              });
              if (saved !== undefined) {
                setClient(saved);
                form.reset(settingsOf(saved));
              }
              announce(`Client ${clientId} saved`);
            })}
          >
            <SettingsFields form={form} isPublic={!confidential} />
          </FormBox>
        </Section>
      )}
      {confidential && !keyed ? (
        <Section title="Secret">
          <p>A new secret replaces the current one at once. Tokens already issued stay valid.</p>
          <ConfirmButton
            label="Rotate secret"
            title={`Rotate the secret of ${clientId}?`}
            confirm="Rotate secret"
            action={async () => {
              const { secret: next } = await admin.rotateClientSecret({ organization, project, clientId });
              setSecret(next);
              announce(`New secret of ${clientId} made: copy it now`);
            }}
          >
            <p>
              The current secret stops working at once: every application that authenticates as <strong>{clientId}</strong> is refused until it is given
              the new one, shown once after this. Tokens already issued stay valid.
            </p>
          </ConfirmButton>
        </Section>
      ) : null}
      {client.metadataDocument ? null : (
        <TokenExchange
          organization={organization}
          project={project}
          client={client}
          confidential={confidential}
          onSaved={(saved) => {
            setClient(saved);
            // The settings form keeps the grant types it does not offer: now the saved ones.
            form.set("grant_types", saved.grantTypes.join("\n"));
          }}
        />
      )}
      {client.metadataDocument ? null : <ClientRoles organization={organization} project={project} client={client} onChange={() => void load(false)} />}
    </Screen>
  );
}
