/** `iam client` options of a client's token exchange policy (RFC 8693) and its `may_act` client. */
import { booleanOf, list, type Values } from "./admin-command.js";

/** CreateClient's fields from the options. */
export const exchangeSettings = (o: Values) => ({
  tokenExchangeSubjectClients: list(o["exchange-subject-client"]) ?? [],
  tokenExchangeResources: list(o["exchange-resource"]) ?? [],
  tokenExchangeImpersonation: booleanOf("--exchange-impersonation", o["exchange-impersonation"]) ?? false,
  mayActClient: o["may-act"] ?? "",
});

/** UpdateClient's fields (update_mask path, request field, value) from the options; absent ones unchanged. */
export const exchangeUpdates = (o: Values): [string, string, unknown][] => [
  ["token_exchange_subject_clients", "tokenExchangeSubjectClients", list(o["exchange-subject-client"])],
  ["token_exchange_resources", "tokenExchangeResources", list(o["exchange-resource"])],
  ["token_exchange_impersonation", "tokenExchangeImpersonation", booleanOf("--exchange-impersonation", o["exchange-impersonation"])],
  ["may_act_client", "mayActClient", o["may-act"]],
];

/** What a client's answer says of its exchange policy, after its name. */
export const exchangeNotes = (c: { tokenExchangeSubjectClients: string[]; tokenExchangeResources: string[]; tokenExchangeImpersonation: boolean; mayActClient: string }) =>
  [
    c.tokenExchangeSubjectClients.length > 0 ? `, may act for users of ${c.tokenExchangeSubjectClients.join(" ")}` : "",
    c.tokenExchangeResources.length > 0 ? ` at ${c.tokenExchangeResources.join(" ")}` : "",
    c.tokenExchangeImpersonation ? ", may impersonate" : "",
    c.mayActClient !== "" ? `, may_act ${c.mayActClient}` : "",
  ].join("");
