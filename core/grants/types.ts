import type { TokenRequest } from "../../gen/iam/v1/token_pb.js";
import type { Deps } from "../deps.js";
import type { ClientRecord, ProjectRecord } from "../store/types.js";
import type { IssuedTokens } from "../tokens/issue.js";

export interface GrantContext {
  deps: Deps;
  request: TokenRequest;
  project: ProjectRecord;
  /** The authenticated client. */
  client: ClientRecord;
}

/** One grant type of the token endpoint (RFC 6749 §4, §6). */
export interface Grant {
  grantType: string;
  /**
   * The request parameters it reads, beyond grant_type and client
   * authentication: its handler sees only these (core/protocol/parameters.ts).
   */
  parameters: readonly string[];
  handler(ctx: GrantContext): Promise<IssuedTokens>;
}
