/**
 * Adding the console's client to a project that lacks it: a database made
 * before the console had none, and deleting it turns console sign-in off for
 * its project. Idempotent: a client that has the console's settings is left
 * as it is; a client of that id with other settings, or a user of that id,
 * is refused rather than changed.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type * as pb from "../../../gen/iam/v1/admin_pb.js";
import type { Deps } from "../../deps.js";
import { epochSeconds } from "../../lib/clock.js";
import type { AuditParty, ClientRecord, ProjectRef } from "../../store/types.js";
import { audited, party } from "../../audit/record.js";
import { created as createdFields } from "../../audit/changes.js";
import { clientFields } from "./clients.js";
import { found, toClient } from "./convert.js";
import { CONSOLE_CLIENT_ID, consoleClient } from "./default-tenant.js";

export interface ConsoleClientAnswer {
  client: MessageInitShape<typeof pb.ClientSchema>;
  /** False: the project had it already, with the console's settings. */
  created: boolean;
}

/** The settings a console client must have, by their names in admin.proto. */
const SETTINGS: [field: keyof ClientRecord, name: string][] = [
  ["name", "name"],
  ["type", "type"],
  ["redirectUris", "redirect_uris"],
  ["grantTypes", "grant_types"],
  ["pkceRequired", "pkce_required"],
  ["rememberConsent", "remember_consent"],
  ["accessTokenTtl", "access_token_ttl"],
  ["refreshTokenTtl", "refresh_token_ttl"],
  ["postLogoutRedirectUris", "post_logout_redirect_uris"],
  ["backchannelLogoutUri", "backchannel_logout_uri"],
  ["idTokenSignedResponseAlg", "id_token_signed_response_alg"],
  ["webOrigins", "web_origins"],
];

/** The settings in which `client` is not the console's (`wanted`); it holds no role of its own. */
function differences(client: ClientRecord, roles: string[], wanted: ClientRecord): string[] {
  const differ = SETTINGS.filter(([field]) => JSON.stringify(client[field]) !== JSON.stringify(wanted[field])).map(([, name]) => name);
  return roles.length > 0 ? [...differ, "roles"] : differ;
}

/**
 * Creates the console's client in `ref` when it has none, as bootstrap and
 * CreateProject do (its redirect URIs follow the server's base URL now),
 * recorded as CLIENT_CREATED.
 */
export async function addConsoleClient(deps: Deps, ref: ProjectRef, actor: AuditParty): Promise<ConsoleClientAnswer> {
  const where = `${ref.organization}/${ref.project}`;
  const wanted = consoleClient(deps.config.baseUrl, ref, epochSeconds(deps.clock));
  return audited(
    deps,
    async (store) => {
      found(await store.getProject(ref), `project ${where}`);
      const existing = await store.getClient(ref, CONSOLE_CLIENT_ID);
      if (existing !== undefined) {
        const roles = await store.getRolesOf(ref, { clientId: CONSOLE_CLIENT_ID });
        const differ = differences(existing, roles, wanted);
        if (differ.length > 0) {
          throw new ConnectError(
            `a client ${CONSOLE_CLIENT_ID} with other settings (${differ.join(", ")}) exists in ${where}; nothing changed. ` +
              `To make it the console's, delete it (iam client delete ${ref.organization} ${ref.project} ${CONSOLE_CLIENT_ID}) and run this again`,
            Code.AlreadyExists,
          );
        }
        return { client: toClient(existing, roles), created: false };
      }
      if ((await store.getUser(ref, CONSOLE_CLIENT_ID)) !== undefined) {
        throw new ConnectError(
          `a user ${CONSOLE_CLIENT_ID} exists in ${where}, and a client cannot have a user's id (a token's sub would name either, RFC 9068 §5); nothing changed. ` +
            `The console's client can be added once that user is deleted`,
          Code.AlreadyExists,
        );
      }
      await store.createClient(wanted);
      return { client: toClient(wanted, []), created: true };
    },
    ({ created }) =>
      created
        ? { chain: ref, action: "CLIENT_CREATED", actor, target: party("client", CONSOLE_CLIENT_ID), changes: createdFields(clientFields(wanted)) }
        : undefined,
  );
}
