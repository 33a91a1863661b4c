/**
 * DPoP with pushed authorization requests (RFC 9449 §10.1), over HTTP: a
 * code is bound to a key named by a pushed `dpop_jkt`, or by the DPoP proof
 * sent with the push; the two must name one key; a bad proof at /par is the
 * token endpoint's 400 `invalid_dpop_proof` (or `use_dpop_nonce` with the
 * DPoP-Nonce header) and nothing is kept.
 */
import test, { type ExecutionContext } from "ava";
import { decodeJwt } from "jose";
import { countRows, ISSUER, SPA, ALICE } from "../core/flow.js";
import { assertJsonError, getJson, postForm, postJson } from "../gateway/_support.js";
import { pkcePair, startTestServer, seedClient, type TestServer } from "../helpers.js";
import { exchange, proofFor, server } from "./_flow.js";
import { proofKey, thumbprintOf, type ProofKey } from "./_proof.js";

const { verifier, challenge } = pkcePair();
const PAR = `${ISSUER}/par`;

/** SPA pushes its request (with `extra` parameters and headers). */
const push = (s: TestServer, extra: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  postForm(
    `${s.project}/par`,
    { response_type: "code", client_id: SPA.id, redirect_uri: SPA.redirectUri, scope: "openid", state: "s", code_challenge: challenge, code_challenge_method: "S256", ...extra },
    headers,
  );

/** The code of a pushed request: its request_uri at /authorize, alice's sign-in and consent. */
async function codeOf(s: TestServer, pushed: Response): Promise<string> {
  if (pushed.status !== 201) throw new Error(`push: ${pushed.status} ${await pushed.text()}`);
  const { request_uri } = (await pushed.json()) as { request_uri: string };
  const start = await getJson(`${s.project}/authorize?${new URLSearchParams({ client_id: SPA.id, request_uri }).toString()}`);
  const { request_id } = (await start.json()) as { request_id: string };
  await postJson(`${s.project}/authorize`, { request_id, username: ALICE.id, password: ALICE.password });
  const consent = (await (await postJson(`${s.project}/consent`, { request_id, scopes: ["openid"] })).json()) as { redirect_to: string };
  return new URL(consent.redirect_to).searchParams.get("code")!;
}

/** The code is bound to `key`: refused with another key's proof (and without one), exchanged with its own. */
async function assertBoundTo(t: ExecutionContext, s: TestServer, code: string, key: ProofKey): Promise<void> {
  await assertJsonError(t, await exchange(s, code, verifier, { dpop: await proofFor(s, await proofKey()) }), 400, "invalid_grant");
  await assertJsonError(t, await exchange(s, code, verifier), 400, "invalid_grant");
  const res = await exchange(s, code, verifier, { dpop: await proofFor(s, key) });
  t.is(res.status, 200);
  t.deepEqual(decodeJwt(((await res.json()) as { access_token: string }).access_token).cnf, { jkt: await thumbprintOf(key.publicJwk) });
}

test("a pushed dpop_jkt binds the code, as in a URL: the parameter kept with the others", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  const code = await codeOf(s, await push(s, { dpop_jkt: await thumbprintOf(key.publicJwk) }));
  await assertBoundTo(t, s, code, key);
});

test("a DPoP proof sent with the push binds the code to its key (§10.1); with a dpop_jkt of the same key too", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  await assertBoundTo(t, s, await codeOf(s, await push(s, {}, { dpop: await proofFor(s, key, { url: PAR }) })), key);
  const jkt = await thumbprintOf(key.publicJwk);
  await assertBoundTo(t, s, await codeOf(s, await push(s, { dpop_jkt: jkt }, { dpop: await proofFor(s, key, { url: PAR }) })), key);
});

test("a proof at /par that is bad, used before, for another URL or of another key than dpop_jkt: 400 invalid_dpop_proof, nothing kept", async (t) => {
  const s = await server(t);
  const key = await proofKey();
  const proof = await proofFor(s, key, { url: PAR });
  t.is((await push(s, {}, { dpop: proof })).status, 201);
  const before = await countRows(s, "pushed_authorization_requests");
  const refusals: { name: string; headers: Record<string, string>; extra: Record<string, string> }[] = [
    { name: "used before", headers: { dpop: proof }, extra: {} },
    { name: "made for /token", headers: { dpop: await proofFor(s, key) }, extra: {} },
    { name: "not a JWT", headers: { dpop: "not-a-proof" }, extra: {} },
    { name: "another key than dpop_jkt", headers: { dpop: await proofFor(s, key, { url: PAR }) }, extra: { dpop_jkt: await thumbprintOf((await proofKey()).publicJwk) } },
  ];
  for (const r of refusals) {
    const res = await push(s, r.extra, r.headers);
    await assertJsonError(t, res, 400, "invalid_dpop_proof");
    t.pass(r.name);
  }
  t.is(await countRows(s, "pushed_authorization_requests"), before);
});

test("IAM_DPOP_NONCE: a proof at /par without the server's nonce is 400 use_dpop_nonce with the DPoP-Nonce header; with it, the push is kept", async (t) => {
  const s = await startTestServer({ config: { dpopNonce: true } });
  t.teardown(() => s.close());
  await seedClient(s.core, { id: SPA.id, redirectUris: [SPA.redirectUri] });
  const key = await proofKey();
  const first = await push(s, {}, { dpop: await proofFor(s, key, { url: PAR }) });
  await assertJsonError(t, first, 400, "use_dpop_nonce");
  const nonce = first.headers.get("dpop-nonce");
  t.regex(nonce ?? "", /^[A-Za-z0-9._-]{20,64}$/);
  const second = await push(s, {}, { dpop: await proofFor(s, key, { url: PAR, claims: { nonce: nonce! } }) });
  t.is(second.status, 201);
});
