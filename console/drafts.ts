/**
 * What a person has typed into the forms of the page, kept across a sign-in:
 * when the token is found expired or revoked, every open form's values are
 * written to sessionStorage just before the browser leaves for the
 * authorization endpoint, and each form takes its own back (and removes it)
 * when it is shown again. Passwords and secrets are never written: those
 * fields come back empty. Drafts belong to who typed them (the project and
 * subject signed in): another person signing in in the tab finds none.
 */
type Values = Record<string, unknown>;

const STORAGE = "iam-console:drafts";
const open = new Map<string, () => Values>();
/** Who is signed in now, as drafts are kept for them: set by auth.ts with the session. */
let owner: string | undefined;

export function setDraftOwner(who: { organization: string; project: string; subject: string } | undefined): void {
  owner = who === undefined ? undefined : JSON.stringify([who.organization, who.project, who.subject]);
}

/** A form on the page: `read` answers its values (secrets left out) at the moment of saving. */
export function registerDraft(key: string, read: () => Values): () => void {
  open.set(key, read);
  return () => {
    if (open.get(key) === read) open.delete(key);
  };
}

export function saveDrafts(): void {
  if (owner === undefined || open.size === 0) return;
  const drafts: Record<string, Values> = {};
  for (const [key, read] of open) drafts[key] = read();
  sessionStorage.setItem(STORAGE, JSON.stringify({ owner, drafts }));
}

/** Forgets every kept value: at sign-out, so that the next person in the tab finds nothing of this one's. */
export function discardDrafts(): void {
  sessionStorage.removeItem(STORAGE);
}

/** The values kept for the form `key`, once: they are removed as they are taken. */
export function takeDraft(key: string): Values | undefined {
  const text = sessionStorage.getItem(STORAGE);
  if (text === null) return undefined;
  let kept: { owner?: unknown; drafts?: Record<string, Values> };
  try {
    kept = JSON.parse(text) as typeof kept;
  } catch {
    kept = {};
  }
  // Another person's, or unreadable: forgotten.
  if (kept.owner !== owner || typeof kept.drafts !== "object" || kept.drafts === null) {
    sessionStorage.removeItem(STORAGE);
    return undefined;
  }
  const { drafts } = kept;
  const draft = drafts[key];
  if (draft === undefined) return undefined;
  delete drafts[key];
  if (Object.keys(drafts).length === 0) sessionStorage.removeItem(STORAGE);
  else sessionStorage.setItem(STORAGE, JSON.stringify({ owner, drafts }));
  return draft;
}
