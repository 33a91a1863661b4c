/**
 * A DPoP-bound token where it is used (RFC 9449 §6, §7): UserInfo accepts it
 * only under the DPoP scheme with a proof of its key for the request and its
 * hash (`ath`), and challenges under DPoP otherwise; VerifyToken answers the
 * binding and checks the resource request's proof; introspection tells the
 * key; discovery names the algorithms a proof may use.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import test from "ava";
import { TokenFailure, TokenService } from "../../gen/iam/v1/token_pb.js";
import { ISSUER, WEB } from "../core/flow.js";
import { basic, postForm } from "../gateway/_support.js";
import type { TestServer } from "../helpers.js";
import { exchange, proofFor, server, spaCode } from "./_flow.js";
import { athOf, proofKey, thumbprintOf, type ProofKey } from "./_proof.js";

const USERINFO = `${ISSUER}/userinfo`;

/** A DPoP-bound access token of the public client for alice, with `openid`, and its key. */
async function boundToken(s: TestServer): Promise<{ accessToken: string; key: ProofKey; jkt: string }> {
  const key = await proofKey();
  const { code, verifier } = await spaCode(s);
  const res = await exchange(s, code, verifier, { dpop: await proofFor(s, key) });
  const body = (await res.json()) as { access_token: string; token_type: string };
  if (body.token_type !== "DPoP") throw new Error(`not bound: ${JSON.stringify(body)}`);
  return { accessToken: body.access_token, key, jkt: await thumbprintOf(key.publicJwk) };
}

/** A resource proof for UserInfo presenting `token`. */
const userinfoProof = (s: TestServer, key: ProofKey, token: string, method = "GET", claims: Record<string, unknown> = {}) =>
  proofFor(s, key, { url: USERINFO, method, claims: { ath: athOf(token), ...claims } });

/** The scheme and parameters of a WWW-Authenticate challenge. */
function challenge(res: Response): { scheme: string; error: string | undefined } {
  const header = res.headers.get("www-authenticate") ?? "";
  return { scheme: header.split(" ")[0] ?? "", error: /error="([^"]+)"/.exec(header)?.[1] };
}

test("UserInfo answers a DPoP-bound token under the DPoP scheme with a proof of its key, by GET and by POST", async (t) => {
  const s = await server(t);
  const { accessToken, key } = await boundToken(s);
  const get = await fetch(`${s.project}/userinfo`, { headers: { authorization: `DPoP ${accessToken}`, dpop: await userinfoProof(s, key, accessToken) } });
  t.is(get.status, 200);
  t.is(((await get.json()) as { sub: string }).sub, "alice");
  const post = await postForm(`${s.project}/userinfo`, "", { authorization: `dpop ${accessToken}`, dpop: await userinfoProof(s, key, accessToken, "POST") });
  t.is(post.status, 200, "the scheme's name in any case");
});

test("UserInfo refuses a DPoP-bound token without its proof: as Bearer invalid_token, no proof, no ath, another key, a replay or another method invalid_dpop_proof; each 401 challenged under DPoP", async (t) => {
  const s = await server(t);
  const { accessToken, key } = await boundToken(s);
  const call = (authorization: string, proof?: string) =>
    fetch(`${s.project}/userinfo`, { headers: { authorization, ...(proof === undefined ? {} : { dpop: proof }) } });
  const replayed = await userinfoProof(s, key, accessToken);
  t.is((await call(`DPoP ${accessToken}`, replayed)).status, 200);
  const cases: [string, Response, string][] = [
    ["as Bearer", await call(`Bearer ${accessToken}`), "invalid_token"],
    ["as Bearer, with a proof", await call(`Bearer ${accessToken}`, await userinfoProof(s, key, accessToken)), "invalid_token"],
    ["no proof", await call(`DPoP ${accessToken}`), "invalid_dpop_proof"],
    ["no ath", await call(`DPoP ${accessToken}`, await proofFor(s, key, { url: USERINFO, method: "GET" })), "invalid_dpop_proof"],
    ["another key", await call(`DPoP ${accessToken}`, await userinfoProof(s, await proofKey(), accessToken)), "invalid_dpop_proof"],
    ["replayed", await call(`DPoP ${accessToken}`, replayed), "invalid_dpop_proof"],
    ["htm POST on a GET", await call(`DPoP ${accessToken}`, await userinfoProof(s, key, accessToken, "POST")), "invalid_dpop_proof"],
  ];
  for (const [what, res, error] of cases) {
    t.is(res.status, 401, what);
    t.deepEqual(challenge(res), { scheme: "DPoP", error }, what);
    t.is(((await res.json()) as { error: string }).error, error, what);
  }
});

test("a bearer token under the DPoP scheme is refused invalid_token, challenged under DPoP; as Bearer it is answered", async (t) => {
  const s = await server(t);
  const { code, verifier } = await spaCode(s);
  const { access_token } = (await (await exchange(s, code, verifier)).json()) as { access_token: string };
  const key = await proofKey();
  const asDpop = await fetch(`${s.project}/userinfo`, { headers: { authorization: `DPoP ${access_token}`, dpop: await userinfoProof(s, key, access_token) } });
  t.is(asDpop.status, 401);
  t.deepEqual(challenge(asDpop), { scheme: "DPoP", error: "invalid_token" });
  t.is((await fetch(`${s.project}/userinfo`, { headers: { authorization: `Bearer ${access_token}` } })).status, 200);
});

test("VerifyToken answers a bound token's key, and activates it only with a proof of that key for the resource request", async (t) => {
  const s = await server(t);
  const { accessToken, key, jkt } = await boundToken(s);
  const tokens = createClient(TokenService, createGrpcTransport({ baseUrl: s.grpcUrl }));
  const RESOURCE = "https://api.example/notes/7";
  const proof = (method = "GET", url = RESOURCE) => proofFor(s, key, { url, method, claims: { ath: athOf(accessToken) } });

  const without = await tokens.verifyToken({ token: accessToken });
  t.like(without, { active: false, failure: TokenFailure.DPOP_PROOF, jkt });
  const asBearer = await tokens.verifyToken({ token: accessToken, authorizationScheme: "Bearer", dpopProof: await proof(), httpMethod: "GET", httpUrl: RESOURCE });
  t.like(asBearer, { active: false, failure: TokenFailure.DPOP_PROOF });
  const otherUrl = await tokens.verifyToken({ token: accessToken, authorizationScheme: "DPoP", dpopProof: await proof("GET", "https://api.example/other"), httpMethod: "GET", httpUrl: RESOURCE });
  t.like(otherUrl, { active: false, failure: TokenFailure.DPOP_PROOF });

  const good = await tokens.verifyToken({ token: accessToken, authorizationScheme: "DPoP", dpopProof: await proof(), httpMethod: "GET", httpUrl: `${RESOURCE}?page=2` });
  t.like(good, { active: true, subject: "alice", jkt });

  await t.throwsAsync(tokens.verifyToken({ token: accessToken, dpopProof: await proof() }), { message: /http_method and http_url/ });
  await t.throwsAsync(tokens.verifyToken({ token: accessToken, authorizationScheme: "MAC" }), { message: /authorization_scheme must be Bearer or DPoP/ });
});

test("introspection tells a bound token's type and key (RFC 9449 §6.2); discovery names the proof algorithms, ES256 first", async (t) => {
  const s = await server(t);
  const { accessToken, jkt } = await boundToken(s);
  const res = await postForm(`${s.project}/introspect`, { token: accessToken }, basic(WEB.id, WEB.secret));
  t.is(res.status, 200);
  t.like(await res.json(), { active: true, token_type: "DPoP", cnf: { jkt } });

  for (const url of [`${s.project}/.well-known/openid-configuration`, `${s.httpUrl}/.well-known/oauth-authorization-server/services/oauth2/iam-admins/iam-admins`]) {
    const metadata = (await (await fetch(url)).json()) as Record<string, unknown>;
    t.deepEqual(metadata.dpop_signing_alg_values_supported, ["ES256", "PS256", "EdDSA", "Ed25519", "ES384", "PS384", "RS256"], url);
  }
});
