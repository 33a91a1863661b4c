/**
 * Accepting a DPoP proof (RFC 9449 §4.3): the checks of proof.ts, then
 * replay detection across every worker and replica (§11.1): a proof is
 * recorded by the hash of its key and jti for as long as it could be
 * accepted, and refused when it was recorded before.
 */
import type { Deps } from "../deps.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { sha256 } from "../lib/crypto.js";
import type { ProjectRef } from "../store/types.js";
import { currentNonce, isCurrentNonce } from "./nonce.js";
import { checkProof, DPOP_MAX_AGE, DpopProofError, type CheckedProof, type ProofExpectation } from "./proof.js";

/** Seconds a proof's record outlives its acceptance: a replica whose clock runs ahead must not purge it early. */
const RECORD_MARGIN = 120;

/** Checks `proof` for this request and records it; throws DpopProofError, a replay included. */
export async function acceptProof(
  deps: Deps,
  proof: string,
  expected: Omit<ProofExpectation, "now"> & { nonceOf?: ProjectRef },
): Promise<CheckedProof> {
  const now = epochSeconds(deps.clock);
  const checked = checkProof(proof, { ...expected, now });
  // §8: a nonce the server gave, when it asks for them; a proof without one is not recorded (the client makes another).
  if (expected.nonceOf !== undefined && !(await isCurrentNonce(deps, expected.nonceOf, checked.nonce))) {
    throw new DpopProofError("use_dpop_nonce", checked.nonce === undefined ? "the DPoP proof must carry the server's nonce (the DPoP-Nonce header)" : "the DPoP proof's nonce is not a current one: use the DPoP-Nonce header's");
  }
  // The jti is the client's choice: another client's key makes it another proof.
  const first = await deps.store.recordSingleUse(sha256(`${checked.jkt}\u0000${checked.jti}`), checked.iat + DPOP_MAX_AGE + RECORD_MARGIN);
  if (!first) throw new DpopProofError("invalid_dpop_proof", "the DPoP proof was used before: make a new one for each request");
  return checked;
}

/**
 * A proof at an endpoint of the authorization server (token, PAR): a refusal
 * is the RFC 9449 §5 error answer, 400 `invalid_dpop_proof` or `use_dpop_nonce`.
 */
export async function acceptServerProof(deps: Deps, project: ProjectRef, proof: string, expected: Omit<ProofExpectation, "now">): Promise<CheckedProof> {
  const nonceOf = deps.config.dpopNonce ? project : undefined;
  try {
    return await acceptProof(deps, proof, { ...expected, ...(nonceOf === undefined ? {} : { nonceOf }) });
  } catch (err) {
    if (err instanceof DpopProofError) {
      // §8: the answer carries the nonce to use, whatever the fault: a client retries once with it.
      const dpopNonce = nonceOf === undefined ? undefined : await currentNonce(deps, nonceOf);
      throw new OAuthError(err.error, err.message, { status: 400, ...(dpopNonce === undefined ? {} : { dpopNonce }) });
    }
    throw err;
  }
}
