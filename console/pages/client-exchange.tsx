import type { Client } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import { CheckField, FormBox, ListField, lines, TextField, useForm } from "../ui/form.js";
import { Section } from "../ui/page.js";
import { announce } from "../ui/status.js";

/**
 * A client's part in token exchange (RFC 8693, docs/token-exchange.md): as
 * an agent, whether it may exchange people's tokens, whose, for which
 * resources, and whether it may impersonate; as an application, the one
 * client its users' tokens name in `may_act`. Saved apart from the other
 * settings, with exactly the fields that changed in the update mask.
 */

export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";

type Delegation = {
  exchange: boolean;
  token_exchange_subject_clients: string;
  token_exchange_resources: string;
  token_exchange_impersonation: boolean;
  may_act_client: string;
};

const delegationOf = (client: Client): Delegation => ({
  exchange: client.grantTypes.includes(TOKEN_EXCHANGE_GRANT),
  token_exchange_subject_clients: client.tokenExchangeSubjectClients.join("\n"),
  token_exchange_resources: client.tokenExchangeResources.join("\n"),
  token_exchange_impersonation: client.tokenExchangeImpersonation,
  may_act_client: client.mayActClient,
});

/** Where the core's refusals land: each names its field, the grant's by what it is. */
const ALIASES: Record<string, keyof Delegation> = { "a public client cannot use token exchange": "exchange" };

export function TokenExchange(props: { organization: string; project: string; client: Client; confidential: boolean; onSaved: (client: Client) => void }) {
  const { organization, project, client, confidential } = props;
  const form = useForm(["client-exchange", organization, project, client.id], delegationOf(client), { aliases: ALIASES });
  return (
    <Section title="Token exchange">
      <p class="meta">
        An agent that acts for people trades a person's access token, and its own, for a token for one resource that says who acts for whom (the{" "}
        <code>act</code> claim).
      </p>
      <FormBox
        form={form}
        label="Token exchange"
        submit="Save token exchange"
        onSubmit={form.onSubmit(async (values) => {
          const was = delegationOf(client);
          const grantTypes = [...client.grantTypes.filter((g) => g !== TOKEN_EXCHANGE_GRANT), ...(values.exchange ? [TOKEN_EXCHANGE_GRANT] : [])];
          const paths = [
            values.exchange !== was.exchange ? "grant_types" : "",
            lines(values.token_exchange_subject_clients).join("\n") !== was.token_exchange_subject_clients ? "token_exchange_subject_clients" : "",
            lines(values.token_exchange_resources).join("\n") !== was.token_exchange_resources ? "token_exchange_resources" : "",
            values.token_exchange_impersonation !== was.token_exchange_impersonation ? "token_exchange_impersonation" : "",
            values.may_act_client.trim() !== was.may_act_client ? "may_act_client" : "",
          ].filter((p) => p !== "");
          if (paths.length === 0) return announce("Nothing to save");
          const { client: saved } = await admin.updateClient({
            organization,
            project,
            clientId: client.id,
            grantTypes,
            tokenExchangeSubjectClients: lines(values.token_exchange_subject_clients),
            tokenExchangeResources: lines(values.token_exchange_resources),
            tokenExchangeImpersonation: values.token_exchange_impersonation,
            mayActClient: values.may_act_client.trim(),
            updateMask: { paths },
          });
          if (saved !== undefined) {
            props.onSaved(saved);
            form.reset(delegationOf(saved));
          }
          announce(`Token exchange of ${client.id} saved`);
        })}
      >
        {confidential ? (
          <>
            <CheckField form={form} name="exchange" label="May exchange tokens" hint="The token exchange grant; a confidential client only, as the actor must authenticate." />
            <ListField
              form={form}
              name="token_exchange_subject_clients"
              label="Whose users' tokens it may exchange"
              rows={2}
              hint="Client ids, one a line: it takes tokens those clients obtained for their users, no other."
            />
            <ListField
              form={form}
              name="token_exchange_resources"
              label="Resources it may ask tokens for"
              rows={2}
              hint="Registered resource URIs, one a line."
            />
            <CheckField
              form={form}
              name="token_exchange_impersonation"
              label="May impersonate"
              hint="An exchange without its own token answers a token with no act claim: nothing says an agent acts. Off unless needed."
            />
          </>
        ) : null}
        <TextField
          form={form}
          name="may_act_client"
          label="Only this agent may exchange its users' tokens"
          hint="A client id: this client's user tokens carry may_act naming it (RFC 8693 §4.4), and an exchange by any other is refused. Empty for none."
        />
      </FormBox>
    </Section>
  );
}
