/**
 * OpenID Connect Back-Channel Logout 1.0: the logout tokens a relying party
 * receives on a loopback port when a session ends, verified as a relying
 * party would (the project's JWKS over HTTP), and how deliveries are retried,
 * bounded and recorded without ever holding up the user's answer.
 */
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import type { Config } from "../../core/server/config.js";
import { DEFAULT, seedUser, startTestServer, tempDir, type TestServer } from "../helpers.js";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import { Browser, FORM, seedRp, serveLogout, signIn, startRelyingParty, USER } from "./_support.js";

const EVENT = "http://schemas.openid.net/event/backchannel-logout";
const ISSUER = "http://iam.test/services/oauth2/iam-admins/iam-admins";
/** The relying parties of these tests listen on loopback ports, which only this option lets deliveries reach (ssrf.test.ts: without it). */
const LOOPBACK = { backchannelLogoutPrivateNetworks: true } as const;

test("each client of the session with a back-channel URI gets a logout token that verifies against the JWKS: typ logout+jwt, its ID token algorithm, exactly the required claims, no nonce, the ID token's sid", async (t) => {
  const s = await serveLogout(t, LOOPBACK);
  const rp = await startRelyingParty(t);
  await seedRp(s, "app", { backchannelLogoutUri: `${rp.origin}/app/backchannel` });
  await seedRp(s, "shop", { backchannelLogoutUri: `${rp.origin}/shop/backchannel`, idTokenSignedResponseAlg: "ES256" });
  await seedRp(s, "quiet");
  const browser = new Browser();
  const app = await signIn(s, browser, "app");
  await signIn(s, browser, "shop");
  await signIn(s, browser, "quiet");

  const res = await browser.get(`${s.project}/logout?id_token_hint=${app.idToken}`);
  t.is(res.status, 200);
  await s.core.deps.logoutDeliveries.settled();
  t.deepEqual(rp.received.map((r) => r.path).sort(), ["/app/backchannel", "/shop/backchannel"]);

  const jwks = createRemoteJWKSet(new URL(`${s.project}/.well-known/jwks.json`));
  for (const [clientId, alg] of [["app", "RS256"], ["shop", "ES256"]] as const) {
    const request = rp.received.find((r) => r.path === `/${clientId}/backchannel`)!;
    t.is(request.contentType, FORM);
    t.deepEqual([...request.body.keys()], ["logout_token"]);
    const token = request.body.get("logout_token")!;
    const header = decodeProtectedHeader(token);
    t.is(header.typ, "logout+jwt");
    t.is(header.alg, alg);
    const { payload } = await jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience: clientId,
      typ: "logout+jwt",
      algorithms: [alg],
      currentDate: new Date(s.clock.now()),
    });
    t.deepEqual(Object.keys(payload).sort(), ["aud", "events", "exp", "iat", "iss", "jti", "sid", "sub"]);
    t.false("nonce" in payload);
    t.is(payload.sub, USER.id);
    t.is(payload.sid, app.sid);
    t.is(payload.aud, clientId);
    t.is(payload.exp! - payload.iat!, 120);
    t.deepEqual(payload.events, { [EVENT]: {} });
    t.regex(payload.jti!, /^[A-Za-z0-9_-]{16,}$/);
  }
  const deliveries = await s.core.deps.store.listLogoutDeliveries(DEFAULT, app.sid);
  t.deepEqual(
    deliveries.map(({ clientId, uri, status, outcome, attempts, error }) => ({ clientId, uri, status, outcome, attempts, error })).sort((a, b) => a.clientId.localeCompare(b.clientId)),
    [
      { clientId: "app", uri: `${rp.origin}/app/backchannel`, status: 200, outcome: "delivered", attempts: 1, error: "" },
      { clientId: "shop", uri: `${rp.origin}/shop/backchannel`, status: 200, outcome: "delivered", attempts: 1, error: "" },
    ],
  );
  for (const line of s.lines) t.false(line.includes(rp.received[0]!.body.get("logout_token")!), "no logout token in the logs");
});

test("an RP answering 500 then 200 is tried again and recorded delivered after two attempts; a 400 is not tried again", async (t) => {
  const s = await serveLogout(t, LOOPBACK);
  const rp = await startRelyingParty(t, { "/flaky": [500], "/refuses": [400] });
  await seedRp(s, "flaky", { backchannelLogoutUri: `${rp.origin}/flaky` });
  await seedRp(s, "refuses", { backchannelLogoutUri: `${rp.origin}/refuses` });
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "flaky");
  await signIn(s, browser, "refuses");
  await browser.get(`${s.project}/logout?id_token_hint=${signedIn.idToken}`);
  await s.core.deps.logoutDeliveries.settled();

  t.deepEqual(rp.received.map((r) => r.path).sort(), ["/flaky", "/flaky", "/refuses"]);
  const [first, second] = rp.received.filter((r) => r.path === "/flaky").map((r) => r.body.get("logout_token")!);
  t.not(first, second, "each attempt is a new token (a new jti)");
  const deliveries = await s.core.deps.store.listLogoutDeliveries(DEFAULT, signedIn.sid);
  const byClient = Object.fromEntries(deliveries.map((d) => [d.clientId, d]));
  t.like(byClient.flaky, { outcome: "delivered", status: 200, attempts: 2, error: "" });
  t.like(byClient.refuses, { outcome: "failed", status: 400, attempts: 1, error: "answered 400" });
});

test("a redirect from the RP is not followed; a refused connection is tried the configured number of times", async (t) => {
  const s = await serveLogout(t, { ...LOOPBACK, backchannelLogoutRetries: 2 });
  const rp = await startRelyingParty(t, { "/moved": [{ redirect: "/elsewhere" }] });
  await seedRp(s, "moved", { backchannelLogoutUri: `${rp.origin}/moved` });
  // A port nothing listens on: the relying party is down.
  await seedRp(s, "down", { backchannelLogoutUri: `http://127.0.0.1:${await unusedPort()}/gone` });
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "moved");
  await signIn(s, browser, "down");
  await browser.get(`${s.project}/logout?id_token_hint=${signedIn.idToken}`);
  await s.core.deps.logoutDeliveries.settled();

  t.deepEqual(rp.received.map((r) => r.path), ["/moved"], "the Location is not followed");
  const byClient = Object.fromEntries((await s.core.deps.store.listLogoutDeliveries(DEFAULT, signedIn.sid)).map((d) => [d.clientId, d]));
  t.like(byClient.moved, { outcome: "failed", status: 302, attempts: 1, error: "answered 302; redirects are not followed" });
  t.like(byClient.down, { outcome: "failed", status: 0, attempts: 3 });
  t.regex(byClient.down!.error, /^could not send: ECONNREFUSED/);
});

/** A loopback port that was free a moment ago, and is closed now. */
async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("an RP that never answers: the user's answer comes first, while its request still hangs; the delivery is recorded failed after the timeout", async (t) => {
  const s = await serveLogout(t, { ...LOOPBACK, backchannelLogoutTimeout: 1, backchannelLogoutRetries: 0 });
  const rp = await startRelyingParty(t, { "/slow": ["hang"] });
  await seedRp(s, "slow", { backchannelLogoutUri: `${rp.origin}/slow` });
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "slow");

  const res = await browser.get(`${s.project}/logout?id_token_hint=${signedIn.idToken}`);
  t.is(res.status, 200);
  // The answer is in; the delivery is still going on, unrecorded.
  t.is(s.core.deps.logoutDeliveries.inFlight, 1);
  t.deepEqual(await s.core.deps.store.listLogoutDeliveries(DEFAULT, signedIn.sid), []);
  await rp.arrivals(1);
  t.false(rp.received[0]!.finished, "the RP's request is still open after the user's answer");

  await s.core.deps.logoutDeliveries.settled();
  // The timeout closed the connection to the RP (the test's own timeout says if it did not).
  await rp.received[0]!.done;
  const [delivery] = await s.core.deps.store.listLogoutDeliveries(DEFAULT, signedIn.sid);
  t.like(delivery, { clientId: "slow", outcome: "failed", status: 0, attempts: 1, error: "no answer within 1 s" });
});

/** A server on a database file of the test's own, so that the deliveries can be read after it closed. */
async function serveOnFile(t: ExecutionContext, config: Partial<Config>): Promise<{ s: TestServer; dbPath: string }> {
  const tmp = tempDir();
  t.teardown(() => tmp.cleanup());
  const dbPath = join(tmp.dir, "iam.db");
  const s = await startTestServer({ dbPath, config });
  let closed = false;
  const close = s.close.bind(s);
  s.close = async () => {
    if (!closed) await close();
    closed = true;
  };
  t.teardown(() => s.close());
  await seedUser(s.core, USER);
  return { s, dbPath };
}

async function deliveriesAfterClose(t: ExecutionContext, dbPath: string, sid: string) {
  const store = openSqliteStore(dbPath);
  t.teardown(() => store.close());
  return store.listLogoutDeliveries(DEFAULT, sid);
}

test("shutdown waits for a delivery in flight that finishes within the timeout, and records it delivered", async (t) => {
  const { s, dbPath } = await serveOnFile(t, { ...LOOPBACK, backchannelLogoutTimeout: 10 });
  const rp = await startRelyingParty(t, { "/slow": [{ status: 200, afterMs: 300 }] });
  await seedRp(s, "slow", { backchannelLogoutUri: `${rp.origin}/slow` });
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "slow");
  t.is((await browser.get(`${s.project}/logout?id_token_hint=${signedIn.idToken}`)).status, 200);
  await rp.arrivals(1);
  await s.close();
  t.is(s.core.deps.logoutDeliveries.inFlight, 0);
  const [delivery] = await deliveriesAfterClose(t, dbPath, signedIn.sid);
  t.like(delivery, { clientId: "slow", outcome: "delivered", status: 200, attempts: 1 });
  // Once closing, nothing new starts.
  t.false(s.core.deps.logoutDeliveries.start(async () => {}));
});

test("shutdown waits at most the timeout: a relying party that never answers is cut and recorded as failed before the store closes", async (t) => {
  const { s, dbPath } = await serveOnFile(t, { ...LOOPBACK, backchannelLogoutTimeout: 2 });
  const rp = await startRelyingParty(t, { "/slow": ["hang", "hang", "hang"] });
  await seedRp(s, "slow", { backchannelLogoutUri: `${rp.origin}/slow` });
  const browser = new Browser();
  const signedIn = await signIn(s, browser, "slow");
  t.is((await browser.get(`${s.project}/logout?id_token_hint=${signedIn.idToken}`)).status, 200);
  await rp.arrivals(1);
  await s.close();
  t.is(s.core.deps.logoutDeliveries.inFlight, 0);
  const [delivery] = await deliveriesAfterClose(t, dbPath, signedIn.sid);
  t.like(delivery, { clientId: "slow", outcome: "failed", status: 0 });
  t.regex(delivery!.error, /the server shut down$/);
});
