/**
 * `iam initial-access-token create|list|revoke`: the tokens a client presents
 * to register itself in a project whose client registration asks for one
 * (RFC 7591 §3, docs/registration.md).
 */
import * as pb from "../gen/iam/v1/admin_pb.js";
import { lines, ref, time, UsageError, type Command } from "./admin-command.js";

/** A whole number option: absent, or its value; anything else is a usage error (the RPC checks the range). */
function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,10}$/.test(value)) throw new UsageError(`--${flag} takes a whole number of ${flag === "ttl" ? "seconds" : "uses"}`);
  return Number(value);
}

const uses = (x: pb.InitialAccessToken) => (x.maxUses === 0 ? "no use limit" : `${x.usesLeft} of ${x.maxUses} uses left`);

export const REGISTRATION_COMMANDS: Record<string, Command> = {
  "initial-access-token create": {
    method: "createInitialAccessToken", request: pb.CreateInitialAccessTokenRequestSchema, response: pb.CreateInitialAccessTokenResponseSchema,
    args: ["org", "project"],
    build: (a, o) => ({ ...ref(a), description: o.description ?? "", ttl: BigInt(count("ttl", o.ttl) ?? 0), maxUses: count("max-uses", o["max-uses"]) ?? 0 }),
    show: (r) => [
      `created initial access token ${r.initialAccessToken.id}, expires ${time(r.initialAccessToken.expiresAt)}, ${uses(r.initialAccessToken)}`,
      `token: ${r.token}  (shown once)`,
    ],
  },
  "initial-access-token list": {
    method: "listInitialAccessTokens", request: pb.ListInitialAccessTokensRequestSchema, response: pb.ListInitialAccessTokensResponseSchema,
    args: ["org", "project"], build: (a) => ref(a),
    show: (r) => lines(r.initialAccessTokens, (x: pb.InitialAccessToken) => `${x.id}\texpires ${time(x.expiresAt)}\t${uses(x)}\t${x.description}`),
  },
  "initial-access-token revoke": {
    method: "revokeInitialAccessToken", request: pb.RevokeInitialAccessTokenRequestSchema, response: pb.RevokeInitialAccessTokenResponseSchema,
    args: ["org", "project", "id"], build: (a) => ({ ...ref(a), id: a.id }), show: () => ["revoked"],
  },
};
