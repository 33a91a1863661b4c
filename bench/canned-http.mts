/**
 * The do-nothing HTTP target of `npm run bench`: answers every request the
 * HTTP scenarios make (iam-core's paths and the peer's) with a canned but
 * valid answer, of about the size of the real one, at once. Driving it with
 * a scenario's own load process shows what that load process can drive at
 * most on this machine: its ceiling. One process, plain node:http.
 *
 * Usage: node --import tsx bench/canned-http.mts   (prints the port it listens on)
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** A string of `length` base64url characters, shaped like a compact JWS when `dots`. */
const filler = (length: number, dots = false) => {
  const s = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImNhbm5lZCJ9".repeat(Math.ceil(length / 40)).slice(0, length);
  return dots ? `${s.slice(0, 40)}.${s.slice(41, length - 88)}.${s.slice(length - 87)}` : s;
};

// Sizes of iam-core's answers: an ES256 access token, an ID token, a refresh token.
const TOKEN = JSON.stringify({
  access_token: filler(560, true),
  token_type: "Bearer",
  expires_in: 3600,
  scope: "openid notes.note.read",
  refresh_token: filler(43),
  id_token: filler(640, true),
});
// A DPoP-bound token's answer: the same, its type DPoP.
const DPOP_TOKEN = TOKEN.replace('"token_type":"Bearer"', '"token_type":"DPoP"');
const INTROSPECTION = JSON.stringify({
  active: true,
  scope: "notes.note.read",
  client_id: "svc-000",
  token_type: "Bearer",
  exp: 4102444800,
  iat: 1767225600,
  sub: "svc-000",
  aud: "https://canned.example/api",
  iss: "http://127.0.0.1/services/oauth2/bench/api",
  jti: filler(22),
});
const HEALTH = JSON.stringify({ status: "ok" });
const SESSION_COOKIE = `iam_session=${filler(43)}; Path=/; HttpOnly; SameSite=Lax`;

/** The authorization request's state and redirect URI, carried in the request id so that the target keeps nothing. */
const requestId = (state: string, redirectUri: string) => Buffer.from(JSON.stringify([state, redirectUri])).toString("base64url");
const fromRequestId = (id: string) => JSON.parse(Buffer.from(id, "base64url").toString()) as [string, string];
const back = (redirectUri: string, state: string) => `${redirectUri}?${new URLSearchParams({ code: filler(43), state })}`;

function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-store", ...headers });
  res.end(body);
}

function authorize(url: URL, res: http.ServerResponse): void {
  const state = url.searchParams.get("state") ?? "";
  const redirectUri = url.searchParams.get("redirect_uri") ?? "";
  if (url.searchParams.get("prompt") === "none") {
    res.writeHead(302, { location: back(redirectUri, state), "content-length": 0 });
    return void res.end();
  }
  send(res, 200, JSON.stringify({ request_id: requestId(state, redirectUri), client: { id: "web", name: "Canned" }, scopes_requested: [], expires_in: 600 }));
}

function answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://canned");
  const path = url.pathname;
  if (req.method === "GET" && path === "/healthz") return send(res, 200, HEALTH);
  if (req.method === "GET" && path.endsWith("/authorize")) return authorize(url, res);
  if (req.method !== "POST") return send(res, 404, "{}");
  if (path.endsWith("/token")) return send(res, 200, req.headers.dpop === undefined ? TOKEN : DPOP_TOKEN);
  if (path.endsWith("/introspect") || path.endsWith("/token/introspection")) return send(res, 200, INTROSPECTION);
  if (path.endsWith("/authorize")) {
    const { request_id } = JSON.parse(body) as { request_id: string };
    return send(res, 200, JSON.stringify({ request_id, scopes: [{ name: "notes.note.read", description: "Read notes" }] }), { "set-cookie": SESSION_COOKIE });
  }
  if (path.endsWith("/consent")) {
    const { request_id } = JSON.parse(body) as { request_id: string };
    const [state, redirectUri] = fromRequestId(request_id);
    return send(res, 200, JSON.stringify({ redirect_to: back(redirectUri, state) }));
  }
  send(res, 404, "{}");
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    try {
      answer(req, body, res);
    } catch (err) {
      send(res, 400, JSON.stringify({ error: String(err) }));
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
