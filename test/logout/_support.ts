/**
 * Shared helpers of the logout tests: a browser's cookies kept by hand, a
 * sign-in through the gateway's pages (login, consent, code, tokens), and a
 * relying party's back-channel logout endpoint on a loopback port that
 * answers as each test scripts it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionContext } from "ava";
import { decodeJwt } from "jose";
import type { Config } from "../../core/server/config.js";
import type { ClientRecord } from "../../core/store/types.js";
import { DEFAULT, seedClient, seedUser, startTestServer, type TestServer } from "../helpers.js";

export const FORM = "application/x-www-form-urlencoded";
export const USER = { id: "carol", password: "carol-password-1" } as const;
export const SECRET = "rp-secret-1";

/** A core and gateway for one test, with the user carol, closed when it ends. */
export async function serveLogout(t: ExecutionContext, config: Partial<Config> = {}): Promise<TestServer> {
  const s = await startTestServer({ config });
  t.teardown(() => s.close());
  await seedUser(s.core, USER);
  return s;
}

/** A confidential client of the default project that may sign users in and register logout URIs. */
export function seedRp(s: TestServer, id: string, extra: Partial<ClientRecord> = {}): Promise<ClientRecord> {
  return seedClient(s.core, {
    id,
    secret: SECRET,
    redirectUris: [`https://${id}.example/cb`],
    postLogoutRedirectUris: [`https://${id}.example/signed-out`],
    ...extra,
  });
}

/** The cookies of one browser, sent with each request and updated from each answer. */
export class Browser {
  readonly cookies = new Map<string, string>();

  header(): Record<string, string> {
    const pairs = [...this.cookies].map(([name, value]) => `${name}=${value}`);
    return pairs.length === 0 ? {} : { cookie: pairs.join("; ") };
  }

  take(res: Response): Response {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(";");
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (attributes.some((a) => a.trim().toLowerCase() === "max-age=0")) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  async get(url: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.take(await fetch(url, { redirect: "manual", headers: { ...headers, ...this.header() } }));
  }

  async post(url: string, form: Record<string, string> | [string, string][]): Promise<Response> {
    const body = new URLSearchParams(Array.isArray(form) ? form : Object.entries(form)).toString();
    return this.take(await fetch(url, { method: "POST", redirect: "manual", headers: { "content-type": FORM, ...this.header() }, body }));
  }

  get session(): string | undefined {
    return this.cookies.get("iam_session");
  }
}

/** The value of a hidden input of a page. */
export function hiddenInput(page: string, name: string): string | undefined {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  return match?.[1];
}

export interface SignedIn {
  idToken: string;
  accessToken: string;
  refreshToken: string;
  /** The `sid` of the ID token: the session's public id. */
  sid: string;
}

/**
 * A person at the browser: the authorization request's login page (or, with
 * a live session, straight to consent), the consent page with every scope
 * approved; answers the URL the browser is sent back to with the code.
 */
export async function approveInBrowser(browser: Browser, authorizationUrl: string, user: { id: string; password: string } = USER): Promise<string> {
  const endpoint = authorizationUrl.split("?")[0]!;
  let res = await browser.get(authorizationUrl);
  let page = await res.text();
  if (res.status === 200 && page.includes('name="password"')) {
    res = await browser.post(endpoint, { request_id: hiddenInput(page, "request_id")!, username: user.id, password: user.password });
    page = await res.text();
  }
  if (res.status === 200 && page.includes('id="consent-form"')) {
    const scopes = [...page.matchAll(/name="scope" value="([^"]*)"/g)].map((m) => ["scope", m[1]!] as [string, string]);
    res = await browser.post(endpoint.replace(/\/authorize$/, "/consent"), [["request_id", hiddenInput(page, "request_id")!], ...scopes, ["action", "approve"]]);
    page = await res.text();
  }
  const location = res.headers.get("location");
  if (location === null || !/^30[23]$/.test(String(res.status))) throw new Error(`the sign-in did not come back: ${res.status} ${page.slice(0, 300)}`);
  return location;
}

/** Signs `user` (carol by default) into `clientId` in this browser, then exchanges the code for tokens. */
export async function signIn(s: TestServer, browser: Browser, clientId: string, user: { id: string; password: string } = USER): Promise<SignedIn> {
  const redirectUri = `https://${clientId}.example/cb`;
  const query = new URLSearchParams({ response_type: "code", client_id: clientId, redirect_uri: redirectUri, scope: "openid", state: "s", nonce: "n" });
  const location = await approveInBrowser(browser, `${s.project}/authorize?${query}`, user);
  if (!location.startsWith(`${redirectUri}?`)) throw new Error(`the sign-in into ${clientId} went to ${location}`);
  const code = new URL(location).searchParams.get("code")!;
  const tokenRes = await fetch(`${s.project}/token`, {
    method: "POST",
    headers: { "content-type": FORM },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: redirectUri, client_id: clientId, client_secret: SECRET }).toString(),
  });
  const tokens = (await tokenRes.json()) as { id_token: string; access_token: string; refresh_token: string };
  if (tokenRes.status !== 200) throw new Error(`token exchange failed: ${JSON.stringify(tokens)}`);
  const sid = decodeJwt(tokens.id_token).sid;
  if (typeof sid !== "string") throw new Error("the ID token has no sid");
  return { idToken: tokens.id_token, accessToken: tokens.access_token, refreshToken: tokens.refresh_token, sid };
}

/** Whether the session is still live in the store (not ended). */
export async function sessionLive(s: TestServer, sid: string): Promise<boolean> {
  const session = await s.core.deps.store.getSession(DEFAULT, sid);
  return session !== undefined && session.endedAt === null;
}

/** How the relying party answers one back-channel logout request. */
export type Answer = number | "hang" | { redirect: string } | { status: number; afterMs: number };

export interface ReceivedLogout {
  path: string;
  contentType: string;
  body: URLSearchParams;
  /** Set once the relying party's answer (or the connection) ended. */
  finished: boolean;
  /** Resolves when it is. */
  done: Promise<void>;
}

export interface RelyingParty {
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** Every request, in arrival order. */
  received: ReceivedLogout[];
  /** Resolves when `count` requests have arrived. */
  arrivals(count: number): Promise<void>;
}

/**
 * A relying party's back-channel logout endpoint (Back-Channel Logout 1.0
 * §2.8) on a loopback port: each request to a path takes the next answer
 * scripted for it (200 once the script is spent); "hang" never answers.
 */
export async function startRelyingParty(t: ExecutionContext, script: Record<string, Answer[]> = {}): Promise<RelyingParty> {
  const received: ReceivedLogout[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "";
      let finish = () => {};
      const entry: ReceivedLogout = {
        path,
        contentType: req.headers["content-type"] ?? "",
        body: new URLSearchParams(Buffer.concat(chunks).toString("utf8")),
        finished: false,
        done: new Promise((resolve) => (finish = resolve)),
      };
      received.push(entry);
      res.on("close", () => {
        entry.finished = true;
        finish();
      });
      for (const w of waiting.filter((w) => received.length >= w.count)) w.resolve();
      const answer = script[path]?.shift() ?? 200;
      if (answer === "hang") return;
      if (typeof answer === "object" && "redirect" in answer) {
        res.writeHead(302, { location: answer.redirect }).end();
        return;
      }
      if (typeof answer === "object") {
        setTimeout(() => res.writeHead(answer.status).end(), answer.afterMs);
        return;
      }
      res.writeHead(answer, { "cache-control": "no-store" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    received,
    arrivals: (count) => (received.length >= count ? Promise.resolve() : new Promise((resolve) => waiting.push({ count, resolve }))),
  };
}
