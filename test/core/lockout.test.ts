import { Code, type ConnectError } from "@connectrpc/connect";
import test, { type ExecutionContext } from "ava";
import { LoginFailureSchema } from "../../gen/iam/v1/authorization_pb.js";
import { failureDelayMs } from "../../core/authorization/throttle.js";
import type { Config } from "../../core/server/config.js";
import { DEFAULT, type TestCore } from "../helpers.js";
import { ALICE, authorizeRequest, BOB, expectOAuthError, setup, WEB } from "./flow.js";

const POLICY: Partial<Config> = {
  loginMaxFailuresPerUser: 3,
  loginMaxFailuresPerAddress: 1000,
  loginFailureWindow: 900,
  loginLockout: 600,
  loginFailureDelayMs: 0,
};

/** One sign-in attempt on a fresh pending request (a pending request allows only 5 failures of its own). */
async function attempt(c: TestCore, username: string, password: string, clientAddress = "198.51.100.7") {
  const { requestId } = await c.authorization.authorize(authorizeRequest({ scope: "" }));
  return c.authorization.login({ ...DEFAULT, requestId, username, password, clientAddress });
}

const failureOf = (err: ConnectError) => err.findDetails(LoginFailureSchema)[0];

async function expectInvalid(t: ExecutionContext, c: TestCore, username: string, password: string, clientAddress?: string) {
  const err = await expectOAuthError(t, attempt(c, username, password, clientAddress), { error: "access_denied", status: "401", redirect: false });
  t.deepEqual(failureOf(err)?.client, { $typeName: "iam.v1.ClientSummary", id: WEB.id, name: WEB.name, metadataDocumentHost: "" });
  t.is(failureOf(err)?.retryAfter, 0n);
}

async function expectLocked(t: ExecutionContext, c: TestCore, username: string, password: string, retryAfter: bigint, clientAddress?: string) {
  const err = await expectOAuthError(t, attempt(c, username, password, clientAddress), {
    error: "access_denied",
    code: Code.ResourceExhausted,
    status: "429",
    redirect: false,
  });
  t.is(failureOf(err)?.retryAfter, retryAfter);
  t.regex(err.rawMessage, /too many failed sign-ins: try again in \d+ minutes|a minute/);
}

test("a username is locked after the policy's failures, refused even with the right password, and unlocked when the lockout ends", async (t) => {
  const c = await setup(t, POLICY);
  await expectInvalid(t, c, ALICE.id, "wrong-1");
  await expectInvalid(t, c, ALICE.id, "wrong-2");
  // The failure that reaches the maximum is answered with the lockout.
  await expectLocked(t, c, ALICE.id, "wrong-3", 600n);
  c.clock.advance(60);
  await expectLocked(t, c, ALICE.id, ALICE.password, 540n);
  // Another user, from the same address, is not affected.
  t.is((await attempt(c, BOB.id, BOB.password)).scopes.length, 1);
  c.clock.advance(541);
  t.true((await attempt(c, ALICE.id, ALICE.password)).scopes.length > 0);
  // After the lockout a new window starts: one more failure is just a failure.
  await expectInvalid(t, c, ALICE.id, "wrong-4");
});

test("an unknown username locks exactly like a real one: a lockout tells nothing about who exists", async (t) => {
  const c = await setup(t, POLICY);
  await expectInvalid(t, c, "ghost", "x");
  await expectInvalid(t, c, "ghost", "y");
  await expectLocked(t, c, "ghost", "z", 600n);
  await expectLocked(t, c, "ghost", "x", 600n);
});

test("a successful sign-in clears the username's failures; failures outside the window are forgotten", async (t) => {
  const c = await setup(t, POLICY);
  await expectInvalid(t, c, ALICE.id, "wrong-1");
  await expectInvalid(t, c, ALICE.id, "wrong-2");
  await attempt(c, ALICE.id, ALICE.password);
  await expectInvalid(t, c, ALICE.id, "wrong-3");
  await expectInvalid(t, c, ALICE.id, "wrong-4");
  c.clock.advance(901);
  await expectInvalid(t, c, ALICE.id, "wrong-5");
  await expectInvalid(t, c, ALICE.id, "wrong-6");
});

test("one client address trying many usernames is locked, other addresses are not", async (t) => {
  const c = await setup(t, { ...POLICY, loginMaxFailuresPerUser: 1000, loginMaxFailuresPerAddress: 4 });
  for (const name of ["u1", "u2", "u3"]) await expectInvalid(t, c, name, "guess", "203.0.113.9");
  await expectLocked(t, c, "u4", "guess", 600n, "203.0.113.9");
  await expectLocked(t, c, ALICE.id, ALICE.password, 600n, "203.0.113.9");
  t.true((await attempt(c, ALICE.id, ALICE.password, "203.0.113.10")).scopes.length > 0);
  t.true((await attempt(c, ALICE.id, ALICE.password, "2001:db8::1")).scopes.length > 0);
  // An address that is not an IP address is not counted (the gateway always sends one).
  for (const name of ["v1", "v2", "v3", "v4", "v5"]) await expectInvalid(t, c, name, "guess", "not-an-address");
});

test("lockout rows are purged once their lockout and window are over", async (t) => {
  const c = await setup(t, POLICY);
  for (const password of ["a", "b"]) await expectInvalid(t, c, ALICE.id, password);
  await expectLocked(t, c, ALICE.id, "c", 600n);
  t.is((await c.core.deps.store.purgeExpired(Math.floor(c.clock.now() / 1000))).login_failures, 0);
  t.true((await c.core.deps.store.lockedUntil([], 0)) === 0);
  c.clock.advance(601);
  // The address's window (900 s) is not over yet; the username's row ended with its lockout.
  t.is((await c.core.deps.store.purgeExpired(Math.floor(c.clock.now() / 1000))).login_failures, 1);
  c.clock.advance(300);
  const purged = await c.core.deps.store.purgeExpired(Math.floor(c.clock.now() / 1000));
  t.is(purged.login_failures, 1, "the address's row");
});

test("the answer to repeated failures is held back longer each time, up to 5 s", (t) => {
  t.deepEqual(
    [1, 2, 3, 4, 5, 10, 30].map((n) => failureDelayMs(n, 250)),
    [0, 250, 500, 1000, 2000, 5000, 5000],
  );
  t.is(failureDelayMs(5, 0), 0);
});
