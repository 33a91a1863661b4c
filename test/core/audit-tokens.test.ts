/**
 * The audit events of the login and token flows, each produced by a real
 * call: consent given or denied and the code issued, the code exchanged,
 * refused or replayed, refresh tokens rotated or reused, tokens issued by
 * client_credentials and password, revoked, a client failing to
 * authenticate, a logout. Each event lands with its change and not without
 * it; unknown ids and the reads (VerifyToken, Introspect, UserInfo) write
 * nothing; no secret the test used appears in any event, and the chain holds.
 */
import test, { type ExecutionContext } from "ava";
import { TokenFailure } from "../../gen/iam/v1/token_pb.js";
import { verifyChain } from "../../core/audit/verify.js";
import type { AuditEventRecord, AuditParty } from "../../core/store/types.js";
import { DEFAULT, pkcePair, queryOf, seedClient, type TestCore } from "../helpers.js";
import {
  ALICE,
  authorizeRequest,
  codeRecordOf,
  exchangeRequest,
  expectOAuthError,
  M2M,
  obtainCode,
  obtainTokens,
  READ,
  refreshRequest,
  setup,
  SPA,
  STRICT,
  WEB,
  WEB2,
  WRITE,
  type TokenInit,
} from "./flow.js";

const user = (id: string): AuditParty => ({ kind: "user", id, project: "" });
const client = (id: string): AuditParty => ({ kind: "client", id, project: "" });

/** What an event says, without where it sits in the chain or where the request came from. */
const said = (e: AuditEventRecord) => ({
  action: e.action,
  outcome: e.outcome,
  reason: e.reason,
  actor: e.actor,
  target: e.target,
  grantType: e.grantType,
  scopes: e.scopes,
});
type Said = ReturnType<typeof said>;

/** An event as expected: a success with no grant type and no scopes unless said. */
const event = (e: Pick<Said, "action" | "actor" | "target"> & Partial<Said>): Said => ({
  outcome: "success",
  reason: "",
  grantType: "",
  scopes: [],
  ...e,
});
const refusal = (e: Pick<Said, "action" | "actor" | "target" | "reason"> & Partial<Said>): Said => event({ outcome: "failure", ...e });

const eventsOf = (c: TestCore) => c.core.deps.store.listAuditEvents(DEFAULT, {}, { after: 0, limit: 1000 });

/** Runs `act` and answers what it added to the project's chain. */
async function recorded(c: TestCore, act: () => Promise<unknown>): Promise<Said[]> {
  const before = (await eventsOf(c)).length;
  await act();
  return (await eventsOf(c)).slice(before).map(said);
}

/**
 * A test's core, and every secret it used (client secrets, passwords, codes,
 * tokens): at its end, none may appear in an event, and the chain must hold.
 */
async function auditedCore(t: ExecutionContext) {
  const c = await setup(t);
  const secrets = new Set<string>([WEB.secret, WEB2.secret, M2M.secret, STRICT.secret, ALICE.password]);
  const keep = <T extends object>(answer: T): T => {
    for (const [key, value] of Object.entries(answer)) {
      if (["code", "accessToken", "refreshToken", "idToken"].includes(key) && typeof value === "string" && value !== "") secrets.add(value);
    }
    return answer;
  };
  const clean = async () => {
    const events = await eventsOf(c);
    t.true(events.length > 0);
    const text = JSON.stringify(events);
    const leaked = [...secrets].filter((secret) => text.includes(secret));
    t.is(leaked.length, 0, `${leaked.length} of ${secrets.size} secrets appear in an event`);
    const report = await verifyChain(c.core.deps.store, DEFAULT);
    t.is(report.broken, undefined, "the chain holds");
    t.is(report.events, events.length);
  };
  return { c, secrets, keep, clean };
}

const WEB_ACTS = { actor: client(WEB.id), target: user(ALICE.id) };
const CODE = { ...WEB_ACTS, grantType: "authorization_code" };
const REFRESH = { ...WEB_ACTS, grantType: "refresh_token" };
const BOTH = [READ, WRITE];

// ---------------------------------------------------------------- consent and codes

test("consent given on the page records CONSENT_GIVEN and CODE_ISSUED with the scopes approved, in the transaction that writes the code", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const { requestId } = await c.authorization.authorize(authorizeRequest());
  await c.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password: ALICE.password });
  let redirectTo = "";
  const added = await recorded(c, async () => {
    ({ redirectTo } = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [WRITE, READ, READ] }));
  });
  const code = keep({ code: queryOf(redirectTo).get("code")! }).code;
  const decision = { actor: user(ALICE.id), target: client(WEB.id), scopes: BOTH };
  t.deepEqual(added, [event({ action: "CONSENT_GIVEN", ...decision }), event({ action: "CODE_ISSUED", ...decision })]);
  t.truthy(await codeRecordOf(c, code), "the code its event speaks of exists");

  // The request is spent: consent again changes nothing and records nothing.
  const again = await recorded(c, () => expectOAuthError(t, c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] }), { error: "invalid_request" }));
  t.deepEqual(again, []);
  await clean();
});

test("a denial, or approving nothing, records CONSENT_DENIED (access_denied) and no code", async (t) => {
  const { c, clean } = await auditedCore(t);
  for (const answer of [{ deny: true, scopes: [READ] }, { scopes: [] }]) {
    const { requestId } = await c.authorization.authorize(authorizeRequest());
    await c.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password: ALICE.password });
    let redirectTo = "";
    const added = await recorded(c, async () => {
      ({ redirectTo } = await c.authorization.consent({ ...DEFAULT, requestId, ...answer }));
    });
    t.is(queryOf(redirectTo).get("error"), "access_denied");
    t.deepEqual(added, [refusal({ action: "CONSENT_DENIED", actor: user(ALICE.id), target: client(WEB.id), reason: "access_denied" })]);
  }
  await clean();
});

test("a remembered consent that completes the request at sign-in records CODE_ISSUED alone", async (t) => {
  const { c, secrets, keep, clean } = await auditedCore(t);
  const REMEMBERING = { id: "remembering-app", secret: "remembering-secret", redirectUri: "https://remember.example/cb" };
  secrets.add(REMEMBERING.secret);
  await seedClient(c.core, { id: REMEMBERING.id, secret: REMEMBERING.secret, redirectUris: [REMEMBERING.redirectUri], rememberConsent: true });
  const authorize = authorizeRequest({ clientId: REMEMBERING.id, redirectUri: REMEMBERING.redirectUri, scope: READ });
  const decision = { actor: user(ALICE.id), target: client(REMEMBERING.id), scopes: [READ] };

  const first = await c.authorization.authorize(authorize);
  await c.authorization.login({ ...DEFAULT, requestId: first.requestId, username: ALICE.id, password: ALICE.password });
  const given = await recorded(c, async () => keep({ code: queryOf((await c.authorization.consent({ ...DEFAULT, requestId: first.requestId, scopes: [READ] })).redirectTo).get("code")! }));
  t.deepEqual(given, [event({ action: "CONSENT_GIVEN", ...decision }), event({ action: "CODE_ISSUED", ...decision })]);

  const second = await c.authorization.authorize(authorize);
  let redirectTo = "";
  const added = await recorded(c, async () => {
    ({ redirectTo } = await c.authorization.login({ ...DEFAULT, requestId: second.requestId, username: ALICE.id, password: ALICE.password }));
  });
  keep({ code: queryOf(redirectTo).get("code")! });
  t.deepEqual(added, [event({ action: "SIGN_IN", actor: user(ALICE.id), target: user(ALICE.id) }), event({ action: "CODE_ISSUED", ...decision })]);
  await clean();
});

// ---------------------------------------------------------------- code exchange

test("a code exchanged records CODE_EXCHANGED: the client, for the user, with the scopes granted", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const { code } = keep(await obtainCode(c));
  let accessToken = "";
  const added = await recorded(c, async () => ({ accessToken } = keep(await c.tokens.token(exchangeRequest(code)))));
  t.deepEqual(added, [event({ action: "CODE_EXCHANGED", ...CODE, scopes: BOTH })]);
  t.true((await c.tokens.verifyToken({ token: accessToken })).active, "the grant its event speaks of exists");
  await clean();
});

const refusedExchanges: { title: string; flow?: Parameters<typeof obtainCode>[1]; request: (code: string) => TokenInit; actor?: AuditParty; expire?: boolean }[] = [
  { title: "a redirect_uri other than the request's", request: (code) => exchangeRequest(code, { redirectUri: WEB.redirectWithQuery }) },
  { title: "another client's code", request: (code) => exchangeRequest(code, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } }), actor: client(WEB2.id) },
  { title: "an expired code", request: (code) => exchangeRequest(code), expire: true },
  {
    title: "a code_verifier that does not match the code_challenge",
    flow: { authorize: { codeChallenge: pkcePair().challenge, codeChallengeMethod: "S256" } },
    request: (code) => exchangeRequest(code, { codeVerifier: pkcePair("another-verifier-of-43-characters-or-more-xxxxx").verifier }),
  },
  {
    title: "a missing code_verifier",
    flow: { authorize: { codeChallenge: pkcePair().challenge, codeChallengeMethod: "S256" } },
    request: (code) => exchangeRequest(code),
  },
];

for (const refused of refusedExchanges) {
  test(`${refused.title} records CODE_EXCHANGED FAILURE (invalid_grant) and spends nothing`, async (t) => {
    const { c, keep, clean } = await auditedCore(t);
    const { code } = keep(await obtainCode(c, refused.flow));
    if (refused.expire) c.clock.advance(c.core.deps.config.authorizationCodeTtl);
    const added = await recorded(c, () => expectOAuthError(t, c.tokens.token(refused.request(code)), { error: "invalid_grant" }));
    t.deepEqual(added, [refusal({ action: "CODE_EXCHANGED", ...CODE, actor: refused.actor ?? CODE.actor, reason: "invalid_grant" })]);
    t.is((await codeRecordOf(c, code))!.consumedAt, null, "the code is not spent");
    await clean();
  });
}

test("an unknown code records nothing", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  keep(await obtainCode(c));
  const added = await recorded(c, () => expectOAuthError(t, c.tokens.token(exchangeRequest("no-such-code")), { error: "invalid_grant" }));
  t.deepEqual(added, []);
  await clean();
});

test("a code presented again records CODE_REPLAYED with the revocation of its grant; by another client, a refused exchange that revokes nothing", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const first = keep(await obtainTokens(c));

  const byOther = await recorded(c, () =>
    expectOAuthError(t, c.tokens.token(exchangeRequest(first.code, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } })), { error: "invalid_grant" }),
  );
  t.deepEqual(byOther, [refusal({ action: "CODE_EXCHANGED", ...CODE, actor: client(WEB2.id), reason: "invalid_grant" })]);
  t.true((await c.tokens.verifyToken({ token: first.accessToken })).active, "another client cannot revoke the grant");

  const replayed = await recorded(c, () => expectOAuthError(t, c.tokens.token(exchangeRequest(first.code)), { error: "invalid_grant" }));
  t.deepEqual(replayed, [refusal({ action: "CODE_REPLAYED", ...CODE, reason: "invalid_grant" })]);
  t.is((await c.tokens.verifyToken({ token: first.accessToken })).failure, TokenFailure.REVOKED, "the replay revoked what the code gave");
  const exchanged = (await eventsOf(c)).filter((e) => e.action === "CODE_EXCHANGED" && e.outcome === "success");
  t.is(exchanged.length, 1, "one successful exchange only");
  await clean();
});

// ---------------------------------------------------------------- refresh

test("a refresh records TOKEN_REFRESHED with the access token's scopes; a rotated token presented again, REFRESH_TOKEN_REUSED with the family revoked", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const first = keep(await obtainTokens(c));
  let second: { accessToken: string; refreshToken: string } = first;
  const refreshed = await recorded(c, async () => (second = keep(await c.tokens.token(refreshRequest(first.refreshToken, { scope: READ })))));
  t.deepEqual(refreshed, [event({ action: "TOKEN_REFRESHED", ...REFRESH, scopes: [READ] })]);

  const widened = await recorded(c, () => expectOAuthError(t, c.tokens.token(refreshRequest(second.refreshToken, { scope: "openid" })), { error: "invalid_scope" }));
  t.deepEqual(widened, [refusal({ action: "TOKEN_REFRESHED", ...REFRESH, reason: "invalid_scope" })]);
  t.true((await c.tokens.verifyToken({ token: second.accessToken })).active, "a refused refresh revokes nothing");

  const reused = await recorded(c, () => expectOAuthError(t, c.tokens.token(refreshRequest(first.refreshToken)), { error: "invalid_grant" }));
  t.deepEqual(reused, [refusal({ action: "REFRESH_TOKEN_REUSED", ...REFRESH, reason: "invalid_grant" })]);
  t.is((await c.tokens.verifyToken({ token: second.accessToken })).failure, TokenFailure.REVOKED, "the family is revoked with its event");

  const unknown = await recorded(c, () => expectOAuthError(t, c.tokens.token(refreshRequest("no-such-refresh-token")), { error: "invalid_grant" }));
  t.deepEqual(unknown, [], "an unknown refresh token records nothing");
  await clean();
});

// ---------------------------------------------------------------- client_credentials and password

test("client_credentials records TOKEN_ISSUED for each token, the client its own target; a refusal with its RFC code", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const { store } = c.core.deps;
  await store.createPermission({ ...DEFAULT, id: "reports.read", description: "reads reports" });
  await store.createRole({ ...DEFAULT, id: "reporter", description: "reports", permissions: ["reports.read"] });
  await store.assignRole(DEFAULT, { clientId: M2M.id }, "reporter");
  const request = { ...DEFAULT, grantType: "client_credentials", basic: { clientId: M2M.id, clientSecret: M2M.secret } };
  const issued = { action: "TOKEN_ISSUED", actor: client(M2M.id), target: client(M2M.id), grantType: "client_credentials" };

  const added = await recorded(c, async () => {
    keep(await c.tokens.token(request));
    keep(await c.tokens.token({ ...request, scope: "reports.read" }));
  });
  t.deepEqual(added, [event({ ...issued, scopes: ["reports.read"] }), event({ ...issued, scopes: ["reports.read"] })]);

  const refused = await recorded(c, () => expectOAuthError(t, c.tokens.token({ ...request, scope: READ }), { error: "invalid_scope" }));
  t.deepEqual(refused, [refusal({ ...issued, reason: "invalid_scope" })]);
  await clean();
});

test("the password grant records TOKEN_ISSUED for the user; a wrong password or an unknown user, a refusal without the password", async (t) => {
  const { c, secrets, keep, clean } = await auditedCore(t);
  const LEGACY = { id: "legacy-app", secret: "legacy-secret" };
  secrets.add(LEGACY.secret).add("not-alices-password").add("mallorys-password");
  await seedClient(c.core, { id: LEGACY.id, secret: LEGACY.secret, grantTypes: ["password"] });
  const request = (username: string, password: string) =>
    c.tokens.token({ ...DEFAULT, grantType: "password", username, password, basic: { clientId: LEGACY.id, clientSecret: LEGACY.secret } });
  const issued = { action: "TOKEN_ISSUED", actor: client(LEGACY.id), grantType: "password" };

  const added = await recorded(c, async () => keep(await request(ALICE.id, ALICE.password)));
  t.deepEqual(added, [event({ ...issued, target: user(ALICE.id), scopes: BOTH })]);
  const refused = await recorded(c, async () => {
    await expectOAuthError(t, request(ALICE.id, "not-alices-password"), { error: "invalid_grant" });
    await expectOAuthError(t, request("mallory", "mallorys-password"), { error: "invalid_grant" });
  });
  t.deepEqual(refused, [
    refusal({ ...issued, target: user(ALICE.id), reason: "invalid_grant" }),
    refusal({ ...issued, target: user("mallory"), reason: "invalid_grant" }),
  ]);
  await clean();
});

// ---------------------------------------------------------------- revocation

test("a revocation records TOKEN_REVOKED once, with the grant it revokes; an unknown or spent token records nothing; another client's token, a refusal", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const webBasic = { basic: { clientId: WEB.id, clientSecret: WEB.secret } };
  const byRefresh = keep(await obtainTokens(c));
  const byAccess = keep(await obtainTokens(c));
  const m2m = keep(await c.tokens.token({ ...DEFAULT, grantType: "client_credentials", basic: { clientId: M2M.id, clientSecret: M2M.secret } }));
  const revoke = (token: string, as: object = webBasic) => c.tokens.revoke({ ...DEFAULT, token, client: as });

  const refused = await recorded(c, () =>
    expectOAuthError(t, revoke(byRefresh.refreshToken, { basic: { clientId: WEB2.id, clientSecret: WEB2.secret } }), { error: "unauthorized_client" }),
  );
  t.deepEqual(refused, [refusal({ action: "TOKEN_REVOKED", actor: client(WEB2.id), target: user(ALICE.id), reason: "unauthorized_client" })]);
  t.true((await c.tokens.verifyToken({ token: byRefresh.accessToken })).active);

  const added = await recorded(c, async () => {
    await revoke(byRefresh.refreshToken);
    await revoke(byRefresh.refreshToken); // already revoked: answered the same, nothing changes
    await revoke(byAccess.accessToken);
    await revoke("no-such-token");
    await revoke(m2m.accessToken, { basic: { clientId: M2M.id, clientSecret: M2M.secret } });
  });
  t.deepEqual(added, [
    event({ action: "TOKEN_REVOKED", ...WEB_ACTS }),
    event({ action: "TOKEN_REVOKED", ...WEB_ACTS }),
    event({ action: "TOKEN_REVOKED", actor: client(M2M.id), target: client(M2M.id) }),
  ]);
  for (const token of [byRefresh.accessToken, byAccess.accessToken, m2m.accessToken]) {
    t.is((await c.tokens.verifyToken({ token })).failure, TokenFailure.REVOKED);
  }
  await clean();
});

// ---------------------------------------------------------------- client authentication

test("a client of the project failing to authenticate is recorded at the token, introspection and revocation endpoints; an unknown client id is not", async (t) => {
  const { c, secrets, keep, clean } = await auditedCore(t);
  const LONG = "a".repeat(200);
  await seedClient(c.core, { id: LONG, secret: "long-client-secret" });
  secrets.add("long-client-secret").add("wrong-secret");
  const { accessToken } = keep(await obtainTokens(c));
  const calls = (as: { clientId: string; clientSecret: string; basic?: { clientId: string; clientSecret: string } }) => [
    c.tokens.token(exchangeRequest("some-code", { basic: undefined, ...as })),
    c.tokens.introspect({ ...DEFAULT, token: accessToken, client: as }),
    c.tokens.revoke({ ...DEFAULT, token: accessToken, client: as }),
  ];
  const basic = (clientId: string, clientSecret: string) => ({ clientId: "", clientSecret: "", basic: { clientId, clientSecret } });
  const failed = (id: string) => refusal({ action: "CLIENT_AUTHENTICATION_FAILED", actor: null, target: client(id), reason: "invalid_client" });

  for (const [as, target] of [
    [basic(WEB.id, "wrong-secret"), WEB.id],
    [{ clientId: WEB.id, clientSecret: "" }, WEB.id], // a confidential client sending no secret
    [{ clientId: SPA.id, clientSecret: "wrong-secret" }, SPA.id], // a public client sending one
    [basic(LONG, "wrong-secret"), LONG.slice(0, 128)],
  ] as const) {
    const added = await recorded(c, async () => {
      for (const call of calls(as)) await expectOAuthError(t, call, { error: "invalid_client" });
    });
    t.deepEqual(added, [failed(target), failed(target), failed(target)], target);
  }
  const unknown = await recorded(c, async () => {
    for (const as of [basic("nobody", "wrong-secret"), basic("b".repeat(300), "wrong-secret"), { clientId: "nobody", clientSecret: "" }]) {
      for (const call of calls(as)) await expectOAuthError(t, call, { error: "invalid_client" });
    }
  });
  t.deepEqual(unknown, [], "unknown client ids record nothing");
  t.true((await c.tokens.verifyToken({ token: accessToken })).active, "no failed revocation revoked anything");
  await clean();
});

// ---------------------------------------------------------------- logout and reads

test("a logout records SESSION_ENDED with the end of the session and its grants; a session already ended records nothing", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const { requestId } = await c.authorization.authorize(authorizeRequest());
  const login = await c.authorization.login({ ...DEFAULT, requestId, username: ALICE.id, password: ALICE.password });
  const { redirectTo } = await c.authorization.consent({ ...DEFAULT, requestId, scopes: [READ] });
  const { code } = keep({ code: queryOf(redirectTo).get("code")! });
  const tokens = keep(await c.tokens.token(exchangeRequest(code)));
  const session = login.session!.value;
  const logout = () => c.authorization.endSession({ ...DEFAULT, session, confirmation: "binding-1", browserBinding: "binding-1" });
  const [open] = await c.core.deps.store.listUserSessions(DEFAULT, ALICE.id);
  const started = (await eventsOf(c)).find((e) => e.action === "SIGN_IN" && e.outcome === "success");
  t.deepEqual(
    started?.changes,
    [
      { field: "session_id", before: "", after: JSON.stringify(open!.id) },
      { field: "amr", before: "", after: JSON.stringify(["pwd"]) },
    ],
    "the sign-in names the session it started, and how",
  );

  const before = (await eventsOf(c)).length;
  const added = await recorded(c, logout);
  t.deepEqual(added, [event({ action: "SESSION_ENDED", actor: user(ALICE.id), target: user(ALICE.id) })]);
  t.deepEqual((await eventsOf(c))[before]!.changes, [{ field: "session_id", before: JSON.stringify(open!.id), after: "" }], "and the logout the session it ended");
  t.is((await c.tokens.verifyToken({ token: tokens.accessToken })).failure, TokenFailure.REVOKED, "the session's grants ended with it");
  t.deepEqual(await recorded(c, logout), []);
  await clean();
});

test("VerifyToken, Introspect and UserInfo are reads: they record nothing", async (t) => {
  const { c, keep, clean } = await auditedCore(t);
  const { accessToken, refreshToken } = keep(await obtainTokens(c, { authorize: { scope: `openid ${READ}` } }));
  const webBasic = { basic: { clientId: WEB.id, clientSecret: WEB.secret } };
  const added = await recorded(c, async () => {
    t.true((await c.tokens.verifyToken({ token: accessToken })).active);
    t.false((await c.tokens.verifyToken({ token: "not-a-token" })).active);
    t.true((await c.tokens.introspect({ ...DEFAULT, token: accessToken, client: webBasic })).active);
    t.true((await c.tokens.introspect({ ...DEFAULT, token: refreshToken, client: webBasic })).active);
    t.false((await c.tokens.introspect({ ...DEFAULT, token: "not-a-token", client: webBasic })).active);
    t.is((await c.tokens.userInfo({ ...DEFAULT, token: accessToken })).sub, ALICE.id);
  });
  t.deepEqual(added, []);
  await clean();
});
