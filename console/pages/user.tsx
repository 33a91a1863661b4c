import { useEffect, useState } from "preact/hooks";
import type { User } from "../../gen/iam/v1/admin_pb.js";
import { admin, messageOf } from "../api.js";
import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { navigate } from "../router.js";
import { ConfirmButton } from "../ui/confirm.js";
import { CheckField, FormBox, TextField, useForm } from "../ui/form.js";
import { Screen, Section, Time } from "../ui/page.js";
import { announce } from "../ui/status.js";
import { projectCrumbs } from "./project.js";
import { ConsentsSection, FactorsSection, RolesSection, SessionsSection, useAction, type UserRef } from "./user-sections.js";
import { usersPath } from "./users.js";

/**
 * One user: their profile, whether they may sign in, their password, and
 * what they hold (roles, remembered consents, sign-in sessions, second
 * factors), each a section of its own.
 */

type Profile = { name: string; email: string; email_verified: boolean; given_name: string; family_name: string };

const profileOf = (user: User): Profile => ({
  name: user.name,
  email: user.email,
  email_verified: user.emailVerified,
  given_name: user.givenName,
  family_name: user.familyName,
});

/** The fields of the profile that differ from the user's, as the update mask names them. */
const changed = (values: Profile, user: User): string[] =>
  (Object.keys(values) as (keyof Profile)[]).filter((name) => values[name] !== profileOf(user)[name]);

function ProfileSection({ who, user, onSaved }: { who: UserRef; user: User; onSaved: (user: User) => void }) {
  const form = useForm(["user-profile", who.organization, who.project, who.userId], profileOf(user));
  return (
    <Section title="Profile">
      <FormBox
        form={form}
        submit="Save profile"
        onSubmit={form.onSubmit(async (values) => {
          const paths = changed(values, user);
          if (paths.length === 0) return announce("Nothing to save");
          const { user: saved } = await admin.updateUser({
            ...who,
            name: values.name,
            email: values.email,
            emailVerified: values.email_verified,
            givenName: values.given_name,
            familyName: values.family_name,
            updateMask: { paths },
          });
          if (saved === undefined) return;
          onSaved(saved);
          // A new address is unverified unless it was said to be: the form shows what the core kept.
          form.reset(profileOf(saved));
          announce(`Profile of ${saved.id} saved`);
        })}
      >
        <TextField form={form} name="name" label="Display name" hint="Empty: the id." />
        <TextField form={form} name="email" label="Email address" type="email" hint="A new address is unverified unless the box below says otherwise." />
        <CheckField form={form} name="email_verified" label="The email address is verified" />
        <TextField form={form} name="given_name" label="Given name" />
        <TextField form={form} name="family_name" label="Family name" />
      </FormBox>
    </Section>
  );
}

/** Enabled or disabled: disabling says first what it ends. */
function AccessSection({ who, user, onSaved }: { who: UserRef; user: User; onSaved: (user: User) => void }) {
  const action = useAction();
  const setEnabled = async (enabled: boolean) => {
    const { user: saved } = await admin.updateUser({ ...who, enabled, updateMask: { paths: ["enabled"] } });
    if (saved !== undefined) onSaved(saved);
    announce(`User ${who.userId} ${enabled ? "enabled" : "disabled"}`);
  };
  return (
    <Section title="Sign-in">
      <p>
        {user.enabled ? (
          <>
            <strong>Enabled</strong>: {user.id} may sign in and use their tokens.
          </>
        ) : (
          <>
            <strong>Disabled</strong>: {user.id} cannot sign in, and no token of theirs verifies.
          </>
        )}
      </p>
      {action.error}
      <div class="actions">
        {user.enabled ? (
          <ConfirmButton label="Disable user" title={`Disable ${user.id}?`} confirm="Disable user" action={() => setEnabled(false)}>
            <p>
              Every grant <strong>{user.id}</strong> holds is revoked and their sign-in sessions end: their access and refresh tokens stop at once, and
              the clients their sessions signed in to are told by back-channel logout. They cannot sign in until they are enabled again.
            </p>
          </ConfirmButton>
        ) : (
          <button type="button" class="primary" onClick={() => action.run(() => setEnabled(true))}>
            Enable user
          </button>
        )}
      </div>
    </Section>
  );
}

function PasswordSection({ who, onSet }: { who: UserRef; onSet: () => void }) {
  const form = useForm(["user-password", who.organization, who.project, who.userId], { password: "" }, { secrets: ["password"] });
  return (
    <Section title="Password">
      <FormBox
        form={form}
        submit="Set password"
        onSubmit={form.onSubmit(async (values) => {
          await admin.setUserPassword({ ...who, password: values.password });
          form.reset();
          onSet();
          announce(`Password of ${who.userId} set; their sign-in sessions ended`);
        })}
      >
        <TextField
          form={form}
          name="password"
          label="New password"
          type="password"
          required
          autocomplete="new-password"
          hint="8 to 1024 characters. Whatever the old one opened ends: every grant the user holds is revoked and their sign-in sessions end."
        />
      </FormBox>
    </Section>
  );
}

export function UserScreen({ organization, project, id, session }: { organization: string; project: string; id: string; session: Session }) {
  const who: UserRef = { organization, project, userId: id };
  const [user, setUser] = useState<User>();
  const [error, setError] = useState<string>();
  // Sessions and grants end when the password is set or the user disabled: the lists are read again.
  const [version, setVersion] = useState(0);
  const reload = () =>
    admin.getUser(who).then(
      ({ user: found }) => setUser(found),
      (err: unknown) => setError(messageOf(err)),
    );
  useEffect(() => void reload(), [organization, project, id]);
  const crumbs: [string, string][] = [...projectCrumbs(session, organization, project), [usersPath(organization, project), "Users"]];
  if (error !== undefined || user === undefined) {
    return (
      <Screen title={`User ${id}`} crumbs={crumbs}>
        {error === undefined ? (
          <p aria-busy="true">Loading…</p>
        ) : (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
      </Screen>
    );
  }
  const saved = (next: User) => {
    setUser(next);
    setVersion((v) => v + 1);
  };
  return (
    <Screen
      title={`User ${id}`}
      crumbs={crumbs}
      actions={
        <ConfirmButton
          label="Delete user"
          title={`Delete the user ${id}?`}
          confirm="Delete user"
          action={async () => {
            await admin.deleteUser(who);
            announce(`User ${id} deleted`);
            navigate(usersPath(organization, project));
          }}
        >
          <p>
            <strong>{id}</strong>'s sign-in sessions end (the clients they signed in to are told by back-channel logout) and their tokens stop
            verifying. Their password, roles, remembered consents, second factors and recovery codes go with them. This cannot be undone.
          </p>
        </ConfirmButton>
      }
    >
      <dl class="facts">
        <dt>Created</dt>
        <dd>
          <Time seconds={user.createdAt} />
        </dd>
      </dl>
      <ProfileSection who={who} user={user} onSaved={saved} />
      <AccessSection who={who} user={user} onSaved={saved} />
      <PasswordSection who={who} onSet={() => setVersion((v) => v + 1)} />
      <RolesSection who={who} held={user.roles} onChange={() => void reload()} />
      <ConsentsSection who={who} version={version} />
      <SessionsSection who={who} version={version} />
      <FactorsSection who={who} version={version} />
    </Screen>
  );
}

export const USER_ROUTES: Route[] = [
  {
    pattern: "/p/:org/:project/users/:user",
    render: ({ org, project, user }, session) => (
      <UserScreen organization={org!} project={project!} id={user!} session={session} key={`${org}/${project}/${user}`} />
    ),
  },
];
