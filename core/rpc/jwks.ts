import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { GetJwksRequest, GetJwksResponseSchema } from "../../gen/iam/v1/token_pb.js";
import type { Deps } from "../deps.js";

/** The project's public keys (RFC 7517 §5), current first. */
export async function getJwks(deps: Deps, request: GetJwksRequest): Promise<MessageInitShape<typeof GetJwksResponseSchema>> {
  const keys = await deps.keys.jwks(request);
  if (keys === undefined) throw new ConnectError("unknown organization or project", Code.NotFound);
  return { keys };
}
