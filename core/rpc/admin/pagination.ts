import type { Page } from "../../store/types.js";
import { invalid } from "./validate.js";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/**
 * Keyset pagination by id. The page token is opaque to callers: the last id
 * of the previous page, base64url-encoded. One more row than asked is read to
 * know whether a next page exists.
 */
/** The ids a page token may name: those of organizations, projects, users, roles, permissions, clients. */
export const ID_KEY = /^[A-Za-z0-9._~@+-]{1,200}$/;
/** Keys that are URIs: resources (RFC 8707), and clients whose id is their metadata document's URL. */
export const URI_KEY = /^[\x21-\x7e]{1,2048}$/;

export function pageOf(request: { pageSize: number; pageToken: string }, key: RegExp = ID_KEY): Page {
  if (request.pageSize < 0) throw invalid("page_size must not be negative");
  const limit = Math.min(request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize, MAX_PAGE_SIZE);
  let after = "";
  if (request.pageToken !== "") {
    after = Buffer.from(request.pageToken, "base64url").toString("utf8");
    if (!key.test(after) || Buffer.from(after).toString("base64url") !== request.pageToken) {
      throw invalid("page_token is not one this server issued");
    }
  }
  return { after, limit: limit + 1 };
}

/** Splits the rows read for `page` into the answer and the next page token. */
export function paginate<T>(rows: T[], page: Page, idOf: (row: T) => string): { items: T[]; nextPageToken: string } {
  const items = rows.slice(0, page.limit - 1);
  const next = rows.length === page.limit ? Buffer.from(idOf(items[items.length - 1]!)).toString("base64url") : "";
  return { items, nextPageToken: next };
}
