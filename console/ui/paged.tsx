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

/**
 * A table of rows with its caption and column headers, what its reading
 * said (busy, a refusal, nothing found), and anything below it.
 */
export function Table<T>(props: {
  caption: string;
  columns: readonly string[];
  items: readonly T[];
  row: (item: T) => ComponentChildren;
  empty: string;
  loading: boolean;
  error: string | undefined;
  children?: ComponentChildren;
}) {
  return (
    <div class="table-wrap" aria-busy={props.loading ? "true" : undefined}>
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
        <tbody>{props.items.map(props.row)}</tbody>
      </table>
      {props.error === undefined ? null : (
        <p class="form-error" role="alert">
          {props.error}
        </p>
      )}
      {!props.loading && props.error === undefined && props.items.length === 0 ? <p class="empty">{props.empty}</p> : null}
      {props.children}
    </div>
  );
}

/** Previous and next page of a paged list, and which page it is. */
export function Pager(props: { paged: Paged<unknown>; label: string; as?: "nav" | "group" }) {
  const { paged } = props;
  const buttons = (
    <>
      <button type="button" onClick={paged.previous} disabled={!paged.hasPrevious}>
        Previous page
      </button>
      <span>Page {paged.page}</span>
      <button type="button" onClick={paged.next} disabled={!paged.hasNext}>
        Next page
      </button>
    </>
  );
  return props.as === "group" ? (
    <div class="pager" role="group" aria-label={props.label}>
      {buttons}
    </div>
  ) : (
    <nav class="pager" aria-label={props.label}>
      {buttons}
    </nav>
  );
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
    <Table caption={props.caption} columns={props.columns} items={paged.items} row={props.row} empty={props.empty} loading={paged.loading} error={paged.error}>
      <Pager paged={paged as Paged<unknown>} label={`${props.caption} pages`} />
    </Table>
  );
}
