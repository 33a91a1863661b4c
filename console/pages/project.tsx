import { useEffect, useState } from "preact/hooks";
import type { Project } from "../../gen/iam/v1/admin_pb.js";
import { admin, messageOf } from "../api.js";
import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { navigate, pathOf } from "../router.js";
import { ConfirmButton } from "../ui/confirm.js";
import { CheckField, FormBox, SelectField, TextField, useForm } from "../ui/form.js";
import { Screen, Section, Time } from "../ui/page.js";
import { announce } from "../ui/status.js";
import { MfaPolicySection } from "./mfa-policy.js";
import { DocumentRules } from "./document-rules.js";
import { InitialAccessTokens } from "./registration.js";

/** The crumbs above every screen of a project. */
export function projectCrumbs(session: Session, organization: string, project: string): [string, string][] {
  const crumbs: [string, string][] = session.kind === "global" ? [["/organizations", "Organizations"], [pathOf("organizations", organization), organization]] : [];
  return [...crumbs, [pathOf("p", organization, project), project]];
}

function ProjectScreen({ organization, project, session }: { organization: string; project: string; session: Session }) {
  const [current, setCurrent] = useState<Project>();
  const [error, setError] = useState<string>();
  const form = useForm(["project", organization, project], {
    name: "",
    audience: "",
    access_token_signing_alg: "ES256",
    require_pushed_authorization_requests: false as boolean,
    client_registration: "",
    client_id_metadata_documents: false as boolean,
  });
  useEffect(() => {
    admin.getProject({ organization, project }).then(
      ({ project: found }) => {
        setCurrent(found);
        if (found !== undefined && form.values.name === "") {
          form.reset({
            name: found.name,
            audience: found.audience,
            access_token_signing_alg: found.accessTokenSigningAlg,
            require_pushed_authorization_requests: found.requirePushedAuthorizationRequests,
            client_registration: found.clientRegistration,
            client_id_metadata_documents: found.clientIdMetadataDocuments,
          });
        }
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [organization, project]);
  const crumbs = projectCrumbs(session, organization, project).slice(0, -1);
  if (error !== undefined) {
    return (
      <Screen title={`Project ${project}`} crumbs={crumbs}>
        <p class="form-error" role="alert">
          {error}
        </p>
      </Screen>
    );
  }
  const isAdmins = organization === "iam-admins" && project === "iam-admins";
  return (
    <Screen
      title={`Project ${project}`}
      crumbs={crumbs}
      actions={
        session.kind !== "global" || isAdmins ? null : (
          <ConfirmButton
            label="Delete project"
            title={`Delete the project ${organization}/${project}?`}
            typeToConfirm={project}
            confirm="Delete project"
            action={async () => {
              await admin.deleteProject({ organization, project });
              announce(`Project ${project} deleted`);
              navigate(pathOf("organizations", organization));
            }}
          >
            <p>
              Everything in <strong>{project}</strong> goes with it: its clients, users and their passwords and second factors, roles, permissions,
              consents, signing keys, sign-in sessions and audit trail. Every token it issued stops verifying at once. This cannot be undone.
            </p>
          </ConfirmButton>
        )
      }
    >
      {current === undefined ? null : (
        <dl class="facts">
          <dt>Issuer</dt>
          <dd>
            <code>{current.issuer}</code>
          </dd>
          <dt>Discovery</dt>
          <dd>
            <code>{current.issuer}/.well-known/openid-configuration</code>
          </dd>
          <dt>Created</dt>
          <dd>
            <Time seconds={current.createdAt} />
          </dd>
        </dl>
      )}
      <Section title="Settings">
        <FormBox
          form={form}
          submit="Save settings"
          onSubmit={form.onSubmit(async (values) => {
            if (current === undefined) return;
            const paths = [
              values.name !== current.name ? "name" : "",
              values.audience !== current.audience ? "audience" : "",
              values.access_token_signing_alg !== current.accessTokenSigningAlg ? "access_token_signing_alg" : "",
              values.require_pushed_authorization_requests !== current.requirePushedAuthorizationRequests ? "require_pushed_authorization_requests" : "",
              values.client_registration !== current.clientRegistration ? "client_registration" : "",
              values.client_id_metadata_documents !== current.clientIdMetadataDocuments ? "client_id_metadata_documents" : "",
            ].filter((p) => p !== "");
            if (paths.length === 0) return announce("Nothing to save");
            const { project: saved } = await admin.updateProject({
              organization,
              project,
              name: values.name,
              audience: values.audience,
              accessTokenSigningAlg: values.access_token_signing_alg,
              requirePushedAuthorizationRequests: values.require_pushed_authorization_requests,
              clientRegistration: values.client_registration,
              clientIdMetadataDocuments: values.client_id_metadata_documents,
              updateMask: { paths },
            });
            setCurrent(saved);
            announce(`Project ${project} saved`);
          })}
        >
          <TextField form={form} name="name" label="Display name" />
          <TextField form={form} name="audience" label="Audience" hint="The aud claim of the project's access tokens." />
          <SelectField
            form={form}
            name="access_token_signing_alg"
            label="Access token algorithm"
            hint="Tokens already issued keep verifying."
            options={[
              ["ES256", "ES256"],
              ["RS256", "RS256"],
            ]}
          />
          <CheckField
            form={form}
            name="require_pushed_authorization_requests"
            label="Require pushed authorization requests"
            hint="Every client must push its authorization requests to /par first (RFC 9126); discovery says so."
          />
          <SelectField
            form={form}
            name="client_registration"
            label="Clients may register themselves"
            hint="Dynamic Client Registration (RFC 7591) at the issuer's /register. Turned off, clients registered stay."
            options={[
              ["", "No"],
              ["open", "Yes, anyone"],
              ["initial_access_token", "Yes, with an initial access token"],
            ]}
          />
          <CheckField
            form={form}
            name="client_id_metadata_documents"
            label="Accept clients known by the URL of their metadata document"
            hint="A client_id that is an https URL is fetched and used as a public client (MCP clients do this); discovery says so."
          />
        </FormBox>
      </Section>
      {current?.clientRegistration === "initial_access_token" ? <InitialAccessTokens organization={organization} project={project} /> : null}
      {current?.clientIdMetadataDocuments === true ? <DocumentRules organization={organization} project={project} /> : null}
      <MfaPolicySection organization={organization} project={project} />
    </Screen>
  );
}

export const PROJECT_ROUTES: Route[] = [
  {
    pattern: "/p/:org/:project",
    render: ({ org, project }, session) => <ProjectScreen organization={org!} project={project!} session={session} key={`${org}/${project}`} />,
  },
];
