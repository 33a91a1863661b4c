/**
 * Registration with an initial access token (RFC 7591 §3): the
 * AdminService makes, lists and revokes them; the registration endpoint of
 * a project that requires one answers 401 invalid_token with its Bearer
 * challenge (RFC 6750 §3.1) to a request without one, with a wrong, expired,
 * spent or revoked one, and every such refusal is in the audit trail.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import test from "ava";
import { globalAdminToken } from "../admin/rpc-support.js";
import { DEFAULT } from "../helpers.js";
import {
  assertInvalidToken,
  dynamicClients,
  eventsOf,
  initialAccessToken,
  register,
  registered,
  registrationServer,
  WEB_METADATA,
} from "./_support.js";

test("a project that requires an initial access token refuses a registration without one, or with a wrong one: 401 invalid_token, Bearer challenge, nothing kept, recorded", async (t) => {
  const s = await registrationServer(t, "initial_access_token");
  await assertInvalidToken(t, await register(s, WEB_METADATA));
  await assertInvalidToken(t, await register(s, WEB_METADATA, "wrong-token"));
  await assertInvalidToken(t, await register(s, WEB_METADATA, undefined, { authorization: "Basic d2ViOnNlY3JldA==" }));
  t.is(await dynamicClients(s), 0);
  const refusals = await eventsOf(s, "CLIENT_REGISTERED");
  t.deepEqual(
    refusals.map((e) => [e.outcome, e.reason]),
    [
      ["failure", "invalid_token"],
      ["failure", "invalid_token"],
    ],
    "the malformed header never reached the core",
  );
});

test("a valid initial access token registers a client; the event names the token's id, never the token, the secret nor the registration access token", async (t) => {
  const s = await registrationServer(t, "initial_access_token");
  const { id, token } = await initialAccessToken(s);
  t.regex(token, /^[A-Za-z0-9_-]{43}$/);
  const info = await registered(s, WEB_METADATA, token);
  const [event] = await eventsOf(s, "CLIENT_REGISTERED");
  t.like(event, { outcome: "success", actor: null, target: { kind: "client", id: info.client_id, project: "" } });
  const changes = Object.fromEntries(event!.changes.map((c) => [c.field, c.after]));
  t.is(changes.initial_access_token, JSON.stringify(id));
  t.is(changes.dynamically_registered, "true");
  t.is(changes.secret, JSON.stringify("(secret)"));
  const trail = JSON.stringify(event);
  const log = s.lines.join("");
  for (const secret of [token, info.client_secret!, info.registration_access_token]) {
    t.false(trail.includes(secret));
    t.false(log.includes(secret), "nor any log line");
  }
});

test("a token used up, expired or revoked no longer registers; an open project ignores tokens altogether", async (t) => {
  const s = await registrationServer(t, "initial_access_token");
  const once = await initialAccessToken(s, { maxUses: 1 });
  await registered(s, WEB_METADATA, once.token);
  await assertInvalidToken(t, await register(s, WEB_METADATA, once.token));

  // A refused registration spends no use.
  const twice = await initialAccessToken(s, { maxUses: 2 });
  t.is((await register(s, { ...WEB_METADATA, redirect_uris: ["javascript:x"] }, twice.token)).status, 400);
  await registered(s, WEB_METADATA, twice.token);
  await registered(s, WEB_METADATA, twice.token);
  await assertInvalidToken(t, await register(s, WEB_METADATA, twice.token));

  const revoked = await initialAccessToken(s);
  await s.admin.revokeInitialAccessToken({ ...DEFAULT, id: revoked.id }, s.auth);
  await assertInvalidToken(t, await register(s, WEB_METADATA, revoked.token));

  const hour = await initialAccessToken(s, { ttl: 3600n });
  await registered(s, WEB_METADATA, hour.token);
  s.clock.advance(3600);
  await assertInvalidToken(t, await register(s, WEB_METADATA, hour.token));
  t.is(await dynamicClients(s), 4);

  // The administrator's own token has expired with the hour too.
  s.auth.headers.authorization = `Bearer ${await globalAdminToken(s)}`;
  await s.admin.updateProject({ ...DEFAULT, clientRegistration: "open", updateMask: { paths: ["client_registration"] } }, s.auth);
  t.is((await register(s, WEB_METADATA, "anything")).status, 201);
});

test("AdminService: CreateInitialAccessToken answers the token once; ListInitialAccessTokens shows its uses, never a token; Revoke removes it; each change is audited", async (t) => {
  const s = await registrationServer(t, "initial_access_token");
  const created = await s.admin.createInitialAccessToken({ ...DEFAULT, description: "MCP clients", ttl: 600n, maxUses: 3 }, s.auth);
  const now = BigInt(Math.floor(s.clock.now() / 1000));
  t.like(created.initialAccessToken, { ...DEFAULT, description: "MCP clients", createdAt: now, expiresAt: now + 600n, usesLeft: 3, maxUses: 3 });
  await registered(s, WEB_METADATA, created.token);
  s.clock.advance(1);
  const unlimited = await s.admin.createInitialAccessToken({ ...DEFAULT }, s.auth);
  t.like(unlimited.initialAccessToken, { expiresAt: now + 1n + 86_400n, usesLeft: 0, maxUses: 0 });

  const listed = (await s.admin.listInitialAccessTokens(DEFAULT, s.auth)).initialAccessTokens;
  t.deepEqual(
    listed.map((x) => [x.id, x.usesLeft]),
    [
      [unlimited.initialAccessToken!.id, 0],
      [created.initialAccessToken!.id, 2],
    ],
  );
  t.false(JSON.stringify(listed, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes(created.token));

  await s.admin.revokeInitialAccessToken({ ...DEFAULT, id: created.initialAccessToken!.id }, s.auth);
  t.deepEqual((await s.admin.listInitialAccessTokens(DEFAULT, s.auth)).initialAccessTokens.map((x) => x.id), [unlimited.initialAccessToken!.id]);
  const missing = await t.throwsAsync(s.admin.revokeInitialAccessToken({ ...DEFAULT, id: created.initialAccessToken!.id }, s.auth), {
    instanceOf: ConnectError,
  });
  t.is(missing?.code, Code.NotFound);
  for (const [init, pattern] of [
    [{ ttl: 10n }, /ttl must be 60 to 31536000/],
    [{ maxUses: -1 }, /max_uses must be 1 to 1000000/],
    [{ description: "x".repeat(201) }, /description must be at most 200/],
  ] as const) {
    const err = await t.throwsAsync(s.admin.createInitialAccessToken({ ...DEFAULT, ...init }, s.auth), { instanceOf: ConnectError });
    t.is(err?.code, Code.InvalidArgument);
    t.regex(err?.rawMessage ?? "", pattern);
  }
  const made = await eventsOf(s, "INITIAL_ACCESS_TOKEN_CREATED");
  t.deepEqual(made.map((e) => e.outcome), ["success", "success", "failure", "failure", "failure"]);
  const revokedEvents = await eventsOf(s, "INITIAL_ACCESS_TOKEN_REVOKED");
  t.deepEqual(revokedEvents.map((e) => [e.outcome, e.reason]), [["success", ""], ["failure", "not_found"]]);
  t.false(JSON.stringify([...made, ...revokedEvents]).includes(created.token));
});
