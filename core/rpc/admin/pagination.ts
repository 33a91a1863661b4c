import type { Page } from "../../store/types.js";
import { invalid } from "./validate.js";

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/**
 * Keyset pagination by id. The page token is opaque to callers: the last id
 * of the previous page, base64url-encoded. One more row than asked is read to
 * know whether a next page exists.
 */
export function pageOf(request: { pageSize: number; pageToken: string }): Page {
  if (request.pageSize < 0) throw invalid("page_size must not be negative");
  const limit = Math.min(request.pageSize === 0 ? DEFAULT_PAGE_SIZE : request.pageSize, MAX_PAGE_SIZE);
  let after = "";
  if (request.pageToken !== "") {
    after = Buffer.from(request.pageToken, "base64url").toString("utf8");
    // Ids, user names and URIs (resources, metadata-document clients) are printable ASCII.
    if (!/^[\x21-\x7e]{1,2048}$/.test(after) || Buffer.from(after).toString("base64url") !== request.pageToken) {
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
