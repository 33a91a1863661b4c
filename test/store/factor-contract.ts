/**
 * The contract of multi-factor storage (FactorStore in
 * core/store/factor-types.ts, and the second step of a pending request), as
 * tests that any backend must pass: `factorContract(backend)` registers
 * them, titled `${name}: ...`, beside the store contract (contract.ts).
 * The expected values are those of the SQLite store, the reference backend.
 * Not a test file itself.
 */
import { randomBytes } from "node:crypto";
import test, { type ExecutionContext } from "ava";
import { factorSealId } from "../../core/store/rows.js";
import { createKeySealer, type KeySealer } from "../../core/store/sealing.js";
import {
  AlreadyExists,
  type CeremonyRecord,
  type FactorRecord,
  type MfaPolicyRecord,
  type ProjectRef,
  type Store,
} from "../../core/store/types.js";
import { requestRecord, contractTests, type StoreBackend } from "./contract.js";

/** A backend of the store contract whose stores can also be opened with a given sealer (a KEK). */
export interface FactorBackend extends StoreBackend {
  open: (t: ExecutionContext, options?: { sealer?: KeySealer }) => Promise<Store>;
}

// ---------------------------------------------------------------- fixtures

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** A project of another organization, with the same project id and the same users. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };

/** A base32 TOTP secret, as an authenticator app is given it. */
const TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/** The project (and its organization), with the users alice and bob. */
async function seedProject(store: Store, ref: ProjectRef): Promise<void> {
  if ((await store.getOrganization(ref.organization)) === undefined) {
    await store.createOrganization({ id: ref.organization, name: `Organization ${ref.organization}`, createdAt: 1_700_000_000 });
  }
  await store.createProject({
    ...ref,
    name: `Project ${ref.project}`,
    audience: `https://api.example/${ref.organization}/${ref.project}`,
    accessTokenSigningAlg: "ES256",
    requirePushedAuthorizationRequests: false,
    clientRegistration: "",
    createdAt: 1_700_000_100,
  });
  for (const id of ["alice", "bob"]) {
    await store.createUser({
      ...ref,
      id,
      name: `User ${id}`,
      email: `${id}@example.com`,
      emailVerified: false,
      givenName: "",
      familyName: "",
      passwordHash: `$argon2id$v=19$m=64,t=1,p=1$salt$password-of-${id}`,
      enabled: true,
      createdAt: 1_700_000_300,
    });
  }
}

const totpRecord = (ref: ProjectRef, id: string, over: Partial<FactorRecord> = {}): FactorRecord => ({
  ...ref,
  id,
  userId: "alice",
  kind: "totp",
  name: "Authenticator app",
  secret: TOTP_SECRET,
  credentialId: "",
  counter: 0,
  transports: [],
  deviceType: "",
  backedUp: false,
  confirmed: false,
  createdAt: 2_000,
  lastUsedAt: null,
  ...over,
});

const passkeyRecord = (ref: ProjectRef, id: string, over: Partial<FactorRecord> = {}): FactorRecord => ({
  ...ref,
  id,
  userId: "alice",
  kind: "passkey",
  name: "YubiKey 5",
  secret: `pQECAyYgASFYIC-public-key-of-${id}`,
  credentialId: `credential-${id}`,
  counter: 5,
  transports: ["usb", "nfc"],
  deviceType: "singleDevice",
  backedUp: false,
  confirmed: true,
  createdAt: 1_500,
  lastUsedAt: null,
  ...over,
});

const ceremonyRecord = (ref: ProjectRef, challengeHash: string, over: Partial<CeremonyRecord> = {}): CeremonyRecord => ({
  ...ref,
  challengeHash,
  purpose: "authenticate",
  requestIdHash: `request-of-${challengeHash}`,
  userId: "alice",
  expiresAt: 1_300,
  ...over,
});

const codes = (prefix: string, n = 10) => Array.from({ length: n }, (_, i) => `${prefix}-code-hash-${i}`);
const byId = (factors: FactorRecord[]) => [...factors].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
const exists = { instanceOf: AlreadyExists };
const NONE = { total: 0, left: 0, issuedAt: null };

// ------------------------------------------------------------------- tests

export function factorContract(backend: FactorBackend): void {
  const it = contractTests(backend, async (store) => {
    await seedProject(store, A);
    await seedProject(store, B);
  });

  // ------------------------------------------------------------ factors

  it("a TOTP factor and a passkey round-trip; listFactors answers a user's, oldest first, in their project only", async (t, store) => {
    const totp = totpRecord(A, "f-totp");
    const passkey = passkeyRecord(A, "f-passkey", { transports: ["internal", "hybrid"], deviceType: "multiDevice", backedUp: true });
    // Created later, with an id that sorts first: the order is by creation, then id.
    const later = totpRecord(A, "f-0-later", { createdAt: 3_000, confirmed: true, counter: 57_000_000, lastUsedAt: 2_900 });
    for (const f of [totp, passkey, later]) await store.createFactor(f);
    t.deepEqual(await store.listFactors(A, "alice"), [passkey, totp, later]);
    t.deepEqual(await store.listFactors(A, "bob"), []);
    t.deepEqual(await store.listFactors(B, "alice"), []);
    t.deepEqual(await store.listFactors(A, "nobody"), []);
  });

  it("findPasskey finds a passkey by its credential id in its project only, never a TOTP factor", async (t, store) => {
    const passkey = passkeyRecord(A, "f-passkey");
    await store.createFactor(passkey);
    await store.createFactor(totpRecord(A, "f-totp"));
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), passkey);
    t.is(await store.findPasskey(B, passkey.credentialId), undefined);
    t.is(await store.findPasskey(A, "credential-unknown"), undefined);
    // A TOTP factor's credential id is "": it names no passkey.
    t.is(await store.findPasskey(A, ""), undefined);
  });

  it("a duplicate factor id, or a passkey credential id taken in the project, is AlreadyExists and changes nothing", async (t, store) => {
    const passkey = passkeyRecord(A, "f-passkey");
    const totp = totpRecord(A, "f-totp");
    await store.createFactor(passkey);
    await store.createFactor(totp);
    await t.throwsAsync(store.createFactor(totpRecord(A, "f-totp", { userId: "bob", name: "Other" })), exists);
    await t.throwsAsync(store.createFactor(passkeyRecord(A, "f-other", { userId: "bob", credentialId: passkey.credentialId })), exists);
    t.deepEqual(await store.listFactors(A, "alice"), [passkey, totp]);
    t.deepEqual(await store.listFactors(A, "bob"), []);
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), passkey);
    // The same credential id in another project, and TOTP factors (whose credential id is "") side by side, are fine.
    const elsewhere = passkeyRecord(B, "f-passkey");
    await store.createFactor(elsewhere);
    t.deepEqual(await store.findPasskey(B, passkey.credentialId), elsewhere);
    const second = totpRecord(A, "f-totp-2", { userId: "bob" });
    await store.createFactor(second);
    t.deepEqual(await store.listFactors(A, "bob"), [second]);
  });

  it("a factor needs an existing user", async (t, store) => {
    await t.throwsAsync(store.createFactor(totpRecord(A, "f-totp", { userId: "nobody" })), { any: true });
    t.deepEqual(await store.listFactors(A, "nobody"), []);
  });

  test(`${backend.name}: a TOTP secret is stored sealed under the KEK, bound to its factor, and read back as it was; a passkey's public key is not sealed`, async (t) => {
    const real = createKeySealer(randomBytes(32));
    const opened: { id: string; stored: string }[] = [];
    const sealer: KeySealer = {
      ...real,
      open: (id, stored) => {
        opened.push({ id, stored });
        return real.open(id, stored);
      },
    };
    const store = await backend.open(t, { sealer });
    await seedProject(store, A);
    const totp = totpRecord(A, "f-totp");
    const passkey = passkeyRecord(A, "f-passkey");
    await store.createFactor(totp);
    await store.createFactor(passkey);
    opened.length = 0;
    t.deepEqual(await store.listFactors(A, "alice"), [passkey, totp]);
    // What the row held, as the store read it: sealed, bound to the factor, without the secret in it.
    t.is(opened.length, 1);
    t.is(opened[0]!.id, factorSealId(A.organization, A.project, totp.id));
    t.true(opened[0]!.stored.startsWith(`enc:v1:${real.kekId}:`));
    t.false(opened[0]!.stored.includes(TOTP_SECRET));
    t.throws(() => real.open(factorSealId(A.organization, A.project, passkey.id), opened[0]!.stored), { message: /does not decrypt/ });
  });

  // ------------------------------------------------------------ useFactor

  it("useFactor: an unconfirmed TOTP factor is refused until its first code confirms it; each time step is accepted once", async (t, store) => {
    const totp = totpRecord(A, "f-totp");
    await store.createFactor(totp);
    t.false(await store.useFactor(A, totp.id, 57_000_000, 2_100));
    t.deepEqual((await store.listFactors(A, "alice"))[0], totp, "an unconfirmed factor signs nobody in");
    t.true(await store.useFactor(A, totp.id, 57_000_000, 2_110, { confirm: true }));
    const confirmed = { ...totp, confirmed: true, counter: 57_000_000, lastUsedAt: 2_110 };
    t.deepEqual((await store.listFactors(A, "alice"))[0], confirmed);
    // The same step again (a replayed code), an older one: refused, nothing changes.
    t.false(await store.useFactor(A, totp.id, 57_000_000, 2_120));
    t.false(await store.useFactor(A, totp.id, 57_000_000, 2_120, { confirm: true }));
    t.false(await store.useFactor(A, totp.id, 56_999_999, 2_120));
    t.deepEqual((await store.listFactors(A, "alice"))[0], confirmed);
    // A later step, without confirm now that it is confirmed.
    t.true(await store.useFactor(A, totp.id, 57_000_001, 2_140));
    t.deepEqual((await store.listFactors(A, "alice"))[0], { ...confirmed, counter: 57_000_001, lastUsedAt: 2_140 });
    // Another project's factor of the same id, an unknown id: false.
    t.false(await store.useFactor(B, totp.id, 57_000_009, 2_150, { confirm: true }));
    t.false(await store.useFactor(A, "f-unknown", 57_000_009, 2_150, { confirm: true }));
  });

  it("useFactor: a TOTP factor's step 0 is never accepted twice, nor at all over a stored 0", async (t, store) => {
    await store.createFactor(totpRecord(A, "f-totp", { confirmed: true }));
    t.false(await store.useFactor(A, "f-totp", 0, 2_100));
    t.is((await store.listFactors(A, "alice"))[0]!.lastUsedAt, null);
  });

  it("useFactor: a passkey's counter must grow; one that goes backwards or stays (a clone) is refused; backedUp is updated", async (t, store) => {
    const passkey = passkeyRecord(A, "f-passkey", { counter: 5 });
    await store.createFactor(passkey);
    t.false(await store.useFactor(A, passkey.id, 4, 2_100, { backedUp: true }));
    t.false(await store.useFactor(A, passkey.id, 5, 2_100, { backedUp: true }));
    t.false(await store.useFactor(A, passkey.id, 0, 2_100, { backedUp: true }));
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), passkey);
    t.true(await store.useFactor(A, passkey.id, 6, 2_110, { backedUp: true }));
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), { ...passkey, counter: 6, backedUp: true, lastUsedAt: 2_110 });
    // Without backedUp, the flag stays as it was; with it, it follows the authenticator.
    t.true(await store.useFactor(A, passkey.id, 9, 2_120));
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), { ...passkey, counter: 9, backedUp: true, lastUsedAt: 2_120 });
    t.true(await store.useFactor(A, passkey.id, 10, 2_130, { backedUp: false }));
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), { ...passkey, counter: 10, backedUp: false, lastUsedAt: 2_130 });
  });

  it("useFactor: a passkey that keeps no counter (0, and 0 again) is accepted at every use, until it reports one", async (t, store) => {
    const passkey = passkeyRecord(A, "f-passkey", { counter: 0 });
    await store.createFactor(passkey);
    t.true(await store.useFactor(A, passkey.id, 0, 2_100));
    t.true(await store.useFactor(A, passkey.id, 0, 2_110));
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), { ...passkey, lastUsedAt: 2_110 });
    t.true(await store.useFactor(A, passkey.id, 3, 2_120));
    // Once it counted, 0 is a counter going backwards.
    t.false(await store.useFactor(A, passkey.id, 0, 2_130));
    t.deepEqual(await store.findPasskey(A, passkey.credentialId), { ...passkey, counter: 3, lastUsedAt: 2_120 });
  });

  it("10 concurrent uses of one TOTP step, each in its own transaction: exactly one is accepted", async (t, store) => {
    await store.createFactor(totpRecord(A, "f-totp", { confirmed: true, counter: 100 }));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.transaction((tx) => tx.useFactor(A, "f-totp", 101, 2_000 + i))),
    );
    t.is(results.filter((accepted) => accepted).length, 1);
    const stored = (await store.listFactors(A, "alice"))[0]!;
    t.is(stored.counter, 101);
    t.is(stored.lastUsedAt, 2_000 + results.indexOf(true));
  });

  // ------------------------------------------------------------ deletion

  it("deleteFactor deletes a factor of its own user only, and answers it", async (t, store) => {
    const passkey = passkeyRecord(A, "f-passkey");
    const totp = totpRecord(A, "f-totp");
    await store.createFactor(passkey);
    await store.createFactor(totp);
    t.is(await store.deleteFactor(A, "bob", passkey.id), undefined);
    t.is(await store.deleteFactor(B, "alice", passkey.id), undefined);
    t.is(await store.deleteFactor(A, "alice", "f-unknown"), undefined);
    t.deepEqual(await store.listFactors(A, "alice"), [passkey, totp]);
    t.deepEqual(await store.deleteFactor(A, "alice", passkey.id), passkey);
    t.is(await store.deleteFactor(A, "alice", passkey.id), undefined);
    t.deepEqual(await store.listFactors(A, "alice"), [totp]);
    t.is(await store.findPasskey(A, passkey.credentialId), undefined);
  });

  it("deleteUserFactors deletes every factor and recovery code of the user, and answers the factors; others keep theirs", async (t, store) => {
    const alice = [passkeyRecord(A, "f-passkey"), totpRecord(A, "f-totp")];
    const bobs = totpRecord(A, "f-bob", { userId: "bob" });
    const elsewhere = totpRecord(B, "f-totp");
    for (const f of [...alice, bobs, elsewhere]) await store.createFactor(f);
    await store.setRecoveryCodes(A, "alice", codes("alice"), 2_000);
    await store.setRecoveryCodes(A, "bob", codes("bob"), 2_000);
    await store.setRecoveryCodes(B, "alice", codes("alice"), 2_000);
    t.deepEqual(byId(await store.deleteUserFactors(A, "alice")), byId(alice));
    t.deepEqual(await store.listFactors(A, "alice"), []);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), NONE);
    t.false(await store.useRecoveryCode(A, "alice", "alice-code-hash-0", 2_100));
    t.deepEqual(await store.listFactors(A, "bob"), [bobs]);
    t.deepEqual(await store.listFactors(B, "alice"), [elsewhere]);
    t.deepEqual(await store.countRecoveryCodes(A, "bob"), { total: 10, left: 10, issuedAt: 2_000 });
    t.deepEqual(await store.countRecoveryCodes(B, "alice"), { total: 10, left: 10, issuedAt: 2_000 });
    t.deepEqual(await store.deleteUserFactors(A, "alice"), []);
  });

  it("deleting a user deletes their factors and recovery codes; deleting the project deletes everyone's", async (t, store) => {
    const passkey = passkeyRecord(A, "f-passkey");
    const bobs = totpRecord(A, "f-bob", { userId: "bob" });
    await store.createFactor(passkey);
    await store.createFactor(bobs);
    await store.setRecoveryCodes(A, "alice", codes("alice"), 2_000);
    await store.setRecoveryCodes(A, "bob", codes("bob"), 2_000);
    t.true(await store.deleteUser(A, "alice"));
    t.deepEqual(await store.listFactors(A, "alice"), []);
    t.is(await store.findPasskey(A, passkey.credentialId), undefined);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), NONE);
    t.deepEqual(await store.listFactors(A, "bob"), [bobs]);
    t.deepEqual(await store.countRecoveryCodes(A, "bob"), { total: 10, left: 10, issuedAt: 2_000 });
    t.true(await store.deleteProject(A));
    t.deepEqual(await store.listFactors(A, "bob"), []);
    t.deepEqual(await store.countRecoveryCodes(A, "bob"), NONE);
  });

  // ------------------------------------------------------------ recovery codes

  it("recovery codes: counted, each spent once, for its own user only; a new set replaces the old one", async (t, store) => {
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), NONE);
    await store.setRecoveryCodes(A, "alice", codes("alice"), 2_000);
    await store.setRecoveryCodes(A, "bob", codes("bob"), 2_005);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), { total: 10, left: 10, issuedAt: 2_000 });
    t.true(await store.useRecoveryCode(A, "alice", "alice-code-hash-3", 2_100));
    t.false(await store.useRecoveryCode(A, "alice", "alice-code-hash-3", 2_110), "a code is spent once");
    t.false(await store.useRecoveryCode(A, "alice", "bob-code-hash-4", 2_110), "another user's code");
    t.false(await store.useRecoveryCode(A, "bob", "alice-code-hash-4", 2_110), "another user's code");
    t.false(await store.useRecoveryCode(B, "alice", "alice-code-hash-4", 2_110), "another project's user");
    t.false(await store.useRecoveryCode(A, "alice", "unknown-code-hash", 2_110));
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), { total: 10, left: 9, issuedAt: 2_000 });
    t.deepEqual(await store.countRecoveryCodes(A, "bob"), { total: 10, left: 10, issuedAt: 2_005 });

    // Regenerated: the old codes, spent or not, are gone; the new ones all count.
    await store.setRecoveryCodes(A, "alice", codes("fresh", 3), 3_000);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), { total: 3, left: 3, issuedAt: 3_000 });
    t.false(await store.useRecoveryCode(A, "alice", "alice-code-hash-5", 3_100));
    t.true(await store.useRecoveryCode(A, "alice", "fresh-code-hash-2", 3_100));
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), { total: 3, left: 2, issuedAt: 3_000 });
    // An empty set leaves none.
    await store.setRecoveryCodes(A, "alice", [], 4_000);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), NONE);
    t.deepEqual(await store.countRecoveryCodes(A, "bob"), { total: 10, left: 10, issuedAt: 2_005 });
  });

  it("10 concurrent uses of one recovery code, each in its own transaction: exactly one spends it", async (t, store) => {
    await store.setRecoveryCodes(A, "alice", codes("alice"), 2_000);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.transaction((tx) => tx.useRecoveryCode(A, "alice", "alice-code-hash-0", 2_100 + i))),
    );
    t.is(results.filter((spent) => spent).length, 1);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), { total: 10, left: 9, issuedAt: 2_000 });
  });

  it("two regenerations of one user's recovery codes at once leave the later set, not both", async (t, store) => {
    let firstWrote!: () => void;
    const wrote = new Promise<void>((resolve) => (firstWrote = resolve));
    await Promise.all([
      store.transaction(async (tx) => {
        await tx.setRecoveryCodes(A, "alice", codes("first"), 2_000);
        firstWrote();
        // Still open while the second one begins.
        await new Promise((resolve) => setTimeout(resolve, 200));
      }),
      wrote.then(() => store.transaction((tx) => tx.setRecoveryCodes(A, "alice", codes("second"), 2_010))),
    ]);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), { total: 10, left: 10, issuedAt: 2_010 });
    t.false(await store.useRecoveryCode(A, "alice", "first-code-hash-0", 2_100));
    t.true(await store.useRecoveryCode(A, "alice", "second-code-hash-0", 2_100));
  });

  // ------------------------------------------------------------ ceremonies

  it("a WebAuthn ceremony is answered once; a duplicate challenge is AlreadyExists", async (t, store) => {
    const ceremony = ceremonyRecord(A, "challenge-1", { purpose: "register" });
    const passwordless = ceremonyRecord(A, "challenge-2", { userId: "" });
    await store.createCeremony(ceremony);
    await store.createCeremony(passwordless);
    await t.throwsAsync(store.createCeremony(ceremonyRecord(B, "challenge-1")), exists);
    t.deepEqual(await store.takeCeremony("challenge-1"), ceremony);
    t.is(await store.takeCeremony("challenge-1"), undefined);
    t.is(await store.takeCeremony("challenge-unknown"), undefined);
    t.deepEqual(await store.takeCeremony("challenge-2"), passwordless);
  });

  it("10 concurrent answers to one ceremony: exactly one takes it", async (t, store) => {
    const ceremony = ceremonyRecord(A, "challenge-race");
    await store.createCeremony(ceremony);
    const taken = await Promise.all(Array.from({ length: 10 }, () => store.transaction((tx) => tx.takeCeremony("challenge-race"))));
    t.deepEqual(
      taken.filter((c) => c !== undefined),
      [ceremony],
    );
  });

  it("purgeExpired deletes the ceremonies past their expiry, and nothing of the factors", async (t, store) => {
    const now = 10_000;
    const ceremonies = {
      old: ceremonyRecord(A, "challenge-old", { expiresAt: now - 1 }),
      edge: ceremonyRecord(A, "challenge-edge", { expiresAt: now }),
      live: ceremonyRecord(B, "challenge-live", { expiresAt: now + 60 }),
    };
    for (const c of Object.values(ceremonies)) await store.createCeremony(c);
    const passkey = passkeyRecord(A, "f-passkey");
    await store.createFactor(passkey);
    await store.setRecoveryCodes(A, "alice", codes("alice"), 2_000);
    t.like(await store.purgeExpired(now), { ceremonies: 1 });
    t.like(await store.purgeExpired(now), { ceremonies: 0 });
    t.is(await store.takeCeremony("challenge-old"), undefined);
    t.deepEqual(await store.takeCeremony("challenge-edge"), ceremonies.edge);
    t.like(await store.purgeExpired(now + 61), { ceremonies: 1 });
    t.is(await store.takeCeremony("challenge-live"), undefined);
    t.deepEqual(await store.listFactors(A, "alice"), [passkey]);
    t.deepEqual(await store.countRecoveryCodes(A, "alice"), { total: 10, left: 10, issuedAt: 2_000 });
  });

  // ------------------------------------------------------------ policy

  it("a project's multi-factor policy is the default until set; set again, it is replaced; it goes with its project", async (t, store) => {
    const defaults = (ref: ProjectRef): MfaPolicyRecord => ({ ...ref, required: "optional", roles: [], passwordless: false });
    t.deepEqual(await store.getMfaPolicy(A), defaults(A));
    const byRole: MfaPolicyRecord = { ...A, required: "roles", roles: ["admin", "auditor"], passwordless: true };
    await store.setMfaPolicy(byRole);
    t.deepEqual(await store.getMfaPolicy(A), byRole, "the default answered before is not kept");
    t.deepEqual(await store.getMfaPolicy(B), defaults(B));
    const everyone: MfaPolicyRecord = { ...A, required: "everyone", roles: [], passwordless: false };
    await store.setMfaPolicy(everyone);
    t.deepEqual(await store.getMfaPolicy(A), everyone);
    t.true(await store.deleteProject(A));
    await seedProject(store, A);
    t.deepEqual(await store.getMfaPolicy(A), defaults(A), "a project made again under the same id starts from the default");
  });

  it("setMfaPolicy moves the change epoch; writes of factors, codes, ceremonies and pending requests do not", async (t, store) => {
    await store.createFactor(totpRecord(A, "f-totp"));
    await store.createAuthorizationRequest(requestRecord(A, "req-1"));
    const tokenState: [string, () => Promise<unknown>][] = [
      ["createFactor", () => store.createFactor(passkeyRecord(A, "f-passkey"))],
      ["useFactor", () => store.useFactor(A, "f-totp", 57_000_000, 2_100, { confirm: true })],
      ["setRecoveryCodes", () => store.setRecoveryCodes(A, "alice", codes("alice"), 2_000)],
      ["useRecoveryCode", () => store.useRecoveryCode(A, "alice", "alice-code-hash-0", 2_100)],
      ["createCeremony", () => store.createCeremony(ceremonyRecord(A, "challenge-1"))],
      ["takeCeremony", () => store.takeCeremony("challenge-1")],
      ["awaitSecondFactor", () => store.awaitSecondFactor("req-1", { userId: "alice", stage: "verify", amr: ["pwd"], sessionId: "" })],
      ["deleteFactor", () => store.deleteFactor(A, "alice", "f-passkey")],
      ["deleteUserFactors", () => store.deleteUserFactors(A, "alice")],
    ];
    const epoch = await store.getChangeEpoch();
    for (const [label, step] of tokenState) {
      await step();
      t.is(await store.getChangeEpoch(), epoch, `${label} leaves the change epoch`);
    }
    await store.setMfaPolicy({ ...A, required: "everyone", roles: [], passwordless: false });
    t.not(await store.getChangeEpoch(), epoch, "setMfaPolicy moves the change epoch");
  });

  it("a policy needs an existing project", async (t, store) => {
    const missing = { organization: "org-a", project: "nope" };
    await t.throwsAsync(store.setMfaPolicy({ ...missing, required: "everyone", roles: [], passwordless: false }), { any: true });
    t.deepEqual(await store.getMfaPolicy(missing), { ...missing, required: "optional", roles: [], passwordless: false });
  });

  // ------------------------------------------------------------ pending requests

  it("a pending request's second step round-trips: created with it, set by awaitSecondFactor, changed again", async (t, store) => {
    const asked = requestRecord(A, "req-mfa", { mfaRequested: true });
    await store.createAuthorizationRequest(asked);
    t.deepEqual(await store.getAuthorizationRequest("req-mfa"), asked);

    const verify = { userId: "alice", stage: "verify" as const, amr: ["pwd"], sessionId: "" };
    await store.awaitSecondFactor("req-mfa", verify);
    t.deepEqual(await store.getAuthorizationRequest("req-mfa"), { ...asked, secondFactor: verify });
    const enrol = { userId: "alice", stage: "enrol" as const, amr: [], sessionId: "sid-1" };
    await store.awaitSecondFactor("req-mfa", enrol);
    t.deepEqual(await store.getAuthorizationRequest("req-mfa"), { ...asked, secondFactor: enrol });

    const stepped = requestRecord(A, "req-stepped", { secondFactor: { userId: "bob", stage: "verify", amr: ["pwd", "otp"], sessionId: "sid-2" } });
    await store.createAuthorizationRequest(stepped);
    t.deepEqual(await store.getAuthorizationRequest("req-stepped"), stepped);
    // An unknown request: nothing happens, nothing is made.
    await store.awaitSecondFactor("req-unknown", verify);
    t.is(await store.getAuthorizationRequest("req-unknown"), undefined);
  });
}
