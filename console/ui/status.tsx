import { useEffect, useState } from "preact/hooks";

/**
 * One polite live region for what an action did ("Client web created"), so a
 * screen reader says it and everyone sees it, without moving the focus.
 */
let say: ((message: string) => void) | undefined;

export function announce(message: string): void {
  say?.(message);
}

export function StatusRegion() {
  const [message, setMessage] = useState("");
  useEffect(() => {
    let clear: ReturnType<typeof setTimeout> | undefined;
    say = (text) => {
      setMessage("");
      clearTimeout(clear);
      requestAnimationFrame(() => setMessage(text));
      clear = setTimeout(() => setMessage(""), 8_000);
    };
    return () => {
      say = undefined;
      clearTimeout(clear);
    };
  }, []);
  return (
    <div class="status" role="status" aria-live="polite">
      {message}
    </div>
  );
}
