import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { href, navigate } from "../router.js";

/** A link to a console route: a real link (keyboard, middle click, copy), followed in the page. */
export function Link(props: { to: string; children: ComponentChildren; class?: string; current?: boolean }): JSX.Element {
  return (
    <a
      href={href(props.to)}
      class={props.class}
      aria-current={props.current === true ? "page" : undefined}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(props.to);
      }}
    >
      {props.children}
    </a>
  );
}

/**
 * A screen: its title (the document's too) as the heading that takes the
 * focus when the screen opens, so keyboard and screen-reader users start
 * at its top, as after a page load.
 */
export function Screen(props: { title: string; children: ComponentChildren; actions?: ComponentChildren; crumbs?: readonly (readonly [string, string])[] }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · iam-core console`;
    heading.current?.focus();
  }, [props.title]);
  return (
    <>
      {props.crumbs === undefined || props.crumbs.length === 0 ? null : (
        <nav aria-label="Breadcrumb" class="crumbs">
          <ol>
            {props.crumbs.map(([to, label]) => (
              <li key={to}>
                <Link to={to}>{label}</Link>
              </li>
            ))}
          </ol>
        </nav>
      )}
      <div class="screen-head">
        <h1 tabIndex={-1} ref={heading}>
          {props.title}
        </h1>
        {props.actions === undefined ? null : <div class="actions">{props.actions}</div>}
      </div>
      {props.children}
    </>
  );
}

/** A titled part of a screen. */
export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  const id = props.id ?? `section-${props.title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return (
    <section aria-labelledby={id} class="section">
      <h2 id={id}>{props.title}</h2>
      {props.children}
    </section>
  );
}

/** A time from the API (seconds since the epoch) as the reader's local date and time. */
export function Time({ seconds }: { seconds: bigint | number }) {
  const value = Number(seconds);
  if (value === 0) return <span>—</span>;
  const date = new Date(value * 1000);
  return <time dateTime={date.toISOString()}>{date.toLocaleString()}</time>;
}
