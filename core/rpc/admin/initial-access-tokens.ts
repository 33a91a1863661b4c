/**
 * Initial access tokens (RFC 7591 §3): what an administrator hands a client
 * developer so that a client may register itself in a project whose
 * client_registration is `initial_access_token`. The token is answered once
 * and kept as its SHA-256 hash; a registration spends one of its uses.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { InitialAccessTokenSchema } from "../../../gen/iam/v1/admin_pb.js";
import { audited, party, projectName } from "../../audit/record.js";
import { created, deleted, type Fields } from "../../audit/changes.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import { randomToken, sha256 } from "../../lib/crypto.js";
import type { AuditParty, InitialAccessTokenRecord } from "../../store/types.js";
import { found, type Out } from "./convert.js";
import { checkRange, checkText } from "./validate.js";

const DEFAULT_TTL = 86_400;

const toInitialAccessToken = (t: InitialAccessTokenRecord): MessageInitShape<typeof InitialAccessTokenSchema> => ({
  organization: t.organization,
  project: t.project,
  id: t.id,
  description: t.description,
  createdAt: BigInt(t.createdAt),
  expiresAt: BigInt(t.expiresAt),
  usesLeft: t.usesLeft ?? 0,
  maxUses: t.maxUses,
});

/** The token's fields as the audit trail records them: never the token nor its hash. */
const tokenFields = (t: InitialAccessTokenRecord): Fields => ({
  initial_access_token: t.id,
  description: t.description,
  expires_at: t.expiresAt,
  max_uses: t.maxUses,
});

export async function createInitialAccessToken(
  deps: Deps,
  r: pb.CreateInitialAccessTokenRequest,
  actor: AuditParty,
): Out<typeof pb.CreateInitialAccessTokenResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  const ttl = r.ttl === 0n ? DEFAULT_TTL : checkRange("ttl", Number(r.ttl), 60, 31_536_000);
  const maxUses = r.maxUses === 0 ? 0 : checkRange("max_uses", r.maxUses, 1, 1_000_000);
  const token = randomToken(32);
  const now = epochSeconds(deps.clock);
  const record: InitialAccessTokenRecord = {
    organization: r.organization,
    project: r.project,
    id: randomToken(9),
    tokenHash: sha256(token),
    description: checkText("description", r.description),
    createdAt: now,
    expiresAt: now + ttl,
    usesLeft: maxUses === 0 ? null : maxUses,
    maxUses,
  };
  await audited(
    deps,
    (store) => store.createInitialAccessToken(record),
    () => ({ chain: r, action: "INITIAL_ACCESS_TOKEN_CREATED", actor, target: party("project", projectName(r)), changes: created(tokenFields(record)) }),
  );
  return { initialAccessToken: toInitialAccessToken(record), token };
}

export async function listInitialAccessTokens(deps: Deps, r: pb.ListInitialAccessTokensRequest): Out<typeof pb.ListInitialAccessTokensResponseSchema> {
  found(await deps.store.getProject(r), `project ${r.organization}/${r.project}`);
  return { initialAccessTokens: (await deps.store.listInitialAccessTokens(r)).map(toInitialAccessToken) };
}

export async function revokeInitialAccessToken(
  deps: Deps,
  r: pb.RevokeInitialAccessTokenRequest,
  actor: AuditParty,
): Out<typeof pb.RevokeInitialAccessTokenResponseSchema> {
  await audited(
    deps,
    async (store) => {
      const token = found((await store.listInitialAccessTokens(r)).find((t) => t.id === r.id), `initial access token ${r.id} in ${r.organization}/${r.project}`);
      await store.deleteInitialAccessToken(r, r.id);
      return token;
    },
    (token) => ({ chain: r, action: "INITIAL_ACCESS_TOKEN_REVOKED", actor, target: party("project", projectName(r)), changes: deleted(tokenFields(token)) }),
  );
  return {};
}
