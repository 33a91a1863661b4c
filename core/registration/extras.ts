/**
 * What a registration keeps beside its client's own columns (RFC 7591 §2):
 * the metadata that describes the client to people, its application type,
 * response types and scope. Each is checked; it is answered back to the
 * client and shown to administrators, never acted on.
 */
import { checkText } from "../rpc/admin/validate.js";
import { ConnectError } from "@connectrpc/connect";
import { metadataError, string, strings } from "./json.js";

export interface Extras {
  application_type: "web" | "native";
  response_types: string[];
  /** The registered scope values the project knows; "" for none. */
  scope: string;
  client_uri?: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  contacts?: string[];
  software_id?: string;
  software_version?: string;
}

const URI_FIELDS = ["client_uri", "logo_uri", "tos_uri", "policy_uri"] as const;
const TEXT_FIELDS = ["software_id", "software_version"] as const;

/** A page or image of the client's: an absolute https URL, no credentials (RFC 7591 §2, §5: shown to users, so never javascript: or data:). */
function webPage(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw metadataError(`${name} must be an absolute https URL`);
  }
  if (url.protocol !== "https:" || url.username !== "" || url.password !== "" || value.length > 2048) {
    throw metadataError(`${name} must be an https URL of at most 2048 characters, without credentials`);
  }
  return value;
}

function text(name: string, value: string, max: number): string {
  try {
    return checkText(name, value, max);
  } catch (err) {
    throw err instanceof ConnectError ? metadataError(err.rawMessage) : err;
  }
}

/** The descriptive members of a registration request, checked; absent ones stay absent. */
export function fieldsOf(m: Record<string, unknown>): Partial<Extras> {
  const out: Partial<Extras> = {};
  for (const name of URI_FIELDS) {
    const value = string(m, name);
    if (value !== undefined && value !== "") out[name] = webPage(name, value);
  }
  for (const name of TEXT_FIELDS) {
    const value = string(m, name);
    if (value !== undefined && value !== "") out[name] = text(name, value, 200);
  }
  const contacts = strings(m, "contacts");
  if (contacts !== undefined && contacts.length > 0) {
    if (contacts.length > 10) throw metadataError("at most 10 contacts");
    out.contacts = contacts.map((c) => text("contacts", c, 254));
  }
  return out;
}

/** The extras as kept (JSON text of the registration row). */
export function extrasOf(json: string): Extras {
  return JSON.parse(json) as Extras;
}
