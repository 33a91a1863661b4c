import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "../api.js";
import { registerDraft, takeDraft } from "../drafts.js";

/**
 * Forms. The rules are the core's: a form sends what was typed, and a
 * refusal comes back as the API's own message, shown next to the field it
 * names (the core's INVALID_ARGUMENT messages begin with the field, as in
 * "redirect_uris must be absolute") or above the form when it names none.
 * Nothing is checked twice in the page, so the page can never disagree with
 * the API. What was typed survives a sign-in (drafts.ts), except secrets.
 */

type Value = string | boolean;
type Values = Record<string, Value>;

export interface Form<V extends Values> {
  key: string;
  values: V;
  set: <K extends keyof V>(name: K, value: V[K]) => void;
  errors: Partial<Record<keyof V, string>>;
  formError: string | undefined;
  busy: boolean;
  /** The submit handler: runs `action` with the values; a refusal is shown in place and changes nothing. */
  onSubmit: (action: (values: V) => Promise<void>) => (event: Event) => Promise<void>;
  reset: (values?: V) => void;
  /** Field names that are secrets: never kept in a draft. */
  secrets: ReadonlySet<string>;
}

/** The field a core message names: the longest field name (or alias) it begins with, followed by a space, `[`, `.`, `:` or nothing. */
export function fieldOf(message: string, names: readonly string[], aliases: Record<string, string> = {}): string | undefined {
  const candidates = [...names.map((name) => [name, name] as const), ...Object.entries(aliases)].sort((a, b) => b[0].length - a[0].length);
  for (const [said, field] of candidates) {
    if (message.startsWith(said) && /^([\s[.:]|$)/.test(message.slice(said.length))) return field;
  }
  return undefined;
}

/**
 * A form's state. `parts` name it: what it edits and where (its kind, then
 * the ids of the organization, project, client or user): its kept draft is
 * found by them as a list, so that ids holding `-` never meet another
 * form's; its elements' ids join them with `-`.
 */
export function useForm<V extends Values>(
  parts: readonly string[],
  initial: V,
  options: { secrets?: readonly (keyof V & string)[]; aliases?: Record<string, keyof V & string> } = {},
): Form<V> {
  const key = parts.join("-");
  const draftKey = JSON.stringify(parts);
  const secrets = new Set<string>(options.secrets ?? []);
  const [values, setValues] = useState<V>(() => ({ ...initial, ...(takeDraft(draftKey) as Partial<V> | undefined) }));
  const [errors, setErrors] = useState<Partial<Record<keyof V, string>>>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const latest = useRef(values);
  latest.current = values;
  const formRef = useRef<string>(key);
  formRef.current = key;

  useEffect(
    () =>
      registerDraft(draftKey, () => Object.fromEntries(Object.entries(latest.current).filter(([name]) => !secrets.has(name)))),
    [draftKey],
  );

  return {
    key,
    values,
    errors,
    formError,
    busy,
    secrets,
    set: (name, value) => {
      setValues((current) => ({ ...current, [name]: value }));
      setErrors((current) => ({ ...current, [name]: undefined }));
    },
    reset: (next) => {
      setValues(next ?? initial);
      setErrors({});
      setFormError(undefined);
    },
    onSubmit: (action) => async (event) => {
      event.preventDefault();
      if (busy) return;
      setBusy(true);
      setErrors({});
      setFormError(undefined);
      try {
        await action(latest.current);
      } catch (err) {
        const message = messageOf(err);
        const field = fieldOf(message, Object.keys(latest.current), options.aliases as Record<string, string> | undefined);
        if (field === undefined) setFormError(message);
        else setErrors({ [field]: message } as Partial<Record<keyof V, string>>);
        // The field in error (or the form's message) takes the focus, so that a screen reader says what went wrong.
        requestAnimationFrame(() => document.getElementById(field === undefined ? `${key}-error` : `${key}-${field}`)?.focus());
      } finally {
        setBusy(false);
      }
    },
  };
}

interface FieldProps<V extends Values> {
  form: Form<V>;
  name: keyof V & string;
  label: string;
  hint?: string;
}

function described<V extends Values>(props: FieldProps<V>): { id: string; describedBy: string | undefined; error: string | undefined } {
  const id = `${props.form.key}-${props.name}`;
  const error = props.form.errors[props.name];
  const ids = [props.hint === undefined ? "" : `${id}-hint`, error === undefined ? "" : `${id}-error`].filter((x) => x !== "");
  return { id, describedBy: ids.length === 0 ? undefined : ids.join(" "), error };
}

function FieldNotes({ id, hint, error }: { id: string; hint: string | undefined; error: string | undefined }) {
  return (
    <>
      {hint === undefined ? null : <p class="hint" id={`${id}-hint`}>{hint}</p>}
      {error === undefined ? null : (
        <p class="field-error" id={`${id}-error`}>
          {error}
        </p>
      )}
    </>
  );
}

export function TextField<V extends Values>(
  props: FieldProps<V> & { type?: "text" | "password" | "email" | "number" | "url"; required?: boolean; autocomplete?: string; readOnly?: boolean; placeholder?: string },
) {
  const { id, describedBy, error } = described(props);
  return (
    <div class="field">
      <label for={id}>
        {props.label}
        {props.required === true ? <span class="required"> (required)</span> : null}
      </label>
      <input
        id={id}
        name={props.name}
        type={(props.type ?? "text") as "text"}
        value={String(props.form.values[props.name] ?? "")}
        onInput={(e) => props.form.set(props.name, (e.currentTarget as HTMLInputElement).value as V[typeof props.name])}
        aria-invalid={error === undefined ? undefined : "true"}
        aria-describedby={describedBy}
        required={props.required}
        readOnly={props.readOnly}
        autocomplete={props.autocomplete ?? "off"}
        placeholder={props.placeholder}
        spellcheck={false}
      />
      <FieldNotes id={id} hint={props.hint} error={error} />
    </div>
  );
}

/** Several values, one per line (redirect URIs, origins). */
export function ListField<V extends Values>(props: FieldProps<V> & { rows?: number }) {
  const { id, describedBy, error } = described(props);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <textarea
        id={id}
        name={props.name}
        rows={props.rows ?? 3}
        value={String(props.form.values[props.name] ?? "")}
        onInput={(e) => props.form.set(props.name, (e.currentTarget as HTMLTextAreaElement).value as V[typeof props.name])}
        aria-invalid={error === undefined ? undefined : "true"}
        aria-describedby={describedBy}
        spellcheck={false}
      />
      <FieldNotes id={id} hint={props.hint} error={error} />
    </div>
  );
}

export function CheckField<V extends Values>(props: FieldProps<V>) {
  const { id, describedBy, error } = described(props);
  return (
    <div class="field check">
      <input
        id={id}
        name={props.name}
        type="checkbox"
        checked={props.form.values[props.name] === true}
        onChange={(e) => props.form.set(props.name, (e.currentTarget as HTMLInputElement).checked as V[typeof props.name])}
        aria-invalid={error === undefined ? undefined : "true"}
        aria-describedby={describedBy}
      />
      <label for={id}>{props.label}</label>
      <FieldNotes id={id} hint={props.hint} error={error} />
    </div>
  );
}

export function SelectField<V extends Values>(props: FieldProps<V> & { options: readonly (readonly [value: string, label: string])[] }) {
  const { id, describedBy, error } = described(props);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        name={props.name}
        value={String(props.form.values[props.name])}
        onChange={(e) => props.form.set(props.name, (e.currentTarget as HTMLSelectElement).value as V[typeof props.name])}
        aria-invalid={error === undefined ? undefined : "true"}
        aria-describedby={describedBy}
      >
        {props.options.map(([value, label]) => (
          <option value={value} key={value}>
            {label}
          </option>
        ))}
      </select>
      <FieldNotes id={id} hint={props.hint} error={error} />
    </div>
  );
}

/** A form: its fields, the refusal that names no field, and its submit button. */
export function FormBox<V extends Values>(props: {
  form: Form<V>;
  onSubmit: (event: Event) => Promise<void>;
  submit: string;
  children: ComponentChildren;
  label?: string;
  extra?: ComponentChildren;
}): JSX.Element {
  const { form } = props;
  return (
    <form class="form" onSubmit={props.onSubmit} aria-label={props.label} noValidate>
      <p class="form-error" id={`${form.key}-error`} tabIndex={-1} role={form.formError === undefined ? undefined : "alert"} hidden={form.formError === undefined}>
        {form.formError}
      </p>
      {props.children}
      <div class="actions">
        <button type="submit" class="primary" disabled={form.busy} aria-busy={form.busy ? "true" : undefined}>
          {props.submit}
        </button>
        {props.extra}
      </div>
    </form>
  );
}

/** Lines of a list field, without blanks. */
export const lines = (text: Value | undefined): string[] =>
  String(text ?? "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
