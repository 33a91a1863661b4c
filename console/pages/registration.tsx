import { useState } from "preact/hooks";
import type { InitialAccessToken } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import { ConfirmButton } from "../ui/confirm.js";
import { FormBox, SelectField, TextField, useForm } from "../ui/form.js";
import { useLoaded } from "../ui/loaded.js";
import { Section, Time } from "../ui/page.js";
import { OneTimeSecret } from "../ui/secret.js";
import { announce } from "../ui/status.js";

/**
 * A project's initial access tokens (RFC 7591 §3), shown on its screen
 * while its clients register themselves with one: what a client developer
 * is handed so that their client may register. Made (the token shown once),
 * listed (never the token) and revoked as the AdminService does.
 */

const DAY = 86_400;

const usesOf = (token: InitialAccessToken) => (token.maxUses === 0 ? "No limit" : `${token.usesLeft} of ${token.maxUses}`);

export function InitialAccessTokens({ organization, project }: { organization: string; project: string }) {
  const loaded = useLoaded(async () => (await admin.listInitialAccessTokens({ organization, project })).initialAccessTokens, [organization, project]);
  const { value: tokens, error } = loaded;
  const [made, setMade] = useState<string>();
  const form = useForm(["create-initial-access-token", organization, project], { description: "", ttl_days: "7", max_uses: "1" });
  return (
    <Section title="Initial access tokens">
      <p class="meta">
        A client registers itself at the issuer's <code>/register</code> with one of these as <code>Authorization: Bearer</code>. Each registration
        spends one use; the clients it registered stay when it is revoked.
      </p>
      {made === undefined ? null : (
        <OneTimeSecret
          title="The new initial access token"
          what="Initial access token"
          secret={made}
          ifLost="If it is lost, revoke it and make another."
          onDone={() => setMade(undefined)}
        />
      )}
      {error === undefined ? null : (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      <div class="table-wrap" aria-busy={tokens === undefined && error === undefined ? "true" : undefined}>
        <table>
          <caption>Initial access tokens of {project}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Description</th>
              <th scope="col">Expires</th>
              <th scope="col">Uses left</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(tokens ?? []).map((token) => (
              <tr key={token.id}>
                <td>{token.description === "" ? <code>{token.id}</code> : token.description}</td>
                <td>
                  <Time seconds={token.expiresAt} />
                </td>
                <td>{usesOf(token)}</td>
                <td>
                  <ConfirmButton
                    label={`Revoke ${token.description || token.id}`}
                    title={`Revoke the initial access token ${token.description || token.id}?`}
                    confirm="Revoke token"
                    action={async () => {
                      await admin.revokeInitialAccessToken({ organization, project, id: token.id });
                      announce(`Initial access token ${token.description || token.id} revoked`);
                      loaded.reload();
                    }}
                  >
                    <p>It registers no client from now on. The clients it registered stay, with their registrations.</p>
                  </ConfirmButton>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {tokens?.length === 0 ? <p class="empty">No initial access token: no client can register itself.</p> : null}
      </div>
      <h3>New initial access token</h3>
      <FormBox
        form={form}
        label="New initial access token"
        submit="Make token"
        onSubmit={form.onSubmit(async (values) => {
          // The core checks the range; a number it is sent, or nothing.
          if (!/^\d{1,10}$/.test(values.max_uses)) throw new Error("max_uses must be a whole number");
          const { token } = await admin.createInitialAccessToken({
            organization,
            project,
            description: values.description,
            ttl: BigInt(Number(values.ttl_days) * DAY),
            maxUses: Number(values.max_uses),
          });
          setMade(token);
          announce("Initial access token made: copy it now");
          form.reset();
          loaded.reload();
        })}
      >
        <TextField form={form} name="description" label="Description" hint="Who it is for, so that it can be recognized and revoked." />
        <SelectField
          form={form}
          name="ttl_days"
          label="Expires after"
          options={[
            ["1", "1 day"],
            ["7", "7 days"],
            ["30", "30 days"],
            ["365", "365 days"],
          ]}
        />
        <TextField form={form} name="max_uses" type="number" label="Registrations it may make" hint="1 to 1,000,000; 0 for no limit but its expiry." />
      </FormBox>
    </Section>
  );
}
