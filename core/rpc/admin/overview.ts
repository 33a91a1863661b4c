import type { MessageInitShape } from "@bufbuild/protobuf";
import * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import type { EpochSeconds, ProjectRef, SigningAlg, SigningKeyMetadata } from "../../store/types.js";
import { found, type Out } from "./convert.js";

/**
 * A project as a whole, as an administration console shows it: its counts
 * and its signing keys. Both read the database at every call, never what is
 * kept in memory, and neither reads a row it does not answer.
 */

const projectOf = async (deps: Deps, ref: ProjectRef) =>
  found(await deps.store.getProject(ref), `project ${ref.organization}/${ref.project}`);

export async function getProjectSummary(deps: Deps, r: pb.GetProjectSummaryRequest): Out<typeof pb.GetProjectSummaryResponseSchema> {
  await projectOf(deps, r);
  const now = epochSeconds(deps.clock);
  // A session is live as ListUserSessions (sessions.ts) and a browser's cookie find it: used within the idle lifetime.
  return deps.store.countProject(r, { now, seenSince: now - deps.config.sessionIdle });
}

export async function listSigningKeys(deps: Deps, r: pb.ListSigningKeysRequest): Out<typeof pb.ListSigningKeysResponseSchema> {
  await projectOf(deps, r);
  const now = epochSeconds(deps.clock);
  const signing = new Set<SigningAlg>();
  const keys = (await deps.store.listSigningKeyMetadata(r)).map((key) => {
    const state = stateOf(key, signing, now);
    if (state === pb.SigningKeyState.CURRENT) signing.add(key.alg);
    return toSigningKey(key, state);
  });
  return { keys };
}

/**
 * What a key still does, as the key ring (core/tokens/keys.ts) uses it: of
 * the keys not retired, the first of each algorithm in the store's order
 * signs, and any other verifies; a retired key verifies until `expiresAt`.
 * `signing` holds the algorithms whose current key came before.
 */
function stateOf(key: SigningKeyMetadata, signing: ReadonlySet<SigningAlg>, now: EpochSeconds): pb.SigningKeyState {
  if (key.retiredAt === null) return signing.has(key.alg) ? pb.SigningKeyState.VERIFYING : pb.SigningKeyState.CURRENT;
  return key.expiresAt !== null && key.expiresAt > now ? pb.SigningKeyState.VERIFYING : pb.SigningKeyState.EXPIRED;
}

const toSigningKey = (k: SigningKeyMetadata, state: pb.SigningKeyState): MessageInitShape<typeof pb.SigningKeySchema> => ({
  kid: k.kid,
  alg: k.alg,
  state,
  createdAt: BigInt(k.createdAt),
  retiredAt: BigInt(k.retiredAt ?? 0),
  expiresAt: BigInt(k.expiresAt ?? 0),
});
