import type { TokenRequest } from "../../gen/iam/v1/token_pb.js";
import type { Deps } from "../deps.js";
import type { ClientRecord, ProjectRecord } from "../store/types.js";
import type { IssuedTokens } from "../tokens/issue.js";
import type { CheckedProof } from "../dpop/proof.js";

export interface GrantContext {
  deps: Deps;
  request: TokenRequest;
  project: ProjectRecord;
  /** The authenticated client. */
  client: ClientRecord;
  /** The request's accepted DPoP proof (RFC 9449): its access token is bound to the proof's key. */
  dpop: CheckedProof | undefined;
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
