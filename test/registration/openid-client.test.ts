/**
 * Dynamic Client Registration with openid-client, a certified relying party
 * library nobody here wrote: it discovers the registration endpoint,
 * registers a client (openly, or with an initial access token), and the
 * client it registered signs a user in through the pages with PKCE, redeems
 * its code, refreshes its tokens and reads UserInfo, as any client would.
 */
import test, { type ExecutionContext } from "ava";
import * as client from "openid-client";
import { sha256 } from "../../core/lib/crypto.js";
import { approveInBrowser, Browser } from "../logout/_support.js";
import { PERMISSION, REDIRECT_URI, startStandardServer, USER, type StandardServer } from "../standards/client-harness.js";

const insecure = { execute: [client.allowInsecureRequests] };

async function serverWith(t: ExecutionContext, mode: "open" | "initial_access_token"): Promise<StandardServer> {
  const s = await startStandardServer(t);
  await s.core.deps.store.updateProject(s.ref, { name: "shop", audience: s.issuer, clientRegistration: mode });
  return s;
}

/** The whole code flow of `config`'s client with PKCE, then a refresh; answers the tokens of both. */
async function codeFlowThenRefresh(t: ExecutionContext, config: client.Configuration) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: `openid ${PERMISSION}`,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  });
  const callback = await approveInBrowser(new Browser(), url.href, USER);
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  t.is(tokens.claims()?.sub, USER.id);
  t.is(tokens.claims()?.aud, config.clientMetadata().client_id);
  t.deepEqual(tokens.scope?.split(" ").sort(), ["openid", PERMISSION]);
  t.truthy(tokens.refresh_token);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  t.not(refreshed.access_token, tokens.access_token);
  t.not(refreshed.refresh_token, tokens.refresh_token, "rotated");
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, USER.id);
  t.is(userinfo.sub, USER.id);
  return { tokens, refreshed };
}

test("openid-client registers a confidential client at the discovered registration_endpoint, which then signs alice in with PKCE and refreshes", async (t) => {
  const s = await serverWith(t, "open");
  const config = await client.dynamicClientRegistration(
    new URL(s.issuer),
    { client_name: "openid-client app", redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] },
    undefined,
    insecure,
  );
  t.is(config.serverMetadata().registration_endpoint, `${s.issuer}/register`);
  const metadata = config.clientMetadata();
  t.is(typeof metadata.client_secret, "string");
  t.is(metadata.token_endpoint_auth_method, "client_secret_basic");
  t.is(metadata.registration_client_uri, `${s.issuer}/register/${metadata.client_id}`);
  const stored = await s.core.deps.store.getClient(s.ref, metadata.client_id);
  t.like(stored, { dynamicallyRegistered: true, type: "confidential", tokenEndpointAuthMethod: "client_secret_basic" });

  // openid-client defaults to client_secret_post, which this client did not register: held to its one method.
  await t.throwsAsync(codeFlowThenRefresh(t, config));
  const basic = new client.Configuration(config.serverMetadata(), metadata.client_id, metadata, client.ClientSecretBasic(metadata.client_secret as string));
  client.allowInsecureRequests(basic);
  await codeFlowThenRefresh(t, basic);

  // RFC 7592 read with the registration access token the library kept.
  const read = await fetch(metadata.registration_client_uri as string, { headers: { authorization: `Bearer ${metadata.registration_access_token as string}` } });
  t.is(read.status, 200);
  t.is(((await read.json()) as { client_id: string }).client_id, metadata.client_id);
});

test("openid-client registers a public client with an initial access token and runs the flow with PKCE and no secret; without the token it is refused", async (t) => {
  const s = await serverWith(t, "initial_access_token");
  const metadata = { redirect_uris: [REDIRECT_URI], grant_types: ["authorization_code", "refresh_token"], token_endpoint_auth_method: "none" };
  const refused = await t.throwsAsync(client.dynamicClientRegistration(new URL(s.issuer), metadata, client.None(), insecure));
  t.is(refused?.message, "server responded with a challenge in the WWW-Authenticate HTTP Header");
  const challenges = (refused as { cause?: { scheme: string; parameters: { error?: string } }[] } | undefined)?.cause;
  t.is(challenges?.[0]?.scheme, "bearer");
  t.is(challenges?.[0]?.parameters.error, "invalid_token");

  const token = "initial-access-token-for-openid-client-1234";
  await s.core.deps.store.createInitialAccessToken({
    ...s.ref,
    id: "oc",
    tokenHash: sha256(token),
    description: "",
    createdAt: Math.floor(Date.now() / 1000),
    expiresAt: Math.floor(Date.now() / 1000) + 600,
    usesLeft: 1,
    maxUses: 1,
  });
  const config = await client.dynamicClientRegistration(new URL(s.issuer), metadata, client.None(), { ...insecure, initialAccessToken: token });
  t.is(config.clientMetadata().client_secret, undefined);
  t.like(await s.core.deps.store.getClient(s.ref, config.clientMetadata().client_id), { type: "public", dynamicallyRegistered: true, pkceRequired: true });
  await codeFlowThenRefresh(t, config);
});
