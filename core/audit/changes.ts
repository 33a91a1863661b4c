/**
 * The `changes` of an administration event (proto AuditChange): the fields a
 * change set, named as the AdminService names them, each value as JSON, ""
 * on the side where the object did not (or no longer) exist. A field whose
 * name speaks of a secret (a secret, a password, a private key) is never
 * written with its value: it appears as `"(secret)"`, so that its change is
 * still seen. Pure: no I/O.
 */
import type { AuditChange } from "../store/types.js";

export type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** An object's fields, by their AdminService names (snake_case). */
export type Fields = Readonly<Record<string, Json>>;

/** What a secret's value is written as. */
export const SECRET = JSON.stringify("(secret)");

// `passwordless` (a policy's flag, no secret) is not a password.
const SECRET_FIELD = /secret|password(?!less)|private/i;

const valueOf = (field: string, value: Json): string => (SECRET_FIELD.test(field) ? SECRET : JSON.stringify(value));

/** A new object: every field, before "". */
export function created(after: Fields): AuditChange[] {
  return Object.entries(after).map(([field, value]) => ({ field, before: "", after: valueOf(field, value) }));
}

/** An object deleted: every field it had, after "". */
export function deleted(before: Fields): AuditChange[] {
  return Object.entries(before).map(([field, value]) => ({ field, before: valueOf(field, value), after: "" }));
}

/**
 * An object updated: only the fields whose value differs, in the order of
 * `after` (then those only `before` has). A secret that differs appears with
 * both values `"(secret)"`.
 */
export function updated(before: Fields, after: Fields): AuditChange[] {
  const fields = [...new Set([...Object.keys(after), ...Object.keys(before)])];
  const changes: AuditChange[] = [];
  for (const field of fields) {
    const was = field in before ? JSON.stringify(before[field]) : "";
    const is = field in after ? JSON.stringify(after[field]) : "";
    if (was === is) continue;
    changes.push({
      field,
      before: was === "" ? "" : valueOf(field, before[field]!),
      after: is === "" ? "" : valueOf(field, after[field]!),
    });
  }
  return changes;
}

/** A secret replaced, whose values are never known to the trail (a client secret rotated, a password set). */
export const secretChanged = (field: string): AuditChange => ({ field, before: SECRET, after: SECRET });

/** A secret taken away, none in its place (a client that now authenticates with its keys). */
export const secretRemoved = (field: string): AuditChange => ({ field, before: SECRET, after: "" });

/** One field set where there was none (before "") or taken away (after ""): a role assigned, a consent revoked. */
export const fieldSet = (field: string, before: Json | undefined, after: Json | undefined): AuditChange => ({
  field,
  before: before === undefined ? "" : valueOf(field, before),
  after: after === undefined ? "" : valueOf(field, after),
});
