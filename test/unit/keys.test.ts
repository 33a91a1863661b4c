import { createPrivateKey, createPublicKey, type JsonWebKey } from "node:crypto";
import test from "ava";
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";
import { generateSigningKey, KeyRing, signJwt, type EcPublicJwk } from "../../core/tokens/keys.js";
import type { ProjectRef, SigningKeyRecord, SigningKeyStore } from "../../core/store/types.js";

const REF: ProjectRef = { organization: "acme", project: "shop" };

const publicOf = (record: SigningKeyRecord): EcPublicJwk => JSON.parse(record.publicJwk) as EcPublicJwk;
const privateKeyOf = (record: SigningKeyRecord) => createPrivateKey({ key: JSON.parse(record.privateJwk) as JsonWebKey, format: "jwk" });

async function signed(record: SigningKeyRecord, payload: Record<string, unknown>): Promise<string> {
  return signJwt({ alg: "ES256", typ: "JWT", kid: record.kid }, payload, privateKeyOf(record));
}

test("generateSigningKey describes an ES256 key of the project", (t) => {
  const record = generateSigningKey(REF, 1_700_000_000);
  t.is(record.organization, "acme");
  t.is(record.project, "shop");
  t.is(record.alg, "ES256");
  t.is(record.createdAt, 1_700_000_000);
  t.is(record.retiredAt, null);
  const jwk = publicOf(record);
  t.like(jwk, { kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: record.kid });
  t.is(Buffer.from(jwk.x, "base64url").length, 32);
  t.is(Buffer.from(jwk.y, "base64url").length, 32);
});

test("the kid is the RFC 7638 thumbprint of the public JWK", async (t) => {
  const record = generateSigningKey(REF, 0);
  const jwk = publicOf(record);
  t.is(record.kid, await calculateJwkThumbprint(jwk as JWK, "sha256"));
});

test("each generated key is different", (t) => {
  const a = generateSigningKey(REF, 0);
  const b = generateSigningKey(REF, 0);
  t.not(a.kid, b.kid);
  t.not(a.privateJwk, b.privateJwk);
});

test("the public JWK has no private member", (t) => {
  const record = generateSigningKey(REF, 0);
  const jwk = publicOf(record) as unknown as Record<string, unknown>;
  t.false("d" in jwk);
  t.deepEqual(Object.keys(jwk).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
});

test("the private JWK is the same key pair as the public JWK", (t) => {
  const record = generateSigningKey(REF, 0);
  const priv = JSON.parse(record.privateJwk) as Record<string, unknown>;
  t.is(typeof priv.d, "string");
  const { d: _d, ...rest } = priv;
  t.deepEqual(rest, JSON.parse(record.publicJwk));
  const derived = createPublicKey(privateKeyOf(record)).export({ format: "jwk" });
  t.like(derived, { x: publicOf(record).x, y: publicOf(record).y });
});

test("a token from signJwt verifies with jose using the public JWK", async (t) => {
  const record = generateSigningKey(REF, 0);
  const now = Math.floor(Date.now() / 1000);
  const token = await signed(record, { sub: "alice", iss: "https://iam.example.com/services/oauth2/acme/shop", iat: now, exp: now + 60 });
  const key = await importJWK(publicOf(record) as JWK, "ES256");
  const { payload, protectedHeader } = await jwtVerify(token, key, { algorithms: ["ES256"] });
  t.is(payload.sub, "alice");
  t.is(payload.iss, "https://iam.example.com/services/oauth2/acme/shop");
  t.deepEqual(protectedHeader, { alg: "ES256", typ: "JWT", kid: record.kid });
});

test("the signature is the 64-byte R || S form", async (t) => {
  const record = generateSigningKey(REF, 0);
  const token = await signed(record, { sub: "alice" });
  const parts = token.split(".");
  t.is(parts.length, 3);
  t.is(Buffer.from(parts[2]!, "base64url").length, 64);
  t.deepEqual(decodeProtectedHeader(token), { alg: "ES256", typ: "JWT", kid: record.kid });
});

test("a token whose payload was modified fails verification", async (t) => {
  const record = generateSigningKey(REF, 0);
  const token = await signed(record, { sub: "alice" });
  const [header, , signature] = token.split(".");
  const forged = `${header}.${Buffer.from(JSON.stringify({ sub: "mallory" })).toString("base64url")}.${signature}`;
  const key = await importJWK(publicOf(record) as JWK, "ES256");
  await t.throwsAsync(jwtVerify(forged, key, { algorithms: ["ES256"] }), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
});

test("a token does not verify with another project's key", async (t) => {
  const record = generateSigningKey(REF, 0);
  const other = generateSigningKey({ organization: "acme", project: "other" }, 0);
  const token = await signed(record, { sub: "alice" });
  const key = await importJWK(publicOf(other) as JWK, "ES256");
  await t.throwsAsync(jwtVerify(token, key, { algorithms: ["ES256"] }), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
});

/** A SigningKeyStore in memory, current key first. */
class MemoryKeyStore implements SigningKeyStore {
  readonly records: SigningKeyRecord[] = [];
  epoch = 0;
  reads = 0;
  async addSigningKey(key: SigningKeyRecord): Promise<void> {
    this.records.unshift(key);
    this.epoch++;
  }
  async getChangeEpoch(): Promise<number> {
    return this.epoch;
  }
  async listSigningKeys(ref: ProjectRef): Promise<SigningKeyRecord[]> {
    this.reads++;
    return this.records.filter((r) => r.organization === ref.organization && r.project === ref.project);
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
    return 600;
  }
  async appendAuditEvent(): Promise<never> {
    throw new Error("these projects have a key of every algorithm: none is added, nothing is recorded");
  }
  async transaction<T>(fn: (store: this) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

test("a KeyRing signs with the current key and publishes every key, current first", async (t) => {
  const store = new MemoryKeyStore();
  const ring = new KeyRing(store, { now: () => 1_700_000_000_000 });
  const { ES256: first, RS256: firstRsa } = await ring.create(REF);
  t.is(first.createdAt, 1_700_000_000);
  const second = await ring.rotate(REF);
  t.deepEqual(second.retired, [first.kid, firstRsa.kid]);
  const signing = await ring.signing(REF, "ES256");
  t.is(signing.kid, second.kid);
  const jwks = (await ring.jwks(REF))!.map((k) => k.kid);
  t.deepEqual(jwks.slice(0, 2), [second.kid, second.kids.RS256]);
  t.deepEqual(jwks.slice(2).sort(), [first.kid, firstRsa.kid].sort());
  t.truthy(await ring.verifying(REF, first.kid));
  t.is(await ring.verifying(REF, "unknown-kid"), undefined);
  const token = signJwt({ alg: "ES256", kid: signing.kid }, { sub: "alice" }, signing.key);
  const key = await ring.verifying(REF, signing.kid);
  t.is(key!.alg, "ES256");
  await t.notThrowsAsync(jwtVerify(token, key!.key, { algorithms: ["ES256"] }));
});

test("a KeyRing reads keys once while the change epoch stays, and a rotation by another process at once after it moves", async (t) => {
  const store = new MemoryKeyStore();
  const here = new KeyRing(store, { now: () => 1_700_000_000_000 });
  const elsewhere = new KeyRing(store, { now: () => 1_700_000_000_000 });
  const { ES256: first, RS256: firstRsa } = await here.create(REF);
  t.is((await here.signing(REF, "ES256")).kid, first.kid);
  const reads = store.reads;
  for (let i = 0; i < 5; i++) await here.signing(REF, "ES256");
  await here.verifying(REF, first.kid);
  t.is(store.reads, reads, "answered from memory");
  t.truthy(await here.verifying(REF, firstRsa.kid));

  const { kid } = await elsewhere.rotate(REF);
  t.is((await here.signing(REF, "ES256")).kid, kid, "signs with the other process's new key at once");
  t.truthy(await here.verifying(REF, kid));
  t.truthy(await here.verifying(REF, first.kid), "the retired key still verifies");
  t.deepEqual((await here.jwks(REF))?.map((k) => k.kid).slice(2).sort(), [first.kid, firstRsa.kid].sort());
});

test("a KeyRing knows nothing of a project without keys", async (t) => {
  const ring = new KeyRing(new MemoryKeyStore(), { now: () => 0 });
  t.is(await ring.jwks({ organization: "no", project: "such" }), undefined);
  t.is(await ring.verifying({ organization: "no", project: "such" }, "kid"), undefined);
  await t.throwsAsync(ring.signing({ organization: "no", project: "such" }, "ES256"), { message: /has no signing key/ });
  await t.throwsAsync(ring.signing({ organization: "no", project: "such" }, "RS256"), { message: /has no signing key/ });
});
