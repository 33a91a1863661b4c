import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../api.js";

/** One page of a list, as the AdminService answers it. */
export interface Page<T> {
  items: T[];
  next: string;
}

export interface Paged<T> {
  items: T[];
  loading: boolean;
  error: string | undefined;
  /** Page number, from 1. */
  page: number;
  hasNext: boolean;
  hasPrevious: boolean;
  next: () => void;
  previous: () => void;
  reload: () => void;
}

/**
 * A list read one page at a time, as the API pages it: only the page shown is
 * loaded. The tokens of the pages before are kept to go back. A change of
 * `deps` (a filter) starts again at the first page.
 */
export function usePaged<T>(load: (pageToken: string) => Promise<Page<T>>, deps: unknown[]): Paged<T> {
  // The page tokens belong to the `deps` they were read with: new deps start at the first page at once,
  // rather than reading the old page's token with the new filter first.
  const key = JSON.stringify(deps, (_name, value: unknown) => (typeof value === "bigint" ? String(value) : value));
  const [paging, setPaging] = useState<{ key: string; tokens: string[] }>({ key, tokens: [""] });
  const tokens = paging.key === key ? paging.tokens : [""];
  const setTokens = (next: (tokens: string[]) => string[]) => setPaging((current) => ({ key, tokens: next(current.key === key ? current.tokens : [""]) }));
  const [state, setState] = useState<{ items: T[]; next: string; loading: boolean; error?: string }>({ items: [], next: "", loading: true });
  const [version, setVersion] = useState(0);
  const token = tokens[tokens.length - 1] ?? "";
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load(token).then(
      (page) => current && setState({ items: page.items, next: page.next, loading: false }),
      (err: unknown) => current && setState({ items: [], next: "", loading: false, error: messageOf(err) }),
    );
    return () => {
      current = false;
    };
  }, [token, version, key]);
  return {
    items: state.items,
    loading: state.loading,
    error: state.error,
    page: tokens.length,
    hasNext: state.next !== "",
    hasPrevious: tokens.length > 1,
    next: () => setTokens((t) => [...t, state.next]),
    previous: () => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t)),
    reload: () => setVersion((v) => v + 1),
  };
}

/** The table of a paged list, with its caption, its state and its pager. */
export function PagedTable<T>(props: {
  paged: Paged<T>;
  caption: string;
  columns: readonly string[];
  row: (item: T) => ComponentChildren;
  empty: string;
}) {
  const { paged } = props;
  return (
    <div class="table-wrap" aria-busy={paged.loading ? "true" : undefined}>
      <table>
        <caption>{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{paged.items.map(props.row)}</tbody>
      </table>
      {paged.error === undefined ? null : (
        <p class="form-error" role="alert">
          {paged.error}
        </p>
      )}
      {!paged.loading && paged.error === undefined && paged.items.length === 0 ? <p class="empty">{props.empty}</p> : null}
      <nav class="pager" aria-label={`${props.caption} pages`}>
        <button type="button" onClick={paged.previous} disabled={!paged.hasPrevious}>
          Previous page
        </button>
        <span>Page {paged.page}</span>
        <button type="button" onClick={paged.next} disabled={!paged.hasNext}>
          Next page
        </button>
      </nav>
    </div>
  );
}
