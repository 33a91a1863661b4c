import { useEffect, useState } from "preact/hooks";
import { MfaRequirement, type MfaPolicy } from "../../gen/iam/v1/admin_pb.js";
import { admin, messageOf } from "../api.js";
import { ChoiceField, chosenOf } from "../ui/choices.js";
import { CheckField, FormBox, SelectField, useForm } from "../ui/form.js";
import { Section } from "../ui/page.js";
import { announce } from "../ui/status.js";

/**
 * A project's multi-factor policy: who must sign in with a second factor,
 * and whether a passkey alone signs in. Saving sends the fields changed and
 * names exactly those in the update mask, so that a field another
 * administrator changed meanwhile is left as they set it.
 */

const PAGE_SIZE = 25;

const REQUIREMENTS = [
  [String(MfaRequirement.OPTIONAL), "Nobody: only those who enrolled a factor use it"],
  [String(MfaRequirement.EVERYONE), "Everyone"],
  [String(MfaRequirement.ROLES), "Holders of the roles chosen below"],
] as const;

const valuesOf = (policy: MfaPolicy) => ({ required: String(policy.required), roles: policy.roles.join("\n"), passwordless: policy.passwordless });

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

export function MfaPolicySection({ organization, project }: { organization: string; project: string }) {
  const [current, setCurrent] = useState<MfaPolicy>();
  const [error, setError] = useState<string>();
  // `required` is empty until the policy is read: then the form shows it, unless it came back with a draft.
  const form = useForm(
    ["mfa-policy", organization, project],
    { required: "", roles: "", passwordless: false as boolean },
    { aliases: { "unknown role": "roles", MFA_REQUIREMENT_ROLES: "roles" } },
  );
  useEffect(() => {
    admin.getMfaPolicy({ organization, project }).then(
      ({ policy }) => {
        setCurrent(policy);
        if (policy !== undefined && form.values.required === "") form.reset(valuesOf(policy));
      },
      (err: unknown) => setError(messageOf(err)),
    );
  }, [organization, project]);
  const byRoles = form.values.required === String(MfaRequirement.ROLES);
  return (
    <Section title="Multi-factor sign-in">
      {error === undefined ? null : (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {current === undefined ? null : (
        <FormBox
          form={form}
          label="Multi-factor policy"
          submit="Save multi-factor policy"
          onSubmit={form.onSubmit(async (values) => {
            const required = Number(values.required) as MfaRequirement;
            const roles = chosenOf(values.roles);
            // Roles count only under ROLES: moving to another requirement clears them in the core.
            const paths = [
              required !== current.required ? "required" : "",
              required === MfaRequirement.ROLES && !sameSet(roles, current.roles) ? "roles" : "",
              values.passwordless !== current.passwordless ? "passwordless" : "",
            ].filter((p) => p !== "");
            if (paths.length === 0) return announce("Nothing to save");
            const { policy } = await admin.updateMfaPolicy({
              organization,
              project,
              required,
              roles: paths.includes("roles") ? roles : [],
              passwordless: values.passwordless,
              updateMask: { paths },
            });
            if (policy !== undefined) {
              setCurrent(policy);
              form.reset(valuesOf(policy));
            }
            announce("Multi-factor policy saved");
          })}
        >
          <SelectField
            form={form}
            name="required"
            label="Who must sign in with a second factor"
            hint="Those who must and have no factor enrol one at their next sign-in. Sessions already open keep the level they were opened at."
            options={REQUIREMENTS}
          />
          {byRoles ? (
            <ChoiceField
              form={form}
              name="roles"
              label="Roles whose holders must"
              empty="The project has no role yet: create one under Roles and permissions."
              deps={[organization, project]}
              load={async (pageToken) => {
                const page = await admin.listRoles({ organization, project, pageSize: PAGE_SIZE, pageToken });
                return { items: page.roles, next: page.nextPageToken };
              }}
            />
          ) : null}
          <CheckField
            form={form}
            name="passwordless"
            label="A passkey alone signs in"
            hint="A passkey that verifies its user (a PIN or biometric) signs in without a password."
          />
        </FormBox>
      )}
    </Section>
  );
}
