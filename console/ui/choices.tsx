import type { Form } from "./form.js";
import { Pager, usePaged, type Page, type Paged } from "./paged.js";

/** One thing that may be chosen: its id (what the API takes) and what it is. */
export interface Choice {
  id: string;
  description: string;
}

/** The ids a choice field holds: one a line, as ListField keeps its values, so that a draft keeps them too. */
export const chosenOf = (value: string | boolean | undefined): string[] => String(value ?? "").split("\n").filter((id) => id !== "");

/**
 * Several of a project's things chosen with checkboxes (a role's permissions,
 * the roles of a policy), read a page at a time as the API pages them: what
 * was chosen on other pages stays chosen, and is listed below. The field's
 * value is the chosen ids, one a line; the core's refusal that names the
 * field (an unknown id) is shown under it, and the group takes the focus.
 */
export function ChoiceField<V extends Record<string, string | boolean>>(props: {
  form: Form<V>;
  name: keyof V & string;
  label: string;
  hint?: string;
  load: (pageToken: string) => Promise<Page<Choice>>;
  /** A change (a thing created) reads the list again from its first page. */
  deps: unknown[];
  empty: string;
}) {
  const { form, name } = props;
  const id = `${form.key}-${name}`;
  const paged = usePaged(props.load, props.deps);
  const chosen = chosenOf(form.values[name]);
  const error = form.errors[name];
  const describedBy = [props.hint === undefined ? "" : `${id}-hint`, error === undefined ? "" : `${id}-error`].filter((x) => x !== "").join(" ");
  const toggle = (choice: string, on: boolean) => {
    const next = on ? [...chosen.filter((c) => c !== choice), choice] : chosen.filter((c) => c !== choice);
    form.set(name, next.join("\n") as V[typeof name]);
  };
  return (
    <fieldset class="field choices" id={id} tabIndex={-1} aria-describedby={describedBy === "" ? undefined : describedBy} aria-busy={paged.loading ? "true" : undefined}>
      <legend>{props.label}</legend>
      {props.hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {paged.error === undefined ? null : (
        <p class="form-error" role="alert">
          {paged.error}
        </p>
      )}
      {!paged.loading && paged.error === undefined && paged.items.length === 0 && !paged.hasPrevious ? <p class="empty">{props.empty}</p> : null}
      <ul>
        {paged.items.map((choice) => (
          <li key={choice.id} class="field check">
            <input
              type="checkbox"
              id={`${id}-${choice.id}`}
              value={choice.id}
              checked={chosen.includes(choice.id)}
              onChange={(e) => toggle(choice.id, (e.currentTarget as HTMLInputElement).checked)}
            />
            <label for={`${id}-${choice.id}`}>
              <code>{choice.id}</code>
              {choice.description === "" ? null : <span class="meta"> {choice.description}</span>}
            </label>
          </li>
        ))}
      </ul>
      {paged.hasNext || paged.hasPrevious ? <Pager paged={paged as Paged<unknown>} label={`${props.label}: pages`} as="group" /> : null}
      <p class="meta">{chosen.length === 0 ? "None chosen." : `Chosen: ${chosen.join(", ")}`}</p>
      {error === undefined ? null : (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </fieldset>
  );
}
