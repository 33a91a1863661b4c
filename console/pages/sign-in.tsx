import { useState } from "preact/hooks";
import { lastTenant, signIn } from "../auth.js";
import { ADMIN_TENANT, isAdminTenant } from "../config.js";
import { href } from "../router.js";
import { Screen } from "../ui/page.js";

/**
 * Who signs in where: a global administrator through `iam-admins`, a
 * project's administrator through their own project (its users and its
 * sign-in page). Either way the sign-in is iam-core's own pages.
 */
export function SignInScreen() {
  const last = lastTenant();
  const [organization, setOrganization] = useState(last !== undefined && !isAdminTenant(last) ? last.organization : "");
  const [project, setProject] = useState(last !== undefined && !isAdminTenant(last) ? last.project : "");
  const returnTo = location.pathname.endsWith("/signin") ? href("/") : location.pathname + location.search;
  return (
    <Screen title="Sign in to the iam-core console">
      <section class="section" aria-labelledby="global-title">
        <h2 id="global-title">Global administration</h2>
        <p>Every organization and project, with an account of the iam-admins project.</p>
        <button type="button" class="primary" onClick={() => void signIn(ADMIN_TENANT, { returnTo })}>
          Sign in as a global administrator
        </button>
      </section>
      <section class="section" aria-labelledby="project-title">
        <h2 id="project-title">One project</h2>
        <p>A project's own administrators sign in with their account of that project.</p>
        <form
          class="form"
          onSubmit={(event) => {
            event.preventDefault();
            if (organization.trim() !== "" && project.trim() !== "") void signIn({ organization: organization.trim(), project: project.trim() }, { returnTo });
          }}
        >
          <div class="field">
            <label for="signin-organization">Organization</label>
            <input id="signin-organization" value={organization} onInput={(e) => setOrganization((e.currentTarget as HTMLInputElement).value)} required autocomplete="organization" spellcheck={false} />
          </div>
          <div class="field">
            <label for="signin-project">Project</label>
            <input id="signin-project" value={project} onInput={(e) => setProject((e.currentTarget as HTMLInputElement).value)} required autocomplete="off" spellcheck={false} />
          </div>
          <div class="actions">
            <button type="submit" class="primary">
              Sign in to this project
            </button>
          </div>
        </form>
      </section>
    </Screen>
  );
}
