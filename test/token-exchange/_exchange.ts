/**
 * The parties of the token exchange tests: a real core and gateway with the
 * fixtures of test/core/flow.ts (the app web-app and its user alice, who
 * holds READ and WRITE), protected resources, and agents (confidential
 * clients with client_credentials and token exchange) whose policies say
 * whose tokens they may take and for which resources.
 */
import type { ExecutionContext } from "ava";
import { decodeJwt } from "jose";
import { TOKEN_EXCHANGE_GRANT, ACCESS_TOKEN_TYPE } from "../../core/protocol/token-exchange.js";
import type { ClientRecord } from "../../core/store/types.js";
import { DEFAULT, seedClient, startTestServer, type TestServer } from "../helpers.js";
import { obtainTokens, READ, seedFixtures, WEB, WRITE, type FlowOptions } from "../core/flow.js";
import { basic, token } from "../gateway/_support.js";

export { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT };

/** A resource whose tokens may carry READ only; another the agents are not allowed. */
export const MCP = "https://mcp.example/tools";
export const FILES = "https://files.example/api";

/** The agent of the happy path: may act for web-app's users at MCP. */
export const AGENT = { id: "agent", secret: "agent-secret" } as const;
/** A second agent, which may act for AGENT's tokens (a chain of delegation) at MCP. */
export const AGENT2 = { id: "agent-2", secret: "agent-2-secret" } as const;

export async function server(t: ExecutionContext): Promise<TestServer> {
  const s = await startTestServer();
  t.teardown(() => s.close());
  await seedFixtures(s);
  const { store } = s.core.deps;
  await store.createResource({ ...DEFAULT, uri: MCP, name: "Tools", scopes: [READ], createdAt: 0 });
  await store.createResource({ ...DEFAULT, uri: FILES, name: "Files", scopes: [READ, WRITE], createdAt: 0 });
  await agent(s, AGENT, { tokenExchangeSubjectClients: [WEB.id], tokenExchangeResources: [MCP] });
  await agent(s, AGENT2, { tokenExchangeSubjectClients: [AGENT.id], tokenExchangeResources: [MCP] });
  return s;
}

/** A confidential client with client_credentials and token exchange, and the policy given. */
export function agent(s: TestServer, who: { id: string; secret: string }, policy: Partial<ClientRecord> = {}): Promise<ClientRecord> {
  return seedClient(s.core, { ...who, grantTypes: ["client_credentials", TOKEN_EXCHANGE_GRANT], redirectUris: [], ...policy });
}

/** alice's access token from web-app (READ and WRITE), by the code flow. */
export async function userToken(s: TestServer, options: FlowOptions = {}): Promise<string> {
  return (await obtainTokens(s, options)).accessToken;
}

/** A client's own access token (client_credentials), over HTTP. */
export async function ownToken(s: TestServer, who: { id: string; secret: string }): Promise<string> {
  const res = await token(s, { grant_type: "client_credentials" }, basic(who.id, who.secret));
  if (res.status !== 200) throw new Error(`client_credentials: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A token exchange request's parameters: the subject token, and an actor token when given; `extra` wins. */
export function exchangeParams(subject: string, actor: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subject,
    subject_token_type: ACCESS_TOKEN_TYPE,
    ...(actor !== undefined ? { actor_token: actor, actor_token_type: ACCESS_TOKEN_TYPE } : {}),
    resource: MCP,
    ...extra,
  };
}

export interface ExchangeAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

/** POSTs a token exchange to the gateway's /token as `who` (client_secret_basic). */
export async function exchange(
  s: TestServer,
  who: { id: string; secret: string },
  params: Record<string, string> | [string, string][],
  headers: Record<string, string> = {},
): Promise<ExchangeAnswer> {
  const res = await token(s, params, { ...basic(who.id, who.secret), ...headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** The happy path: alice's web-app token exchanged by AGENT, with its own token as actor. */
export async function delegated(s: TestServer, subject?: string): Promise<{ subject: string; answer: ExchangeAnswer }> {
  const user = subject ?? (await userToken(s));
  const answer = await exchange(s, AGENT, exchangeParams(user, await ownToken(s, AGENT)));
  if (answer.status !== 200) throw new Error(`exchange: ${answer.status} ${JSON.stringify(answer.body)}`);
  return { subject: user, answer };
}

export const claimsOf = (jwt: unknown) => decodeJwt(String(jwt));
