import { ClientMetadataDocumentAction } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import { ConfirmButton } from "../ui/confirm.js";
import { FormBox, ListField, SelectField, TextField, useForm } from "../ui/form.js";
import { useLoaded } from "../ui/loaded.js";
import { Section, Time } from "../ui/page.js";
import { announce } from "../ui/status.js";

/**
 * A project's rules for client ID metadata document URLs
 * (docs/client-metadata-documents.md), shown on its screen while it accepts
 * such clients: a blocked URL is refused before anything is fetched; a
 * pinned one is served the document given here and never fetched. Set,
 * listed and removed as the AdminService does.
 */

const ACTION_OF: Record<ClientMetadataDocumentAction, string> = {
  [ClientMetadataDocumentAction.UNSPECIFIED]: "Unknown",
  [ClientMetadataDocumentAction.BLOCK]: "Blocked: refused, never fetched",
  [ClientMetadataDocumentAction.PIN]: "Pinned: the document given here, never fetched",
};

export function DocumentRules({ organization, project }: { organization: string; project: string }) {
  const loaded = useLoaded(async () => (await admin.listClientMetadataDocumentRules({ organization, project })).rules, [organization, project]);
  const { value: rules, error } = loaded;
  const form = useForm(["document-rule", organization, project], { url: "", action: "block", document: "" }, { aliases: { "a block": "document" } });
  return (
    <Section title="Metadata document rules">
      {error === undefined ? null : (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap" aria-busy={rules === undefined && error === undefined ? "true" : undefined}>
        <table>
          <caption>Rules of {project}'s metadata document URLs, by URL</caption>
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Rule</th>
              <th scope="col">Set</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(rules ?? []).map((rule) => (
              <tr key={rule.url}>
                <td>
                  <code>{rule.url}</code>
                </td>
                <td>{ACTION_OF[rule.action]}</td>
                <td>
                  <Time seconds={rule.createdAt} />
                </td>
                <td>
                  <ConfirmButton
                    label={`Remove the rule of ${rule.url}`}
                    text="Remove"
                    title={`Remove the rule of ${rule.url}?`}
                    confirm="Remove rule"
                    danger={false}
                    action={async () => {
                      await admin.deleteClientMetadataDocumentRule({ organization, project, url: rule.url });
                      announce(`Rule of ${rule.url} removed`);
                      loaded.reload();
                    }}
                  >
                    <p>The URL's document is fetched again at the next request naming it, and used if it is valid.</p>
                  </ConfirmButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rules?.length === 0 ? <p class="empty">No rule: every URL's document is fetched and checked.</p> : null}
      </div>
      <h3>New rule</h3>
      <FormBox
        form={form}
        label="New metadata document rule"
        submit="Set rule"
        onSubmit={form.onSubmit(async (values) => {
          const block = values.action === "block";
          await admin.setClientMetadataDocumentRule({
            organization,
            project,
            url: values.url.trim(),
            action: block ? ClientMetadataDocumentAction.BLOCK : ClientMetadataDocumentAction.PIN,
            document: block ? "" : values.document,
          });
          announce(`${values.url.trim()} ${block ? "blocked" : "pinned"}`);
          form.reset();
          loaded.reload();
        })}
      >
        <TextField form={form} name="url" type="url" label="URL" required hint="The client_id: https, with a path." />
        <SelectField
          form={form}
          name="action"
          label="Rule"
          options={[
            ["block", "Block: refuse it"],
            ["pin", "Pin: use the document below"],
          ]}
        />
        {form.values.action === "pin" ? (
          <ListField form={form} name="document" label="Document" rows={6} hint="The client's metadata as JSON, checked as a fetched one; at most 5120 bytes." />
        ) : null}
      </FormBox>
    </Section>
  );
}
