import { proofAlgorithms, requestUriTtl } from "../tokens/profile.js";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  AuthorizeRequestSchema,
  type PushAuthorizationRequestRequest,
  type PushAuthorizationRequestResponseSchema,
} from "../../gen/iam/v1/authorization_pb.js";
import { issuerOf, type Deps } from "../deps.js";
import { acceptServerProof } from "../dpop/accept.js";
import { OAuthError } from "../errors.js";
import { epochSeconds } from "../lib/clock.js";
import { randomToken, sha256 } from "../lib/crypto.js";
import { parametersOf, PUSHED_REQUEST_URI_PREFIX, withParameters } from "../authorization/pushed.js";
import { validateAuthorizationRequest } from "../authorization/validate.js";
import { PARAMETERS, refuseRepeatedParameters } from "../protocol/parameters.js";
import { NotFound } from "../store/types.js";
import { authenticateClient, limitSecretGuessing, NO_CREDENTIALS } from "../tokens/client-auth.js";
import { endpointProject } from "./introspect.js";

/**
 * The pushed authorization request endpoint (RFC 9126 §2). The client
 * authenticates as at the token endpoint (§2: the same methods; a public
 * client by its client_id), then its request goes through every check of
 * the authorization endpoint before anything is kept (§2.1): a request
 * /authorize would refuse is refused here with the same code, as the token
 * endpoint's JSON error (§2.3), never redirected. What is kept is the
 * request's parameters as pushed, under the SHA-256 of a request_uri of 256
 * random bits, until its first use or IAM_PAR_TTL seconds (§2.2: short). A
 * DPoP proof with the request binds its code to that key (RFC 9449 §10.1).
 */
export async function pushAuthorizationRequest(
  deps: Deps,
  request: PushAuthorizationRequestRequest,
): Promise<MessageInitShape<typeof PushAuthorizationRequestResponseSchema>> {
  refuseRepeatedParameters(PARAMETERS.pushedAuthorization, request.repeatedParameters);
  const credentials = request.client ?? NO_CREDENTIALS;
  limitSecretGuessing(deps, request, credentials, "pushed authorization");
  const project = await endpointProject(deps, request);
  const { client } = await authenticateClient(deps, project, credentials, "par");

  const pushed = request.authorization ?? create(AuthorizeRequestSchema);
  // §2.1: "The request_uri authorization request parameter MUST NOT be provided in this case."
  if (pushed.requestUri !== "") throw new OAuthError("invalid_request", "request_uri must not be pushed (RFC 9126 §2.1)");
  // §2.1: client_id is required, as in any authorization request; the
  // request is the authenticated client's own (a client authenticated by
  // Basic naming another in the body is refused before: credentialsOf).
  if (pushed.clientId === "") throw new OAuthError("invalid_request", "client_id is missing");
  if (pushed.clientId !== client.id) {
    throw new OAuthError("invalid_request", "client_id is not the client authenticated", { detail: "pushed request for another client" });
  }
  const parameters = parametersOf(pushed);
  // RFC 9449 §10.1: a proof of possession pushed with the request binds its
  // code to the proof's key, as dpop_jkt does; given both, they name one key.
  if (request.dpopProof !== "") {
    const proof = await acceptServerProof(deps, project, request.dpopProof, {
      method: "POST",
      url: `${issuerOf(deps.config.baseUrl, project)}/par`,
      ...proofAlgorithms(client),
    });
    if (pushed.dpopJkt !== "" && pushed.dpopJkt !== proof.jkt) {
      throw new OAuthError("invalid_dpop_proof", "dpop_jkt is not the thumbprint of the DPoP proof's key", { status: 400 });
    }
    parameters.dpop_jkt = proof.jkt;
  }
  // The request as /authorize will see it: these parameters only, no browser, no session.
  const replayed = withParameters(create(AuthorizeRequestSchema, { organization: project.organization, project: project.project }), parameters);
  try {
    await validateAuthorizationRequest(deps, replayed, true);
  } catch (err) {
    throw pushedRefusal(err);
  }

  const requestUri = `${PUSHED_REQUEST_URI_PREFIX}${randomToken()}`;
  const now = epochSeconds(deps.clock);
  const ttl = requestUriTtl(client, deps.config.pushedAuthorizationRequestTtl);
  try {
    await deps.store.createPushedAuthorizationRequest({
      organization: project.organization,
      project: project.project,
      uriHash: sha256(requestUri),
      clientId: client.id,
      parameters,
      createdAt: now,
      expiresAt: now + ttl,
    });
  } catch (err) {
    // The client was deleted since it authenticated.
    if (err instanceof NotFound) throw new OAuthError("invalid_client", "client authentication failed", { detail: "client deleted" });
    throw err;
  }
  return { requestUri, expiresIn: BigInt(ttl) };
}

/**
 * A refusal of the pushed request by the authorization endpoint's checks, as
 * the pushed request endpoint answers it (RFC 9126 §2.3, RFC 6749 §5.2): the
 * same code and description, 400, and no redirect: the client is told
 * directly, not through the user agent.
 */
function pushedRefusal(err: unknown): unknown {
  if (!(err instanceof OAuthError)) return err;
  return new OAuthError(err.error, err.message, { detail: err.detail, status: 400 });
}
