/**
 * `iam console-client ORG PROJECT`: the client the administration console
 * signs in with, added to a project that lacks it (a database made before the
 * console, or console sign-in turned off by deleting it); see
 * core/rpc/admin/console-client.ts.
 */
import * as pb from "../gen/iam/v1/admin_pb.js";
import { addConsoleClient } from "../core/rpc/admin/console-client.js";
import { CONSOLE_CLIENT_ID } from "../core/rpc/admin/default-tenant.js";
import { ref, type Command } from "./admin-command.js";

export const CONSOLE_CLIENT_COMMANDS: Record<string, Command> = {
  "console-client": {
    method: "createClient", request: pb.CreateClientRequestSchema, response: pb.CreateClientResponseSchema,
    args: ["org", "project"], build: (a) => ({ ...ref(a), clientId: CONSOLE_CLIENT_ID }),
    run: async (deps, r: pb.CreateClientRequest, actor) => {
      const { client, created } = await addConsoleClient(deps, { organization: r.organization, project: r.project }, actor);
      const already = `client ${CONSOLE_CLIENT_ID} already exists in ${r.organization}/${r.project} with the console's settings; nothing changed`;
      return { response: { client }, said: created ? undefined : [already] };
    },
    show: (r) => [
      `created client ${r.client.id} in ${r.client.organization}/${r.client.project}: its administrators can sign in to the console at ${r.client.postLogoutRedirectUris[0]}`,
    ],
  },
};
