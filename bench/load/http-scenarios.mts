/**
 * The HTTP scenarios as units of work for autocannon: what each request
 * carries and what proves its answer right. The same steps run against
 * iam-core, the peer, and the canned target (the generator's ceiling).
 */
import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { header, type Answer, type HttpLoad, type Step } from "./autocannon.mjs";
import { FORM, JSON_BODY, basic, parseJson, pkcePairs, unexpected, type TokenAnswer } from "./oauth.mjs";
import type { HttpScenario, LoadPlan } from "./plan.mjs";
import { issueTokens, primeWorkers, refreshChains, signedInSessions, type Chain, type SetupHttp } from "./prepare.mjs";

/** Refresh-token chains kept aside to replace one whose last answer was lost. */
const SPARE_CHAINS = 16;

/** The list rotated so that connection `i` of `n` starts its own part of it. */
function rotated<T>(items: T[], i: number, n: number): T[] {
  const k = Math.floor((i * items.length) / Math.max(1, n)) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** A JSON answer with the expected status whose `field` passes `ok`; the parsed body goes to `keep`. */
function expectJson<T>(what: string, status: number, ok: (body: T) => boolean, keep?: (body: T) => void) {
  return (answer: Answer): string | undefined => {
    const body = answer.status === status ? parseJson<T>(answer.body) : undefined;
    if (body === undefined || !ok(body)) return unexpected(what, answer.status, answer.body);
    keep?.(body);
    return undefined;
  };
}

const hasAccessToken = (t: TokenAnswer) => typeof t.access_token === "string";
const hasIdToken = (t: TokenAnswer) => typeof t.id_token === "string" && typeof t.access_token === "string";

function clientCredentials(plan: LoadPlan): HttpLoad {
  const body = new URLSearchParams({ grant_type: "client_credentials", scope: plan.scope }).toString();
  const steps: Step[] = plan.clients.map((c) => ({
    method: "POST",
    path: `${plan.prefix}/token`,
    headers: { "content-type": FORM, authorization: basic(c.id, c.secret) },
    body,
    check: expectJson("client_credentials", 200, hasAccessToken),
  }));
  return { connection: (i) => rotated(steps, i, plan.inFlight), unit: 1 };
}

/**
 * The token endpoint's URL as the server names it (a DPoP proof's htu): from
 * its discovery document, or, from a target that serves none (the canned
 * one), the default base URL of the port.
 */
async function tokenEndpoint(plan: LoadPlan): Promise<string> {
  const discovery = await fetch(`${plan.http}${plan.prefix}/.well-known/openid-configuration`).catch(() => undefined);
  const metadata = discovery?.ok === true ? ((await discovery.json()) as { token_endpoint?: string }) : {};
  return metadata.token_endpoint ?? `http://localhost:${new URL(plan.http).port}${plan.prefix}/token`;
}

/**
 * client_credentials with a DPoP proof (RFC 9449) at every request: one P-256
 * key per connection, a new proof (jti, iat) signed for each request, as a
 * client does. The answer must be a DPoP-bound token.
 */
async function dpopClientCredentials(plan: LoadPlan): Promise<HttpLoad> {
  const htu = await tokenEndpoint(plan);
  const body = new URLSearchParams({ grant_type: "client_credentials", scope: plan.scope }).toString();
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return {
    connection: (i) => {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const header = part({ typ: "dpop+jwt", alg: "ES256", jwk: publicKey.export({ format: "jwk" }) });
      return rotated(plan.clients, i, plan.inFlight).map((c) => {
        // What does not change between requests is made once: only the proof is new each time.
        const authorization = basic(c.id, c.secret);
        return {
          method: "POST",
          path: `${plan.prefix}/token`,
          vary: () => {
            const input = `${header}.${part({ jti: randomUUID(), htm: "POST", htu, iat: Math.floor(Date.now() / 1000) })}`;
            const signature = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url");
            return { headers: { "content-type": FORM, authorization, dpop: `${input}.${signature}` }, body };
          },
          check: expectJson<TokenAnswer>("DPoP client_credentials", 200, (t) => hasAccessToken(t) && t.token_type === "DPoP"),
        };
      });
    },
    unit: 1,
  };
}

/**
 * client_credentials authenticated by private_key_jwt (RFC 7523): a new
 * ES256 assertion (jti, iat, exp) signed for each request, as a client
 * does, by 64 clients in turn. Each is verified and its jti recorded once.
 */
async function privateKeyJwtClientCredentials(plan: LoadPlan): Promise<HttpLoad> {
  const issuer = (await tokenEndpoint(plan)).replace(/\/token$/, "");
  const body = new URLSearchParams({ grant_type: "client_credentials", scope: plan.scope }).toString();
  const key = createPrivateKey({ key: plan.signers.privateJwk, format: "jwk" });
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = part({ alg: "ES256", kid: plan.signers.kid });
  const steps: Step[] = plan.signers.ids.map((id) => ({
    method: "POST",
    path: `${plan.prefix}/token`,
    vary: () => {
      const iat = Math.floor(Date.now() / 1000);
      const input = `${header}.${part({ iss: id, sub: id, aud: issuer, jti: randomUUID(), iat, exp: iat + 60 })}`;
      const signature = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }).toString("base64url");
      return {
        headers: { "content-type": FORM },
        body: `${body}&client_assertion_type=${encodeURIComponent("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")}&client_assertion=${input}.${signature}`,
      };
    },
    check: expectJson("private_key_jwt client_credentials", 200, hasAccessToken),
  }));
  return { connection: (i) => rotated(steps, i, plan.inFlight), unit: 1 };
}

function introspection(plan: LoadPlan, tokens: string[], path: string): HttpLoad {
  const steps: Step[] = tokens.map((token, i) => {
    const client = plan.clients[i % plan.clients.length]!;
    return {
      method: "POST",
      path,
      headers: { "content-type": FORM, authorization: basic(client.id, client.secret) },
      body: new URLSearchParams({ token }).toString(),
      check: expectJson<{ active?: unknown }>("introspection", 200, (a) => a.active === true),
    };
  });
  return { connection: (i) => rotated(steps, i, plan.inFlight), unit: 1 };
}

/**
 * One refresh-token chain per connection, rotated at every request. The
 * chain lives with the connection, not in autocannon's context (which starts
 * afresh with every unit). A chain whose answer was lost (a timeout, a
 * refused request) may be spent already: the connection takes a spare one.
 */
function refresh(plan: LoadPlan, chains: Chain[]): HttpLoad {
  const spares = chains.slice(plan.inFlight);
  return {
    connection: (i) => {
      let chain = chains[i]!;
      let awaiting = false;
      const step: Step = {
        method: "POST",
        path: `${plan.prefix}/token`,
        vary: () => {
          if (awaiting && spares.length > 0) chain = spares.pop()!;
          awaiting = true;
          return {
            headers: { "content-type": FORM, authorization: basic(chain.client.id, chain.client.secret) },
            body: `grant_type=refresh_token&refresh_token=${encodeURIComponent(chain.token)}`,
          };
        },
        check: expectJson<TokenAnswer>(
          "refresh_token",
          200,
          (t) => typeof t.refresh_token === "string" && hasAccessToken(t),
          (t) => {
            chain.token = t.refresh_token as string;
            awaiting = false;
          },
        ),
      };
      return [step];
    },
    unit: 1,
  };
}

interface FlowState {
  state?: string;
  verifier?: string;
  requestId?: string;
  scopes?: string[];
  code?: string;
}

/** The code and state of a redirect back to the client, if `state` matches. */
function codeFrom(location: string | undefined, s: FlowState): string | undefined {
  if (location === undefined) return "no redirect";
  const back = new URL(location).searchParams;
  if (back.get("state") !== s.state) return `state not echoed: ${location.slice(0, 200)}`;
  const code = back.get("code");
  if (code === null) return `no code: ${location.slice(0, 200)}`;
  s.code = code;
  return undefined;
}

/** POST /token with the code and its PKCE verifier (RFC 7636 §4.5); the answer must hold an ID token. */
function codeExchange(plan: LoadPlan, client: { id: string; redirectUri: string }): Step<FlowState> {
  return {
    method: "POST",
    path: `${plan.prefix}/token`,
    headers: { "content-type": FORM },
    vary: (s) =>
      s.code === undefined || s.verifier === undefined
        ? undefined
        : {
            body: new URLSearchParams({
              grant_type: "authorization_code",
              code: s.code,
              redirect_uri: client.redirectUri,
              client_id: client.id,
              code_verifier: s.verifier,
            }).toString(),
          },
    check: expectJson<TokenAnswer>("authorization_code", 200, hasIdToken),
  };
}

/** The authorization request's query, with a new state and the next PKCE pair, kept in the unit's state. */
function authorizeQuery(plan: LoadPlan, client: { id: string; redirectUri: string }, extra: Record<string, string>) {
  const pairs = pkcePairs(1024);
  let n = 0;
  return (s: FlowState): string => {
    const pair = pairs[n % pairs.length]!;
    s.state = `s${n++}`;
    s.verifier = pair.verifier;
    return new URLSearchParams({
      response_type: "code",
      client_id: client.id,
      redirect_uri: client.redirectUri,
      scope: `openid ${plan.scope}`,
      state: s.state,
      code_challenge: pair.challenge,
      code_challenge_method: "S256",
      ...extra,
    }).toString();
  };
}

/** A user's whole sign-in: authorization request, login, consent, code exchange (four requests). */
function flow(plan: LoadPlan): HttpLoad {
  const p = plan.prefix;
  const query = authorizeQuery(plan, plan.publicClient, {});
  return {
    connection: (i): Step<FlowState>[] => {
      const user = plan.users[i % plan.users.length]!;
      return [
        {
          method: "GET",
          path: `${p}/authorize`,
          headers: { accept: "application/json" },
          vary: (s) => ({ path: `${p}/authorize?${query(s)}` }),
          check: (a, s) => expectJson<{ request_id?: unknown }>("GET /authorize", 200, (b) => typeof b.request_id === "string", (b) => (s.requestId = b.request_id as string))(a),
        },
        {
          method: "POST",
          path: `${p}/authorize`,
          headers: JSON_BODY,
          vary: (s) => (s.requestId === undefined ? undefined : { body: JSON.stringify({ request_id: s.requestId, username: user.id, password: user.password }) }),
          check: (a, s) =>
            expectJson<{ request_id?: unknown; scopes?: { name: string }[] }>(
              "POST /authorize",
              200,
              (b) => typeof b.request_id === "string" && Array.isArray(b.scopes),
              (b) => (s.scopes = b.scopes!.map((x) => x.name)),
            )(a),
        },
        {
          method: "POST",
          path: `${p}/consent`,
          headers: JSON_BODY,
          vary: (s) => (s.scopes === undefined ? undefined : { body: JSON.stringify({ request_id: s.requestId, scopes: s.scopes }) }),
          check: (a, s) => {
            let location: string | undefined;
            const problem = expectJson<{ redirect_to?: unknown }>("POST /consent", 200, (b) => typeof b.redirect_to === "string", (b) => (location = b.redirect_to as string))(a);
            return problem ?? codeFrom(location, s);
          },
        },
        codeExchange(plan, plan.publicClient),
      ];
    },
    unit: 4,
  };
}

/** A single-page application's silent renew: prompt=none with the session cookie, then the code exchange. */
function silentSignIn(plan: LoadPlan, sessions: string[]): HttpLoad {
  const query = authorizeQuery(plan, plan.ssoClient, { prompt: "none" });
  return {
    connection: (i): Step<FlowState>[] => [
      {
        method: "GET",
        path: `${plan.prefix}/authorize`,
        headers: { cookie: sessions[i % sessions.length]! },
        vary: (s) => ({ path: `${plan.prefix}/authorize?${query(s)}` }),
        check: (a, s) => (a.status !== 302 ? unexpected("GET /authorize prompt=none", a.status, a.body) : codeFrom(header(a, "location"), s)),
      },
      codeExchange(plan, plan.ssoClient),
    ],
    unit: 2,
  };
}

function healthz(): HttpLoad {
  const step: Step = {
    method: "GET",
    path: "/healthz",
    check: expectJson<{ status?: unknown }>("GET /healthz", 200, (b) => b.status === "ok"),
  };
  return { connection: () => [step], unit: 1 };
}

/** Prepares what `scenario` needs (not timed) and returns its load. */
export async function httpLoad(scenario: HttpScenario, plan: LoadPlan, setup: SetupHttp): Promise<HttpLoad> {
  switch (scenario) {
    case "http-ceiling":
      return healthz();
    case "client-credentials":
    case "peer-client-credentials":
      await primeWorkers(plan, setup);
      return clientCredentials(plan);
    case "dpop-client-credentials":
      await primeWorkers(plan, setup);
      return dpopClientCredentials(plan);
    case "private-key-jwt-client-credentials":
      return privateKeyJwtClientCredentials(plan);
    case "introspection":
    case "peer-introspection": {
      await primeWorkers(plan, setup);
      const path = scenario === "introspection" ? `${plan.prefix}/introspect` : "/token/introspection";
      return introspection(plan, await issueTokens(plan, setup), path);
    }
    case "refresh":
      await primeWorkers(plan, setup);
      return refresh(plan, await refreshChains(plan, setup, plan.inFlight + SPARE_CHAINS));
    case "flow":
      return flow(plan);
    case "silent-sign-in":
      return silentSignIn(plan, await signedInSessions(plan, setup, plan.inFlight));
  }
}
