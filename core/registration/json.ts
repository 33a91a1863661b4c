/** Reading a registration request's JSON members, each refusal invalid_client_metadata (RFC 7591 §3.2.2). */
import { OAuthError } from "../errors.js";

export const metadataError = (description: string) => new OAuthError("invalid_client_metadata", description);

/** The request body: a JSON object (RFC 7591 §3.1). */
export function parseObject(body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw metadataError("the request body must be a JSON object");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw metadataError("the request body must be a JSON object");
  return value as Record<string, unknown>;
}

export const string = (m: Record<string, unknown>, name: string): string | undefined => {
  const value = m[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw metadataError(`${name} must be a string`);
  return value;
};

export const strings = (m: Record<string, unknown>, name: string): string[] | undefined => {
  const value = m[name];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw metadataError(`${name} must be an array of strings`);
  return value as string[];
};

export const boolean = (m: Record<string, unknown>, name: string): boolean => {
  const value = m[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw metadataError(`${name} must be true or false`);
  return value;
};

