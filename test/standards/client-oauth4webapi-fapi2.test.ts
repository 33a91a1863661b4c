/**
 * oauth4webapi, a certified client library, as a FAPI 2.0 client of the
 * server as `npm start` runs it, two worker processes, on SQLite and on
 * PostgreSQL. Registered by the `iam` command (private_key_jwt with a PS256
 * key, `--profile fapi2`, ES256 ID tokens), it discovers the issuer, pushes
 * its request (RFC 9126) authenticated by an assertion (RFC 7523) with a
 * DPoP proof (RFC 9449), has the user sign in and consent, checks the
 * response's iss (RFC 9207), exchanges the code for a DPoP-bound token and
 * an ES256 ID token, calls UserInfo and refreshes without rotation
 * (FAPI 2.0 Security Profile §5.3.2.1 item 9). An assertion and a proof are
 * each accepted once, whichever worker sees them again. The SQLite server
 * asks for DPoP nonces (IAM_DPOP_NONCE, RFC 9449 §8), which the client takes
 * as oauth4webapi's documentation says; the PostgreSQL one does not.
 */
import test, { type ExecutionContext } from "ava";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { assertionFor, byAssertion } from "../client-auth/_assertion.js";
import { makeProof, proofKey } from "../dpop/_proof.js";
import { aliceApproves, ALICE } from "../gateway/_par.js";
import { createDatabase, postgresSuite } from "../pg.js";
import { BANK, READ, startFapi2Server, type Fapi2Server } from "./_fapi2-server.js";

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const SCOPE = `openid ${READ}`;

type Register = (title: string, implementation: (t: ExecutionContext) => Promise<void>) => void;

interface Backend {
  name: string;
  /** Serial: two requests in a row on fresh connections reach the two workers only when no other test connects meanwhile. */
  register: Register;
  /** Whether the server asks for DPoP nonces. */
  nonces: boolean;
  /** The server's database: its IAM_DB, and what drops it once the server has stopped. */
  database(): Promise<{ env: Record<string, string>; drop: () => Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: "SQLite",
    register: test.serial,
    nonces: true,
    // A file of the server's own, removed when it stops.
    database: async () => ({ env: {}, drop: async () => {} }),
  },
  {
    name: "PostgreSQL",
    register: postgresSuite("oauth4webapi as a FAPI 2.0 client on PostgreSQL", test.serial),
    nonces: false,
    // An empty database: the first worker migrates it and creates the default tenant, as on a first `npm start`.
    database: async () => {
      const db = await createDatabase();
      return { env: { IAM_DB: db.url }, drop: db.drop };
    },
  },
];

/** The client as oauth4webapi holds it: the discovered server, its metadata, its assertion-signing authentication. */
interface RelyingParty {
  s: Fapi2Server;
  nonces: boolean;
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: oauth.ClientAuth;
}

/** One sign-in's DPoP key, and how many times the server asked for a nonce. */
interface Session {
  rp: RelyingParty;
  dpop: oauth.DPoPHandle;
  nonceRetries: number;
}

const sessionOf = async (rp: RelyingParty): Promise<Session> => ({ rp, dpop: oauth.DPoP(rp.client, await oauth.generateKeyPair("ES256")), nonceRetries: 0 });

/**
 * RFC 9449 §8, as oauth4webapi's documentation has it: an answer that asks
 * for a nonce is retried once; the DPoP handle took the nonce from it and
 * puts it in the next proof.
 */
async function retryingNonce<T>(session: Session, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    session.nonceRetries++;
    return call();
  }
}

/** PAR with the assertion and a proof, alice's sign-in and consent as JSON, the response validated (iss, state). */
async function authorize(session: Session) {
  const { rp, dpop } = session;
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const parameters = {
    response_type: "code",
    redirect_uri: BANK.redirectUri,
    scope: SCOPE,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
  };
  const { request_uri } = await retryingNonce(session, async () =>
    oauth.processPushedAuthorizationResponse(rp.as, rp.client, await oauth.pushedAuthorizationRequest(rp.as, rp.client, rp.auth, parameters, { ...insecure, DPoP: dpop })),
  );
  // RFC 9126 §4: the browser carries client_id and request_uri only.
  const { redirectTo } = await aliceApproves({ project: rp.s.issuer }, { client_id: BANK.id, request_uri });
  return { callback: oauth.validateAuthResponse(rp.as, rp.client, redirectTo, state), codeVerifier, nonce };
}

/** The code exchange, authenticated by a new assertion, with a proof of `dpop` unless it is undefined. */
const exchange = (rp: RelyingParty, authorized: Awaited<ReturnType<typeof authorize>>, dpop: oauth.DPoPHandle | undefined) =>
  oauth.authorizationCodeGrantRequest(rp.as, rp.client, rp.auth, authorized.callback, BANK.redirectUri, authorized.codeVerifier, {
    ...insecure,
    ...(dpop === undefined ? {} : { DPoP: dpop }),
  });

/** The whole sign-in: the authorization, then the code for tokens and an ID token, checked by oauth4webapi. */
async function signIn(session: Session) {
  const authorized = await authorize(session);
  const tokens = await retryingNonce(session, async () =>
    oauth.processAuthorizationCodeResponse(session.rp.as, session.rp.client, await exchange(session.rp, authorized, session.dpop), {
      expectedNonce: authorized.nonce,
      requireIdToken: true,
    }),
  );
  return { tokens, nonce: authorized.nonce };
}

for (const backend of BACKENDS) {
  let started: Promise<RelyingParty> | undefined;
  let stop = async () => {};
  /** The server, started by the first test that needs it, and the client discovered from its issuer. */
  const relyingParty = (t: ExecutionContext): Promise<RelyingParty> => {
    // Two workers starting one after the other, then seven `iam` commands: on a loaded machine, more than ava's minute.
    if (started === undefined) t.timeout(180_000, "the server's start and the registration");
    return (started ??= (async () => {
      const db = await backend.database();
      stop = db.drop;
      const s = await startFapi2Server({ ...db.env, ...(backend.nonces ? { IAM_DPOP_NONCE: "true" } : {}) });
      stop = async () => {
        await s.stop();
        await db.drop();
      };
      const issuer = new URL(s.issuer);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
      // Its registration: oauth4webapi refuses an ID token signed otherwise.
      const client: oauth.Client = { client_id: BANK.id, id_token_signed_response_alg: "ES256" };
      return { s, nonces: backend.nonces, as, client, auth: oauth.PrivateKeyJwt({ key: s.key.privateKey, kid: s.key.kid }) };
    })());
  };
  test.after.always(() => stop());

  backend.register(
    `${backend.name}: iam registers the FAPI 2.0 client, its keys and alice beside the running server; oauth4webapi discovers what it needs of the project`,
    async (t) => {
      const rp = await relyingParty(t);
      t.deepEqual(rp.s.registered, [
        "created organization acme",
        `created project acme/bank, issuer ${rp.s.issuer}`,
        "created client bank-app, authenticates with private_key_jwt, FAPI 2.0 Security Profile",
        `created permission ${READ}`,
        "created user alice",
        "created role account-holder",
        "assigned",
      ]);
      t.is(rp.as.pushed_authorization_request_endpoint, `${rp.s.issuer}/par`);
      t.true(rp.as.token_endpoint_auth_methods_supported?.includes("private_key_jwt"));
      t.true(rp.as.authorization_response_iss_parameter_supported, "oauth4webapi checks the response's iss");
      t.true(rp.as.dpop_signing_alg_values_supported?.includes("ES256"));
    },
  );

  backend.register(
    `${backend.name}: oauth4webapi pushes with an assertion and a proof, signs alice in, gets a DPoP-bound token and an ES256 ID token, calls UserInfo, and refreshes twice with the one refresh token`,
    async (t) => {
      const rp = await relyingParty(t);
      const session = await sessionOf(rp);
      const jkt = await session.dpop.calculateThumbprint();
      const { tokens, nonce } = await signIn(session);
      t.is(tokens.token_type, "dpop");
      t.is(tokens.scope, SCOPE);
      t.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });
      t.like(oauth.getValidatedIdTokenClaims(tokens), { iss: rp.s.issuer, sub: ALICE.id, aud: BANK.id, azp: BANK.id, nonce });
      // oauth4webapi checked its claims and alg; its signature, by the project's published key (FAPI 2.0 §5.4.1: ES256).
      const verified = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(rp.as.jwks_uri!)), { issuer: rp.s.issuer, audience: BANK.id, algorithms: ["ES256"] });
      t.is(verified.payload.sub, ALICE.id);

      const userInfo = await retryingNonce(session, async () =>
        oauth.processUserInfoResponse(rp.as, rp.client, ALICE.id, await oauth.userInfoRequest(rp.as, rp.client, tokens.access_token, { ...insecure, DPoP: session.dpop })),
      );
      t.is(userInfo.sub, ALICE.id);

      // FAPI 2.0 §5.3.2.1 item 9: no new refresh token; the one the client has works again.
      for (let i = 0; i < 2; i++) {
        const refreshed = await retryingNonce(session, async () =>
          oauth.processRefreshTokenResponse(
            rp.as,
            rp.client,
            await oauth.refreshTokenGrantRequest(rp.as, rp.client, rp.auth, tokens.refresh_token!, { ...insecure, DPoP: session.dpop }),
          ),
        );
        t.is(refreshed.token_type, "dpop");
        t.is(refreshed.refresh_token, undefined, `refresh ${i}`);
        t.deepEqual(decodeJwt(refreshed.access_token).cnf, { jkt });
      }
      // Asked for at the first proof, kept by the handle for every later one (a nonce is good for five minutes at least).
      t.is(session.nonceRetries, rp.nonces ? 1 : 0);
    },
  );

  backend.register(
    `${backend.name}: a client assertion and a DPoP proof are each accepted once; sent again to the other worker, 401 invalid_client and 400 invalid_dpop_proof`,
    async (t) => {
      const rp = await relyingParty(t);
      const { s } = rp;
      const assertion = async () => byAssertion(await assertionFor(s.issuer, BANK.id, s.key));
      const workersOf = async (...answers: { requestId: string }[]) => Promise.all(answers.map((a) => s.workerOf(a.requestId)));

      // One assertion at the pushed authorization request endpoint, twice, on fresh connections: the workers take turns.
      const pushed = {
        response_type: "code",
        client_id: BANK.id,
        redirect_uri: BANK.redirectUri,
        scope: SCOPE,
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: "S256",
      };
      const once = await assertion();
      const pushedOnce = await s.post("/par", { ...pushed, ...once });
      const pushedAgain = await s.post("/par", { ...pushed, ...once });
      t.is(pushedOnce.status, 201, JSON.stringify(pushedOnce.body));
      t.is(pushedAgain.status, 401);
      t.is(pushedAgain.body.error, "invalid_client");
      t.is(pushedAgain.body.request_uri, undefined);
      t.deepEqual((await workersOf(pushedOnce, pushedAgain)).sort(), [0, 1]);

      // One proof at the token endpoint, twice, each request with an assertion of its own, refreshing alice's token.
      const { tokens } = await signIn(await sessionOf(rp));
      const refresh = async (dpop: string) =>
        s.post("/token", { grant_type: "refresh_token", refresh_token: tokens.refresh_token!, ...(await assertion()) }, { dpop });
      const key = await proofKey("ES256");
      const proofFor = (nonce: string | undefined) => makeProof(key, `${s.issuer}/token`, { claims: { nonce } });
      let nonce: string | undefined;
      if (rp.nonces) {
        // §8: a proof without the server's nonce is refused, and the answer gives the nonce.
        const asked = await refresh(await proofFor(undefined));
        t.is(asked.status, 400);
        t.is(asked.body.error, "use_dpop_nonce");
        nonce = asked.headers["dpop-nonce"] as string;
        t.regex(nonce, /^[\x21-\x7e]+$/);
      }
      const proof = await proofFor(nonce);
      const used = await refresh(proof);
      const replayed = await refresh(proof);
      t.is(used.status, 200, JSON.stringify(used.body));
      t.is(used.body.token_type, "DPoP");
      t.is(replayed.status, 400);
      t.is(replayed.body.error, "invalid_dpop_proof");
      t.is(replayed.body.access_token, undefined);
      t.deepEqual((await workersOf(used, replayed)).sort(), [0, 1]);
    },
  );

  backend.register(
    `${backend.name}: what an oauth4webapi user meets without PAR or without DPoP: invalid_request redirected with state and iss; 400 invalid_dpop_proof, the code left unspent`,
    async (t) => {
      const rp = await relyingParty(t);
      // FAPI 2.0 §5.3.2.2 item 3: an authorization request that was not pushed.
      const state = oauth.generateRandomState();
      const url = new URL(rp.as.authorization_endpoint!);
      for (const [name, value] of Object.entries({
        response_type: "code",
        client_id: BANK.id,
        redirect_uri: BANK.redirectUri,
        scope: SCOPE,
        state,
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: "S256",
      })) {
        url.searchParams.set(name, value);
      }
      const unpushed = await fetch(url, { redirect: "manual" });
      t.is(unpushed.status, 302);
      const location = new URL(unpushed.headers.get("location")!);
      t.is(`${location.origin}${location.pathname}`, BANK.redirectUri);
      // oauth4webapi checks iss and state before it reports the error.
      const refused = t.throws(() => oauth.validateAuthResponse(rp.as, rp.client, location, state), { instanceOf: oauth.AuthorizationResponseError });
      t.is(refused?.error, "invalid_request");

      // FAPI 2.0 §5.3.2.1 items 4, 5: a token request without a proof.
      const session = await sessionOf(rp);
      const authorized = await authorize(session);
      const bare = await exchange(rp, authorized, undefined);
      t.is(bare.status, 400);
      const error = await t.throwsAsync(oauth.processAuthorizationCodeResponse(rp.as, rp.client, bare), { instanceOf: oauth.ResponseBodyError });
      t.is(error?.error, "invalid_dpop_proof");
      // It issued nothing and spent nothing: the same code, with a proof, is exchanged.
      const tokens = await retryingNonce(session, async () =>
        oauth.processAuthorizationCodeResponse(rp.as, rp.client, await exchange(rp, authorized, session.dpop), { expectedNonce: authorized.nonce, requireIdToken: true }),
      );
      t.is(tokens.token_type, "dpop");
    },
  );
}
