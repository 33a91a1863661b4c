import type { Fields } from "../../audit/changes.js";
import type { Extras } from "../../registration/extras.js";
import type { ClientRecord } from "../../store/types.js";
import { clientFields } from "../admin/clients.js";

/** A registered client's fields as the audit trail records them: the client's, and what its registration keeps beside them. */
export const registrationFields = (client: ClientRecord, extras: Extras): Fields => ({
  ...clientFields(client),
  dynamically_registered: true,
  ...(extras as unknown as Fields),
});
