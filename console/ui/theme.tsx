import { useState } from "preact/hooks";

/** Light, dark, or as the system says: the choice is kept in localStorage and set on <html data-theme>. */
type Theme = "system" | "light" | "dark";
const KEY = "iam-console:theme";

function stored(): Theme {
  const value = localStorage.getItem(KEY);
  return value === "light" || value === "dark" ? value : "system";
}

export function applyTheme(theme: Theme = stored()): void {
  if (theme === "system") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", theme);
}

export function ThemeSelect() {
  const [theme, setTheme] = useState<Theme>(stored);
  return (
    <label class="theme">
      <span>Theme</span>
      <select
        value={theme}
        onChange={(e) => {
          const next = (e.currentTarget as HTMLSelectElement).value as Theme;
          if (next === "system") localStorage.removeItem(KEY);
          else localStorage.setItem(KEY, next);
          setTheme(next);
          applyTheme(next);
        }}
      >
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}
