import { useState } from "preact/hooks";
import { SigningKeyState, type RotateSigningKeyResponse, type SigningKey } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { ConfirmButton } from "../ui/confirm.js";
import { useLoaded } from "../ui/loaded.js";
import { Screen, Section, Time } from "../ui/page.js";
import { announce } from "../ui/status.js";
import { projectCrumbs } from "./project.js";
import { administers } from "./roles.js";

/**
 * A project's signing keys: the current key of each algorithm, which signs
 * its new tokens, and the retired ones, which only verify the tokens they
 * signed until those have expired. What is known of them, never the keys:
 * the public parts are in the project's JWKS. A project holds a handful
 * (at most ten of an algorithm verify at once), so the list is read whole.
 */

const STATE_OF: Record<SigningKeyState, string> = {
  [SigningKeyState.UNSPECIFIED]: "Unknown",
  [SigningKeyState.CURRENT]: "Current: signs new tokens",
  [SigningKeyState.VERIFYING]: "Retiring: verifies the tokens it signed",
  [SigningKeyState.EXPIRED]: "Expired: verifies nothing",
};

/** When a key stops verifying, as far as is known now. */
function StopsVerifying({ signingKey }: { signingKey: SigningKey }) {
  if (signingKey.expiresAt !== 0n) return <Time seconds={signingKey.expiresAt} />;
  if (signingKey.state === SigningKeyState.CURRENT) return <span class="meta">Once rotated out, when the tokens it signed expire</span>;
  return <span class="meta">Once the next rotation retires it, when the tokens it signed expire</span>;
}

function Keys({ organization, project }: { organization: string; project: string }) {
  const loaded = useLoaded(async () => (await admin.listSigningKeys({ organization, project })).keys, [organization, project]);
  const { value: keys, error } = loaded;
  const [rotated, setRotated] = useState<RotateSigningKeyResponse>();
  return (
    <>
      <p class="meta">
        The public keys of those that sign or still verify are in the project's JWKS, where resource servers that verify tokens themselves read
        them.
      </p>
      <div class="actions">
        <ConfirmButton
          label="Rotate signing keys"
          title={`Rotate the signing keys of ${organization}/${project}?`}
          confirm="Rotate signing keys"
          danger={false}
          action={async () => {
            const answer = await admin.rotateSigningKey({ organization, project });
            setRotated(answer);
            loaded.reload();
            announce(`Signing keys rotated: the new current keys are ${answer.kids.join(" and ")}`);
          }}
        >
          <p>
            A new key of each algorithm (ES256, RS256) becomes current and signs the project's new tokens. The keys current now stop signing, but
            stay in the project's JWKS and keep verifying the tokens they signed until those expire; then they leave it. No token stops working.
          </p>
          <p>Resource servers that cache the JWKS fetch it again when they meet a token of a new key.</p>
        </ConfirmButton>
      </div>
      {rotated === undefined ? null : (
        <p>
          New current keys: {rotated.kids.map((kid, i) => [i === 0 ? "" : ", ", <code key={kid}>{kid}</code>])}.
          {rotated.retiredKids.length === 0 ? null : (
            <>
              {" "}
              The keys they replace verify until <Time seconds={rotated.retiredKeyExpiresAt} />.
            </>
          )}
        </p>
      )}
      <Section title="Keys">
        {error === undefined ? null : (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="table-wrap" aria-busy={keys === undefined && error === undefined ? "true" : undefined}>
          <table>
            <caption>Signing keys of {project}, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Key id (kid)</th>
                <th scope="col">Algorithm</th>
                <th scope="col">State</th>
                <th scope="col">Created</th>
                <th scope="col">Stops verifying</th>
              </tr>
            </thead>
            <tbody>
              {(keys ?? []).map((key) => (
                <tr key={key.kid}>
                  <td>
                    <code>{key.kid}</code>
                  </td>
                  <td>{key.alg}</td>
                  <td>{STATE_OF[key.state]}</td>
                  <td>
                    <Time seconds={key.createdAt} />
                  </td>
                  <td>
                    <StopsVerifying signingKey={key} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {keys?.length === 0 ? <p class="empty">No signing key.</p> : null}
        </div>
      </Section>
    </>
  );
}

function KeysScreen({ organization, project, session }: { organization: string; project: string; session: Session }) {
  return (
    <Screen title="Signing keys" crumbs={projectCrumbs(session, organization, project)}>
      {administers(session, organization, project) ? (
        <Keys organization={organization} project={project} />
      ) : (
        <p>
          Only the administrators of {organization}/{project} and global administrators see its signing keys.
        </p>
      )}
    </Screen>
  );
}

export const KEY_ROUTES: Route[] = [
  {
    pattern: "/p/:org/:project/keys",
    render: ({ org, project }, session) => <KeysScreen organization={org!} project={project!} session={session} key={`${org}/${project}`} />,
  },
];
