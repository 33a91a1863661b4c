/**
 * What a rolling upgrade is tested with: a client and a user made through
 * one server, the requests a deployment serves all day (tokens, refreshes,
 * introspection, the sign-in page and a sign-in) sent over HTTP to servers
 * of either release in turn, each step through another server than the one
 * before, and a load loop that runs them without pause and records every
 * answer that is not the expected one. Not a test file itself.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService, ClientType } from "../../gen/iam/v1/admin_pb.js";
import { ADMIN, request } from "../gateway/_cluster.js";

export const BASE_URL = "http://iam.upgrade.test";
export const PREFIX = "/services/oauth2/iam-admins/iam-admins";
export const APP = { id: "upgrade-app", secret: "upgrade-app-secret-0123456789abcdef", redirect: "https://app.upgrade.test/cb" };
export const BOB = { id: "bob", password: "bob-password-0123" };
/** What every server of the test shares besides the database: one issuer, one administrator; sign-ins from one address unlimited (the load is one address). */
export const SERVER_ENV = { IAM_BASE_URL: BASE_URL, IAM_ADMIN_CLIENT_SECRET: ADMIN.secret, IAM_LOG_LEVEL: "warn", IAM_LOGIN_RATE_PER_ADDRESS: "0" };

/** A server taking part (its gateway's port), by the release it runs. */
export interface Target {
  name: string;
  port: number;
}

type Answer = Awaited<ReturnType<typeof request>>;

/** The answer, if its status is `status`; otherwise an error naming the step, the server and what it said. */
function expect(step: string, at: Target, answer: Answer, status = 200): Record<string, unknown> {
  if (answer.status !== status) throw new Error(`${step} at ${at.name}: ${answer.status} ${answer.body.slice(0, 300)}`);
  return answer.headers["content-type"]?.startsWith("application/json") ? (JSON.parse(answer.body) as Record<string, unknown>) : {};
}

async function clientCredentials(at: Target, client: { id: string; secret: string }): Promise<string> {
  const answer = await request(at.port, `${PREFIX}/token`, { form: { grant_type: "client_credentials" }, basic: [client.id, client.secret] });
  return expect("client_credentials", at, answer).access_token as string;
}

/** The client and the user of the test, made through the AdminService of one server. */
export async function seed(at: Target, grpcPort: number): Promise<void> {
  const admin = createClient(AdminService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${grpcPort}` }));
  const call = { headers: { authorization: `Bearer ${await clientCredentials(at, ADMIN)}` } };
  const ref = { organization: "iam-admins", project: "iam-admins" };
  await admin.createClient(
    {
      ...ref,
      clientId: APP.id,
      name: "Upgrade app",
      type: ClientType.CONFIDENTIAL,
      secret: APP.secret,
      redirectUris: [APP.redirect],
      grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
    },
    call,
  );
  await admin.createUser({ ...ref, userId: BOB.id, name: "Bob", email: "bob@upgrade.test", password: BOB.password }, call);
}

/** The app's client_credentials token from one server, introspected by another: answers the token. */
export async function tokenIntrospected(issuer: Target, verifier: Target): Promise<string> {
  const token = await clientCredentials(issuer, APP);
  await introspectActive(verifier, token);
  return token;
}

export async function introspectActive(at: Target, token: string): Promise<void> {
  const answer = await request(at.port, `${PREFIX}/introspect`, { form: { token }, basic: [APP.id, APP.secret] });
  const body = expect("introspection", at, answer);
  if (body.active !== true) throw new Error(`introspection at ${at.name}: ${answer.body}`);
}

const AUTHORIZE = `${PREFIX}/authorize?${new URLSearchParams({ response_type: "code", client_id: APP.id, redirect_uri: APP.redirect, scope: "openid", state: "s" })}`;

/** The sign-in page a browser is shown. */
export async function signInPage(at: Target): Promise<void> {
  const answer = await request(at.port, AUTHORIZE, { headers: { accept: "text/html" } });
  expect("sign-in page", at, answer);
  if (!answer.body.includes('name="password"')) throw new Error(`sign-in page at ${at.name} has no password field`);
}

/**
 * Bob signs in (the request made at `a`, the password at `b`, the consent at
 * `a`), the code is exchanged at `b`, the refresh token used at `a`, and the
 * new access token introspected at `b`. Answers the refresh token left.
 */
export async function signInAndRefresh(a: Target, b: Target): Promise<string> {
  const start = expect("authorization request", a, await request(a.port, AUTHORIZE, { headers: { accept: "application/json" } }));
  const login = expect("sign-in", b, await request(b.port, `${PREFIX}/authorize`, { json: { request_id: start.request_id, username: BOB.id, password: BOB.password }, headers: { accept: "application/json" } }));
  const scopes = (login.scopes as { name: string }[]).map((s) => s.name);
  const consent = expect("consent", a, await request(a.port, `${PREFIX}/consent`, { json: { request_id: start.request_id, scopes }, headers: { accept: "application/json" } }));
  const code = new URL(consent.redirect_to as string).searchParams.get("code") ?? "";
  const exchange = { grant_type: "authorization_code", code, redirect_uri: APP.redirect };
  const tokens = expect("code exchange", b, await request(b.port, `${PREFIX}/token`, { form: exchange, basic: [APP.id, APP.secret] }));
  return refreshed(a, b, tokens.refresh_token as string);
}

/** A refresh at `a`, its access token introspected at `b`: answers the new refresh token. */
export async function refreshed(a: Target, b: Target, refreshToken: string): Promise<string> {
  const form = { grant_type: "refresh_token", refresh_token: refreshToken };
  const tokens = expect("refresh", a, await request(a.port, `${PREFIX}/token`, { form, basic: [APP.id, APP.secret] }));
  await introspectActive(b, tokens.access_token as string);
  return tokens.refresh_token as string;
}

/**
 * `loops` requesters running every step above without pause, each step
 * through the next of the servers `targets` answers at the start of the
 * round. `failures` holds every unexpected answer, with the generation of
 * the round (how many times the servers had changed when it started);
 * `served` counts the rounds by "issuer→verifier". `retarget` changes the
 * servers and answers the new generation once no round started before it is
 * still running: a server dropped from the list can then be stopped with
 * nothing in flight, as a load balancer drains one.
 */
export function loadLoop(initial: Target[], loops = 4) {
  let targets = initial;
  let generation = 0;
  let stopped = false;
  const failures: { generation: number; message: string }[] = [];
  const served = new Map<string, number>();
  const running = new Array<number>(loops).fill(0);
  const count = (x: Target, y: Target) => served.set(`${x.name}→${y.name}`, (served.get(`${x.name}→${y.name}`) ?? 0) + 1);
  const loop = async (slot: number) => {
    for (let round = slot; !stopped; round++) {
      const started = (running[slot] = generation);
      const now = targets;
      const x = now[round % now.length]!;
      const y = now[(round + 1) % now.length]!;
      try {
        await tokenIntrospected(x, y);
        await signInPage(x);
        await signInAndRefresh(x, y);
        count(x, y);
      } catch (err) {
        // A connection refused or cut names no server: the round's do.
        failures.push({ generation: started, message: `${x.name}, ${y.name}: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
    running[slot] = Infinity;
  };
  const done = Promise.all(Array.from({ length: loops }, (_, slot) => loop(slot)));
  return {
    failures,
    served,
    async retarget(next: Target[]): Promise<number> {
      targets = next;
      const mark = ++generation;
      while (running.some((g) => g < mark)) await new Promise((resolve) => setTimeout(resolve, 20));
      return mark;
    },
    async stop(): Promise<void> {
      stopped = true;
      await done;
    },
  };
}
