/**
 * What an `iam` administration command is made of (bin/admin-cli.ts runs
 * them): the options every command may take, a command's shape, and the
 * helpers that build requests from arguments and show answers.
 */
import type { parseArgs } from "node:util";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { ADMIN_METHODS } from "../core/rpc/admin/service.js";
import type { Deps } from "../core/deps.js";
import type { AuditParty } from "../core/store/types.js";
import type * as pb from "../gen/iam/v1/admin_pb.js";

/** Bad usage: exit code 2, before the database is opened. */
export class UsageError extends Error {}

export const OPTIONS = {
  json: { type: "boolean" },
  name: { type: "string" },
  audience: { type: "string" },
  public: { type: "boolean" },
  secret: { type: "string" },
  "redirect-uri": { type: "string", multiple: true },
  grant: { type: "string", multiple: true },
  pkce: { type: "boolean" },
  "remember-consent": { type: "boolean" },
  password: { type: "string" },
  "password-stdin": { type: "boolean" },
  email: { type: "string" },
  description: { type: "string" },
  permission: { type: "string", multiple: true },
  user: { type: "string" },
  client: { type: "string" },
  "access-token-alg": { type: "string" },
  "post-logout-redirect-uri": { type: "string", multiple: true },
  "backchannel-logout-uri": { type: "string" },
  "id-token-alg": { type: "string" },
  "web-origin": { type: "string", multiple: true },
  "email-verified": { type: "boolean" },
  "email-unverified": { type: "boolean" },
  "given-name": { type: "string" },
  "family-name": { type: "string" },
  session: { type: "string" },
  required: { type: "string" },
  roles: { type: "string" },
  passwordless: { type: "string" },
  query: { type: "string" },
  "require-par": { type: "string" },
  "client-registration": { type: "string" },
  "client-documents": { type: "string" },
  document: { type: "string" },
  "auth-method": { type: "string" },
  jwks: { type: "string" },
  "jwks-uri": { type: "string" },
  "dpop-bound": { type: "string" },
  profile: { type: "string" },
  "exchange-subject-client": { type: "string", multiple: true },
  "exchange-resource": { type: "string", multiple: true },
  "exchange-impersonation": { type: "string" },
  "may-act": { type: "string" },
  "retire-immediately": { type: "boolean" },
  ttl: { type: "string" },
  "max-uses": { type: "string" },
} as const;

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export interface Command {
  method: keyof typeof ADMIN_METHODS;
  request: DescMessage;
  response: DescMessage;
  /** Positional argument names after noun and verb. */
  args: string[];
  build(a: Record<string, string>, o: Values, stdin: () => Promise<string>): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** One line per item for people; --json prints the whole response. */
  show(out: any): string[];
  /** Another command that runs instead, given the options (one verb over two RPCs). */
  instead?(o: Values): Command | undefined;
  /**
   * Runs in place of `method`'s handler, for a command that is more than one
   * call (its refusals are still `method`'s): answers the response and, when
   * what it did is not what `show` says, the lines to show instead.
   */
  run?(deps: Deps, request: any, actor: AuditParty): Promise<{ response: Record<string, unknown>; said?: string[] }>;
}

export const ref = (a: Record<string, string>) => ({ organization: a.org!, project: a.project! });

/** A repeated option: absent, or its values; a single empty value (`--web-origin ''`) is the empty list. */
export const list = (values: string[] | undefined) => (values === undefined ? undefined : values.length === 1 && values[0] === "" ? [] : values);

/**
 * An update: the fields given as options (`field` is the request's field,
 * `path` its name in update_mask); none given is a usage error, as the
 * handler would refuse an empty mask.
 */
export function update(fields: [path: string, field: string, value: unknown][], flags: string): Record<string, unknown> {
  const given = fields.filter(([, , value]) => value !== undefined);
  if (given.length === 0) throw new UsageError(`name what to change: ${flags}`);
  return {
    ...Object.fromEntries(given.map(([, field, value]) => [field, value])),
    updateMask: create(FieldMaskSchema, { paths: given.map(([path]) => path) }),
  };
}

/** A `true` or `false` option: absent, or its value; anything else is a usage error. */
export function booleanOf(flag: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== "true" && value !== "false") throw new UsageError(`${flag} must be true or false`);
  return value === "true";
}

/** Whether a project or client accepts authorization requests only as pushed ones (RFC 9126), as one column. */
export const parColumn = (required: boolean) => (required ? "par:required" : "par:optional");

/** Seconds since the Unix epoch, as people read a time. */
export const time = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();

/** One line per item; `(none)` for none. */
export const lines = <T>(items: T[], line: (item: T) => string) => (items.length === 0 ? ["(none)"] : items.map(line));

/** --client-registration: off (sent as "", RFC 7591 registration turned off), open or initial_access_token; the core checks the value. */
export const registrationOf = (value: string | undefined) => (value === undefined ? undefined : value === "off" ? "" : value);
/** What a project's answer says of Dynamic Client Registration when it is on. */
export const registrationNote = (p: pb.Project) => (p.clientRegistration === "" ? "" : `, client registration ${p.clientRegistration}`);
