import { useEffect, useRef, useState } from "preact/hooks";
import { announce } from "./status.js";

/**
 * A secret the API answers once (a client secret at creation or rotation):
 * shown with a copy button until the person says they have stored it, then
 * gone. It lives in this component's state only: never in a draft, the URL
 * or the browser's storage, so nothing can show it again.
 */
export function OneTimeSecret(props: { title: string; secret: string; what: string; onDone: () => void; ifLost?: string }) {
  const heading = useRef<HTMLHeadingElement>(null);
  const [copied, setCopied] = useState<"copied" | "failed">();
  const id = useRef(`secret-${Math.random().toString(36).slice(2)}`).current;
  // The secret takes the focus as it appears, so that a screen reader says it is there and must be kept now.
  useEffect(() => heading.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied("copied");
      announce(`${props.what} copied to the clipboard`);
    } catch {
      setCopied("failed");
    }
  };
  return (
    <section class="section one-time" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} tabIndex={-1} ref={heading}>
        {props.title}
      </h2>
      <p>
        <strong>Copy it now: you will not see it again.</strong> iam-core keeps only a hash of it. {props.ifLost ?? "If it is lost, rotate the secret to get a new one."}
      </p>
      <div class="secret">
        <span>{props.what}:</span>
        <code id={`${id}-value`}>{props.secret}</code>
        <button type="button" onClick={() => void copy()} aria-describedby={`${id}-copied`}>
          Copy {props.what.toLowerCase()}
        </button>
        <span id={`${id}-copied`} class={copied === "failed" ? "field-error" : "meta"}>
          {copied === "copied" ? "Copied." : copied === "failed" ? "The browser did not allow copying: select the secret and copy it." : ""}
        </span>
      </div>
      <div class="actions">
        <button type="button" class="primary" onClick={props.onDone}>
          I have stored it
        </button>
      </div>
    </section>
  );
}
