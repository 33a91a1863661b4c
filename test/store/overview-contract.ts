/**
 * The contract of what administration reads of a project of many users
 * (core/store/types.ts): users found by the beginning of their id or email
 * (listUsers with a prefix), a project's counts (countProject) and its
 * signing keys without key material (listSigningKeyMetadata), as tests that
 * any backend must pass: `overviewContract(backend)` registers them, titled
 * `${name}: ...`, beside the store contract (contract.ts). The expected
 * values are those of the SQLite store, the reference backend. Not a test
 * file itself.
 */
import test, { type ExecutionContext } from "ava";
import type { ProjectRef, SigningKeyMetadata, SigningKeyRecord, Store } from "../../core/store/types.js";
import {
  ALL,
  clientRecord,
  keyRecord,
  pages,
  permissionRecord,
  roleRecord,
  seedProject,
  sessionRecord,
  userRecord,
  type StoreBackend,
} from "./contract.js";

const A: ProjectRef = { organization: "org-a", project: "proj-a" };
/** Another project of the same organization. */
const A2: ProjectRef = { organization: "org-a", project: "proj-a2" };
/** A project of another organization, with the same project id and a user of the same id and email as A's. */
const B: ProjectRef = { organization: "org-b", project: "proj-a" };

/** A's users, id and email: prefixes of ids, of emails, of both; case; LIKE's wildcards as plain characters; non-ASCII. */
const USERS: [id: string, email: string][] = [
  ["alice", "alice@example.com"],
  ["Alice", "ALICE@corp.example"],
  ["al", ""],
  ["al_x", ""],
  ["alx", ""],
  ["bob", "al.bob@example.com"],
  ["carol", "carol@example.com"],
  ["dave", "jörg@example.de"],
  ["erin", "al%@example.com"],
];

async function seedUsers(store: Store): Promise<void> {
  await seedProject(store, A);
  await seedProject(store, B);
  for (const [id, email] of USERS) await store.createUser(userRecord(A, id, { email }));
  await store.createUser(userRecord(B, "alice", { email: "alice@example.com" }));
}

const ids = (users: { id: string }[]) => users.map((u) => u.id);

/** The metadata of a key record: what listSigningKeyMetadata answers of it. */
function metadata(key: SigningKeyRecord): SigningKeyMetadata {
  const { privateJwk: _private, publicJwk: _public, ...rest } = key;
  return rest;
}

export function overviewContract(backend: StoreBackend): void {
  const it = (title: string, body: (t: ExecutionContext, store: Store) => Promise<void>) =>
    test(`${backend.name}: ${title}`, async (t) => {
      const store = await backend.open(t);
      await body(t, store);
    });

  // ------------------------------------------------------ users by prefix

  it("listUsers with a prefix answers the project's users whose id or email begins with it, by id (bytewise)", async (t, store) => {
    await seedUsers(store);
    const found = async (prefix: string) => ids(await store.listUsers(A, ALL, prefix));
    t.deepEqual(await found("al"), ["al", "al_x", "alice", "alx", "bob", "erin"], "ids and emails beginning with al");
    t.deepEqual(await found("alice"), ["alice"], "the id and the email of one user: once");
    t.deepEqual(await found("alice@example.com"), ["alice"], "a whole email");
    t.deepEqual(await found("c"), ["carol"]);
    t.deepEqual(await found("zz"), [], "nothing begins with it");
    t.deepEqual(await found("lice"), [], "a prefix, not a substring");
    t.deepEqual(await found("jö"), ["dave"], "a non-ASCII email");
    t.deepEqual(await found(""), ids(await store.listUsers(A, ALL)), "an empty prefix: every user");
    t.deepEqual(ids(await store.listUsers(B, ALL, "al")), ["alice"], "another organization's project: its own user only");
    t.deepEqual(await store.listUsers(A2, ALL, "al"), [], "a project without users");
    t.deepEqual(await store.listUsers(A, ALL, "bob"), [userRecord(A, "bob", { email: "al.bob@example.com" })], "whole records");
  });

  it("listUsers' prefix is case-sensitive, as the ids and emails are stored", async (t, store) => {
    await seedUsers(store);
    t.deepEqual(ids(await store.listUsers(A, ALL, "Al")), ["Alice"], "the id Alice, not alice");
    t.deepEqual(ids(await store.listUsers(A, ALL, "AL")), ["Alice"], "by her email ALICE@…");
    t.deepEqual(ids(await store.listUsers(A, ALL, "ALICE@corp.example")), ["Alice"]);
    t.deepEqual(ids(await store.listUsers(A, ALL, "BOB")), []);
  });

  it("listUsers' prefix holds % and _ as themselves, not as LIKE's wildcards", async (t, store) => {
    await seedUsers(store);
    t.deepEqual(ids(await store.listUsers(A, ALL, "al_")), ["al_x"], "not alx, alice");
    t.deepEqual(ids(await store.listUsers(A, ALL, "al%")), ["erin"], "not every al…");
    t.deepEqual(ids(await store.listUsers(A, ALL, "%")), []);
  });

  it("listUsers with a prefix pages by id, each page filtered, whatever id a page starts after", async (t, store) => {
    await seedUsers(store);
    t.deepEqual(await pages((p) => store.listUsers(A, p, "al"), (u) => u.id, 2), [["al", "al_x"], ["alice", "alx"], ["bob", "erin"], []]);
    t.deepEqual(await pages((p) => store.listUsers(A, p, "al"), (u) => u.id, 4), [["al", "al_x", "alice", "alx"], ["bob", "erin"], []]);
    const after = async (start: string, limit = 10) => ids(await store.listUsers(A, { after: start, limit }, "al"));
    t.deepEqual(await after("Alice"), ["al", "al_x", "alice", "alx", "bob", "erin"], "a start before the prefix's ids");
    t.deepEqual(await after("al"), ["al_x", "alice", "alx", "bob", "erin"], "after a match");
    t.deepEqual(await after("alice"), ["alx", "bob", "erin"]);
    t.deepEqual(await after("alice", 1), ["alx"]);
    t.deepEqual(await after("alz"), ["bob", "erin"], "past the prefix's ids: the emails' users after it");
    t.deepEqual(await after("carol"), ["erin"], "from a user outside the filter: still filtered");
    t.deepEqual(await after("erin"), []);
    t.deepEqual(await after("zzz"), []);
  });

  // ------------------------------------------------------------- counts

  it("countProject counts the project's clients, users, enabled users, roles, permissions, live keys and live sessions", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    for (const id of ["web", "svc"]) await store.createClient(clientRecord(A, id));
    await store.createClient(clientRecord(A2, "web"));
    await store.createUser(userRecord(A, "alice"));
    await store.createUser(userRecord(A, "bob", { enabled: false }));
    await store.createUser(userRecord(A, "carol"));
    await store.createUser(userRecord(A2, "alice", { enabled: false }));
    for (const id of ["docs.files.read", "docs.files.write"]) await store.createPermission(permissionRecord(A, id));
    await store.createRole(roleRecord(A, "editor", ["docs.files.read"]));
    await store.createPermission(permissionRecord(A2, "docs.files.read"));

    const now = 1_500;
    const seenSince = 1_000;
    for (const key of [
      keyRecord(A, "k-es", { createdAt: 1_200 }),
      keyRecord(A, "k-rs", { alg: "RS256", createdAt: 1_200 }),
      keyRecord(A, "k-verifying", { createdAt: 100, retiredAt: 1_200, expiresAt: now + 1 }),
      keyRecord(A, "k-expired-now", { createdAt: 100, retiredAt: 1_000, expiresAt: now }),
      keyRecord(A, "k-expired", { createdAt: 50, retiredAt: 100, expiresAt: 900 }),
      keyRecord(A2, "k-other", { createdAt: 1_200 }),
    ]) {
      await store.addSigningKey(key);
    }
    await store.createSession(sessionRecord(A, "live", { lastSeenAt: seenSince + 1, expiresAt: now + 1 }));
    await store.createSession(sessionRecord(A, "live-bob", { userId: "bob", lastSeenAt: now, expiresAt: 5_000 }));
    await store.createSession(sessionRecord(A, "ended", { lastSeenAt: now, expiresAt: 5_000, endedAt: 1_400 }));
    await store.createSession(sessionRecord(A, "expired", { lastSeenAt: now, expiresAt: now }));
    await store.createSession(sessionRecord(A, "idle", { lastSeenAt: seenSince, expiresAt: 5_000 }));
    await store.createSession(sessionRecord(A2, "live", { lastSeenAt: now, expiresAt: 5_000 }));

    t.deepEqual(await store.countProject(A, { now, seenSince }), {
      clients: 2,
      users: 3,
      enabledUsers: 2,
      roles: 1,
      permissions: 2,
      signingKeys: 3,
      liveSessions: 2,
    });
    t.deepEqual(await store.countProject(A2, { now, seenSince }), {
      clients: 1,
      users: 1,
      enabledUsers: 0,
      roles: 0,
      permissions: 1,
      signingKeys: 1,
      liveSessions: 1,
    });
    // Later, the retired key and the sessions have run out.
    t.like(await store.countProject(A, { now: 5_000, seenSince: 4_000 }), { signingKeys: 2, liveSessions: 0 });
  });

  it("countProject answers zeros for a project that does not exist, or holds nothing", async (t, store) => {
    const zero = { clients: 0, users: 0, enabledUsers: 0, roles: 0, permissions: 0, signingKeys: 0, liveSessions: 0 };
    t.deepEqual(await store.countProject({ organization: "org-z", project: "nope" }, { now: 1_000, seenSince: 0 }), zero);
    await seedProject(store, A);
    t.deepEqual(await store.countProject(A, { now: 1_000, seenSince: 0 }), zero);
  });

  it("countProject follows disabling and enabling a user", async (t, store) => {
    await seedProject(store, A);
    const alice = userRecord(A, "alice");
    await store.createUser(alice);
    const at = { now: 1_000, seenSince: 0 };
    t.like(await store.countProject(A, at), { users: 1, enabledUsers: 1 });
    await store.updateUser({ ...alice, enabled: false });
    t.like(await store.countProject(A, at), { users: 1, enabledUsers: 0 });
    await store.updateUser({ ...alice, enabled: true });
    t.like(await store.countProject(A, at), { users: 1, enabledUsers: 1 });
  });

  // ------------------------------------------------- signing key metadata

  it("listSigningKeyMetadata answers the project's keys newest first, the current ones first among keys of one second, without key material", async (t, store) => {
    await seedProject(store, A);
    await seedProject(store, A2);
    const keys = {
      oldRs: keyRecord(A, "k-old-rs", { alg: "RS256", createdAt: 100, retiredAt: 200, expiresAt: 900 }),
      oldEs: keyRecord(A, "k-old-es", { createdAt: 100, retiredAt: 200, expiresAt: 900 }),
      fast: keyRecord(A, "k-fast", { createdAt: 200, retiredAt: 200, expiresAt: 900 }),
      newRs: keyRecord(A, "k-new-rs", { alg: "RS256", createdAt: 200 }),
      twin: keyRecord(A, "k-new-es2", { createdAt: 200 }),
      newEs: keyRecord(A, "k-new-es", { createdAt: 200 }),
    };
    for (const key of Object.values(keys)) await store.addSigningKey(key);
    await store.addSigningKey(keyRecord(A2, "k-other", { createdAt: 300 }));
    t.deepEqual(
      await store.listSigningKeyMetadata(A),
      [keys.newEs, keys.twin, keys.newRs, keys.fast, keys.oldEs, keys.oldRs].map(metadata),
    );
    t.deepEqual(await store.listSigningKeyMetadata(A2), [metadata(keyRecord(A2, "k-other", { createdAt: 300 }))]);
    t.deepEqual(await store.listSigningKeyMetadata({ organization: "org-z", project: "nope" }), []);
    // The first current key of each algorithm is the one the key ring signs with (listSigningKeys' order).
    const signing = (await store.listSigningKeys(A)).filter((k) => k.retiredAt === null);
    t.is(signing.find((k) => k.alg === "ES256")?.kid, "k-new-es");
  });

  it("listSigningKeyMetadata follows a retirement", async (t, store) => {
    await seedProject(store, A);
    const key = keyRecord(A, "k-1", { createdAt: 100 });
    await store.addSigningKey(key);
    await store.retireSigningKeys(A, 1_000, 2_000);
    await store.addSigningKey(keyRecord(A, "k-2", { createdAt: 1_000 }));
    t.deepEqual(await store.listSigningKeyMetadata(A), [
      metadata(keyRecord(A, "k-2", { createdAt: 1_000 })),
      metadata({ ...key, retiredAt: 1_000, expiresAt: 2_000 }),
    ]);
  });
}
