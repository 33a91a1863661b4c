/**
 * What a scenario needs before the clock starts: clients' secrets seen by
 * every worker, access tokens to verify, refresh-token chains, signed-in
 * sessions. Plain node:http, a few connections: none of this is timed.
 */
import http from "node:http";
import { FORM, JSON_BODY, basic, cookieOf, pkcePairs, unexpected, type TokenAnswer } from "./oauth.mjs";
import type { LoadPlan } from "./plan.mjs";

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export class SetupHttp {
  readonly #origin: string;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(origin: string) {
    this.#origin = origin;
  }

  /** `fresh`: on a connection of its own (the server hands each new connection to its next worker). */
  request(method: string, path: string, options: { headers?: Record<string, string>; body?: string; fresh?: boolean } = {}): Promise<Answer> {
    const body = options.body ?? "";
    return new Promise((resolve, reject) => {
      const req = http.request(
        new URL(path, this.#origin),
        {
          method,
          agent: options.fresh === true ? false : this.#agent,
          headers: { ...options.headers, ...(body === "" ? {} : { "content-length": Buffer.byteLength(body) }) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.on("end", () => resolve({ status: res.statusCode!, body: text, headers: res.headers }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  }

  async json<T>(method: string, path: string, expected: number, options: { headers?: Record<string, string>; body?: string } = {}): Promise<T & Answer> {
    const answer = await this.request(method, path, options);
    if (answer.status !== expected) throw new Error(unexpected(`${method} ${path.split("?")[0]}`, answer.status, answer.body));
    return { ...(JSON.parse(answer.body) as T), ...answer };
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** In batches of `size` at once. */
async function inBatches<T, R>(items: T[], size: number, each: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map((item, j) => each(item, i + j)))));
  return out;
}

const clientCredentials = (plan: LoadPlan) => new URLSearchParams({ grant_type: "client_credentials", scope: plan.scope }).toString();

/**
 * Authenticates every client once on every worker of the server: the first
 * authentication of a client by a worker checks its secret's argon2id hash,
 * later ones are remembered by that worker. The server hands each new
 * connection to the next worker in turn, so W requests of a client, each on
 * a connection of its own, opened one after the other, reach all W workers.
 */
export async function primeWorkers(plan: LoadPlan, setup: SetupHttp): Promise<void> {
  for (const client of plan.clients) {
    for (let w = 0; w < plan.serverWorkers; w++) {
      const answer = await setup.request("POST", `${plan.prefix}/token`, {
        headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
        body: clientCredentials(plan),
        fresh: true,
      });
      if (answer.status !== 200) throw new Error(unexpected(`priming ${client.id}`, answer.status, answer.body));
    }
  }
}

/** Access tokens of many clients (token i from client i mod the clients). */
export async function issueTokens(plan: LoadPlan, setup: SetupHttp): Promise<string[]> {
  const indexes = Array.from({ length: plan.tokens }, (_, i) => i);
  return inBatches(indexes, 16, async (i) => {
    const client = plan.clients[i % plan.clients.length]!;
    const answer = await setup.json<TokenAnswer>("POST", `${plan.prefix}/token`, 200, {
      headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
      body: clientCredentials(plan),
    });
    if (typeof answer.access_token !== "string") throw new Error("token answer without access_token");
    return answer.access_token;
  });
}

export interface Chain {
  client: { id: string; secret: string };
  token: string;
}

/** Refresh-token chains, each a family of its own (password grant: a user's token with a refresh token). */
export async function refreshChains(plan: LoadPlan, setup: SetupHttp, count: number): Promise<Chain[]> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  return inBatches(indexes, 8, async (i) => {
    const client = plan.clients[i % plan.clients.length]!;
    const user = plan.users[i % plan.users.length]!;
    const answer = await setup.json<TokenAnswer>("POST", `${plan.prefix}/token`, 200, {
      headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
      body: new URLSearchParams({ grant_type: "password", username: user.id, password: user.password, scope: plan.scope }).toString(),
    });
    if (typeof answer.refresh_token !== "string") throw new Error("password grant without refresh_token");
    return { client, token: answer.refresh_token };
  });
}

/**
 * Signed-in sessions for the single sign-on client, one per user: an
 * authorization request, the sign-in (which sets the session cookie), and
 * consent once (the client remembers it). Returns the cookies (name=value).
 */
export async function signedInSessions(plan: LoadPlan, setup: SetupHttp, count: number): Promise<string[]> {
  const client = plan.ssoClient;
  const { challenge } = pkcePairs(1)[0]!;
  const users = Array.from({ length: count }, (_, i) => plan.users[i % plan.users.length]!);
  return inBatches(users, 8, async (user) => {
    const query = new URLSearchParams({
      response_type: "code",
      client_id: client.id,
      redirect_uri: client.redirectUri,
      scope: `openid ${plan.scope}`,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const started = await setup.json<{ request_id: string }>("GET", `${plan.prefix}/authorize?${query}`, 200, { headers: { accept: "application/json" } });
    const login = await setup.json<{ redirect_to?: string; scopes: { name: string }[] }>("POST", `${plan.prefix}/authorize`, 200, {
      headers: JSON_BODY,
      body: JSON.stringify({ request_id: started.request_id, username: user.id, password: user.password }),
    });
    const session = cookieOf(login.headers["set-cookie"], "iam_session");
    if (session === undefined) throw new Error(`sign-in of ${user.id} set no session cookie`);
    if (login.redirect_to === undefined) {
      await setup.json("POST", `${plan.prefix}/consent`, 200, {
        headers: JSON_BODY,
        body: JSON.stringify({ request_id: started.request_id, scopes: login.scopes.map((s) => s.name) }),
      });
    }
    return session;
  });
}
