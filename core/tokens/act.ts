/**
 * The `act` claim (RFC 8693 §4.1) of an access token iam-core signed, read
 * back for the next exchange, for VerifyToken and for introspection.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { TokenActorSchema } from "../../gen/iam/v1/token_pb.js";
import { MAX_DELEGATION_DEPTH } from "../protocol/token-exchange.js";
import type { ActClaim } from "./issue.js";

/** The claim, undefined for none (or a shape iam-core never writes). */
export function actClaimOf(value: unknown, depth = 0): ActClaim | undefined {
  if (typeof value !== "object" || value === null || depth > MAX_DELEGATION_DEPTH) return undefined;
  const { sub, client_id: clientId, act } = value as Record<string, unknown>;
  if (typeof sub !== "string" || typeof clientId !== "string") return undefined;
  const prior = actClaimOf(act, depth + 1);
  return { sub, client_id: clientId, ...(prior !== undefined ? { act: prior } : {}) };
}

/** The claim as VerifyToken and Introspect answer it (TokenActor), the current actor outermost. */
export function tokenActorOf(value: unknown): MessageInitShape<typeof TokenActorSchema> | undefined {
  const act = actClaimOf(value);
  const convert = (a: ActClaim): MessageInitShape<typeof TokenActorSchema> => ({
    sub: a.sub,
    clientId: a.client_id,
    ...(a.act !== undefined ? { actor: convert(a.act) } : {}),
  });
  return act === undefined ? undefined : convert(act);
}
