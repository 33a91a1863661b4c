import net from "node:net";
import test, { type ExecutionContext } from "ava";
import { RateLimiter } from "../../core/lib/rate-limit.js";
import { createInProcessTransport } from "../../wire/in-process-transport.js";
import { createGateway } from "../../gateway/app.js";
import { startGatewayServer } from "../../gateway/server.js";
import type { Config } from "../../core/server/config.js";
import { ADMIN_PASSWORD, DEFAULT_REDIRECT, seedClient, startTestServer, type TestServer } from "../helpers.js";
import { adminBasic, adminRequest, assertJsonError, authorizeUrl, getJson, postJson, token } from "./_support.js";

async function serveWith(t: ExecutionContext, config: Partial<Config>): Promise<TestServer> {
  const s = await startTestServer({ config });
  t.teardown(() => s.close());
  return s;
}

test("the token bucket allows a burst, then one request per 1/rate seconds, and forgets the least recently used keys past its bound", (t) => {
  const limiter = new RateLimiter(2, 3, 2);
  const at = 1_000_000;
  t.deepEqual([0, 0, 0].map(() => limiter.take("a", at)), [0, 0, 0]);
  t.is(limiter.take("a", at), 1, "the fourth at once waits a second");
  t.is(limiter.take("a", at + 500), 0, "half a second earns one back at 2/s");
  t.is(limiter.take("a", at + 500), 1);
  t.is(limiter.take("b", at), 0);
  t.is(limiter.take("c", at), 0);
  t.is(limiter.size, 2, "at most two keys kept");
  t.is(new RateLimiter(0, 1).take("x", at), 0, "a rate of 0 is no limit");
});

test("per-client rate limit at /token: 429 temporarily_unavailable with Retry-After, a wrong secret spending the same bucket, then allowed again", async (t) => {
  const s = await serveWith(t, { tokenRatePerClient: 1, tokenRateBurst: 2 });
  for (let i = 0; i < 2; i++) t.is((await token(s, { grant_type: "client_credentials" }, adminBasic())).status, 200);
  const limited = await token(s, { grant_type: "client_credentials" }, adminBasic());
  t.is(limited.headers.get("retry-after"), "1");
  const body = await assertJsonError(t, limited, 429, "temporarily_unavailable");
  t.regex(body.error_description, /too many token requests from this client/);
  // A wrong secret is limited as well: the bucket is spent before authentication.
  t.is((await token(s, { grant_type: "client_credentials" }, { authorization: `Basic ${Buffer.from("admin-client:guess").toString("base64")}` })).status, 429);
  s.clock.advance(1);
  t.is((await token(s, { grant_type: "client_credentials" }, adminBasic())).status, 200);
});

test("per-client rate limit at /token counts only requests that present a secret: anyone can name a public client", async (t) => {
  const s = await serveWith(t, { tokenRatePerClient: 1, tokenRateBurst: 1 });
  await seedClient(s.core, { id: "public-app", redirectUris: [DEFAULT_REDIRECT], grantTypes: ["authorization_code", "refresh_token"] });
  // Requests naming the public client, as an attacker would send them: each is refused on its merits, never 429.
  for (let i = 0; i < 5; i++) {
    await assertJsonError(t, await token(s, { grant_type: "authorization_code", code: `made-up-${i}`, client_id: "public-app", redirect_uri: DEFAULT_REDIRECT, code_verifier: "v".repeat(43) }), 400, "invalid_grant");
  }
  // The confidential client's bucket is still counted.
  t.is((await token(s, { grant_type: "client_credentials" }, adminBasic())).status, 200);
  await assertJsonError(t, await token(s, { grant_type: "client_credentials" }, adminBasic()), 429, "temporarily_unavailable");
});

test("per-address rate limit at sign-in: 429 with Retry-After even for the right password, counted whatever the outcome", async (t) => {
  const s = await serveWith(t, { loginRatePerAddress: 1, loginRateBurst: 2 });
  const login = async (password: string) => {
    const start = await getJson(authorizeUrl(s, adminRequest()));
    const { request_id } = (await start.json()) as { request_id: string };
    return postJson(`${s.project}/authorize`, { request_id, username: "admin", password });
  };
  t.is((await login(ADMIN_PASSWORD)).status, 200);
  t.is((await login("wrong")).status, 401);
  const limited = await login(ADMIN_PASSWORD);
  t.is(limited.status, 429);
  t.is(limited.headers.get("retry-after"), "1");
  t.is(((await limited.json()) as { retry_after: number }).retry_after, 1);
  s.clock.advance(1);
  t.is((await login(ADMIN_PASSWORD)).status, 200);
});

test("a body over IAM_HTTP_MAX_BODY_BYTES is 413 before it is read; a smaller limit applies", async (t) => {
  const s = await serveWith(t, {});
  const app = createGateway({
    transport: createInProcessTransport(s.core.routes),
    baseUrl: "http://iam.test",
    logger: s.core.deps.logger,
    metrics: s.core.deps.metrics,
    maxBodyBytes: 1024,
  });
  const gateway = await startGatewayServer(app.callback(), "127.0.0.1", 0);
  t.teardown(() => gateway.close());
  const url = `http://127.0.0.1:${gateway.port}/services/oauth2/iam-admins/iam-admins/token`;
  const big = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=client_credentials&pad=${"a".repeat(1100)}` });
  await assertJsonError(t, big, 413, "invalid_request");
  const small = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...adminBasic() }, body: "grant_type=client_credentials" });
  t.is(small.status, 200);
});

/** Opens a raw connection and sends `head` a piece at a time; answers what the server did. */
function slowClient(port: number, pieces: string[], everyMs: number): Promise<{ closedAfterMs: number; received: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    let i = 0;
    const timer = setInterval(() => {
      if (i < pieces.length && !socket.destroyed) socket.write(pieces[i++]!);
    }, everyMs);
    socket.on("data", (d) => (received += d.toString()));
    socket.on("close", () => {
      clearInterval(timer);
      resolve({ closedAfterMs: Date.now() - started, received });
    });
    socket.on("error", () => {});
  });
}

test("a client that trickles its headers or its body is cut off at the configured timeouts (slowloris)", async (t) => {
  const s = await serveWith(t, {});
  const app = createGateway({ transport: createInProcessTransport(s.core.routes), baseUrl: "http://iam.test", logger: s.core.deps.logger, metrics: s.core.deps.metrics });
  const gateway = await startGatewayServer(app.callback(), "127.0.0.1", 0, { headersSeconds: 1, requestSeconds: 2 });
  t.teardown(() => gateway.close());
  // Headers one line every 400 ms, never finished: 408 or closed within about a second, not after the 40 lines.
  const headers = ["POST /services/oauth2/iam-admins/iam-admins/token HTTP/1.1\r\n", ...Array.from({ length: 40 }, (_, i) => `x-pad-${i}: y\r\n`)];
  const slowHeaders = await slowClient(gateway.port, headers, 400);
  t.true(slowHeaders.closedAfterMs < 8_000, `closed after ${slowHeaders.closedAfterMs} ms`);
  t.regex(slowHeaders.received, /^$|^HTTP\/1\.1 408/);
  // Headers at once, then the body a byte every 300 ms: cut at the request timeout.
  const body = "grant_type=client_credentials";
  const head = `POST /services/oauth2/iam-admins/iam-admins/token HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: ${body.length}\r\n\r\n`;
  const slowBody = await slowClient(gateway.port, [head, ...body.split("")], 300);
  t.true(slowBody.closedAfterMs < 8_000, `closed after ${slowBody.closedAfterMs} ms`);
  t.false(slowBody.received.includes("access_token"));
});
