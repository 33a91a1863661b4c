/**
 * RegisterClient, the client registration endpoint (RFC 7591 §3). The
 * order matters: the project's setting, the caller's rate, the initial
 * access token, the metadata, and only then any hashing or writing; the
 * client, its registration, the token's spent use and the audit event land
 * in one transaction, or nothing does.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { RegisterClientRequest, RegisterClientResponseSchema } from "../../../gen/iam/v1/registration_pb.js";
import { audited, party, recordRefusal } from "../../audit/record.js";
import { created } from "../../audit/changes.js";
import type { Deps } from "../../deps.js";
import { OAuthError } from "../../errors.js";
import { epochSeconds } from "../../lib/clock.js";
import { randomToken, sha256 } from "../../lib/crypto.js";
import { invalidToken, limitRegistration, registrationProject, validInitialAccessToken } from "../../registration/access.js";
import { clientInformation } from "../../registration/information.js";
import { parseObject } from "../../registration/json.js";
import { registeredClient } from "../../registration/metadata.js";
import type { ClientRecord, InitialAccessTokenRecord, ProjectRef } from "../../store/types.js";
import { registrationFields } from "./fields.js";

export async function registerClient(deps: Deps, r: RegisterClientRequest): Promise<MessageInitShape<typeof RegisterClientResponseSchema>> {
  try {
    const answer = await register(deps, r);
    deps.metrics.clientRegistrations.inc({ result: "registered" });
    return answer;
  } catch (err) {
    // The RFC 7591 §3.2.2 error (or invalid_token, access_denied, temporarily_unavailable): a few fixed values.
    if (err instanceof OAuthError) deps.metrics.clientRegistrations.inc({ result: err.error });
    throw err;
  }
}

/** iam_client_registrations_total counts what this answers. */
async function register(deps: Deps, r: RegisterClientRequest): Promise<MessageInitShape<typeof RegisterClientResponseSchema>> {
  const ref: ProjectRef = { organization: r.organization, project: r.project };
  const project = await registrationProject(deps, ref);
  limitRegistration(deps, ref, r.clientAddress);
  let initialToken: InitialAccessTokenRecord | undefined;
  if (project.clientRegistration === "initial_access_token") {
    try {
      initialToken = await validInitialAccessToken(deps, ref, r.initialAccessToken);
    } catch (err) {
      if (err instanceof OAuthError) await refused(deps, ref, err);
      throw err;
    }
  }
  // RFC 7591 §3.2.1: a unique identifier the server chooses; 128 random bits.
  const clientId = randomToken(16);
  const { client: fields, extras } = await registeredClient(deps, ref, parseObject(r.metadata), clientId);
  // A private_key_jwt client authenticates with its keys alone, a public one not at all.
  const secret = fields.type === "confidential" && fields.tokenEndpointAuthMethod !== "private_key_jwt" ? randomToken(32) : undefined;
  const registrationAccessToken = randomToken(32);
  // Hashed before the transaction, which every writer waits for on SQLite.
  const secretHash = secret === undefined ? null : await deps.passwords.hash(secret);
  const client: ClientRecord = { ...ref, id: clientId, ...fields, secretHash, createdAt: epochSeconds(deps.clock) };
  await audited(
    deps,
    async (store) => {
      if (initialToken !== undefined && !(await store.spendInitialAccessToken(ref, initialToken.tokenHash, epochSeconds(deps.clock)))) {
        // Its last use went to a registration made meanwhile.
        throw invalidToken("the initial access token is not valid", `initial access token ${initialToken.id} spent`);
      }
      // IAM_REGISTRATION_MAX_CLIENTS: a flood the rate lets through still cannot fill the database.
      if ((await store.countDynamicClients(ref)) >= deps.config.registrationMaxClients) {
        throw new OAuthError(
          "access_denied",
          `this project holds the most dynamically registered clients it may (${deps.config.registrationMaxClients}); an administrator must delete some first`,
          { status: 403, code: Code.ResourceExhausted },
        );
      }
      await store.createClient(client);
      await store.createClientRegistration({ ...ref, clientId, tokenHash: sha256(registrationAccessToken), metadata: JSON.stringify(extras) });
    },
    () => ({
      chain: ref,
      action: "CLIENT_REGISTERED",
      actor: null,
      target: party("client", clientId),
      changes: created({
        ...registrationFields(client, extras),
        ...(initialToken !== undefined ? { initial_access_token: initialToken.id } : {}),
        ...(secret !== undefined ? { secret: "" } : {}),
      }),
    }),
  );
  const information = clientInformation(deps, client, extras, { registrationAccessToken, ...(secret !== undefined ? { secret } : {}) });
  return { clientInformation: JSON.stringify(information) };
}

/** A registration refused for its initial access token: recorded (RFC 7591 §3: a protected endpoint), without the token. */
async function refused(deps: Deps, ref: ProjectRef, err: OAuthError): Promise<void> {
  await recordRefusal(deps, { chain: ref, action: "CLIENT_REGISTERED", actor: null, target: null, reason: err.error });
}
