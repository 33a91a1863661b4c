/**
 * What a person has typed into the forms of the page, kept across a sign-in:
 * when the token is found expired or revoked, every open form's values are
 * written to sessionStorage just before the browser leaves for the
 * authorization endpoint, and each form takes its own back (and removes it)
 * when it is shown again. Passwords and secrets are never written: those
 * fields come back empty.
 */
type Values = Record<string, unknown>;

const STORAGE = "iam-console:drafts";
const open = new Map<string, () => Values>();

/** A form on the page: `read` answers its values (secrets left out) at the moment of saving. */
export function registerDraft(key: string, read: () => Values): () => void {
  open.set(key, read);
  return () => {
    if (open.get(key) === read) open.delete(key);
  };
}

export function saveDrafts(): void {
  const drafts: Record<string, Values> = {};
  for (const [key, read] of open) drafts[key] = read();
  if (open.size > 0) sessionStorage.setItem(STORAGE, JSON.stringify(drafts));
}

/** Forgets every kept value: at sign-out, so that the next person in the tab finds nothing of this one's. */
export function discardDrafts(): void {
  sessionStorage.removeItem(STORAGE);
}

/** The values kept for the form `key`, once: they are removed as they are taken. */
export function takeDraft(key: string): Values | undefined {
  const text = sessionStorage.getItem(STORAGE);
  if (text === null) return undefined;
  let drafts: Record<string, Values>;
  try {
    drafts = JSON.parse(text) as Record<string, Values>;
  } catch {
    sessionStorage.removeItem(STORAGE);
    return undefined;
  }
  const draft = drafts[key];
  if (draft === undefined) return undefined;
  delete drafts[key];
  if (Object.keys(drafts).length === 0) sessionStorage.removeItem(STORAGE);
  else sessionStorage.setItem(STORAGE, JSON.stringify(drafts));
  return draft;
}
