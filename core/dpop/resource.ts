/**
 * A protected resource's side of DPoP (RFC 9449 §7): a token bound to a key
 * (`cnf.jkt`) is accepted only under the `DPoP` scheme with a proof of that
 * key for the request, carrying the token's hash; a token bound to no key is
 * accepted only as a bearer token.
 */
import { projectOfIssuer, type Deps } from "../deps.js";
import type { ClientRecord } from "../store/types.js";
import { proofAlgorithms } from "../tokens/profile.js";
import { acceptProof } from "./accept.js";
import { DpopProofError } from "./proof.js";

/** How the request presented the token. */
export interface Presentation {
  /** `Bearer` (the header, or the body: RFC 6750 §2.2), or `DPoP`. */
  scheme: "Bearer" | "DPoP";
  /** The request's DPoP proof, "" for none. */
  proof: string;
  method: string;
  /** The resource's URL, as its clients call it. */
  url: string;
}

/** Why a resource request is refused: its error code as RFC 6750 §3.1 and RFC 9449 §7.1 name them. */
export class ResourceRefusal extends Error {
  constructor(
    readonly error: "invalid_token" | "invalid_dpop_proof" | "use_dpop_nonce" | "invalid_request",
    message: string,
  ) {
    super(message);
    this.name = "ResourceRefusal";
  }
}

/** The key a token's `cnf` names, "" for a bearer token. */
export function boundKeyOf(payload: Record<string, unknown>): string {
  const cnf = payload.cnf;
  if (typeof cnf !== "object" || cnf === null) return "";
  const jkt = (cnf as { jkt?: unknown }).jkt;
  return typeof jkt === "string" ? jkt : "";
}

/** Checks that `token`, whose verified claims are `payload`, was presented as its binding requires. */
export async function checkPresentation(deps: Deps, token: string, payload: Record<string, unknown>, presented: Presentation): Promise<void> {
  const jkt = boundKeyOf(payload);
  if (jkt === "") {
    // §7.1: the DPoP scheme announces a bound token; a bearer token under it is not one.
    if (presented.scheme === "DPoP") throw new ResourceRefusal("invalid_token", "the access token is not bound to a DPoP key: present it as a Bearer token");
    return;
  }
  // §7.2: a bound token under the Bearer scheme would be usable by whoever stole it.
  if (presented.scheme !== "DPoP") throw new ResourceRefusal("invalid_token", "the access token is bound to a DPoP key: present it with the DPoP scheme and a proof");
  if (presented.proof === "") throw new ResourceRefusal("invalid_dpop_proof", "a DPoP proof is required with a DPoP-bound access token");
  let proven;
  try {
    const algorithms = proofAlgorithms((await clientOfToken(deps, payload)) ?? { securityProfile: "" });
    proven = await acceptProof(deps, presented.proof, { method: presented.method, url: presented.url, accessToken: token, ...algorithms });
  } catch (err) {
    if (err instanceof DpopProofError) throw new ResourceRefusal(err.error, err.message);
    throw err;
  }
  if (proven.jkt !== jkt) throw new ResourceRefusal("invalid_dpop_proof", "the DPoP proof's key is not the one the access token is bound to");
}

/**
 * The client a verified access token was issued to (its `iss` and
 * `client_id`, RFC 9068 §2.2), read from the store's cache: its profile
 * narrows the proofs that may present the token (a FAPI 2.0 client's are
 * PS256, ES256 or EdDSA at resources too, §5.4.1).
 */
async function clientOfToken(deps: Deps, payload: Record<string, unknown>): Promise<ClientRecord | undefined> {
  const project = typeof payload.iss === "string" ? projectOfIssuer(deps.config.baseUrl, payload.iss) : undefined;
  if (project === undefined || typeof payload.client_id !== "string") return undefined;
  return deps.store.getClient(project, payload.client_id);
}
