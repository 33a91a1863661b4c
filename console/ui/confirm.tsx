import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "../api.js";

/**
 * A destructive action behind a modal dialog (the browser's <dialog>: focus
 * held inside, Escape cancels) that says what goes with it, and asks the
 * person to type the object's id when much goes with it.
 */
export function ConfirmButton(props: {
  label: string;
  /** What the button shows when `label`, its accessible name, is too long for a table's cell (a URL): its first word, say. */
  text?: string;
  title: string;
  children: ComponentChildren;
  /** When set, the person types this to confirm. */
  typeToConfirm?: string;
  confirm: string;
  action: () => Promise<void>;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const id = useRef(`confirm-${Math.random().toString(36).slice(2)}`).current;
  useEffect(() => () => dialog.current?.close(), []);
  const ready = props.typeToConfirm === undefined || typed === props.typeToConfirm;
  return (
    <>
      <button
        type="button"
        class={props.danger === false ? "" : "danger"}
        aria-label={props.text === undefined ? undefined : props.label}
        onClick={() => dialog.current?.showModal()}
      >
        {props.text ?? props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={`${id}-title`} onClose={() => (setTyped(""), setError(undefined))}>
        <form
          method="dialog"
          onSubmit={async (event) => {
            event.preventDefault();
            if (!ready || busy) return;
            setBusy(true);
            try {
              await props.action();
              dialog.current?.close();
            } catch (err) {
              setError(messageOf(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          <h2 id={`${id}-title`}>{props.title}</h2>
          <div class="dialog-body">{props.children}</div>
          {props.typeToConfirm === undefined ? null : (
            <div class="field">
              <label for={`${id}-typed`}>
                Type <code>{props.typeToConfirm}</code> to confirm
              </label>
              <input id={`${id}-typed`} value={typed} onInput={(e) => setTyped((e.currentTarget as HTMLInputElement).value)} autocomplete="off" spellcheck={false} />
            </div>
          )}
          {error === undefined ? null : (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="submit" class={props.danger === false ? "primary" : "danger"} disabled={!ready || busy}>
              {props.confirm}
            </button>
            <button type="button" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
