/**
 * The current request, as the core sees it. The scope itself, the request id
 * header and its propagation are shared with the gateway (wire/request-id.ts);
 * what only the core records lives here.
 */
import { createContextKey } from "@connectrpc/connect";
import { currentRequest } from "../../wire/request-id.js";

/** The TCP peer of a call on the core's port, set by the server in each call's context values. */
export const PEER_ADDRESS = createContextKey<string>("", { description: "the address of the caller's connection" });


/** Records why the current request was refused, for its one log line. */
export function noteRefusal(error: string, detail: unknown): void {
  const scope = currentRequest();
  if (scope !== undefined) scope.refusal = { error, detail };
}
