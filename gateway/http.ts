import type { Context } from "koa";

/** Parameters of a query string or form body, with the names that were repeated. */
export interface Params {
  get(name: string): string;
  getAll(name: string): string[];
  /** Names that appeared more than once, excluding those allowed to repeat. */
  repeated: string[];
  size: number;
}

export function parseParams(text: string, mayRepeat: readonly string[] = []): Params {
  const all = new URLSearchParams(text);
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of all.keys()) {
    if (seen.has(name) && !mayRepeat.includes(name)) repeated.add(name);
    seen.add(name);
  }
  return {
    get: (name) => all.get(name) ?? "",
    getAll: (name) => all.getAll(name),
    repeated: [...repeated],
    size: seen.size,
  };
}

export class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Whether a browser sent this request for a page's script (Fetch Metadata:
 * `Sec-Fetch-Dest` is `empty` for fetch() and XMLHttpRequest, a resource's
 * kind for a subresource) rather than to navigate a window or frame to it.
 * Programs other than browsers send no `Sec-Fetch-Dest` and are not scripts
 * of a page. The authorization and consent endpoints act on the browser's
 * sign-in session only for a navigation: a script on iam-core's own origin
 * could otherwise read the code a session-authenticated request redirects
 * with (the answer's URL), or give consent for the person.
 */
export function sentByScript(ctx: Context): boolean {
  const dest = ctx.get("sec-fetch-dest");
  return dest !== "" && !NAVIGATIONS.has(dest);
}
const NAVIGATIONS = new Set(["document", "iframe", "frame"]);

/** The default largest body read (IAM_HTTP_MAX_BODY_BYTES): every request of these endpoints fits in a few KiB. */
export const DEFAULT_MAX_BODY = 16 * 1024;

/** The media type of the request, lower case, without parameters. */
export function mediaType(ctx: Context): string {
  return (ctx.get("content-type").split(";")[0] ?? "").trim().toLowerCase();
}

/** Reads the request body as UTF-8 text, refusing more than 16 KiB and invalid UTF-8. */
export async function readBody(ctx: Context, maxBytes = DEFAULT_MAX_BODY): Promise<string> {
  const declared = Number(ctx.get("content-length") || "0");
  if (declared > maxBytes) throw new BadRequest(413, "request body too large");
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BadRequest(413, "request body too large");
    chunks.push(chunk as Buffer);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new BadRequest(400, "request body is not valid UTF-8");
  }
}

/** A JSON object body whose named fields are strings (or, for `arrays`, arrays of strings). */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequest(400, "request body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequest(400, "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

export function stringField(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new BadRequest(400, `${name} must be a string`);
  return value;
}

export function stringListField(body: Record<string, unknown>, name: string): string[] {
  const value = body[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    throw new BadRequest(400, `${name} must be an array of strings`);
  }
  return value as string[];
}

/** True when the caller asked for JSON rather than a page. */
export function wantsJson(ctx: Context): boolean {
  return ctx.accepts("html", "json") === "json" && ctx.get("accept").includes("json");
}

/** The body of a POST to /authorize or /consent: a form (with its parameters), or a JSON object. */
export interface FormOrJson {
  form: boolean;
  /** The fields the login and consent endpoints read, by their JSON names. */
  body: Record<string, unknown>;
  /** The form's parameters; undefined for JSON. */
  params: Params | undefined;
}

export async function readFormOrJson(ctx: Context, maxBytes: number): Promise<FormOrJson> {
  const type = mediaType(ctx);
  const text = await readBody(ctx, maxBytes);
  if (type === "application/json") return { form: false, body: parseJsonObject(text), params: undefined };
  if (type === "application/x-www-form-urlencoded") {
    const params = parseParams(text);
    const body: Record<string, unknown> = {
      request_id: params.get("request_id"),
      username: params.get("username"),
      password: params.get("password"),
      scopes: params.getAll("scope"),
      deny: params.get("action") === "deny",
      // A sign-in's second step (endpoints/factor.ts).
      step: params.get("step"),
      totp_code: params.get("totp_code"),
      recovery_code: params.get("recovery_code"),
      passkey_response: params.get("passkey_response"),
      factor_id: params.get("factor_id"),
    };
    return { form: true, body, params };
  }
  throw new BadRequest(415, "send application/x-www-form-urlencoded or application/json");
}

/** Reads one cookie from the Cookie header. */
export function readCookie(ctx: Context, name: string): string | undefined {
  for (const part of ctx.get("cookie").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Decodes `Authorization: Basic` client credentials (RFC 6749 §2.3.1: id and
 * secret are form-urlencoded before base64). Undefined when the header is
 * absent; throws when it is present but not valid Basic credentials.
 */
export function basicCredentials(ctx: Context): { clientId: string; clientSecret: string } | undefined {
  const header = ctx.get("authorization");
  if (header === "") return undefined;
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header.trim());
  if (match === null) throw new BadRequest(401, "the Authorization header is not HTTP Basic credentials");
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new BadRequest(401, "the Basic credentials have no colon");
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
    return { clientId: unform(decoded.slice(0, colon)), clientSecret: unform(decoded.slice(colon + 1)) };
  } catch {
    throw new BadRequest(401, "the Basic credentials are not form-urlencoded");
  }
}
