/**
 * A client's token exchange policy (RFC 8693): whose users' tokens it may
 * present as subject tokens, for which resources it may ask exchanged
 * tokens, whether it may impersonate (an exchange with no actor token,
 * answering a token without `act`), and the client its own user tokens name
 * in `may_act` (§4.4). Only the form is checked here: a client or resource
 * named and later deleted is simply never matched at exchange time
 * (core/grants/token-exchange.ts), which refuses what is not registered.
 */
import { resourceUriProblem } from "../../lib/resource-uri.js";
import type { ClientRecord } from "../../store/types.js";
import { checkId, invalid } from "./validate.js";

/** At most this many clients, and as many resources, in a policy. */
const MAX_ENTRIES = 50;

/** The fields this file checks, as CreateClientRequest and UpdateClientRequest carry them. */
export interface DelegationSettings {
  tokenExchangeSubjectClients: string[];
  tokenExchangeResources: string[];
  tokenExchangeImpersonation: boolean;
  mayActClient: string;
}

type Delegation = Pick<ClientRecord, keyof DelegationSettings>;

function checkList(field: string, values: readonly string[], check: (value: string) => void): string[] {
  if (values.length > MAX_ENTRIES) throw invalid(`${field}: at most ${MAX_ENTRIES}`);
  if (new Set(values).size !== values.length) throw invalid(`${field} must not repeat`);
  for (const value of values) check(value);
  return [...values];
}

const checkSubjectClients = (values: readonly string[]) =>
  checkList("token_exchange_subject_clients", values, (id) => checkId("client", "token_exchange_subject_clients", id));

const checkResources = (values: readonly string[]) =>
  checkList("token_exchange_resources", values, (uri) => {
    const problem = resourceUriProblem(uri);
    if (problem !== undefined) throw invalid(`token_exchange_resources: ${JSON.stringify(uri.slice(0, 100))} cannot name a resource: ${problem}`);
  });

const checkMayAct = (value: string) => (value === "" ? "" : checkId("client", "may_act_client", value));

/** CreateClient's settings, checked. */
export function delegationOf(r: DelegationSettings): Delegation {
  return {
    tokenExchangeSubjectClients: checkSubjectClients(r.tokenExchangeSubjectClients),
    tokenExchangeResources: checkResources(r.tokenExchangeResources),
    tokenExchangeImpersonation: r.tokenExchangeImpersonation,
    mayActClient: checkMayAct(r.mayActClient),
  };
}

/** UpdateClient's: those its mask names, checked (a list replaced whole); the others as they are. */
export function nextDelegation(r: DelegationSettings, paths: ReadonlySet<string>, current: ClientRecord): Delegation {
  return {
    tokenExchangeSubjectClients: paths.has("token_exchange_subject_clients")
      ? checkSubjectClients(r.tokenExchangeSubjectClients)
      : current.tokenExchangeSubjectClients,
    tokenExchangeResources: paths.has("token_exchange_resources") ? checkResources(r.tokenExchangeResources) : current.tokenExchangeResources,
    tokenExchangeImpersonation: paths.has("token_exchange_impersonation") ? r.tokenExchangeImpersonation : current.tokenExchangeImpersonation,
    mayActClient: paths.has("may_act_client") ? checkMayAct(r.mayActClient) : current.mayActClient,
  };
}
