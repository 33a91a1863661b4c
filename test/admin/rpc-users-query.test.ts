/**
 * AdminService: ListUsers' `query`, the users whose id or email begins with
 * a text, through the in-memory Connect transport: case-sensitive, paged by
 * id with every page filtered whatever page token comes with it, validated,
 * under the tenant rule of every user read, and on a project of 10,000 users.
 */
import { Code, type CallOptions } from "@connectrpc/connect";
import test from "ava";
import type { ProjectRef, UserRecord } from "../../core/store/types.js";
import { ACME, createTenant, expectCode, projectAdminAuth, startAdmin, type AdminTest } from "./rpc-support.js";

const GLOBEX: ProjectRef = { organization: "globex", project: "b" };

/** Users created through the API: id and email. */
async function createUsers(c: AdminTest, ref: ProjectRef, users: [id: string, email: string][]): Promise<void> {
  for (const [userId, email] of users) await c.admin.createUser({ ...ref, userId, email, password: "a-good-password" }, c.auth);
}

/** The ids of one filtered page. */
async function found(c: AdminTest, query: string, options: { pageSize?: number; pageToken?: string; ref?: ProjectRef; auth?: CallOptions } = {}) {
  const res = await c.admin.listUsers(
    { ...(options.ref ?? ACME), query, pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "" },
    options.auth ?? c.auth,
  );
  return { ids: res.users.map((u) => u.id), next: res.nextPageToken, users: res.users };
}

/** Every page of a filtered listing: the ids of each. */
async function allPages(c: AdminTest, query: string, pageSize: number, ref: ProjectRef = ACME): Promise<string[][]> {
  const pages: string[][] = [];
  let pageToken = "";
  do {
    const page = await found(c, query, { pageSize, pageToken, ref });
    pages.push(page.ids);
    pageToken = page.next;
  } while (pageToken !== "" && pages.length < 1000);
  return pages;
}

test("ListUsers with a query answers the users whose id or email begins with it, by id, case-sensitive", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await createTenant(c, GLOBEX);
  await createUsers(c, ACME, [
    ["alice", "alice@acme.example"],
    ["albert", "bert@acme.example"],
    ["bob", "alice.b@partner.example"],
    ["Alfred", "Alfred@acme.example"],
    ["carol", ""],
  ]);
  await createUsers(c, GLOBEX, [["alice", "alice@acme.example"]]);

  t.deepEqual((await found(c, "al")).ids, ["albert", "alice", "bob"], "ids beginning with al, and bob by his email; not Alfred");
  t.deepEqual((await found(c, "Al")).ids, ["Alfred"], "case-sensitive");
  t.deepEqual((await found(c, "alice")).ids, ["alice", "bob"]);
  t.deepEqual((await found(c, "alice@acme.example")).ids, ["alice"], "a whole email");
  t.deepEqual((await found(c, "acme")).ids, [], "the beginning, not any part");
  t.deepEqual((await found(c, "")).ids, ["Alfred", "albert", "alice", "bob", "carol"], "no query: every user");
  t.deepEqual((await found(c, "alice", { ref: GLOBEX })).ids, ["alice"], "the other project's own user only");
  const [bob] = (await found(c, "alice.b")).users;
  t.like(bob, { organization: "acme", project: "shop", id: "bob", email: "alice.b@partner.example", enabled: true, roles: [] });
});

test("ListUsers with a query pages by id, every page filtered, and no page token leads out of the filter", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const pad = (i: number) => String(i).padStart(2, "0");
  const matching: string[] = [];
  const users: [string, string][] = [];
  for (let i = 1; i <= 12; i++) {
    users.push([`user-${pad(i)}`, `user-${pad(i)}@acme.example`], [`other-${pad(i)}`, `other-${pad(i)}@acme.example`]);
    matching.push(`user-${pad(i)}`);
  }
  // Found by their email only, ordered among the others by their ids.
  for (const id of ["a-by-email", "zz-by-email"]) users.push([id, `user-${id}@acme.example`]);
  await createUsers(c, ACME, users);
  const expected = ["a-by-email", ...matching, "zz-by-email"];

  const pages = await allPages(c, "user-", 4);
  t.deepEqual(pages, [expected.slice(0, 4), expected.slice(4, 8), expected.slice(8, 12), expected.slice(12, 14)], "four pages, the last one short");
  t.deepEqual((await found(c, "user-", { pageSize: 7 })).ids, expected.slice(0, 7));
  t.deepEqual((await allPages(c, "user-", 14)).flat(), expected, "one full page, then the end");

  // A token of an unfiltered listing, of another query, or made up: the filter still holds.
  const unfiltered = await found(c, "", { pageSize: 3 });
  t.deepEqual(unfiltered.ids, ["a-by-email", "other-01", "other-02"]);
  t.deepEqual((await found(c, "user-", { pageToken: unfiltered.next })).ids, [...matching, "zz-by-email"]);
  const other = await found(c, "other-", { pageSize: 11 });
  t.deepEqual((await found(c, "user-", { pageToken: other.next })).ids, [...matching, "zz-by-email"], "after other-11");
  for (const after of ["a", "user-05", "user-12", "zz", "~"]) {
    const page = await found(c, "user-", { pageToken: Buffer.from(after).toString("base64url") });
    t.deepEqual(page.ids, expected.filter((id) => id > after), `after ${after}`);
  }
});

test("ListUsers refuses a query it cannot hold with INVALID_ARGUMENT naming the rule", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await createUsers(c, ACME, [["alice", "alice@acme.example"]]);
  const bad: [string, string, string][] = [
    ["255 characters", "a".repeat(255), "query must be at most 254 characters"],
    ["a NUL", "al\u0000", "query must not contain control characters"],
    ["a newline", "al\nice", "query must not contain control characters"],
    ["a tab", "\talice", "query must not contain control characters"],
    ["a right-to-left override", "al\u202eice", "query must not contain control characters"],
  ];
  for (const [what, query, message] of bad) {
    const err = await expectCode(t, c.admin.listUsers({ ...ACME, query }, c.auth), Code.InvalidArgument, what);
    t.is(err?.rawMessage, message, what);
  }
  t.deepEqual((await found(c, "a".repeat(254))).ids, [], "254 characters: a query like any other");
  t.deepEqual((await found(c, "alice@acme.example")).ids, ["alice"]);
  const token = await expectCode(t, c.admin.listUsers({ ...ACME, query: "al", pageToken: "not a token" }, c.auth), Code.InvalidArgument, "a page token");
  t.is(token?.rawMessage, "page_token is not one this server issued");
});

test("ListUsers with a query is answered to a global administrator and the project's own administrators only", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  await createTenant(c, GLOBEX);
  await createUsers(c, ACME, [["alice", "alice@acme.example"]]);
  await createUsers(c, GLOBEX, [["alice", "alice@globex.example"]]);
  const acmeAdmin = await projectAdminAuth(c, ACME);
  const globexAdmin = await projectAdminAuth(c, GLOBEX);
  t.deepEqual((await found(c, "al", { auth: acmeAdmin })).ids, ["alice"]);
  t.deepEqual((await found(c, "al", { ref: GLOBEX, auth: globexAdmin })).ids, ["alice"]);
  await expectCode(t, c.admin.listUsers({ ...ACME, query: "al" }, globexAdmin), Code.PermissionDenied, "another project's administrator");
  await expectCode(t, c.admin.listUsers({ ...GLOBEX, query: "al" }, acmeAdmin), Code.PermissionDenied, "another project's administrator");
  await expectCode(t, c.admin.listUsers({ ...ACME, query: "al" }), Code.Unauthenticated, "no token");
});

test("a project of 10,000 users is filtered page by page: by id, by email, and counted", async (t) => {
  const c = await startAdmin(t);
  await createTenant(c, ACME);
  const total = 10_000;
  const id = (i: number) => `u${String(i).padStart(5, "0")}`;
  // Every thousandth user's email begins with "grace"; the others' with "member".
  const email = (i: number) => (i % 1000 === 7 ? `grace.${i}@acme.example` : `member.${i}@acme.example`);
  // Written through the store in one transaction: 10,000 CreateUser calls would hash 10,000 passwords.
  await c.core.deps.store.transaction(async (store) => {
    for (let i = 0; i < total; i++) {
      const user: UserRecord = {
        ...ACME,
        id: id(i),
        name: `User ${i}`,
        email: email(i),
        emailVerified: false,
        givenName: "",
        familyName: "",
        passwordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$bm90LWEtcmVhbC1oYXNo",
        enabled: i % 10 !== 0,
        createdAt: 0,
      };
      await store.createUser(user);
    }
  });

  t.like(await c.admin.getProjectSummary(ACME, c.auth), { users: total, enabledUsers: total - total / 10 });
  t.deepEqual(await allPages(c, "u0420", 4), [
    ["u04200", "u04201", "u04202", "u04203"],
    ["u04204", "u04205", "u04206", "u04207"],
    ["u04208", "u04209"],
  ]);
  t.deepEqual(
    (await allPages(c, "grace", 3)).flat(),
    Array.from({ length: 10 }, (_, k) => id(k * 1000 + 7)),
    "ten users found by their email among 10,000",
  );
  const members = await found(c, "member", { pageSize: 5, pageToken: Buffer.from("u09990").toString("base64url") });
  t.deepEqual(members.ids, ["u09991", "u09992", "u09993", "u09994", "u09995"], "a late page of a query most users match");
  t.deepEqual((await found(c, "member", { pageToken: members.next })).ids, ["u09996", "u09997", "u09998", "u09999"]);
  t.deepEqual((await found(c, "u1")).ids, [], "beyond the ids");
  t.deepEqual((await found(c, "", { pageToken: Buffer.from("u09997").toString("base64url") })).ids, ["u09998", "u09999"], "no query: every user");
});
