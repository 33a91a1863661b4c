/**
 * The signing keys of the two algorithms (ES256, RS256): their shapes, the
 * signatures made with node:crypto as jose verifies them, signing refused
 * with a key of the wrong type, rotation of both, and the RS256 key a project
 * of an older database (ES256 only) gains once, also when two processes need
 * it at the same moment.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey } from "node:crypto";
import { join } from "node:path";
import test from "ava";
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";
import { openSqliteStore } from "../../core/store/sqlite/store.js";
import type { AuditEventInput, AuditEventRecord, AuditStore, ProjectRef, SigningKeyRecord, SigningKeyStore } from "../../core/store/types.js";
import { generateSigningKey, KeyRing, signJwt, type KeyStore, type PublicJwk, type RsaPublicJwk } from "../../core/tokens/keys.js";
import { tempDir } from "../helpers.js";

const REF: ProjectRef = { organization: "acme", project: "shop" };
const NOW_MS = 1_700_000_000_000;
const clock = { now: () => NOW_MS };

const publicOf = (record: SigningKeyRecord) => JSON.parse(record.publicJwk) as PublicJwk;
const privateKeyOf = (record: SigningKeyRecord) => createPrivateKey({ key: JSON.parse(record.privateJwk) as JsonWebKey, format: "jwk" });

// One RSA key for the tests that only read it: making one takes a fifth of a second.
const rsa = generateSigningKey(REF, 1_700_000_000, "RS256");
const ec = generateSigningKey(REF, 1_700_000_000, "ES256");

test("an RS256 key: a 2048-bit RSA public JWK with kty, n, e, kid, alg and use only; its kid the RFC 7638 thumbprint of e, kty, n", async (t) => {
  t.is(rsa.alg, "RS256");
  t.is(rsa.retiredAt, null);
  const jwk = publicOf(rsa) as RsaPublicJwk;
  t.deepEqual(Object.keys(jwk).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
  t.like(jwk, { kty: "RSA", alg: "RS256", use: "sig", e: "AQAB", kid: rsa.kid });
  t.is(Buffer.from(jwk.n, "base64url").length, 256);
  t.is(rsa.kid, await calculateJwkThumbprint({ kty: "RSA", n: jwk.n, e: jwk.e }, "sha256"));
  const priv = JSON.parse(rsa.privateJwk) as Record<string, string>;
  for (const member of ["d", "p", "q", "dp", "dq", "qi"]) t.is(typeof priv[member], "string", member);
  t.like(createPublicKey(privateKeyOf(rsa)).export({ format: "jwk" }), { n: jwk.n, e: jwk.e });
});

test("signJwt signs RS256 as RSASSA-PKCS1-v1_5 with SHA-256 and ES256 as R || S; jose verifies each with its public JWK", async (t) => {
  const payload = { sub: "alice", iat: 1, exp: 2 ** 31 };
  for (const record of [rsa, ec]) {
    const token = signJwt({ alg: record.alg, typ: "JWT", kid: record.kid }, payload, privateKeyOf(record));
    t.deepEqual(decodeProtectedHeader(token), { alg: record.alg, typ: "JWT", kid: record.kid });
    t.is(Buffer.from(token.split(".")[2]!, "base64url").length, record.alg === "RS256" ? 256 : 64);
    const key = await importJWK(publicOf(record) as JWK, record.alg);
    const { payload: verified } = await jwtVerify(token, key, { algorithms: [record.alg] });
    t.is(verified.sub, "alice");
  }
});

test("signJwt refuses to sign with a key of another type than the header's alg, or an algorithm it does not sign with", (t) => {
  const payload = { sub: "alice" };
  t.throws(() => signJwt({ alg: "ES256", kid: rsa.kid }, payload, privateKeyOf(rsa)), { message: /cannot sign ES256 with a rsa key/ });
  t.throws(() => signJwt({ alg: "RS256", kid: ec.kid }, payload, privateKeyOf(ec)), { message: /cannot sign RS256 with a ec key/ });
  for (const alg of ["none", "HS256", "PS256", "ES384"]) {
    t.throws(() => signJwt({ alg: alg as "ES256", kid: ec.kid }, payload, privateKeyOf(ec)), { message: /cannot sign/ }, alg);
  }
});

/**
 * A SigningKeyStore in memory ordered as the real ones (current first,
 * newest first, then by kid). Without `isolated`, a transaction's writes are
 * visible at once, as on SQLite, where transactions take turns. With it, a
 * transaction sees only its own writes and what others committed, and holds
 * its commit until `release()`: two transactions at once then both find no
 * key, as two PostgreSQL transactions at READ COMMITTED would.
 */
class MemoryKeyStore implements KeyStore {
  records: SigningKeyRecord[] = [];
  events: AuditEventInput[] = [];
  epoch = 0;
  #gate: Promise<void> | undefined;
  #open: () => void = () => {};
  pending = 0;

  constructor(options: { isolated?: boolean } = {}) {
    if (options.isolated === true) this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open();
  }
  async addSigningKey(key: SigningKeyRecord): Promise<void> {
    this.records.push(key);
    this.epoch++;
  }
  async getChangeEpoch(): Promise<number> {
    return this.epoch;
  }
  async listSigningKeys(ref: ProjectRef): Promise<SigningKeyRecord[]> {
    return ordered(this.records.filter((r) => r.organization === ref.organization && r.project === ref.project));
  }
  async retireSigningKeys(ref: ProjectRef, at: number, expiresAt: number): Promise<string[]> {
    const current = (await this.listSigningKeys(ref)).filter((r) => r.retiredAt === null);
    for (const r of current) Object.assign(r, { retiredAt: at, expiresAt });
    this.epoch++;
    return current.map((r) => r.kid);
  }
  async expireSigningKeys(ref: ProjectRef, at: number): Promise<string[]> {
    const cut = (await this.listSigningKeys(ref)).filter((r) => r.retiredAt !== null && (r.expiresAt ?? 0) > at);
    for (const r of cut) r.expiresAt = at;
    this.epoch++;
    return cut.map((r) => r.kid).sort();
  }
  async maxAccessTokenTtl(): Promise<number> {
    return 300;
  }
  async appendAuditEvent(event: AuditEventInput): Promise<AuditEventRecord> {
    this.events.push(event);
    return { ...event, sequence: this.events.length, previousHash: "", hash: "" };
  }
  async transaction<T>(fn: (store: SigningKeyStore & Pick<AuditStore, "appendAuditEvent">) => Promise<T>): Promise<T> {
    if (this.#gate === undefined) return fn(this);
    const staged: SigningKeyRecord[] = [];
    const stagedEvents: AuditEventInput[] = [];
    const view = {
      ...this,
      addSigningKey: async (key: SigningKeyRecord) => void staged.push(key),
      appendAuditEvent: async (event: AuditEventInput) => (stagedEvents.push(event), { ...event, sequence: 0, previousHash: "", hash: "" }),
      listSigningKeys: async (ref: ProjectRef) => ordered([...(await this.listSigningKeys(ref)), ...staged]),
      retireSigningKeys: () => Promise.reject(new Error("not used")),
      expireSigningKeys: () => Promise.reject(new Error("not used")),
      maxAccessTokenTtl: () => this.maxAccessTokenTtl(),
      getChangeEpoch: () => this.getChangeEpoch(),
    };
    this.pending++;
    const result = await fn(view);
    await this.#gate;
    for (const key of staged) await this.addSigningKey(key);
    for (const event of stagedEvents) await this.appendAuditEvent(event);
    return result;
  }
}

function ordered(records: SigningKeyRecord[]): SigningKeyRecord[] {
  return [...records].sort(
    (a, b) =>
      Number(a.retiredAt !== null) - Number(b.retiredAt !== null) || b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0),
  );
}

test("create makes a current key of each algorithm; signing answers the key of the algorithm asked; the JWKS lists ES256 then RS256", async (t) => {
  const store = new MemoryKeyStore();
  const ring = new KeyRing(store, clock);
  const created = await ring.create(REF);
  t.is(created.ES256.alg, "ES256");
  t.is(created.RS256.alg, "RS256");
  t.is(store.records.length, 2);

  for (const alg of ["ES256", "RS256"] as const) {
    const signing = await ring.signing(REF, alg);
    t.is(signing.alg, alg);
    t.is(signing.kid, created[alg].kid);
    t.is(signing.key.asymmetricKeyType, alg === "ES256" ? "ec" : "rsa");
    t.like(await ring.verifying(REF, signing.kid), { alg });
  }
  const jwks = (await ring.jwks(REF))!;
  t.deepEqual(
    jwks.map((k) => [k.kty, k.alg, k.kid]),
    [
      ["EC", "ES256", created.ES256.kid],
      ["RSA", "RS256", created.RS256.kid],
    ],
  );
  await t.throwsAsync(ring.signing(REF, "HS256" as "ES256"), { message: /unsupported signing algorithm HS256/ });
});

test("rotate retires the current key of both algorithms (kept verifying until their tokens expire) and makes one of each", async (t) => {
  let now = NOW_MS;
  const store = new MemoryKeyStore();
  const ring = new KeyRing(store, { now: () => now });
  const first = await ring.create(REF);
  const tokens = {
    ES256: signJwt({ alg: "ES256", kid: first.ES256.kid }, { sub: "a" }, privateKeyOf(first.ES256)),
    RS256: signJwt({ alg: "RS256", kid: first.RS256.kid }, { sub: "a" }, privateKeyOf(first.RS256)),
  };
  now += 10_000;
  const rotated = await ring.rotate(REF);
  t.deepEqual(rotated.retired, [first.ES256.kid, first.RS256.kid], "ES256 first");
  t.is(rotated.kid, rotated.kids.ES256);
  t.is(rotated.retiredUntil, NOW_MS / 1000 + 10 + 600 + 60, "the longest token lifetime (at least 600 s) and a minute of skew");
  t.is((await ring.signing(REF, "ES256")).kid, rotated.kids.ES256);
  t.is((await ring.signing(REF, "RS256")).kid, rotated.kids.RS256);
  const published = (await ring.jwks(REF))!.map((k) => k.kid);
  t.deepEqual(published.slice(0, 2), [rotated.kids.ES256, rotated.kids.RS256]);
  t.deepEqual(published.slice(2).sort(), [first.ES256.kid, first.RS256.kid].sort());

  for (const alg of ["ES256", "RS256"] as const) {
    const old = await ring.verifying(REF, first[alg].kid);
    t.is(old?.alg, alg);
    await t.notThrowsAsync(jwtVerify(tokens[alg], old!.key, { algorithms: [alg] }));
  }
  now = rotated.retiredUntil * 1000;
  t.is(await ring.verifying(REF, first.ES256.kid), undefined, "expired with the tokens it signed");
  t.is(await ring.verifying(REF, first.RS256.kid), undefined);
  t.deepEqual((await ring.jwks(REF))!.map((k) => k.kid), [rotated.kids.ES256, rotated.kids.RS256]);
});

test("a project with only an ES256 key (an older database) gains an RS256 key the first time one is needed, once, and keeps it", async (t) => {
  const store = new MemoryKeyStore();
  await store.addSigningKey({ ...ec });
  const ring = new KeyRing(store, clock);
  t.deepEqual((await ring.jwks(REF))!.map((k) => k.alg), ["ES256"], "nothing is made before it is needed");
  t.is((await ring.signing(REF, "ES256")).kid, ec.kid);
  t.is(store.records.length, 1);

  const made = await ring.signing(REF, "RS256");
  t.is(made.alg, "RS256");
  const rsaKeys = () => store.records.filter((r) => r.alg === "RS256");
  t.deepEqual(rsaKeys().map((r) => [r.kid, r.retiredAt, r.createdAt]), [[made.kid, null, NOW_MS / 1000]]);
  t.is((await ring.signing(REF, "RS256")).kid, made.kid);
  t.is((await new KeyRing(store, clock).signing(REF, "RS256")).kid, made.kid, "another process finds it");
  t.is(rsaKeys().length, 1);
  t.deepEqual((await ring.jwks(REF))!.map((k) => [k.alg, k.kid]), [
    ["ES256", ec.kid],
    ["RS256", made.kid],
  ]);
  const token = signJwt({ alg: "RS256", kid: made.kid }, { sub: "alice" }, made.key);
  await t.notThrowsAsync(jwtVerify(token, (await ring.verifying(REF, made.kid))!.key, { algorithms: ["RS256"] }));
  // Recorded once, in the project's chain, by the server.
  t.deepEqual(
    store.events.map((e) => [e.organization, e.project, e.action, e.outcome, e.actor, e.target, e.changes]),
    [
      [
        REF.organization,
        REF.project,
        "SIGNING_KEY_ADDED",
        "success",
        { kind: "server", id: "", project: "" },
        { kind: "project", id: `${REF.organization}/${REF.project}`, project: "" },
        [{ field: "kid", before: "", after: JSON.stringify({ alg: "RS256", kid: made.kid }) }],
      ],
    ],
  );
  t.is(store.events[0]!.timeMs, NOW_MS);
});

test("a project without keys gains none: signing fails for either algorithm", async (t) => {
  const store = new MemoryKeyStore();
  const ring = new KeyRing(store, clock);
  await t.throwsAsync(ring.signing(REF, "RS256"), { message: /has no signing key/ });
  t.is(store.records.length, 0);
});

test("two processes that add the missing RS256 key at once (PostgreSQL): both keys are published and verify, and both processes then sign with the same one", async (t) => {
  const store = new MemoryKeyStore({ isolated: true });
  store.records.push({ ...ec });
  const here = new KeyRing(store, clock);
  const elsewhere = new KeyRing(store, clock);
  const both = Promise.all([here.signing(REF, "RS256"), elsewhere.signing(REF, "RS256")]);
  while (store.pending < 2) await new Promise((resolve) => setTimeout(resolve, 5));
  store.release();
  const [a, b] = await both;
  t.not(a.kid, b.kid, "each found none and added its own");
  const current = store.records.filter((r) => r.alg === "RS256" && r.retiredAt === null).map((r) => r.kid);
  t.deepEqual(current.sort(), [a.kid, b.kid].sort());

  const chosen = (await store.listSigningKeys(REF)).find((r) => r.alg === "RS256")!.kid;
  t.is((await here.signing(REF, "RS256")).kid, chosen);
  t.is((await elsewhere.signing(REF, "RS256")).kid, chosen);
  for (const ring of [here, elsewhere]) {
    t.deepEqual(
      (await ring.jwks(REF))!.map((k) => k.kid).sort(),
      [ec.kid, a.kid, b.kid].sort(),
    );
    for (const signing of [a, b]) {
      const token = signJwt({ alg: "RS256", kid: signing.kid }, { sub: "alice" }, signing.key);
      await t.notThrowsAsync(jwtVerify(token, (await ring.verifying(REF, signing.kid))!.key, { algorithms: ["RS256"] }));
    }
  }
  // A rotation retires all of them.
  const rotated = await here.rotate(REF);
  t.deepEqual(rotated.retired.slice(1).sort(), [a.kid, b.kid].sort());
  t.is(rotated.retired[0], ec.kid);
  t.is(store.records.filter((r) => r.retiredAt === null).length, 2);
});

test("two processes on one SQLite file that need the missing RS256 key at once make exactly one", async (t) => {
  const tmp = tempDir();
  const path = join(tmp.dir, "iam.db");
  const first = openSqliteStore(path);
  const second = openSqliteStore(path);
  t.teardown(async () => {
    await first.close();
    await second.close();
    tmp.cleanup();
  });
  await first.createOrganization({ id: REF.organization, name: "Acme", createdAt: 0 });
  await first.createProject({ ...REF, name: "Shop", audience: "https://shop.example", accessTokenSigningAlg: "ES256", requirePushedAuthorizationRequests: false, clientRegistration: "", createdAt: 0 });
  await first.addSigningKey(ec);

  const here = new KeyRing(first, clock);
  const elsewhere = new KeyRing(second, clock);
  const [a, b] = await Promise.all([here.signing(REF, "RS256"), elsewhere.signing(REF, "RS256")]);
  t.is(a.kid, b.kid, "the second found the first's key and dropped its own");
  const keys = await first.listSigningKeys(REF);
  t.deepEqual(keys.map((k) => k.alg).sort(), ["ES256", "RS256"]);
  t.is((await here.signing(REF, "RS256")).kid, a.kid);
  t.is((await elsewhere.signing(REF, "RS256")).kid, a.kid);
  const added = await first.listAuditEvents(REF, { actions: ["SIGNING_KEY_ADDED"] }, { after: 0, limit: 10 });
  t.deepEqual(
    added.map((e) => e.changes),
    [[{ field: "kid", before: "", after: JSON.stringify({ alg: "RS256", kid: a.kid }) }]],
    "one event, by the process whose key was kept",
  );
});
