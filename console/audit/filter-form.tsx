import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { AuditAction } from "../../gen/iam/v1/audit_pb.js";
import { ACTION_GROUPS, ACTION_LABELS } from "./labels.js";
import { EMPTY_DRAFT, type FilterDraft } from "./query.js";

/**
 * The audit trail's filter: what it is applied with goes to the URL (the
 * screen reads it from there). A refusal of the core, or a part of the URL
 * that cannot be read, is shown next to the field it names.
 */

const ID = "audit-filter";

function Field(props: { name: string; label: string; hint?: string; error?: string; children: (aria: Record<string, string | undefined>) => ComponentChildren }) {
  const id = `${ID}-${props.name}`;
  const describedBy = [props.hint === undefined ? "" : `${id}-hint`, props.error === undefined ? "" : `${id}-error`].filter((x) => x !== "").join(" ");
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children({ id, "aria-describedby": describedBy === "" ? undefined : describedBy, "aria-invalid": props.error === undefined ? undefined : "true" })}
      {props.hint === undefined ? null : (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error === undefined ? null : (
        <p class="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

function ActionsField(props: { chosen: readonly AuditAction[]; onChange: (actions: AuditAction[]) => void; error?: string }) {
  const chosen = new Set(props.chosen);
  const toggle = (action: AuditAction, on: boolean) => props.onChange(on ? [...props.chosen, action] : props.chosen.filter((a) => a !== action));
  const summary = chosen.size === 0 ? "All actions" : chosen.size === 1 ? `1 action: ${ACTION_LABELS[[...chosen][0]!]}` : `${chosen.size} actions`;
  return (
    <fieldset class="field actions-filter" aria-describedby={props.error === undefined ? undefined : `${ID}-actions-error`}>
      <legend>Actions</legend>
      <details>
        <summary>{summary}</summary>
        <div class="action-groups">
          {ACTION_GROUPS.map(([group, actions]) => (
            <fieldset key={group} class="action-group">
              <legend>{group}</legend>
              {actions.map((action) => (
                <div class="field check" key={action}>
                  <input
                    id={`${ID}-action-${action}`}
                    type="checkbox"
                    checked={chosen.has(action)}
                    onChange={(e) => toggle(action, (e.currentTarget as HTMLInputElement).checked)}
                  />
                  <label for={`${ID}-action-${action}`}>{ACTION_LABELS[action]}</label>
                </div>
              ))}
            </fieldset>
          ))}
        </div>
      </details>
      {props.error === undefined ? null : (
        <p class="field-error" id={`${ID}-actions-error`}>
          {props.error}
        </p>
      )}
    </fieldset>
  );
}

export function FilterForm(props: {
  applied: FilterDraft;
  errors: Record<string, string | undefined>;
  formError: string | undefined;
  onApply: (draft: FilterDraft) => void;
}) {
  const [draft, setDraft] = useState(props.applied);
  // A new URL (applied here, or the browser's back button) shows its filter.
  useEffect(() => setDraft(props.applied), [JSON.stringify(props.applied)]);
  const set = <K extends keyof FilterDraft>(name: K, value: FilterDraft[K]) => setDraft((d) => ({ ...d, [name]: value }));
  const text = (name: "actor_id" | "target_id" | "since" | "until") => ({
    name,
    value: draft[name],
    onInput: (e: Event) => set(name, (e.currentTarget as HTMLInputElement).value),
  });
  return (
    <form
      class="form filters"
      aria-label="Filter events"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        props.onApply(draft);
      }}
    >
      <p class="form-error" id={`${ID}-error`} role={props.formError === undefined ? undefined : "alert"} hidden={props.formError === undefined}>
        {props.formError}
      </p>
      <ActionsField chosen={draft.actions} onChange={(actions) => set("actions", actions)} error={props.errors.actions} />
      <div class="filter-grid">
        <Field name="outcome" label="Outcome" error={props.errors.outcome}>
          {(aria) => (
            <select {...aria} name="outcome" value={draft.outcome} onChange={(e) => set("outcome", (e.currentTarget as HTMLSelectElement).value as FilterDraft["outcome"])}>
              <option value="">Any</option>
              <option value="success">Success</option>
              <option value="failure">Failure</option>
            </select>
          )}
        </Field>
        <Field name="actor_id" label="Actor id" hint="A username or client id, exactly." error={props.errors.actor_id}>
          {(aria) => <input {...aria} {...text("actor_id")} autocomplete="off" spellcheck={false} />}
        </Field>
        <Field name="target_id" label="Target id" hint="What the event is about, exactly." error={props.errors.target_id}>
          {(aria) => <input {...aria} {...text("target_id")} autocomplete="off" spellcheck={false} />}
        </Field>
        <Field name="since" label="Since" hint="At or after, your local time." error={props.errors.since}>
          {(aria) => <input {...aria} {...text("since")} type="datetime-local" step={1} />}
        </Field>
        <Field name="until" label="Until" hint="Before, your local time." error={props.errors.until}>
          {(aria) => <input {...aria} {...text("until")} type="datetime-local" step={1} />}
        </Field>
      </div>
      <div class="actions">
        <button type="submit" class="primary">
          Apply filters
        </button>
        <button type="button" onClick={() => props.onApply(EMPTY_DRAFT)}>
          Clear filters
        </button>
      </div>
    </form>
  );
}
