/**
 * The keys of a client that publishes them at its jwks_uri (RFC 7591 §2),
 * fetched by iam-core from inside the operator's network: kept as the
 * answer's Cache-Control says (within [60 s, 1 h]), fetched again once for
 * a kid the set lacks (key rotation) but never more than once per 30 s, one
 * request for many lookups at once, bounded in size and time, no redirect
 * followed, and (unless IAM_JWKS_URI_PRIVATE_NETWORKS) never toward a
 * loopback or private address, whether named in the URI or resolved.
 * Every failure is a ClientKeysError; the client never learns more.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import test, { type ExecutionContext } from "ava";
import { systemResolve, type ResolveHost } from "../../core/outbound/request.js";
import { ClientKeysError } from "../../core/tokens/client-jwks.js";
import { client, clientKeys, ecKey, jwksServer, serving, setOf, verifies, type TestKey } from "./_support.js";

const refusal = (message: string) => ({ instanceOf: ClientKeysError, message });
const FETCH_FAILED = refusal("the client's keys could not be fetched from its jwks_uri");

test("a fetched set is used, and kept: further lookups, of any of its keys, make no request", async (t) => {
  const { keys } = clientKeys();
  const a = ecKey("P-256", { kid: "a" });
  const b = ecKey("P-256", { kid: "b" });
  const rp = await jwksServer(t, serving(setOf(a, b)));
  const svc = client({ jwksUri: `${rp.origin}/jwks` });
  t.true(await verifies(await keys.keyFor(svc, { alg: "ES256", kid: "a" }), a, "ES256"));
  t.true(await verifies(await keys.keyFor(svc, { alg: "ES256", kid: "b" }), b, "ES256"));
  await keys.keyFor(svc, { alg: "ES256", kid: "a" });
  t.deepEqual(rp.requests, [{ method: "GET", url: "/jwks", accept: "application/json" }]);
});

/** A clock's advance, then whether the lookup that follows made a request. */
async function refetchedAfter(t: ExecutionContext, cacheControl: string | undefined, keptSeconds: number) {
  const { keys, clock } = clientKeys();
  const rp = await jwksServer(t, serving(setOf(ecKey("P-256", { kid: "k" })), cacheControl));
  const svc = client({ jwksUri: `${rp.origin}/jwks` });
  await keys.keyFor(svc, { alg: "ES256", kid: "k" });
  clock.advance(keptSeconds - 1);
  await keys.keyFor(svc, { alg: "ES256", kid: "k" });
  t.is(rp.requests.length, 1, `${cacheControl}: still kept ${keptSeconds - 1} s later`);
  clock.advance(2);
  await keys.keyFor(svc, { alg: "ES256", kid: "k" });
  t.is(rp.requests.length, 2, `${cacheControl}: fetched again ${keptSeconds + 1} s later`);
}

test("Cache-Control max-age says how long the set is kept", (t) => refetchedAfter(t, "public, max-age=300", 300));
test("without Cache-Control the set is kept 10 minutes", (t) => refetchedAfter(t, undefined, 600));
test("a max-age under a minute is raised to a minute", (t) => refetchedAfter(t, "max-age=5", 60));
test("no-store keeps the set a minute", (t) => refetchedAfter(t, "no-store", 60));
test("no-cache keeps the set a minute, whatever its max-age", (t) => refetchedAfter(t, "max-age=3600, no-cache", 60));
test("a max-age over an hour is lowered to an hour", (t) => refetchedAfter(t, "max-age=31536000", 3600));

test("a kid the set lacks fetches it again once (key rotation); a flood of made-up kids within 30 s makes no further request", async (t) => {
  const { keys, clock } = clientKeys();
  const old = ecKey("P-256", { kid: "old" });
  const next = ecKey("P-256", { kid: "next" });
  const rp = await jwksServer(t, serving(setOf(old)));
  const svc = client({ jwksUri: `${rp.origin}/jwks` });
  await keys.keyFor(svc, { alg: "ES256", kid: "old" });
  rp.answer = serving(setOf(old, next));
  clock.advance(31);
  t.true(await verifies(await keys.keyFor(svc, { alg: "ES256", kid: "next" }), next, "ES256"), "the rotated-in key, fetched again");
  t.is(rp.requests.length, 2);

  for (let i = 0; i < 50; i++) {
    await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: `made-up-${i}` }), refusal("the client has no key with the assertion's kid"));
  }
  await Promise.all(Array.from({ length: 50 }, (_, i) => t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: `at-once-${i}` }), { instanceOf: ClientKeysError })));
  t.is(rp.requests.length, 2, "no request within the 30 s since the last");
  clock.advance(30);
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: "made-up-again" }), { instanceOf: ClientKeysError });
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: "and-again" }), { instanceOf: ClientKeysError });
  t.is(rp.requests.length, 3, "one more after 30 s, then none");
  t.true(await verifies(await keys.keyFor(svc, { alg: "ES256", kid: "old" }), old, "ES256"), "the known keys still serve");
});

/** What the jwks_uri answered first: a set without the key to come, or a failure. */
const FIRST_ANSWERS = [
  ["a fetch", (old: TestKey) => serving(setOf(old)), refusal("the client has no key with the assertion's kid")],
  ["a failed first fetch", () => (_req: IncomingMessage, res: ServerResponse) => res.writeHead(503).end(), FETCH_FAILED],
] as const;

for (const [what, first, refused] of FIRST_ANSWERS) {
  test(`a key published just after ${what} is found once 30 s have passed, with no request within them`, async (t) => {
    const { keys, clock } = clientKeys();
    const next = ecKey("P-256", { kid: "next" });
    const rp = await jwksServer(t, first(ecKey("P-256", { kid: "old" })));
    const svc = client({ jwksUri: `${rp.origin}/jwks` });
    await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: "next" }), refused);
    rp.answer = serving(setOf(next));
    await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: "next" }), refused);
    t.is(rp.requests.length, 1);
    clock.advance(30);
    t.true(await verifies(await keys.keyFor(svc, { alg: "ES256", kid: "next" }), next, "ES256"));
    t.is(rp.requests.length, 2);
  });
}

test("lookups of one jwks_uri at once share one request", async (t) => {
  const { keys } = clientKeys();
  const k = ecKey("P-256", { kid: "k" });
  const rp = await jwksServer(t, (req, res) => setTimeout(() => serving(setOf(k))(req, res), 200));
  const svc = client({ jwksUri: `${rp.origin}/jwks` });
  const found = await Promise.all(Array.from({ length: 20 }, (_, i) => keys.keyFor(svc, i % 2 === 0 ? { alg: "ES256", kid: "k" } : { alg: "ES256" })));
  t.is(rp.requests.length, 1);
  t.true(found.every((key) => key === found[0]), "one imported key for all");
});

test("an answer past 64 KiB is cut off as it streams, and refused; so is one that declares that length", async (t) => {
  const { keys, lines } = clientKeys();
  let written = 0;
  let finished = false;
  const rp = await jwksServer(t, (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    const chunk = Buffer.alloc(16 * 1024, " ");
    // 4 MiB, written as the reader takes it: it stops reading far before.
    const more = () => {
      while (written < 4 * 1024 * 1024) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", more);
      }
      finished = true;
      res.end();
    };
    res.on("error", () => {});
    more();
  });
  await t.throwsAsync(keys.keyFor(client({ jwksUri: `${rp.origin}/huge` }), { alg: "ES256" }), FETCH_FAILED);
  await rp.allClosed();
  t.false(finished, "the server never got to write the whole answer");
  t.true(written < 4 * 1024 * 1024);
  t.true(lines.some((line) => line.includes("the answer is larger than 65536 bytes")));

  rp.answer = (_req, res) => {
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": String(1024 * 1024) });
    res.write("{");
  };
  await t.throwsAsync(keys.keyFor(client({ jwksUri: `${rp.origin}/declared` }), { alg: "ES256" }), FETCH_FAILED);
  await rp.allClosed();
});

/** A server that never answers, or answers a byte at a time: the fetch gives up at IAM_JWKS_URI_TIMEOUT and closes the connection. */
for (const [what, answer] of [
  ["never sends its headers", (_req: IncomingMessage, _res: ServerResponse) => {}],
  [
    "trickles its body",
    (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      const drip = setInterval(() => res.write(" "), 100);
      res.on("close", () => clearInterval(drip));
    },
  ],
] as const) {
  test(`a jwks_uri that ${what} is refused once the timeout passes, and its connection closed`, async (t) => {
    const { keys, lines } = clientKeys({ jwksUriTimeout: 1 });
    const rp = await jwksServer(t, answer);
    await t.throwsAsync(keys.keyFor(client({ jwksUri: `${rp.origin}/slow` }), { alg: "ES256" }), FETCH_FAILED);
    await rp.allClosed();
    t.is(rp.connections, 1);
    t.true(lines.some((line) => line.includes("no complete answer within 1 s")));
  });
}

test("a redirect is refused and not followed: its target sees no request", async (t) => {
  const { keys, lines } = clientKeys();
  const target = await jwksServer(t, serving(setOf(ecKey())));
  const rp = await jwksServer(t, (_req, res) => res.writeHead(302, { Location: `${target.origin}/jwks` }).end());
  await t.throwsAsync(keys.keyFor(client({ jwksUri: `${rp.origin}/moved` }), { alg: "ES256" }), FETCH_FAILED);
  t.is(rp.requests.length, 1);
  t.is(target.connections, 0);
  t.true(lines.some((line) => line.includes("answered 302; redirects are not followed")));
});

test("an answer that is not 200 with a valid JWK Set is refused: a 500, a 404, HTML, JSON that is no set, a set with a private key", async (t) => {
  const { keys, lines } = clientKeys();
  const key = ecKey();
  const answers: [string, (req: IncomingMessage, res: ServerResponse) => void, string][] = [
    ["/500", (_req, res) => res.writeHead(500).end(setOf(key)), "answered 500"],
    ["/404", (_req, res) => res.writeHead(404).end(), "answered 404"],
    ["/html", (_req, res) => res.writeHead(200, { "Content-Type": "text/html" }).end("<html>keys</html>"), "jwks is not JSON"],
    ["/latin1", (_req, res) => res.writeHead(200).end(Buffer.from([0x7b, 0xff, 0x7d])), "answered no valid key set"],
    ["/object", serving('{"issuer": "https://keys.example"}'), 'jwks must be a JSON object with a \\"keys\\" array'],
    ["/private", serving(JSON.stringify({ keys: [{ ...key.jwk, d: "AAAA" }] })), "is a private or secret key"],
  ];
  const rp = await jwksServer(t, (req, res) => answers.find(([path]) => path === req.url)![1](req, res));
  for (const [path, , logged] of answers) {
    await t.throwsAsync(keys.keyFor(client({ jwksUri: `${rp.origin}${path}` }), { alg: "ES256" }), FETCH_FAILED, path);
    t.true(lines.some((line) => line.includes(`${rp.origin}${path}`) && line.includes(logged)), `${path} logged with its reason`);
  }
});

test("when fetching again fails, a set fetched less than an hour ago still serves; an older one does not", async (t) => {
  const { keys, clock } = clientKeys();
  const k = ecKey("P-256", { kid: "k" });
  const rp = await jwksServer(t, serving(setOf(k)));
  const svc = client({ jwksUri: `${rp.origin}/jwks` });
  await keys.keyFor(svc, { alg: "ES256", kid: "k" });
  rp.answer = (_req, res) => res.writeHead(500).end();
  clock.advance(601);
  t.true(await verifies(await keys.keyFor(svc, { alg: "ES256", kid: "k" }), k, "ES256"), "the kept set, past its 10 minutes");
  t.is(rp.requests.length, 2, "after fetching again, and failing");
  clock.advance(31);
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: "other" }), refusal("the client has no key with the assertion's kid"));
  t.is(rp.requests.length, 3);
  clock.advance(3600 - 632);
  await t.throwsAsync(keys.keyFor(svc, { alg: "ES256", kid: "k" }), FETCH_FAILED);
  t.is(rp.requests.length, 4, "an hour after the last good fetch, the set is no longer used");
});

test("at most 1,000 jwks_uri sets are kept: past it the least recently used one is fetched again when next needed", async (t) => {
  const { keys } = clientKeys();
  const rp = await jwksServer(t, serving(setOf(ecKey())));
  const uri = (i: number) => `${rp.origin}/jwks/${i}`;
  for (let i = 0; i <= 1000; i++) await keys.keyFor(client({ jwksUri: uri(i) }), { alg: "ES256" });
  t.is(rp.requests.length, 1001);
  await keys.keyFor(client({ jwksUri: uri(1000) }), { alg: "ES256" });
  t.is(rp.requests.length, 1001, "the newest is kept");
  await keys.keyFor(client({ jwksUri: uri(0) }), { alg: "ES256" });
  t.is(rp.requests.length, 1002, "the oldest was dropped");
});

test("without IAM_JWKS_URI_PRIVATE_NETWORKS, a loopback jwks_uri is refused without any connection", async (t) => {
  const { keys, lines } = clientKeys({ jwksUriPrivateNetworks: false });
  const rp = await jwksServer(t, serving(setOf(ecKey())));
  const port = new URL(rp.origin).port;
  for (const uri of [`${rp.origin}/jwks`, `https://127.0.0.1:${port}/jwks`, `https://localhost:${port}/jwks`, `https://[::ffff:127.0.0.1]:${port}/jwks`]) {
    await t.throwsAsync(keys.keyFor(client({ jwksUri: uri }), { alg: "ES256" }), FETCH_FAILED, uri);
  }
  t.is(rp.connections, 0);
  t.true(lines.some((line) => line.includes("not fetched: 127.0.0.1 is a loopback address, and IAM_JWKS_URI_PRIVATE_NETWORKS is not set")));
  t.true(lines.some((line) => line.includes("not fetched: localhost is a loopback name, and IAM_JWKS_URI_PRIVATE_NETWORKS is not set")));
});

test("without IAM_JWKS_URI_PRIVATE_NETWORKS, a name that resolves to 127.0.0.1 is refused as the connection is made; with it, the same name is reached", async (t) => {
  const rp = await jwksServer(t, serving(setOf(ecKey())));
  const asked: string[] = [];
  // keys.example resolves as localhost does, by the system's resolver: a name registered while it pointed elsewhere (DNS rebinding).
  const rebinding: ResolveHost = (hostname, callback) => {
    asked.push(hostname);
    systemResolve(hostname === "keys.example" ? "localhost" : hostname, callback);
  };
  const uri = `http://keys.example:${new URL(rp.origin).port}/jwks`;

  const refused = clientKeys({ jwksUriPrivateNetworks: false });
  refused.keys.resolveHost = rebinding;
  await t.throwsAsync(refused.keys.keyFor(client({ jwksUri: uri.replace("http:", "https:") }), { alg: "ES256" }), FETCH_FAILED);
  t.deepEqual(asked, ["keys.example"]);
  t.is(rp.connections, 0);
  t.true(refused.lines.some((line) => /keys\.example resolves to (127\.0\.0\.1|::1), a loopback address, and IAM_JWKS_URI_PRIVATE_NETWORKS is not set/.test(line)));

  const allowed = clientKeys({ jwksUriPrivateNetworks: true });
  allowed.keys.resolveHost = (hostname, callback) => rebinding(hostname, (err, addresses) => callback(err, addresses.filter((a) => a.family === 4)));
  await allowed.keys.keyFor(client({ jwksUri: uri }), { alg: "ES256" });
  t.is(rp.requests.length, 1, "the resolver is the one the connection uses");
});

test("with IAM_JWKS_URI_PRIVATE_NETWORKS, a loopback jwks_uri is fetched for an administrator's client, never for one that registered itself; a document's follows IAM_CLIENT_METADATA_PRIVATE_NETWORKS", async (t) => {
  const key = ecKey("P-256", { kid: "k" });
  const rp = await jwksServer(t, serving(setOf(key)));
  const jwksUri = `${rp.origin}/jwks`;
  const { keys } = clientKeys({ jwksUriPrivateNetworks: true, clientMetadataPrivateNetworks: false });
  t.true(await verifies(await keys.keyFor(client({ id: "admin-made", jwksUri }), { alg: "ES256", kid: "k" }), key, "ES256"));
  t.is(rp.requests.length, 1);

  // Another jwks_uri on the same server, so that nothing kept answers for it.
  const other = `${rp.origin}/other-jwks`;
  await t.throwsAsync(keys.keyFor(client({ id: "self-made", jwksUri: other, dynamicallyRegistered: true }), { alg: "ES256", kid: "k" }), FETCH_FAILED);
  await t.throwsAsync(keys.keyFor(client({ id: "https://agent.example/c.json", jwksUri: other, metadataDocument: true }), { alg: "ES256", kid: "k" }), FETCH_FAILED);
  t.is(rp.requests.length, 1, "neither reached the loopback server");
  t.false(keys.privateNetworksFor({ dynamicallyRegistered: true }));
  t.false(keys.privateNetworksFor({ metadataDocument: true }));
  t.true(keys.privateNetworksFor({}));
  t.true(clientKeys({ clientMetadataPrivateNetworks: true }).keys.privateNetworksFor({ metadataDocument: true }), "documents follow their own option");
});
