/**
 * Back-channel logout is a request iam-core makes, from inside the
 * operator's network, to a URI a project administrator chose. Unless the
 * operator sets IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS, that URI must be
 * https to a public host: refused at registration when it names a loopback,
 * private, link-local, unique-local or shared address (or localhost), refused
 * at delivery when a stored one does or when its name resolves to one (DNS
 * rebinding). And however many sessions end at once, at most 16 deliveries
 * run per process, the rest queued, the queue bounded.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Code } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { ClientType } from "../../gen/iam/v1/admin_pb.js";
import { LogoutDeliveries, MAX_IN_FLIGHT, type ResolveHost } from "../../core/logout/backchannel.js";
import { nonPublicKind, type NonPublicKind } from "../../core/lib/network-address.js";
import type { Config } from "../../core/server/config.js";
import type { SessionRecord } from "../../core/store/types.js";
import { ACME, ALICE, expectCode, fullTenant, REDIRECT, startAdmin, type AdminTest } from "../admin/rpc-support.js";

const OPTION = "IAM_BACKCHANNEL_LOGOUT_PRIVATE_NETWORKS";
const ALLOW = `the server sends logout tokens there only when its operator sets ${OPTION}=true`;

/** ACME with the confidential client `web` and alice; `config` as the operator set it. */
async function world(t: ExecutionContext, config: Partial<Config> = {}): Promise<AdminTest> {
  const c = await startAdmin(t, { backchannelLogoutRetries: 2, ...config });
  await fullTenant(c);
  return c;
}

/** Each URI refused with the option off, and the exact refusal. */
const REFUSED: { uri: string; message: string }[] = [
  // The finding: an Envoy sidecar's admin API on the iam-core host.
  { uri: "http://127.0.0.1:15000/quitquitquit", message: `127.0.0.1 is a loopback address; ${ALLOW}` },
  { uri: "https://127.0.0.2/bc", message: `127.0.0.2 is a loopback address; ${ALLOW}` },
  { uri: "https://2130706433/bc", message: `127.0.0.1 is a loopback address; ${ALLOW}` },
  { uri: "https://0x7f.1/bc", message: `127.0.0.1 is a loopback address; ${ALLOW}` },
  { uri: "https://[::1]:8443/bc", message: `[::1] is a loopback address; ${ALLOW}` },
  { uri: "https://[::ffff:127.0.0.1]/bc", message: `[::ffff:7f00:1] is a loopback address; ${ALLOW}` },
  { uri: "https://[::ffff:10.0.0.1]/bc", message: `[::ffff:a00:1] is a private address; ${ALLOW}` },
  { uri: "https://0.0.0.0/bc", message: `0.0.0.0 is an unspecified address; ${ALLOW}` },
  { uri: "https://[::]/bc", message: `[::] is an unspecified address; ${ALLOW}` },
  { uri: "https://10.0.0.1/bc", message: `10.0.0.1 is a private address; ${ALLOW}` },
  { uri: "https://172.16.0.1/bc", message: `172.16.0.1 is a private address; ${ALLOW}` },
  { uri: "https://172.31.255.254/bc", message: `172.31.255.254 is a private address; ${ALLOW}` },
  { uri: "https://192.168.1.1/bc", message: `192.168.1.1 is a private address; ${ALLOW}` },
  { uri: "https://169.254.169.254/latest/meta-data", message: `169.254.169.254 is a link-local address; ${ALLOW}` },
  { uri: "https://[fe80::1]/bc", message: `[fe80::1] is a link-local address; ${ALLOW}` },
  { uri: "https://[fc00::1]/bc", message: `[fc00::1] is a unique-local address; ${ALLOW}` },
  { uri: "https://[fd12:3456::1]/bc", message: `[fd12:3456::1] is a unique-local address; ${ALLOW}` },
  { uri: "https://100.64.0.1/bc", message: `100.64.0.1 is a shared (carrier-grade NAT) address; ${ALLOW}` },
  { uri: "https://[64:ff9b::a9fe:a9fe]/bc", message: `[64:ff9b::a9fe:a9fe] is a link-local address; ${ALLOW}` },
  { uri: "https://localhost/bc", message: `localhost is a loopback name; ${ALLOW}` },
  { uri: "https://localhost./bc", message: `localhost. is a loopback name; ${ALLOW}` },
  { uri: "https://rp.localhost/bc", message: `rp.localhost is a loopback name; ${ALLOW}` },
  { uri: "http://localhost:9000/bc", message: `localhost is a loopback name; ${ALLOW}` },
  { uri: "http://[::1]/bc", message: `[::1] is a loopback address; ${ALLOW}` },
  { uri: "http://rp.example/bc", message: "http is allowed only for loopback hosts" },
];

const confidential = (clientId: string, backchannelLogoutUri: string) => ({
  ...ACME,
  clientId,
  type: ClientType.CONFIDENTIAL,
  redirectUris: [REDIRECT],
  backchannelLogoutUri,
});

test(`without ${OPTION}, CreateClient and UpdateClient refuse each loopback, private, link-local, unique-local or shared host, localhost, and plain http, with INVALID_ARGUMENT and the exact message, changing nothing`, async (t) => {
  const c = await world(t);
  const before = (await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client;
  for (const { uri, message } of REFUSED) {
    const full = `backchannel_logout_uri ${uri}: ${message}`;
    const created = await expectCode(t, c.admin.createClient(confidential("rp", uri), c.auth), Code.InvalidArgument, `CreateClient ${uri}`);
    t.is(created?.rawMessage, full);
    const updated = await expectCode(
      t,
      c.admin.updateClient({ ...ACME, clientId: "web", backchannelLogoutUri: uri, updateMask: { paths: ["backchannel_logout_uri"] } }, c.auth),
      Code.InvalidArgument,
      `UpdateClient ${uri}`,
    );
    t.is(updated?.rawMessage, full);
  }
  await expectCode(t, c.admin.getClient({ ...ACME, clientId: "rp" }, c.auth), Code.NotFound, "nothing was created");
  t.deepEqual((await c.admin.getClient({ ...ACME, clientId: "web" }, c.auth)).client, before, "nothing changed");
});

test(`without ${OPTION}, https to a public host is accepted, up to the edges of the refused ranges`, async (t) => {
  const c = await world(t);
  const accepted = ["https://public.example/backchannel", "https://rp.example:8443/logout?tenant=1", "https://172.32.0.1/bc", "https://100.128.0.1/bc", "https://[2001:db8::1]/bc"];
  for (const [i, uri] of accepted.entries()) {
    const res = await c.admin.createClient(confidential(`rp${i}`, uri), c.auth);
    t.is(res.client?.backchannelLogoutUri, uri);
  }
});

test(`with ${OPTION}=true, loopback and private hosts and http on loopback are accepted, as before`, async (t) => {
  const c = await world(t, { backchannelLogoutPrivateNetworks: true });
  const accepted = ["http://127.0.0.1:15000/quitquitquit", "http://localhost:9000/bc", "http://[::1]/bc", "https://10.0.0.1/bc", "https://rp.localhost/bc"];
  for (const [i, uri] of accepted.entries()) {
    const res = await c.admin.createClient(confidential(`rp${i}`, uri), c.auth);
    t.is(res.client?.backchannelLogoutUri, uri);
  }
  const err = await expectCode(t, c.admin.createClient(confidential("plain", "http://rp.example/bc"), c.auth), Code.InvalidArgument);
  t.is(err?.rawMessage, "backchannel_logout_uri http://rp.example/bc: http is allowed only for loopback hosts");
});

/** A relying party on a loopback port that answers 200 after `delayMs`, counting the connections open at once. */
async function slowRelyingParty(t: ExecutionContext, delayMs: number) {
  const rp = { origin: "", received: 0, open: 0, maxOpen: 0 };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      rp.received++;
      setTimeout(() => res.writeHead(200).end(), delayMs);
    });
  });
  server.on("connection", (socket) => {
    rp.open++;
    rp.maxOpen = Math.max(rp.maxOpen, rp.open);
    socket.on("close", () => rp.open--);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  rp.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return rp;
}

/** `count` live sessions of alice, each signed into `clients`, written to the store as sign-ins would. */
async function aliceSessions(c: AdminTest, count: number, clients: string[]): Promise<string[]> {
  const now = Math.floor(c.clock.now() / 1000);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const session: SessionRecord = {
      ...ACME,
      id: `sid-${i}`,
      secretHash: `secret-hash-${i}`,
      userId: ALICE.id,
      authTime: now,
      amr: ["pwd"],
      acr: "",
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 3600,
      clientAddress: "127.0.0.1",
      userAgent: "test",
      clients,
      endedAt: null,
    };
    await c.core.deps.store.createSession(session);
    ids.push(session.id);
  }
  return ids;
}

/** Ends alice's sessions as an administrator does, and answers the deliveries recorded once all are. */
async function endSessions(c: AdminTest, ids: string[]) {
  await c.admin.revokeUserSessions({ ...ACME, userId: ALICE.id }, c.auth);
  await c.core.deps.logoutDeliveries.settled();
  const all = await Promise.all(ids.map((id) => c.core.deps.store.listLogoutDeliveries(ACME, id)));
  return all.flat().map(({ clientId, uri, status, outcome, attempts, error }) => ({ clientId, uri, status, outcome, attempts, error }));
}

/** Sets a client's back-channel URI in the store, past the registration rule: as one stored before it, or while the option was on. */
async function storeUri(c: AdminTest, clientId: string, uri: string): Promise<void> {
  const client = await c.core.deps.store.getClient(ACME, clientId);
  await c.core.deps.store.updateClient({ ...client!, backchannelLogoutUri: uri });
}

test(`without ${OPTION}, a stored URI on 127.0.0.1 or localhost is never contacted: each delivery is recorded failed, once, with the reason`, async (t) => {
  const c = await world(t);
  const rp = await slowRelyingParty(t, 0);
  const port = new URL(rp.origin).port;
  await c.admin.createClient(confidential("named", ""), c.auth);
  await c.admin.createClient(confidential("https-loopback", ""), c.auth);
  await storeUri(c, "web", `${rp.origin}/web`);
  await storeUri(c, "named", `http://localhost:${port}/named`);
  await storeUri(c, "https-loopback", `https://127.0.0.1:${port}/tls`);
  const ids = await aliceSessions(c, 1, ["web", "named", "https-loopback"]);

  const deliveries = await endSessions(c, ids);
  t.is(rp.received, 0, "the loopback relying party got no request");
  t.is(rp.maxOpen, 0, "nor a connection");
  t.deepEqual(
    deliveries.sort((a, b) => a.clientId.localeCompare(b.clientId)),
    [
      { clientId: "https-loopback", uri: `https://127.0.0.1:${port}/tls`, status: 0, outcome: "failed", attempts: 0, error: `not sent: 127.0.0.1 is a loopback address, and ${OPTION} is not set` },
      { clientId: "named", uri: `http://localhost:${port}/named`, status: 0, outcome: "failed", attempts: 0, error: `not sent: localhost is a loopback name, and ${OPTION} is not set` },
      { clientId: "web", uri: `${rp.origin}/web`, status: 0, outcome: "failed", attempts: 0, error: `not sent: 127.0.0.1 is a loopback address, and ${OPTION} is not set` },
    ],
  );
  t.true(c.lines.some((line) => line.includes("back-channel logout not delivered") && line.includes("is not set")), "each is logged as a warning");
});

/** A resolver that answers from a table, and notes each name asked: no DNS needed. */
function tableResolver(table: Record<string, { address: string; family: number }[]>): { resolve: ResolveHost; asked: string[] } {
  const asked: string[] = [];
  const resolve: ResolveHost = (hostname, callback) => {
    asked.push(hostname);
    const answers = table[hostname];
    if (answers === undefined) {
      const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
      err.code = "ENOTFOUND";
      return setImmediate(() => callback(err, []));
    }
    setImmediate(() => callback(null, answers));
  };
  return { resolve, asked };
}

test(`without ${OPTION}, a name that resolves to a loopback or private address at delivery (DNS rebinding) is refused as the connection is made: recorded failed, not tried again`, async (t) => {
  const c = await world(t);
  const rp = await slowRelyingParty(t, 0);
  const port = new URL(rp.origin).port;
  // Registered while the name pointed elsewhere: https to a public-looking name passes registration.
  await c.admin.updateClient({ ...ACME, clientId: "web", backchannelLogoutUri: `https://rebound.example:${port}/bc`, updateMask: { paths: ["backchannel_logout_uri"] } }, c.auth);
  await c.admin.createClient(confidential("mixed", `https://mixed.example:${port}/bc`), c.auth);
  await c.admin.createClient(confidential("metadata", "https://metadata.example/latest"), c.auth);
  const { resolve, asked } = tableResolver({
    "rebound.example": [{ address: "127.0.0.1", family: 4 }],
    // One private answer among public ones refuses the whole answer: the connection could take either.
    "mixed.example": [{ address: "203.0.113.7", family: 4 }, { address: "::ffff:192.168.0.10", family: 6 }],
    "metadata.example": [{ address: "169.254.169.254", family: 4 }],
  });
  c.core.deps.logoutDeliveries.resolveHost = resolve;
  const ids = await aliceSessions(c, 1, ["web", "mixed", "metadata"]);

  const deliveries = await endSessions(c, ids);
  t.is(rp.received, 0, "the loopback relying party got no request");
  t.deepEqual(asked.sort(), ["metadata.example", "mixed.example", "rebound.example"], "each name resolved once: no retry");
  t.deepEqual(
    deliveries.sort((a, b) => a.clientId.localeCompare(b.clientId)),
    [
      { clientId: "metadata", uri: "https://metadata.example/latest", status: 0, outcome: "failed", attempts: 1, error: `not sent: metadata.example resolves to 169.254.169.254, a link-local address, and ${OPTION} is not set` },
      { clientId: "mixed", uri: `https://mixed.example:${port}/bc`, status: 0, outcome: "failed", attempts: 1, error: `not sent: mixed.example resolves to ::ffff:192.168.0.10, a private address, and ${OPTION} is not set` },
      { clientId: "web", uri: `https://rebound.example:${port}/bc`, status: 0, outcome: "failed", attempts: 1, error: `not sent: rebound.example resolves to 127.0.0.1, a loopback address, and ${OPTION} is not set` },
    ],
  );
});

test(`with ${OPTION}=true, the same resolved name reaches the loopback relying party (the resolver is the one the connection uses)`, async (t) => {
  const c = await world(t, { backchannelLogoutPrivateNetworks: true });
  const rp = await slowRelyingParty(t, 0);
  const port = new URL(rp.origin).port;
  await storeUri(c, "web", `http://rebound.example:${port}/bc`);
  const { resolve, asked } = tableResolver({ "rebound.example": [{ address: "127.0.0.1", family: 4 }] });
  c.core.deps.logoutDeliveries.resolveHost = resolve;
  const ids = await aliceSessions(c, 1, ["web"]);

  const deliveries = await endSessions(c, ids);
  t.deepEqual(asked, ["rebound.example"]);
  t.is(rp.received, 1);
  t.like(deliveries[0], { clientId: "web", status: 200, outcome: "delivered", attempts: 1, error: "" });
});

test(`ending 40 sessions at once opens at most ${MAX_IN_FLIGHT} connections to a slow relying party; every delivery still arrives and is recorded`, async (t) => {
  const c = await world(t, { backchannelLogoutPrivateNetworks: true });
  const rp = await slowRelyingParty(t, 300);
  await c.admin.updateClient({ ...ACME, clientId: "web", backchannelLogoutUri: `${rp.origin}/bc`, updateMask: { paths: ["backchannel_logout_uri"] } }, c.auth);
  const ids = await aliceSessions(c, 40, ["web"]);

  const started = performance.now();
  const deliveries = await endSessions(c, ids);
  const ms = performance.now() - started;
  t.log(`40 deliveries to an RP answering in 300 ms: ${Math.round(ms)} ms, at most ${rp.maxOpen} connections open at once`);
  t.is(MAX_IN_FLIGHT, 16);
  t.is(rp.maxOpen, MAX_IN_FLIGHT, "the cap is reached, and never passed");
  t.is(rp.received, 40);
  t.is(deliveries.length, 40);
  t.true(deliveries.every((d) => d.outcome === "delivered" && d.attempts === 1));
  t.true(ms >= 3 * 300 - 50, "three waves of 16, 16 and 8");
});

test("past the queue's bound the oldest waiting delivery is dropped and recorded failed with \"delivery queue full\"", async (t) => {
  const c = await world(t, { backchannelLogoutPrivateNetworks: true });
  const rp = await slowRelyingParty(t, 200);
  await c.admin.updateClient({ ...ACME, clientId: "web", backchannelLogoutUri: `${rp.origin}/bc`, updateMask: { paths: ["backchannel_logout_uri"] } }, c.auth);
  // A process with room for one delivery running and one waiting (16 and 10,000 by default).
  const small = new LogoutDeliveries({ inFlight: 1, queued: 1 });
  const original = c.core.deps.logoutDeliveries;
  c.core.deps.logoutDeliveries = small;
  t.teardown(() => {
    c.core.deps.logoutDeliveries = original;
  });
  const ids = await aliceSessions(c, 3, ["web"]);

  const deliveries = await endSessions(c, ids);
  t.is(rp.received, 2);
  t.is(deliveries.filter((d) => d.outcome === "delivered").length, 2);
  t.deepEqual(
    deliveries.filter((d) => d.outcome === "failed"),
    [{ clientId: "web", uri: `${rp.origin}/bc`, status: 0, outcome: "failed", attempts: 0, error: "delivery queue full" }],
  );
});

test("LogoutDeliveries: at most inFlight run, the oldest waiting is dropped past the bound, and shutdown records the waiting ones as failed at once", async (t) => {
  const deliveries = new LogoutDeliveries({ inFlight: 2, queued: 3 });
  const ran: number[] = [];
  const failed: [number, string][] = [];
  const releases: (() => void)[] = [];
  let running = 0;
  let maxRunning = 0;
  const job = (n: number) => async () => {
    ran.push(n);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise<void>((resolve) => releases.push(resolve));
    running--;
  };
  for (let n = 1; n <= 6; n++) t.true(deliveries.start(job(n), async (error) => void failed.push([n, error])));
  t.deepEqual(ran, [1, 2], "two run; 3, 4, 5 wait, and 6 pushed 3 out");
  t.is(deliveries.running, 2);
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(failed, [[3, "delivery queue full"]]);
  releases.shift()!();
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(ran, [1, 2, 4], "a freed place takes the oldest waiting");

  const closed = deliveries.close(10_000);
  t.false(deliveries.start(job(7)), "nothing starts once closing");
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(failed, [[3, "delivery queue full"], [5, "not sent: the server shut down"], [6, "not sent: the server shut down"]]);
  for (const release of releases.splice(0)) release();
  await closed;
  t.deepEqual(ran, [1, 2, 4], "those waiting never ran");
  t.is(maxRunning, 2);
  t.is(deliveries.inFlight, 0);
});

test("the address rule: IPv4, IPv6 and the IPv6 forms that carry an IPv4 address", (t) => {
  const cases: [string, NonPublicKind | undefined][] = [
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.255.0.1", "private"],
    ["172.15.255.255", undefined],
    ["172.16.0.0", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.0", undefined],
    ["192.168.0.1", "private"],
    ["169.254.1.1", "link-local"],
    ["100.63.255.255", undefined],
    ["100.64.0.0", "shared"],
    ["100.127.255.255", "shared"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["93.184.215.14", undefined],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:93.184.215.14", undefined],
    ["::127.0.0.1", "loopback"],
    // IPv4-translated (RFC 2765 §2.1), reached through a translator.
    ["::ffff:0:7f00:1", "loopback"],
    ["::ffff:0:a9fe:a9fe", "link-local"],
    ["::ffff:0:93.184.215.14", undefined],
    ["64:ff9b:1::a00:1", "reserved"],
    ["64:ff9b::10.1.2.3", "private"],
    ["2002:c0a8:101::1", "private"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["fc00::1", "unique-local"],
    ["fdff::1", "unique-local"],
    ["ff02::1", "multicast"],
    ["2606:2800:220:1::1", undefined],
    ["rp.example", undefined],
  ];
  for (const [address, kind] of cases) t.is(nonPublicKind(address), kind, address);
});
