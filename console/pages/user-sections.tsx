import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Consent, Factor, ListUserFactorsResponse, Role, Session as SignInSession } from "../../gen/iam/v1/admin_pb.js";
import { admin, messageOf } from "../api.js";
import { ConfirmButton } from "../ui/confirm.js";
import { Section, Time } from "../ui/page.js";
import { PagedTable, Table, usePaged } from "../ui/paged.js";
import { announce } from "../ui/status.js";

/**
 * What a user holds, a section each: their roles (among the project's, read
 * a page at a time), the consents remembered for them, their sign-in
 * sessions and their second factors (each answered whole by the API).
 */

/** The user a request names. */
export interface UserRef {
  organization: string;
  project: string;
  userId: string;
}

const PAGE_SIZE = 25;

/** An action of a button: its refusal, shown where the button is, and whether it runs. */
export function useAction(): { error: JSX.Element | null; busy: boolean; run: (action: () => Promise<void>) => Promise<void> } {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  return {
    busy,
    error:
      error === undefined ? null : (
        <p class="form-error" role="alert">
          {error}
        </p>
      ),
    run: async (action) => {
      setBusy(true);
      setError(undefined);
      try {
        await action();
      } catch (err) {
        setError(messageOf(err));
      } finally {
        setBusy(false);
      }
    },
  };
}

/** A list the API answers whole, read again when `deps` change or after an action. */
function useList<T>(load: () => Promise<T>, deps: unknown[]): { value: T | undefined; error: string | undefined; reload: () => void } {
  const [state, setState] = useState<{ value?: T; error?: string }>({});
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (value) => current && setState({ value }),
      (err: unknown) => current && setState({ error: messageOf(err) }),
    );
    return () => {
      current = false;
    };
  }, [version, ...deps]);
  return { value: state.value, error: state.error, reload: () => setVersion((v) => v + 1) };
}

/** A table of a list answered whole: busy until it is read. */
function WholeTable<T>(props: { caption: string; columns: readonly string[]; items: readonly T[] | undefined; error: string | undefined; empty: string; row: (item: T) => ComponentChildren }) {
  return <Table {...props} items={props.items ?? []} loading={props.items === undefined && props.error === undefined} />;
}

export function RolesSection({ who, held, onChange }: { who: UserRef; held: readonly string[]; onChange: () => void }) {
  const { organization, project, userId } = who;
  const action = useAction();
  const roles = usePaged(
    async (pageToken) => {
      const page = await admin.listRoles({ organization, project, pageSize: PAGE_SIZE, pageToken });
      return { items: page.roles, next: page.nextPageToken };
    },
    [organization, project],
  );
  const change = (roleId: string, assign: boolean) =>
    action.run(async () => {
      const request = { organization, project, roleId, subject: { case: "userId" as const, value: userId } };
      if (assign) await admin.assignRole(request);
      else await admin.unassignRole(request);
      announce(assign ? `Role ${roleId} assigned to ${userId}` : `Role ${roleId} taken from ${userId}`);
      onChange();
    });
  return (
    <Section title="Roles">
      {held.length === 0 ? (
        <p>{userId} holds no role.</p>
      ) : (
        <>
          <p id="user-roles-held">{userId} holds:</p>
          <ul class="tags" aria-labelledby="user-roles-held">
            {held.map((role) => (
              <li key={role}>{role}</li>
            ))}
          </ul>
        </>
      )}
      <p class="hint">A token already issued keeps the permissions it was given; the next one carries the change.</p>
      {action.error}
      <PagedTable
        paged={roles}
        caption="The project's roles"
        columns={["Role", "Description", "Permissions", "Held"]}
        empty="The project has no role yet."
        row={(role: Role) => {
          const has = held.includes(role.id);
          return (
            <tr key={role.id}>
              <td>{role.id}</td>
              <td>{role.description}</td>
              <td>{role.permissions.join(", ")}</td>
              <td>
                {has ? "Yes " : "No "}
                <button type="button" disabled={action.busy} onClick={() => void change(role.id, !has)} aria-label={`${has ? "Unassign" : "Assign"} ${role.id}`}>
                  {has ? "Unassign" : "Assign"}
                </button>
              </td>
            </tr>
          );
        }}
      />
    </Section>
  );
}

export function ConsentsSection({ who, version }: { who: UserRef; version: number }) {
  const consents = useList(async () => (await admin.listUserConsents(who)).consents, [who.organization, who.project, who.userId, version]);
  return (
    <Section title="Remembered consents">
      <WholeTable
        caption="Clients the user approved, that do not ask again"
        columns={["Client", "Scopes", "Approved", "Revoke"]}
        items={consents.value}
        error={consents.error}
        empty="No consent remembered."
        row={(consent: Consent) => (
          <tr key={consent.clientId}>
            <td>{consent.clientId}</td>
            <td>{consent.scopes.join(" ")}</td>
            <td>
              <Time seconds={consent.grantedAt} />
            </td>
            <td>
              <ConfirmButton
                label={`Revoke ${consent.clientId}`}
                title={`Revoke ${who.userId}'s consent to ${consent.clientId}?`}
                confirm="Revoke consent"
                action={async () => {
                  await admin.revokeUserConsent({ ...who, clientId: consent.clientId });
                  announce(`Consent of ${who.userId} to ${consent.clientId} revoked`);
                  consents.reload();
                }}
              >
                <p>
                  Every grant {who.userId} gave <strong>{consent.clientId}</strong> is revoked: its tokens stop verifying, and the next sign-in asks for
                  consent again.
                </p>
              </ConfirmButton>
            </td>
          </tr>
        )}
      />
    </Section>
  );
}

const SESSION_ENDS = "The browser must sign in again, every grant made in the session is revoked (its access and refresh tokens stop at once), and the clients it signed in to are told by back-channel logout.";

export function SessionsSection({ who, version }: { who: UserRef; version: number }) {
  const sessions = useList(async () => (await admin.listUserSessions(who)).sessions, [who.organization, who.project, who.userId, version]);
  const live = sessions.value ?? [];
  return (
    <Section title="Sign-in sessions">
      <WholeTable
        caption="Browsers signed in, newest first"
        columns={["Signed in", "Last seen", "Ends", "From", "Clients", "Revoke"]}
        items={sessions.value}
        error={sessions.error}
        empty="No browser is signed in."
        row={(s: SignInSession) => (
          <tr key={s.id}>
            <td>
              <Time seconds={s.authTime} /> ({s.amr.join(", ")})
            </td>
            <td>
              <Time seconds={s.lastSeenAt} />
            </td>
            <td>
              <Time seconds={s.expiresAt} />
            </td>
            <td>
              {s.clientAddress}
              <br />
              <span class="meta">{s.userAgent}</span>
            </td>
            <td>{s.clientIds.join(", ")}</td>
            <td>
              <ConfirmButton
                label={`Revoke session ${s.id.slice(0, 8)}`}
                title={`End the session ${s.id.slice(0, 8)} of ${who.userId}?`}
                confirm="Revoke session"
                action={async () => {
                  await admin.revokeUserSession({ ...who, sessionId: s.id });
                  announce(`Session ${s.id.slice(0, 8)} of ${who.userId} ended`);
                  sessions.reload();
                }}
              >
                <p>{SESSION_ENDS}</p>
              </ConfirmButton>
            </td>
          </tr>
        )}
      />
      {live.length === 0 ? null : (
        <div class="actions">
          <ConfirmButton
            label="Revoke all sessions"
            title={`End every session of ${who.userId}?`}
            confirm="Revoke all sessions"
            action={async () => {
              const { sessionIds } = await admin.revokeUserSessions(who);
              announce(`${sessionIds.length} session${sessionIds.length === 1 ? "" : "s"} of ${who.userId} ended`);
              sessions.reload();
            }}
          >
            <p>
              Every browser signed in as <strong>{who.userId}</strong> ({live.length}) is signed out. {SESSION_ENDS}
            </p>
          </ConfirmButton>
        </div>
      )}
    </Section>
  );
}

const kindOf = (f: Factor): string => (f.kind === "totp" ? "Authenticator app" : f.kind === "passkey" ? `Passkey${f.deviceType === "multiDevice" ? " (synced)" : ""}` : f.kind);

function RecoveryCodesLine({ factors }: { factors: ListUserFactorsResponse | undefined }) {
  const codes = factors?.recoveryCodes;
  if (codes === undefined || codes.total === 0) return <p>No recovery codes.</p>;
  return (
    <p>
      {codes.left} of {codes.total} recovery codes left, issued <Time seconds={codes.issuedAt} />.
    </p>
  );
}

export function FactorsSection({ who, version }: { who: UserRef; version: number }) {
  const factors = useList(() => admin.listUserFactors(who), [who.organization, who.project, who.userId, version]);
  const list = factors.value?.factors;
  const anything = (list?.length ?? 0) > 0 || (factors.value?.recoveryCodes?.total ?? 0) > 0;
  const untouched = "The user's sign-in sessions are not ended and their tokens keep working: where the factor may be in someone else's hands, revoke their sessions too.";
  return (
    <Section title="Second factors">
      <WholeTable
        caption="Authenticator apps and passkeys, oldest first"
        columns={["Name", "Kind", "Enrolled", "Last used", "State", "Remove"]}
        items={list}
        error={factors.error}
        empty="No second factor."
        row={(f: Factor) => (
          <tr key={f.id}>
            <td>
              {f.name}
              {f.credentialIdPrefix === "" ? null : (
                <>
                  {" "}
                  <code>{f.credentialIdPrefix}</code>
                </>
              )}
            </td>
            <td>{kindOf(f)}</td>
            <td>
              <Time seconds={f.createdAt} />
            </td>
            <td>{f.lastUsedAt === 0n ? "Never" : <Time seconds={f.lastUsedAt} />}</td>
            <td>{f.confirmed ? "In use" : "Awaiting its first code"}</td>
            <td>
              <ConfirmButton
                label={`Remove ${f.name}`}
                title={`Remove ${f.name} of ${who.userId}?`}
                confirm="Remove factor"
                action={async () => {
                  await admin.deleteUserFactor({ ...who, factorId: f.id });
                  announce(`${f.name} of ${who.userId} removed`);
                  factors.reload();
                }}
              >
                <p>
                  <strong>{f.name}</strong> signs no one in from the next sign-in on. The recovery codes stay. {untouched}
                </p>
              </ConfirmButton>
            </td>
          </tr>
        )}
      />
      <RecoveryCodesLine factors={factors.value} />
      {!anything ? null : (
        <div class="actions">
          <ConfirmButton
            label="Reset all factors"
            title={`Remove every second factor of ${who.userId}?`}
            confirm="Reset all factors"
            action={async () => {
              const { factorIds, recoveryCodesRemoved } = await admin.resetUserFactors(who);
              announce(`${factorIds.length} factors and ${recoveryCodesRemoved} recovery codes of ${who.userId} removed`);
              factors.reload();
            }}
          >
            <p>
              Every factor and recovery code of <strong>{who.userId}</strong> goes: their next sign-in asks for the password alone, or has them enrol a
              factor where the project's policy requires one. {untouched}
            </p>
          </ConfirmButton>
        </div>
      )}
    </Section>
  );
}
