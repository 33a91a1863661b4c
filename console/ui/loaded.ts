import { useEffect, useState } from "preact/hooks";
import { messageOf } from "../api.js";

export interface Loaded<T> {
  /** The answer; undefined while the first one is awaited, or after an error. */
  value: T | undefined;
  /** The API's refusal, as shown. */
  error: string | undefined;
  /** Reads it again (after a change this screen made). */
  reload: () => void;
}

/**
 * What a screen reads whole in one call (a project's keys, its initial
 * access tokens, its rules): read when `deps` change and on `reload()`; an
 * answer that comes after the screen moved on is dropped.
 */
export function useLoaded<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<string>();
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let current = true;
    load().then(
      (answer) => current && (setValue(() => answer), setError(undefined)),
      (err: unknown) => current && setError(messageOf(err)),
    );
    return () => {
      current = false;
    };
  }, [...deps, version]);
  return { value, error, reload: () => setVersion((v) => v + 1) };
}
