/**
 * The client configuration endpoint (RFC 7592 §2): a dynamically registered
 * client reads, replaces or deletes its own registration with its
 * registration access token. The token is kept across updates (§2.2 lets
 * the server issue a new one; a client that lost the answer to its update
 * would otherwise be locked out of its registration), and answered back as
 * the client sent it, since only its hash is kept.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  DeleteClientRegistrationRequest,
  DeleteClientRegistrationResponseSchema,
  GetClientRegistrationRequest,
  GetClientRegistrationResponseSchema,
  UpdateClientRegistrationRequest,
  UpdateClientRegistrationResponseSchema,
} from "../../../gen/iam/v1/registration_pb.js";
import { audited, party, recordRefusal, type AuditActionName } from "../../audit/record.js";
import { deleted, updated } from "../../audit/changes.js";
import type { Deps } from "../../deps.js";
import { OAuthError } from "../../errors.js";
import { limitRegistration, registeredClientOf, registrationProject } from "../../registration/access.js";
import { extrasOf } from "../../registration/extras.js";
import { clientInformation } from "../../registration/information.js";
import { parseObject, string, strings } from "../../registration/json.js";
import { administratorGrants, registeredClient, updatedClient } from "../../registration/metadata.js";
import type { ProjectRef } from "../../store/types.js";
import { registrationFields } from "./fields.js";

interface ManagementRequest {
  organization: string;
  project: string;
  clientId: string;
  registrationAccessToken: string;
  clientAddress: string;
}

/** The project's setting, the rate, then the token; a wrong token for a change is recorded under that change's action. */
async function authorized(deps: Deps, r: ManagementRequest, action?: AuditActionName) {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  await registrationProject(deps, ref);
  limitRegistration(deps, ref, r.clientAddress);
  try {
    return { ref, ...(await registeredClientOf(deps, ref, r.clientId, r.registrationAccessToken)) };
  } catch (err) {
    if (err instanceof OAuthError && action !== undefined) {
      await recordRefusal(deps, { chain: ref, action, actor: null, target: party("client", r.clientId.slice(0, 128)), reason: err.error });
    }
    throw err;
  }
}

export async function getClientRegistration(
  deps: Deps,
  r: GetClientRegistrationRequest,
): Promise<MessageInitShape<typeof GetClientRegistrationResponseSchema>> {
  const { client, registration } = await authorized(deps, r);
  const information = clientInformation(deps, client, extrasOf(registration.metadata), { registrationAccessToken: r.registrationAccessToken });
  return { clientInformation: JSON.stringify(information) };
}

/** The members RFC 7592 §2.2 says a client update request must not carry: the server's own. */
const SERVER_MEMBERS = ["registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"];

/** How a client authenticates, as far as an update may not change it: it would need a new secret, or have one left over. */
const authenticationKind = (c: { type: string; tokenEndpointAuthMethod: string }) =>
  c.type === "public" ? "none" : c.tokenEndpointAuthMethod === "private_key_jwt" ? "keys" : "secret";

export async function updateClientRegistration(
  deps: Deps,
  r: UpdateClientRegistrationRequest,
): Promise<MessageInitShape<typeof UpdateClientRegistrationResponseSchema>> {
  const { ref, client: current } = await authorized(deps, r, "CLIENT_REGISTRATION_UPDATED");
  const m = parseObject(r.metadata);
  // RFC 7592 §2.2: the request names the client, and may repeat its secret, never choose one.
  if (string(m, "client_id") !== current.id) throw new OAuthError("invalid_request", "client_id must be this client's identifier");
  for (const member of SERVER_MEMBERS) {
    if (member in m) throw new OAuthError("invalid_request", `an update request must not include ${member} (RFC 7592 §2.2)`);
  }
  const secret = string(m, "client_secret");
  if (secret !== undefined && (current.secretHash === null || !(await deps.passwords.verify(current.secretHash, secret)))) {
    throw new OAuthError("invalid_request", "client_secret does not match this client's secret");
  }
  // The grant types an administrator added, which GET answered (token exchange, say), may come back: they are not the client's to give or take.
  const echoed = strings(m, "grant_types");
  const own = echoed === undefined ? m : { ...m, grant_types: echoed.filter((g) => !administratorGrants(current).includes(g)) };
  const { client: fields, extras } = await registeredClient(deps, ref, own, current.id);
  if (authenticationKind(fields) !== authenticationKind(current)) {
    throw new OAuthError("invalid_client_metadata", "token_endpoint_auth_method cannot change between none, a secret method and private_key_jwt: register a new client");
  }
  const next = updatedClient(current, fields);
  await audited(
    deps,
    async (store) => {
      await store.updateClient(next);
      const registration = await store.getClientRegistration(ref, current.id);
      if (registration === undefined || !(await store.updateClientRegistration({ ...registration, metadata: JSON.stringify(extras) }))) {
        throw new OAuthError("invalid_token", "the registration access token is not valid for this client");
      }
      return registration;
    },
    (registration) => ({
      chain: ref,
      action: "CLIENT_REGISTRATION_UPDATED",
      actor: party("client", current.id),
      target: party("client", current.id),
      changes: updated(registrationFields(current, extrasOf(registration.metadata)), registrationFields(next, extras)),
    }),
  );
  const information = clientInformation(deps, next, extras, { registrationAccessToken: r.registrationAccessToken });
  return { clientInformation: JSON.stringify(information) };
}

export async function deleteClientRegistration(
  deps: Deps,
  r: DeleteClientRegistrationRequest,
): Promise<MessageInitShape<typeof DeleteClientRegistrationResponseSchema>> {
  const { ref, client, registration } = await authorized(deps, r, "CLIENT_REGISTRATION_DELETED");
  // RFC 7592 §2.3: the client goes with its grants and tokens, and its registration access token with it.
  await audited(
    deps,
    (store) => store.deleteClient(ref, client.id),
    () => ({
      chain: ref,
      action: "CLIENT_REGISTRATION_DELETED",
      actor: party("client", client.id),
      target: party("client", client.id),
      changes: deleted(registrationFields(client, extrasOf(registration.metadata))),
    }),
  );
  return {};
}
