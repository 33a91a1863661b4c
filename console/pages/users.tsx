import { useEffect, useRef, useState } from "preact/hooks";
import type { User } from "../../gen/iam/v1/admin_pb.js";
import { admin } from "../api.js";
import type { Session } from "../auth.js";
import type { Route } from "../routes.js";
import { navigate, pathOf, useLocation } from "../router.js";
import { CheckField, FormBox, TextField, useForm } from "../ui/form.js";
import { Link, Screen, Section, Time } from "../ui/page.js";
import { PagedTable, usePaged } from "../ui/paged.js";
import { announce } from "../ui/status.js";
import { projectCrumbs } from "./project.js";

/**
 * A project's users: a list read 25 at a time, filtered by the beginning of
 * an id or email address (the filter is the URL's `q`, so that it survives a
 * reload and the way back from a user), and the form that creates one.
 */

const PAGE_SIZE = 25;
/** How long the filter waits after the last key before it asks again. */
const FILTER_DELAY_MS = 300;

export const usersPath = (organization: string, project: string): string => `${pathOf("p", organization, project)}/users`;
export const userPath = (organization: string, project: string, id: string): string => `${usersPath(organization, project)}/${encodeURIComponent(id)}`;

/**
 * One filtered listing. It is shown under a key of its filter, so that a new
 * filter starts a new listing at its first page: read once, never after a
 * read of the old filter's page.
 */
function UserList(props: { organization: string; project: string; query: string; onRefusal: (message: string | undefined) => void }) {
  const { organization, project, query } = props;
  const paged = usePaged(
    async (pageToken) => {
      const page = await admin.listUsers({ organization, project, query, pageSize: PAGE_SIZE, pageToken });
      return { items: page.users, next: page.nextPageToken };
    },
    [organization, project, query],
  );
  // A refusal of the filter is shown at the filter, not under the table.
  const refusedQuery = paged.error?.startsWith("query ") === true;
  useEffect(() => props.onRefusal(refusedQuery ? paged.error : undefined), [paged.error]);
  return (
    <PagedTable
      paged={refusedQuery ? { ...paged, error: undefined } : paged}
      caption={query === "" ? "Users, by id" : `Users whose id or email begins with “${query}”, by id`}
      columns={["Id", "Name", "Email", "Status", "Roles", "Created"]}
      empty={query === "" ? "No user yet." : "No user's id or email begins with this."}
      row={(user: User) => (
        <tr key={user.id}>
          <td>
            <Link to={userPath(organization, project, user.id)}>{user.id}</Link>
          </td>
          <td>{user.name}</td>
          <td>
            {user.email}
            {user.email !== "" && user.emailVerified ? " (verified)" : ""}
          </td>
          <td>{user.enabled ? "Enabled" : "Disabled"}</td>
          <td>{user.roles.join(", ")}</td>
          <td>
            <Time seconds={user.createdAt} />
          </td>
        </tr>
      )}
    />
  );
}

/**
 * The filter as typed, and as applied (the URL's `q`): typing applies it
 * after a pause, replacing the URL rather than adding a step to the history
 * at each key; a URL changed otherwise (back, a link) fills the box again.
 */
function useFilter(path: string, applied: string): [text: string, setText: (text: string) => void, applyNow: () => void] {
  const [text, setText] = useState(applied);
  const sent = useRef(applied);
  useEffect(() => {
    if (applied === sent.current) return;
    sent.current = applied;
    setText(applied);
  }, [applied]);
  const apply = (value: string) => {
    sent.current = value;
    navigate(value === "" ? path : `${path}?q=${encodeURIComponent(value)}`, { replace: true });
  };
  useEffect(() => {
    if (text === sent.current) return;
    const timer = setTimeout(() => apply(text), FILTER_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);
  return [text, setText, () => text !== sent.current && apply(text)];
}

function Users({ organization, project, session }: { organization: string; project: string; session: Session }) {
  const { path, query } = useLocation();
  const applied = query.get("q") ?? "";
  const [text, setText, applyNow] = useFilter(path, applied);
  const [refusal, setRefusal] = useState<string>();
  const form = useForm(
    ["create-user", organization, project],
    { user_id: "", name: "", email: "", email_verified: false, given_name: "", family_name: "", password: "" },
    // "user bob already exists", "a client bob exists in this project": both are about the id.
    { secrets: ["password"], aliases: { user: "user_id", "a client": "user_id" } },
  );
  return (
    <Screen title="Users" crumbs={projectCrumbs(session, organization, project)}>
      <form
        role="search"
        class="toolbar"
        aria-label="Users"
        onSubmit={(event) => {
          event.preventDefault();
          applyNow();
        }}
      >
        <div class="field">
          <label for="users-filter">Find users</label>
          <input
            id="users-filter"
            type="search"
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
            aria-describedby={refusal === undefined ? "users-filter-hint" : "users-filter-hint users-filter-error"}
            aria-invalid={refusal === undefined ? undefined : "true"}
            autocomplete="off"
            spellcheck={false}
          />
          <p class="hint" id="users-filter-hint">
            The beginning of an id or an email address, as stored: capitals count.
          </p>
          {refusal === undefined ? null : (
            <p class="field-error" id="users-filter-error">
              {refusal}
            </p>
          )}
        </div>
      </form>
      <UserList organization={organization} project={project} query={applied} onRefusal={setRefusal} key={applied} />
      <Section title="New user">
        <FormBox
          form={form}
          submit="Create user"
          onSubmit={form.onSubmit(async (values) => {
            const { user } = await admin.createUser({
              organization,
              project,
              userId: values.user_id,
              name: values.name,
              email: values.email,
              emailVerified: values.email_verified,
              givenName: values.given_name,
              familyName: values.family_name,
              password: values.password,
            });
            const id = user?.id ?? values.user_id;
            announce(`User ${id} created`);
            form.reset();
            navigate(userPath(organization, project, id));
          })}
        >
          <TextField form={form} name="user_id" label="Id" required hint="The username: 1-128 letters, digits and '-._~@+', starting with a letter or digit; it cannot change." />
          <TextField form={form} name="name" label="Display name" hint="Empty: the id." />
          <TextField form={form} name="email" label="Email address" type="email" />
          <CheckField form={form} name="email_verified" label="The email address is verified" />
          <TextField form={form} name="given_name" label="Given name" />
          <TextField form={form} name="family_name" label="Family name" />
          <TextField form={form} name="password" label="Password" type="password" required autocomplete="new-password" hint="8 to 1024 characters." />
        </FormBox>
      </Section>
    </Screen>
  );
}

export const USERS_ROUTES: Route[] = [
  {
    pattern: "/p/:org/:project/users",
    render: ({ org, project }, session) => <Users organization={org!} project={project!} session={session} key={`${org}/${project}`} />,
  },
];
